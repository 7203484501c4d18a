"""The Link widget vs ``streamtrack link`` on the located bulk_water store.

    xvfb-run -s "-screen 0 1600x1000x24" python benchmarks/bench_plugin_link.py \
        [--frames 300] [--rounds 3] [--hidden] [--search-range 5] [--memory 3]

Locates the bulk_water PNGs once (green channel, diameter 11, invert,
minmass 20: as bench_plugin_locate.py) into a PandasHDFStore, then times,
alternately and ``rounds`` times each (min / median / max reported), each on
a fresh copy of that unlinked store:

- cli: ``streamtrack link <copy> -s 5 --memory 3 -q`` as a subprocess
  (interpreter start included, as a user runs it);
- widget: a shown napari viewer with the store's features as a Points layer
  (as the Locate widget leaves them: ``metadata['streamtrack']['store']``)
  and the LinkWidget docked, from ``run()`` until the widget says it is done
  -- the store linked in place, the Points layer recoloured by particle and
  the Tracks layer added -- waiting in a Qt event loop as napari does.

Also reports the longest the event loop was blocked in a widget run (a
10 ms timer's largest gap), during the frames and at the end (the layers
updated, added and first drawn), and whether both stores end up with the
same particle ids. Target: widget <= 1.3 x cli.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from bench_plugin_locate import PARAMS, LoopWatch, load_green, spread

import streamtrack

from _common import bulk_water_files, compiled_kernels_ready

CLI = [os.path.join(os.path.dirname(sys.executable), "streamtrack"), "link"]


def run_cli(path, search_range, memory):
    args = [*CLI, path, "-s", str(search_range), "--memory", str(memory), "-q"]
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_widget(viewer, widget, points, path, watch):
    from qtpy.QtCore import QEventLoop

    if "bulk_water tracks" in viewer.layers:
        viewer.layers.remove("bulk_water tracks")
    points.metadata = {"streamtrack": {"store": path, "store_class": "PandasHDFStore",
                                       "locate": dict(PARAMS)}}
    widget.points.value = points
    widget.source.value = "Points layer"
    loop = QEventLoop()
    outcome = []

    def done(result):
        outcome.append(result)
        loop.quit()

    widget.done.connect(done)
    watch.start()
    start = time.perf_counter()
    worker = widget.run()
    assert worker is not None, widget.status.value
    worker.returned.connect(watch.mark)
    worker.errored.connect(watch.mark)
    loop.exec()
    elapsed = time.perf_counter() - start
    blocked = watch.stop()
    widget.done.disconnect(done)
    assert outcome == ["linked"], (outcome, widget.status.value)
    return elapsed, blocked


def particles(path):
    with streamtrack.PandasHDFStore(path, mode="r") as store:
        table = store.dump()
    return table.sort_values(["frame", "y", "x"])["particle"].to_numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--search-range", type=float, default=5)
    parser.add_argument("--memory", type=int, default=3)
    parser.add_argument("--hidden", action="store_true", help="do not show the viewer")
    args = parser.parse_args()
    compiled_kernels_ready()
    warnings.simplefilter("ignore")
    streamtrack.quiet()
    os.environ.setdefault("NAPARI_STREAMTRACK_CONFIG_DIR", tempfile.mkdtemp())
    workdir = tempfile.mkdtemp()
    located = os.path.join(workdir, "located.h5")
    movie = load_green(bulk_water_files(args.frames))
    with streamtrack.PandasHDFStore(located) as store:
        streamtrack.batch(streamtrack.open(movie), output=store, **PARAMS)
        features = store.dump()

    import napari
    from qtpy.QtWidgets import QApplication

    from napari_streamtrack._layers import points_data
    from napari_streamtrack._widgets.link import LinkWidget

    viewer = napari.Viewer(show=not args.hidden)
    viewer.add_image(movie, name="bulk_water")
    data, feats = points_data(features)
    points = viewer.add_points(data, features=feats, name="bulk_water features", size=11,
                               face_color="transparent", border_color="red")
    widget = LinkWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.search_range.value = args.search_range
    widget.memory.value = args.memory
    QApplication.processEvents()
    watch = LoopWatch()

    def fresh(name):
        path = os.path.join(workdir, f"{name}.h5")
        shutil.copyfile(located, path)
        return path

    run_cli(fresh("warmup"), args.search_range, args.memory)  # file cache, compiled kernels
    times, blocked = {"cli": [], "widget": []}, []
    for _ in range(args.rounds):
        cli_path = fresh("cli")
        times["cli"].append(run_cli(cli_path, args.search_range, args.memory))
        widget_path = fresh("widget")
        elapsed, froze = run_widget(viewer, widget, points, widget_path, watch)
        times["widget"].append(elapsed)
        blocked.append(froze)
        points = viewer.layers["bulk_water features"]

    same = np.array_equal(particles(cli_path), particles(widget_path))
    n_tracks = len(np.unique(particles(widget_path)))
    cli = np.median(times["cli"])
    during, end = np.asarray(blocked).T * 1e3
    print(f"link {args.frames} bulk_water frames ({len(features):,} features, search range "
          f"{args.search_range:g}, memory {args.memory}) in a PandasHDFStore, "
          f"{os.cpu_count()} cores, viewer {'hidden' if args.hidden else 'shown'}, "
          f"{args.rounds} rounds alternating")
    print(f"  streamtrack link (cli)      : {spread(times['cli'])}")
    print(f"  widget (store + layers)     : {spread(times['widget'])}  ratio (median) "
          f"{np.median(times['widget']) / cli:4.2f}")
    print(f"  {'':28s}  event loop blocked: during the run <= {during.max():.0f} ms, at the "
          f"end (layers updated, added, drawn) <= {end.max():.0f} ms")
    print("  target: widget <= 1.3 x cli")
    print(f"  {n_tracks:,} trajectories; same particle ids as the cli: {same}")
    viewer.close()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The Locate widget's run vs ``streamtrack locate`` on the same bulk_water files.

    xvfb-run -s "-screen 0 1600x1000x24" python benchmarks/bench_plugin_locate.py \
        [--frames 300] [--rounds 3] [--hidden]

Times, alternately and ``rounds`` times each (min / median / max reported):

- cli: ``streamtrack locate <the PNGs> --channel 1 -d 11 --invert --minmass 20
  --store frames -q -o cli.h5`` as a subprocess (interpreter start included,
  as a user runs it);
- widget, files: the PNG folder opened as napari opens it
  (``viewer.open(folder)``: napari's builtin reader, a lazy dask stack of
  RGBA frames), the LocateWidget on channel 1 with the same parameters and
  store kind, from ``run()`` until the widget says it is done -- its Points
  layer added -- waiting in a Qt event loop as napari does;
- widget, array: the same with the green channel loaded into one (T, Y, X)
  numpy array first (an in-memory Image layer);
- with ``--through-napari``, also: widget, dask: the file stack's frames
  pulled through napari's dask array, as the widget read them before it
  opened the files itself (``source_files`` made to answer None).

The viewer is shown (``--hidden``: not), with the widget docked, so that
everything the run draws (status line, progress bar, the layer) is drawn.
Also reports the longest the event loop was blocked in a widget run (a
10 ms timer's largest gap), during the frames and at the end (the layer
built, added and first drawn), and whether every store holds the same
frames and rows. Target: widget <= 1.3 x cli.
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
from PIL import Image

import streamtrack

from _common import BULK_WATER, bulk_water_files, compiled_kernels_ready

PARAMS = dict(diameter=11, invert=True, minmass=20)
CLI = [os.path.join(os.path.dirname(sys.executable), "streamtrack"), "locate"]


def load_green(files):
    return np.stack([np.asarray(Image.open(f))[:, :, 1] for f in files])


def run_cli(source, path):
    if os.path.exists(path):
        os.remove(path)
    args = [*CLI, *source, "--channel", "1", "-d", "11", "--invert", "--minmass", "20",
            "--store", "frames", "-q", "-o", path]
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


class LoopWatch:
    """The longest gaps between the ticks of a 10 ms timer: how long the GUI froze.

    ``mark()`` splits the run: gaps before it (the frames, while worker threads
    compete with the GUI for the interpreter) and after it (the layers built
    at the end, and their first draw).
    """

    def __init__(self):
        from qtpy.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.gaps, self._last, self._mark = [], None, None

    def _tick(self):
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append((now, now - self._last))
        self._last = now

    def start(self):
        self.gaps, self._last, self._mark = [], time.perf_counter(), None
        self.timer.start()

    def mark(self, *_):
        if self._mark is None:
            self._mark = time.perf_counter()

    def stop(self, settle=0.5):
        """Keep ticking ``settle`` s (the first draw of new layers), then the longest
        gaps ``(during, after)`` the mark, in seconds."""
        from qtpy.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        QTimer.singleShot(int(settle * 1000), loop.quit)
        loop.exec()
        self._tick()
        self.timer.stop()
        mark = self._mark if self._mark is not None else float("inf")
        # a gap ending after the mark began at most one tick before it
        during = max((g for t, g in self.gaps if t <= mark), default=0.0)
        after = max((g for t, g in self.gaps if t > mark), default=0.0)
        return during, after


def run_widget(viewer, widget, layer, path, watch):
    from qtpy.QtCore import QEventLoop

    if os.path.exists(path):
        os.remove(path)
    name = f"{layer.name} features"
    if name in viewer.layers:
        viewer.layers.remove(name)
    widget.layer.value = layer
    widget.channel.value = 1
    widget.store_path.value = path
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
    # the last frame is in: from here on the GUI thread builds the layer
    worker.returned.connect(watch.mark)
    worker.errored.connect(watch.mark)
    loop.exec()
    elapsed = time.perf_counter() - start
    blocked = watch.stop()
    widget.done.disconnect(done)
    assert outcome == ["located"], (outcome, widget.status.value)
    return elapsed, blocked


def store_summary(path):
    with streamtrack.PandasHDFStore(path, mode="r") as store:
        return store.frames, len(store.dump())


def spread(times):
    t = np.asarray(times)
    return f"min {t.min():6.2f}  median {np.median(t):6.2f}  max {t.max():6.2f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hidden", action="store_true", help="do not show the viewer")
    parser.add_argument("--through-napari", action="store_true",
                        help="also time the file stack read through napari's dask array")
    args = parser.parse_args()
    compiled_kernels_ready()
    warnings.simplefilter("ignore")
    streamtrack.quiet()
    os.environ.setdefault("NAPARI_STREAMTRACK_CONFIG_DIR", tempfile.mkdtemp())
    workdir = tempfile.mkdtemp()
    files = bulk_water_files(args.frames)
    if len(files) == len(bulk_water_files()):
        folder = BULK_WATER  # the folder as a user opens it
    else:  # the first frames only: a folder of links to them
        folder = os.path.join(workdir, "bulk_water")
        os.mkdir(folder)
        for f in files:
            os.symlink(f, os.path.join(folder, os.path.basename(f)))
    cli_source = [os.path.join(folder, "*.png")]
    variants = ("cli", "files", "array") + (("dask",) if args.through_napari else ())
    paths = {k: os.path.join(workdir, f"{k}.h5") for k in variants}

    import napari
    from qtpy.QtWidgets import QApplication

    from napari_streamtrack import _console
    from napari_streamtrack._console import source_files
    from napari_streamtrack._widgets.locate import LocateWidget

    viewer = napari.Viewer(show=not args.hidden)
    lazy = viewer.open(folder)[0]
    lazy.name = "bulk_water"
    assert source_files(lazy) is not None, "the widget would not read the files"
    movie = load_green(files)
    in_memory = viewer.add_image(movie, name="bulk_water in memory")
    widget = LocateWidget(viewer)
    viewer.window.add_dock_widget(widget)
    for name, value in PARAMS.items():
        widget.params[name].value = value
    widget.store_class.value = "PandasHDFStore"
    QApplication.processEvents()
    watch = LoopWatch()

    # warm up: compiled kernels, thread pools, file cache
    streamtrack.batch(streamtrack.open(movie[:4]), **PARAMS)
    run_cli(cli_source, paths["cli"])
    times = {k: [] for k in variants}
    blocked = {k: [] for k in variants[1:]}  # (during the run, at the end) per round
    widget_runs = [("files", lazy), ("array", in_memory)]
    if args.through_napari:
        widget_runs.append(("dask", lazy))
    for _ in range(args.rounds):
        times["cli"].append(run_cli(cli_source, paths["cli"]))
        for key, layer in widget_runs:
            if key == "dask":
                _console.source_files = lambda _layer: None  # the frames through dask
            try:
                elapsed, froze = run_widget(viewer, widget, layer, paths[key], watch)
            finally:
                _console.source_files = source_files
            times[key].append(elapsed)
            blocked[key].append(froze)

    summaries = {k: store_summary(p) for k, p in paths.items()}
    n = len(files)
    cli = np.median(times["cli"])
    print(f"locate {n} bulk_water frames (RGBA PNG, green channel, "
          f"{movie.shape[1]}x{movie.shape[2]}) -> PandasHDFStore, {os.cpu_count()} cores, "
          f"viewer {'hidden' if args.hidden else 'shown'}, {args.rounds} rounds alternating")
    labels = {"cli": "streamtrack locate (cli)", "files": "widget, napari's file stack",
              "array": "widget, in-memory array", "dask": "widget, stack through dask"}
    for key in variants:
        label = labels[key]
        line = f"  {label:28s}: {spread(times[key])}"
        if key != "cli":
            during, end = np.asarray(blocked[key]).T * 1e3
            line += (f"  ratio (median) {np.median(times[key]) / cli:4.2f}\n"
                     f"  {'':28s}  event loop blocked: during the run <= {during.max():.0f}"
                     f" ms, at the end (layer added, drawn) <= {end.max():.0f} ms")
        print(line)
    print("  target: widget <= 1.3 x cli")
    same = all(s == summaries["cli"] for s in summaries.values())
    print(f"  features: {summaries['cli'][1]:,}; every store the same frames and rows: {same}")
    viewer.close()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

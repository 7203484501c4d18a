"""The Locate widget's run vs the core's batch on the same frames and store kind.

    xvfb-run -a python benchmarks/bench_plugin_locate.py [--frames 300] [--repeat 3]

Loads the green channel of the bulk_water PNGs into one (T, Y, X) numpy array,
then times, alternately and ``repeat`` times each (the minimum is reported):

- core: ``streamtrack.batch(streamtrack.open(movie), 11, invert=True,
  minmass=20, output=PandasHDFStore(path))`` (all cores);
- widget: a napari Viewer (show=False) with the array as an Image layer and
  the LocateWidget set to the same parameters and store kind, from ``run()``
  until the widget says it is done -- the worker's ``finished`` handled, i.e.
  the Points layer added -- waiting in a Qt event loop as napari does.

Prints both times (s and ms/frame), the ratio widget / core (target <= 1.3),
the features found, and whether both stores hold the same frames and rows.
"""
import argparse
import os
import tempfile
import time
import warnings

import numpy as np
from PIL import Image

import streamtrack

from _common import bulk_water_files, compiled_kernels_ready

PARAMS = dict(diameter=11, invert=True, minmass=20)


def load_green(n):
    return np.stack([np.asarray(Image.open(f))[:, :, 1] for f in bulk_water_files(n)])


def run_core(movie, path):
    if os.path.exists(path):
        os.remove(path)
    start = time.perf_counter()
    with streamtrack.PandasHDFStore(path) as store:
        streamtrack.batch(streamtrack.open(movie), output=store, **PARAMS)
    return time.perf_counter() - start


def run_widget(viewer, widget, path):
    from qtpy.QtCore import QEventLoop

    if os.path.exists(path):
        os.remove(path)
    if "bulk_water features" in viewer.layers:
        viewer.layers.remove("bulk_water features")
    widget.store_path.value = path
    loop = QEventLoop()
    outcome = []

    def done(result):
        outcome.append(result)
        loop.quit()

    widget.done.connect(done)
    start = time.perf_counter()
    worker = widget.run()
    assert worker is not None, widget.status.value
    loop.exec_()
    elapsed = time.perf_counter() - start
    widget.done.disconnect(done)
    assert outcome == ["located"], (outcome, widget.status.value)
    return elapsed


def store_summary(path):
    with streamtrack.PandasHDFStore(path, mode="r") as store:
        return store.frames, len(store.dump())


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    compiled_kernels_ready()
    warnings.simplefilter("ignore")
    streamtrack.quiet()
    os.environ.setdefault("NAPARI_STREAMTRACK_CONFIG_DIR", tempfile.mkdtemp())
    movie = load_green(args.frames)
    n = len(movie)
    workdir = tempfile.mkdtemp()
    core_path = os.path.join(workdir, "core.h5")
    widget_path = os.path.join(workdir, "widget.h5")

    import napari

    from napari_streamtrack._widgets.locate import LocateWidget

    viewer = napari.Viewer(show=False)
    viewer.add_image(movie, name="bulk_water")
    widget = LocateWidget(viewer)
    viewer.window.add_dock_widget(widget)
    for name, value in PARAMS.items():
        widget.params[name].value = value
    widget.store_class.value = "PandasHDFStore"

    # warm up: compiled kernels, thread pools, file cache
    streamtrack.batch(streamtrack.open(movie[:4]), **PARAMS)
    core, ui = [], []
    for _ in range(args.repeat):
        core.append(run_core(movie, core_path))
        ui.append(run_widget(viewer, widget, widget_path))
    t_core, t_ui = min(core), min(ui)

    core_frames, core_rows = store_summary(core_path)
    ui_frames, ui_rows = store_summary(widget_path)
    ms = 1e3 / n
    print(f"locate {n} bulk_water frames (green channel, {movie.shape[1]}x{movie.shape[2]}) "
          f"-> PandasHDFStore, {os.cpu_count()} cores, best of {args.repeat}")
    print(f"  core batch()               : {t_core:6.2f} s  {t_core * ms:6.2f} ms/frame")
    print(f"  widget run() -> layer shown: {t_ui:6.2f} s  {t_ui * ms:6.2f} ms/frame")
    print(f"  ratio widget / core        : {t_ui / t_core:6.2f} (target <= 1.3)")
    print(f"  features: {ui_rows:,}; same frames and row count as the core's store: "
          f"{core_frames == ui_frames and core_rows == ui_rows}")
    viewer.close()


if __name__ == "__main__":
    main()

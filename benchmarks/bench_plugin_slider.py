"""Moving the time slider over a linked bulk_water: the time per step, until drawn.

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/bench_plugin_slider.py \
        [--frames 300] [--steps 60] [--rounds 3] [--full-tracks]

Opens the bulk_water PNG folder as napari does (its lazy file stack, RGBA),
locates it (green channel, diameter 11, invert, minmass 20) with the core
into a store, links that store with the Link widget (search range 5,
memory 3) -- which leaves the Points layer coloured by particle and the
Tracks layer, as a user gets them -- in a shown viewer, then moves the time
slider one frame at a time over ``steps`` frames from the middle of the
movie, ``rounds`` times (the first pass after linking is a round too).

One step is timed from ``viewer.dims.set_current_step(0, t)`` until the
canvas has been painted: Qt events are processed until the canvas's
QOpenGLWidget received a Paint event (counted with a Qt event filter).
Reported: min / median / 95th percentile / max per step over all rounds,
the median of each round, and the steps that refilled the Tracks window
apart from the others.

``--full-tracks``: the layers as before the Tracks window (the whole movie's
tracks in the Tracks layer, tail 100 frames), for comparison.
"""
import argparse
import os
import tempfile
import time
import warnings

import numpy as np

import streamtrack
from streamtrack import workflow

from _common import BULK_WATER, bulk_water_files, compiled_kernels_ready

PARAMS = dict(diameter=11, invert=True, minmass=20)


class PaintCounter:
    """Counts Paint events of a widget (a Qt event filter: public Qt API)."""

    def __init__(self, widget):
        from qtpy.QtCore import QEvent, QObject

        counter = self

        class Filter(QObject):
            def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
                if event.type() == QEvent.Type.Paint:
                    counter.count += 1
                return False

        self.count = 0
        self.filter = Filter()
        widget.installEventFilter(self.filter)


def canvas_widget():
    from qtpy.QtWidgets import QApplication, QOpenGLWidget

    for top in QApplication.topLevelWidgets():
        found = top.findChildren(QOpenGLWidget)
        if found:
            return found[0]
    raise RuntimeError("no OpenGL canvas: is the viewer shown?")


def step(viewer, paints, t, timeout=10.0):
    from qtpy.QtWidgets import QApplication

    before = paints.count
    start = time.perf_counter()
    viewer.dims.set_current_step(0, t)
    while paints.count == before:
        QApplication.processEvents()
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"no paint after step {t}")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--full-tracks", action="store_true",
                        help="no Tracks window, tail 100 (the layers before the window)")
    args = parser.parse_args()
    compiled_kernels_ready()
    warnings.simplefilter("ignore")
    streamtrack.quiet()
    os.environ.setdefault("NAPARI_STREAMTRACK_CONFIG_DIR", tempfile.mkdtemp())
    path = os.path.join(tempfile.mkdtemp(), "bulk_water.h5")
    files = bulk_water_files(args.frames)
    frames = workflow.open_movie(files, channel=1)
    with streamtrack.PandasHDFStore(path) as store:
        streamtrack.batch(frames, output=store, **PARAMS)
        n_features = len(store.dump())

    import napari
    from qtpy.QtCore import QEventLoop
    from qtpy.QtWidgets import QApplication

    from napari_streamtrack import _window
    from napari_streamtrack._widgets import link

    if args.full_tracks:
        _window.TRACKS_WINDOW_VERTICES = float("inf")
        link.MAX_TAIL = 100
    viewer = napari.Viewer(show=True)
    if len(files) == len(bulk_water_files()):
        image = viewer.open(BULK_WATER)[0]
    else:
        image = viewer.add_image(np.stack([np.asarray(f) for f in frames]))
    image.name = "bulk_water"
    widget = link.LinkWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.store_file.value = path
    widget.search_range.value, widget.memory.value = 5, 3
    loop = QEventLoop()
    widget.done.connect(lambda _outcome: loop.quit())
    widget.run()
    loop.exec()
    assert "trajectories" in widget.status.value, widget.status.value
    tracks = viewer.layers["bulk_water tracks"]
    for _ in range(5):
        QApplication.processEvents()
    paints = PaintCounter(canvas_widget())

    first = args.frames // 3
    window = _window.tracks_window(tracks)
    step(viewer, paints, first - 1)  # the start of a pass is not timed
    per_round, refilled = [], []
    for _ in range(args.rounds):
        times = []
        for t in range(first, first + args.steps):
            before = window.refills if window is not None else 0
            times.append(step(viewer, paints, t))
            refilled.append(window is not None and window.refills > before)
        per_round.append(times)
        step(viewer, paints, first - 1)
    ms = 1e3 * np.asarray(per_round)
    print(f"time slider over linked bulk_water: {args.frames} frames, {n_features:,} "
          f"features, Tracks layer holds {len(tracks.data):,} vertices "
          f"({'whole movie' if window is None else 'windowed'}), tail "
          f"{tracks.tail_length}; image: napari's file stack; viewer shown")
    print(f"  {args.steps} single steps x {args.rounds} rounds, per step until painted: "
          f"min {ms.min():.0f}  median {np.median(ms):.0f}  95th {np.percentile(ms, 95):.0f}"
          f"  max {ms.max():.0f} ms")
    print("  median per round: " + ", ".join(f"{np.median(r):.0f}" for r in ms) + " ms")
    if window is not None and any(refilled):
        flat, refilled = ms.ravel(), np.asarray(refilled)
        print(f"  steps that refilled the Tracks window ({refilled.sum()}): median "
              f"{np.median(flat[refilled]):.0f}, max {flat[refilled].max():.0f} ms; the "
              f"others: median {np.median(flat[~refilled]):.0f}, 95th "
              f"{np.percentile(flat[~refilled], 95):.0f}, max {flat[~refilled].max():.0f} ms")
    print("  target: < 200 ms per step")
    viewer.close()


if __name__ == "__main__":
    main()

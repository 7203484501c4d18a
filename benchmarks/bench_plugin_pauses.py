"""Pauses of napari's event loop while the Analyse widget works on a linked bulk_water.

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/bench_plugin_pauses.py \
        [--frames 300] [--rounds 3] [--no-freeze]

Locates bulk_water (green channel, diameter 11, invert, minmass 20) and links
it (search range 5, memory 3) with the core into a store, opens the store in
a shown napari viewer with the plugin's reader (Points and windowed Tracks,
as a user gets them) and docks the Analyse widget. Then, ``rounds`` times:
click Analyse and wait until it is done and its plot drawn (+1.5 s), then
change the minimum length (the layers hide trajectories at once, and a new
analysis starts after the debounce) and wait 2.5 s.

A 10 ms QTimer on the GUI thread records the time between its ticks: the
longest gap is the longest the window did not respond. Full (generation 2)
garbage collections are timed too (``gc.callbacks``): they stop every
thread. ``--no-freeze`` runs without the widgets' one-time ``gc.freeze()``
(``_common.spare_the_collector``), for comparison.

Reported: per phase (analysis, minimum-length change) the longest gap of each
round, min / median / max; the full collections' durations. Target: no gap
over 200 ms.
"""
import argparse
import gc
import os
import tempfile
import time
import warnings

import numpy as np

import streamtrack
from streamtrack import workflow

from _common import bulk_water_files, compiled_kernels_ready

PARAMS = dict(diameter=11, invert=True, minmass=20)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-freeze", action="store_true",
                        help="without the widgets' one-time gc.freeze(), for comparison")
    args = parser.parse_args()
    compiled_kernels_ready()
    warnings.simplefilter("ignore")
    streamtrack.quiet()
    os.environ.setdefault("NAPARI_STREAMTRACK_CONFIG_DIR", tempfile.mkdtemp())
    path = os.path.join(tempfile.mkdtemp(), "tracks.h5")
    frames = workflow.open_movie(bulk_water_files(args.frames), channel=1)
    with streamtrack.PandasHDFStore(path) as store:
        streamtrack.batch(frames, output=store, **PARAMS)
        for _frame in workflow.link_in_place(store, search_range=5, memory=3):
            pass
        n_features = len(store.dump())

    import napari
    from qtpy.QtCore import QEventLoop, QTimer

    from napari_streamtrack._widgets import _common
    from napari_streamtrack._widgets.analyse import AnalyseWidget

    if args.no_freeze:
        _common._FROZEN = True  # as if done: nothing is frozen

    def spin(ms):
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    viewer = napari.Viewer(show=True)
    viewer.open(path, plugin="napari-streamtrack")
    widget = AnalyseWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Analyse trajectories")
    widget.mpp.value, widget.fps.value = 100 / 285.0, 24.0
    spin(3000)

    collections, started = [], [0.0]

    def timed_collection(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        elif info["generation"] == 2:
            collections.append(time.perf_counter() - started[0])

    gc.callbacks.append(timed_collection)
    gaps, last = [], [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)

    def longest(action, wait_ms, signal=None):
        gaps.clear()
        last[0] = time.perf_counter()
        if signal is not None:
            loop = QEventLoop()
            signal.connect(lambda *_: loop.quit())
            action()
            loop.exec()
        else:
            action()
        spin(wait_ms)
        return max(gaps)

    analysed, changed = [], []
    for i in range(args.rounds):
        analysed.append(longest(widget.analyse_button.native.click, 1500, widget.done))
        changed.append(longest(lambda n=30 + i: setattr(widget.min_length, "value", n), 2500))
    timer.stop()
    gc.callbacks.remove(timed_collection)

    def spread(values):
        ms = 1e3 * np.asarray(values)
        return f"{ms.min():.0f} / {np.median(ms):.0f} / {ms.max():.0f} ms"

    print(f"Analyse widget on linked bulk_water ({args.frames} frames, {n_features:,} "
          f"features; Points + windowed Tracks), viewer shown; gc.freeze "
          f"{'off' if args.no_freeze else 'on'} ({gc.get_freeze_count():,} objects frozen)")
    print(f"  longest event-loop gap, analysis (until drawn + 1.5 s), min/median/max of "
          f"{args.rounds}: {spread(analysed)}")
    print(f"  longest event-loop gap, minimum length changed (+ 2.5 s): {spread(changed)}")
    print("  per round (analysis, change): " + ", ".join(
        f"({1e3 * a:.0f}, {1e3 * c:.0f})" for a, c in zip(analysed, changed)) + " ms")
    if collections:
        print(f"  full garbage collections: {len(collections)}, {spread(collections)}")
    print("  target: no gap over 200 ms")
    viewer.close()


if __name__ == "__main__":
    main()

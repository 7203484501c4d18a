"""A run's status line and progress bar change at most ~10 times a second.

Redrawing them for every frame of a fast run used to cost more than the run
itself (a 3.7 s locate took 14.8 s). The runs here yield hundreds of frames
a second, so per-frame updates would be tens of times too many: every test
checks the gaps between updates, not only their number.
"""
import time

import numpy as np
import pytest

import streamtrack
from napari_streamtrack._sample_data import brownian_movie_and_truth
from napari_streamtrack._widgets._common import UPDATE_INTERVAL, Throttle
from napari_streamtrack._widgets.link import LinkWidget
from napari_streamtrack._widgets.locate import LocateWidget

TIMEOUT = 60_000
# timers and a busy machine jitter; what matters is ~10 per second, not hundreds
MIN_GAP = 0.5 * UPDATE_INTERVAL


def _record(widget, worker):
    """Times of the status line's and the progress bar's changes during the run."""
    status, bar, yielded = [], [], []
    label = widget.status.native  # a QLabel: setText has no signal, so spy on it
    set_text = label.setText

    def spy(text):
        status.append(time.monotonic())
        set_text(text)

    label.setText = spy
    worker.pbar.events.value.connect(lambda _e: bar.append(time.monotonic()))
    worker.yielded.connect(lambda _i: yielded.append(time.monotonic()))
    return status, bar, yielded


def _check_rate(times, yielded, what):
    gaps = np.diff(times)
    assert len(times) >= 2, what  # the run did show its progress
    # the run went much faster than 10 frames a second: per-frame updates would fail
    assert len(yielded) / (yielded[-1] - yielded[0]) > 3 / UPDATE_INTERVAL
    assert gaps.min() >= MIN_GAP, f"{what}: {len(times)} updates, smallest gap {gaps.min():.4f} s"
    per_second = max(np.searchsorted(times, t + 1.0) - i for i, t in enumerate(times))
    assert per_second <= 1 / UPDATE_INTERVAL + 2, what


@pytest.fixture(scope="module")
def long_movie():
    # small frames, many of them: a few hundred frames a second
    return brownian_movie_and_truth(n_frames=400, shape=(96, 96), n_particles=4)[0]


def test_locate_updates_at_most_ten_times_a_second(make_napari_viewer, qtbot, tmp_path,
                                                   long_movie):
    viewer = make_napari_viewer()
    viewer.add_image(long_movie, name="movie")
    widget = LocateWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.params["diameter"].value = 11
    widget.params["minmass"].value = 500
    widget.processes = 1
    widget.store_path.value = tmp_path / "out.h5"
    with qtbot.waitSignal(widget.done, timeout=TIMEOUT) as blocker:
        worker = widget.run()
        status, bar, yielded = _record(widget, worker)
    assert blocker.args == ["located"]
    assert len(yielded) == len(long_movie)
    # the last change is the final message, whenever the run ends
    _check_rate(status[:-1], yielded, "status line")
    _check_rate(bar[:-1], yielded, "progress bar")  # the last: brought up to date
    assert worker.pbar.n == len(long_movie)  # brought up to date at the end
    assert widget.status.value.startswith(f"Located {len(long_movie)} frames")


def test_link_updates_at_most_ten_times_a_second(make_napari_viewer, qtbot, tmp_path,
                                                 long_movie):
    streamtrack.quiet()
    path = tmp_path / "located.h5"
    with streamtrack.PandasHDFStore(path) as store:
        streamtrack.batch(long_movie, 11, minmass=500, output=store, processes=1)
    viewer = make_napari_viewer()
    widget = LinkWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.store_file.value = path
    widget.search_range.value = 5
    with qtbot.waitSignal(widget.done, timeout=TIMEOUT) as blocker:
        worker = widget.run()
        status, bar, yielded = _record(widget, worker)
    assert blocker.args == ["linked"]
    assert len(yielded) == len(long_movie)
    _check_rate(status[:-1], yielded, "status line")
    _check_rate(bar[:-1], yielded, "progress bar")  # the last: brought up to date
    assert worker.pbar.n == len(long_movie)
    assert "trajectories" in widget.status.value


def test_throttle_keeps_the_last_value(qtbot):
    seen = []
    throttle = Throttle(seen.append, interval=0.05)
    for i in range(100):
        throttle(i)
    assert seen == [0]  # the first at once, the others wait
    qtbot.waitUntil(lambda: seen[-1] == 99, timeout=1000)
    assert seen == [0, 99]
    throttle(100)
    throttle.cancel()
    throttle.flush()
    qtbot.wait(100)
    assert seen == [0, 99]


def test_a_big_new_layer_is_shown_in_the_next_turn(make_napari_viewer, qtbot, monkeypatch):
    # adding and first drawing 10^5 points: two short pauses of the GUI, not one long
    from napari_streamtrack._widgets import _common

    monkeypatch.setattr(_common, "STAGGER_ROWS", 10)
    viewer = make_napari_viewer()
    small = _common.put_layer(viewer, "small", np.zeros((10, 3)), {}, "points")
    big = _common.put_layer(viewer, "big", np.zeros((11, 3)), {}, "points")
    assert small.visible and not big.visible
    qtbot.waitUntil(lambda: big.visible, timeout=1000)
    hidden = _common.put_layer(viewer, "hidden", np.zeros((11, 3)), {"visible": False},
                               "points")
    qtbot.wait(3 * _common.STAGGER_MS)
    assert not hidden.visible  # the caller's choice stands

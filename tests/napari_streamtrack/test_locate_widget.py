"""The Locate features widget: preview, runs into a store, Cancel, errors, settings.

Every expectation is the core's own answer (``streamtrack.locate`` /
``streamtrack.batch`` with the widget's parameters): the widget must add
nothing and lose nothing. Workers are awaited through their signals.
"""
import os
import threading

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import streamtrack
from napari_streamtrack._layers import points_data
from napari_streamtrack._sample_data import brownian_movie_and_truth
from napari_streamtrack._widgets import locate as locate_module
from napari_streamtrack._widgets.locate import LocateWidget

TIMEOUT = 30_000
SAMPLE = dict(diameter=11, minmass=500)
LOCATE = streamtrack.locate  # the core's, even while a test spies on the module attribute
GEOMETRY = dict(scale=(2.0, 0.5, 0.25), translate=(10.0, -3.0, 7.0), axis_labels=("t", "y", "x"))


@pytest.fixture(scope="module")
def movie():
    return brownian_movie_and_truth(n_frames=10)[0]


@pytest.fixture
def errors(monkeypatch):
    """Messages the widget shows with napari's show_error."""
    shown = []
    monkeypatch.setattr(locate_module, "show_error", shown.append)
    return shown


def make_widget(viewer, **params):
    widget = LocateWidget(viewer)
    viewer.window.add_dock_widget(widget)  # closed with the viewer
    for name, value in params.items():
        widget.params[name].value = value
    return widget


def run(qtbot, widget, path=None):
    """Run into ``path`` and wait for the worker; return what ``done`` said."""
    if path is not None:
        widget.store_path.value = path
    with qtbot.waitSignal(widget.done, timeout=TIMEOUT) as blocker:
        assert widget.run() is not None
    return blocker.args[0]


def shown(widget, part):
    """``part`` would be visible if the (hidden) viewer were shown."""
    return part.native.isVisibleTo(widget.native)


def batch_store(path, frames, store_class=streamtrack.PandasHDFStore, **kwargs):
    with store_class(path, mode="w") as store:
        streamtrack.batch(frames, output=store, processes=1, **kwargs)
    return path


def read_frames(path, store_class=streamtrack.PandasHDFStore):
    with store_class(path, mode="r") as store:
        return {f: store.get(f) for f in store.frames}, store.metadata


def assert_same_stores(path, expected_path, store_class=streamtrack.PandasHDFStore, only=None):
    got, _ = read_frames(path, store_class)
    expected, _ = read_frames(expected_path, store_class)
    if only is not None:
        expected = {f: expected[f] for f in only}
    assert list(got) == list(expected)
    for f in expected:
        assert_frame_equal(got[f], expected[f])


def assert_layer_holds(layer, table):
    data, features = points_data(table.reset_index(drop=True))
    np.testing.assert_array_equal(layer.data, data)
    assert_frame_equal(layer.features.reset_index(drop=True), features)


def table_of(path):
    frames, _ = read_frames(path)
    return pd.concat(frames.values(), ignore_index=True)


# ----------------------------------------------------------------------- run
def test_run_equals_batch_with_metadata_and_geometry(make_napari_viewer, qtbot, tmp_path,
                                                     movie, errors):
    viewer = make_napari_viewer()
    image = viewer.add_image(movie, name="movie", **GEOMETRY)
    widget = make_widget(viewer, **SAMPLE)
    assert widget.layer.value is image

    assert run(qtbot, widget, tmp_path / "out.h5") == "located" and not errors
    expected = batch_store(tmp_path / "batch.h5", streamtrack.open(movie), **SAMPLE)
    assert_same_stores(tmp_path / "out.h5", expected)

    layer = viewer.layers["movie features"]
    assert_layer_holds(layer, table_of(expected))
    # sits on the image, drawn as rings of about the diameter
    np.testing.assert_array_equal(layer.scale, image.scale)
    np.testing.assert_array_equal(layer.translate, image.translate)
    assert tuple(layer.axis_labels) == ("t", "y", "x")
    assert np.all(layer.size == 11)
    assert np.all(layer.face_color[:, 3] == 0) and np.all(layer.border_color[:, 3] == 1)
    # parameters and version: in the layer (the Link widget reads 'store') and the store
    meta = layer.metadata["streamtrack"]
    assert meta["store"] == str(tmp_path / "out.h5")
    assert meta["store_class"] == "PandasHDFStore"
    assert meta["locate"] == widget.locate_kwargs()
    assert meta["locate"]["diameter"] == 11 and meta["locate"]["minmass"] == 500
    assert meta["version"] == streamtrack.__version__ and meta["source"] == "movie"
    _, store_meta = read_frames(tmp_path / "out.h5")
    assert store_meta["locate"] == {**widget.locate_kwargs(), "version": streamtrack.__version__,
                                    "source": "movie", "channel": None, "frames": [0, 10]}
    n = len(table_of(expected))
    assert widget.status.value == f"Located 10 frames, {n:,} features -> out.h5"
    assert widget.run_button.enabled and not widget.cancel_button.enabled
    # napari's progress bar counted the frames (one yield per frame)
    assert widget.worker.pbar.total == 10 and widget.worker.pbar.n == 10


def test_opens_from_the_plugin_menu(make_napari_viewer, qtbot, tmp_path, movie, errors):
    # napari injects the viewer (as a public-only proxy) by the annotation
    viewer = make_napari_viewer()
    viewer.add_image(movie[:3], name="movie", **GEOMETRY)
    _, widget = viewer.window.add_plugin_dock_widget("napari-streamtrack", "Locate features")
    assert isinstance(widget, LocateWidget) and widget.viewer.__wrapped__ is viewer
    for name, value in SAMPLE.items():
        widget.params[name].value = value
    widget.preview.value = True
    qtbot.waitUntil(lambda: "movie preview" in viewer.layers, timeout=TIMEOUT)
    assert run(qtbot, widget, tmp_path / "menu.h5") == "located" and not errors
    assert len(viewer.layers["movie features"].data) > 0


def test_frame_range_keeps_absolute_frame_numbers(make_napari_viewer, qtbot, tmp_path, movie):
    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    widget = make_widget(viewer, **SAMPLE)
    widget.all_frames.value = False
    widget.start.value, widget.stop.value = 3, 7

    assert run(qtbot, widget, tmp_path / "range.h5") == "located"
    expected = batch_store(tmp_path / "batch.h5", streamtrack.open(movie)[3:7], **SAMPLE)
    assert_same_stores(tmp_path / "range.h5", expected)
    assert read_frames(tmp_path / "range.h5")[0].keys() == {3, 4, 5, 6}
    layer = viewer.layers["movie features"]
    assert set(layer.data[:, 0]) == {3, 4, 5, 6}
    assert layer.metadata["streamtrack"]["frames"] == [3, 7]


@pytest.mark.parametrize("store_class", ["PandasHDFStoreBig", "PandasHDFStoreSingleNode"])
def test_other_store_layouts(make_napari_viewer, qtbot, tmp_path, movie, store_class):
    viewer = make_napari_viewer()
    viewer.add_image(movie[:4], name="movie")
    widget = make_widget(viewer, **SAMPLE)
    widget.store_class.value = store_class
    cls = getattr(streamtrack, store_class)

    assert run(qtbot, widget, tmp_path / "out.h5") == "located"
    expected = batch_store(tmp_path / "batch.h5", streamtrack.open(movie[:4]), cls, **SAMPLE)
    assert_same_stores(tmp_path / "out.h5", expected, cls)
    assert viewer.layers["movie features"].metadata["streamtrack"]["store_class"] == store_class


def test_existing_store_keeps_other_frames(make_napari_viewer, qtbot, tmp_path, movie):
    # mode 'a': frames located now are replaced, the rest of the file stays
    path = batch_store(tmp_path / "out.h5", streamtrack.open(movie)[:6], **SAMPLE)
    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    widget = make_widget(viewer, diameter=11, minmass=800)
    widget.all_frames.value = False
    widget.start.value, widget.stop.value = 4, 8

    assert run(qtbot, widget, path) == "located"
    frames, _ = read_frames(path)
    assert list(frames) == list(range(8))
    old = streamtrack.batch(streamtrack.open(movie)[:4], processes=1, **SAMPLE)
    new = streamtrack.batch(streamtrack.open(movie)[4:8], 11, minmass=800, processes=1)
    assert_frame_equal(pd.concat([frames[f] for f in range(4)], ignore_index=True), old)
    assert_frame_equal(pd.concat([frames[f] for f in range(4, 8)], ignore_index=True), new)


def test_rgb_frames_use_the_chosen_channel(make_napari_viewer, qtbot, tmp_path, movie):
    rgba = np.zeros(movie.shape + (4,), np.uint8)
    rgba[..., 0] = np.random.default_rng(0).integers(0, 255, movie.shape, dtype=np.uint8)
    rgba[..., 1] = movie
    rgba[..., 3] = 255
    viewer = make_napari_viewer()
    image = viewer.add_image(rgba, name="colour", rgb=True, **GEOMETRY)
    widget = make_widget(viewer, **SAMPLE)
    assert shown(widget, widget.channel) and widget.channel.value == 1  # green by default
    assert widget.channel.max == 3

    assert run(qtbot, widget, tmp_path / "rgb.h5") == "located"
    expected = batch_store(tmp_path / "gray.h5", streamtrack.open(movie), **SAMPLE)
    assert_same_stores(tmp_path / "rgb.h5", expected)
    layer = viewer.layers["colour features"]
    assert layer.ndim == 3  # (frame, y, x): the channel axis is not a layer axis
    np.testing.assert_array_equal(layer.scale, image.scale)
    np.testing.assert_array_equal(layer.translate, image.translate)
    assert layer.metadata["streamtrack"]["channel"] == 1


def test_a_single_image_is_one_frame(make_napari_viewer, qtbot, tmp_path, movie):
    viewer = make_napari_viewer()
    viewer.add_image(movie[2], name="still", scale=(0.5, 0.5))
    widget = make_widget(viewer, **SAMPLE)
    assert not shown(widget, widget.channel)

    assert run(qtbot, widget, tmp_path / "still.h5") == "located"
    expected = streamtrack.batch(streamtrack.open(movie[2:3]), processes=1, **SAMPLE)
    got, _ = read_frames(tmp_path / "still.h5")
    assert list(got) == [0]
    layer = viewer.layers["still features"]
    np.testing.assert_array_equal(layer.data, expected[["y", "x"]].to_numpy())
    np.testing.assert_array_equal(layer.features["frame"], 0)
    np.testing.assert_array_equal(layer.scale, (0.5, 0.5))


# -------------------------------------------------------------------- cancel
def gated_movie(movie, open_frames, gate):
    """A dask movie whose frames from ``open_frames`` on wait for ``gate`` when
    ``batch_iter``'s threads read them (napari reads them freely, to display)."""
    import dask
    import dask.array as da

    def read(i):
        if i >= open_frames and threading.current_thread().name.startswith("streamtrack-batch"):
            gate.wait(20)
        return movie[i]

    frames = [da.from_delayed(dask.delayed(read)(i), movie.shape[1:], movie.dtype)
              for i in range(len(movie))]
    return da.stack(frames)


@pytest.fixture
def dask_in_caller():
    """dask computes in the calling thread (so a read knows who asked)."""
    import dask

    with dask.config.set(scheduler="synchronous"):
        yield


def test_cancel_keeps_every_finished_frame(make_napari_viewer, qtbot, tmp_path, movie, errors,
                                           dask_in_caller):
    gate = threading.Event()
    viewer = make_napari_viewer()
    viewer.add_image(gated_movie(movie, 3, gate), name="movie", contrast_limits=(0, 255))
    widget = make_widget(viewer, **SAMPLE)
    widget.processes = 2  # frames are read in batch_iter's (gated) threads
    widget.store_path.value = tmp_path / "cut.h5"
    yielded = []
    try:
        worker = widget.run()
        worker.yielded.connect(lambda item: yielded.append(item[0]))
        # the worker now waits for frame 3; the GUI still answers: signals
        # arrive, buttons switch, and a preview runs meanwhile
        qtbot.waitUntil(lambda: len(yielded) == 3, timeout=TIMEOUT)
        assert widget.running and widget.cancel_button.enabled and not widget.run_button.enabled
        widget.preview.value = True
        qtbot.waitUntil(lambda: "movie preview" in viewer.layers, timeout=TIMEOUT)
        with qtbot.waitSignal(widget.done, timeout=TIMEOUT) as blocker:
            widget.cancel()
            gate.set()
    finally:
        gate.set()
    assert blocker.args == ["cancelled"] and not errors
    assert 3 <= len(yielded) < len(movie)
    assert worker.abort_requested

    expected = batch_store(tmp_path / "batch.h5", streamtrack.open(movie), **SAMPLE)
    assert_same_stores(tmp_path / "cut.h5", expected, only=sorted(yielded))
    assert_layer_holds(viewer.layers["movie features"],
                       table_of(expected).query("frame in @yielded"))
    assert widget.status.value.startswith(
        f"Cancelled after {len(yielded)} frames; the store holds them")
    assert widget.run_button.enabled and not widget.running


# ------------------------------------------------------------------- preview
def expected_preview(movie, index, kwargs):
    frame = streamtrack.open(movie)[index]
    return (LOCATE(frame, **kwargs),
            LOCATE(frame, **{**kwargs, "minmass": None, "topn": None}))


def preview_matches(viewer, widget, movie, index):
    name = "movie preview"
    if name not in viewer.layers:
        return False
    kept, every = expected_preview(movie, index, widget.locate_kwargs())
    data, features = points_data(kept)
    layer = viewer.layers[name]
    return (layer.data.shape == data.shape and np.array_equal(layer.data, data)
            and layer.features.reset_index(drop=True).equals(features)
            and np.array_equal(widget.histogram.masses, kept["mass"].to_numpy())
            and np.array_equal(widget.histogram.all_masses, every["mass"].to_numpy())
            and widget.histogram.minmass == widget.params["minmass"].value)


def test_preview_follows_parameters_and_frame(make_napari_viewer, qtbot, movie):
    streamtrack.locate(movie[0], 11)  # compiled kernels warm: time the widget, not the JIT
    viewer = make_napari_viewer()
    image = viewer.add_image(movie, name="movie", **GEOMETRY)
    widget = make_widget(viewer, **SAMPLE)
    viewer.dims.set_current_step(0, 0)  # napari opens movies in the middle
    assert "movie preview" not in viewer.layers and not widget.histogram.isVisibleTo(widget.native)

    widget.preview.value = True
    qtbot.waitUntil(lambda: preview_matches(viewer, widget, movie, 0), timeout=2000)
    layer = viewer.layers["movie preview"]
    np.testing.assert_array_equal(layer.scale, image.scale)
    assert widget.histogram.isVisibleTo(widget.native)
    assert viewer.layers.selection.active is not layer  # the user's selection stays

    # a parameter: within a fraction of a second (debounce 100 ms + one locate)
    widget.params["minmass"].value = 1500
    assert widget.histogram.minmass == 1500  # the line moves at once
    qtbot.waitUntil(lambda: preview_matches(viewer, widget, movie, 0), timeout=1000)
    widget.params["invert"].value = True
    qtbot.waitUntil(lambda: preview_matches(viewer, widget, movie, 0), timeout=1000)
    widget.params["invert"].value = False
    # the frame
    viewer.dims.set_current_step(0, 6)
    qtbot.waitUntil(lambda: preview_matches(viewer, widget, movie, 6), timeout=1000)
    assert set(layer.data[:, 0]) == {6}
    n_kept, n_all = len(widget.histogram.masses), len(widget.histogram.all_masses)
    assert widget.histogram.title == f"frame 6: {n_kept} features of {n_all} candidates"
    assert widget.histogram.axes.get_title() == widget.histogram.title

    # the histogram draws what it holds: grey candidates, coloured kept ones
    heights = [p.get_height() for p in widget.histogram.axes.patches]
    assert sum(heights) == len(widget.histogram.all_masses) + len(widget.histogram.masses)
    line = widget.histogram.axes.lines[0]
    assert list(line.get_xdata()) == [1500, 1500]

    widget.preview.value = False
    assert "movie preview" not in viewer.layers


def test_preview_runs_off_the_gui_thread_latest_request_wins(make_napari_viewer, qtbot,
                                                             movie, monkeypatch):
    calls = []
    real_locate = streamtrack.locate

    def spy(image, **kwargs):
        calls.append((threading.current_thread(), kwargs["minmass"]))
        return real_locate(image, **kwargs)

    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    widget = make_widget(viewer, **SAMPLE)
    viewer.dims.set_current_step(0, 0)
    monkeypatch.setattr(streamtrack, "locate", spy)
    widget.preview.value = True
    qtbot.waitUntil(lambda: preview_matches(viewer, widget, movie, 0), timeout=TIMEOUT)
    calls.clear()
    for minmass in (600, 700, 800, 900):  # typing: one job for the last value
        widget.params["minmass"].value = minmass
    qtbot.waitUntil(lambda: bool(calls) and not widget.preview_job.busy, timeout=TIMEOUT)
    assert preview_matches(viewer, widget, movie, 0)
    assert widget.histogram.minmass == 900
    assert all(thread is not threading.main_thread() for thread, _ in calls)
    assert [m for _, m in calls if m is not None] == [900]


# -------------------------------------------------------------------- errors
def test_errors_are_messages_not_exceptions(make_napari_viewer, qtbot, tmp_path, movie, errors):
    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    widget = make_widget(viewer, **SAMPLE)

    assert widget.run() is None  # no store chosen
    assert "Choose a store file" in widget.status.value and errors[-1] == widget.status.value

    widget.store_path.value = tmp_path / "bad.h5"
    widget.all_frames.value = False
    widget.start.value, widget.stop.value = 5, 5
    assert widget.run() is None and "Empty frame range" in errors[-1]
    widget.all_frames.value = True

    # noise_size >= smoothing_size: the core refuses, before any file is made
    widget.more.value = True
    widget.params["noise_size"].value = 11
    assert run(qtbot, widget) == "failed"
    assert "noise_size" in widget.status.value and "noise_size" in errors[-1]
    assert not os.path.exists(tmp_path / "bad.h5")
    assert "movie features" not in viewer.layers and not widget.running

    # the preview says so in the status line
    widget.preview.value = True
    qtbot.waitUntil(lambda: widget.status.value.startswith("Preview: noise_size"),
                    timeout=TIMEOUT)
    widget.params["noise_size"].value = 1
    qtbot.waitUntil(lambda: widget.status.value == "", timeout=TIMEOUT)
    assert widget.histogram.title.startswith("frame ")

    # the diameter stays odd: typed even values go up, stepping down goes down
    widget.params["diameter"].value = 12
    assert widget.params["diameter"].value == 13
    widget.params["diameter"].value = 12
    assert widget.params["diameter"].value == 11
    widget.params["smoothing_size"].value = 4
    assert widget.params["smoothing_size"].value == 5


def test_not_a_movie_is_refused(make_napari_viewer, tmp_path, errors):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((2, 3, 16, 16), np.uint8), name="volume")
    widget = make_widget(viewer)
    widget.store_path.value = tmp_path / "x.h5"
    assert widget.run() is None and "2-D frames over time" in errors[-1]


def test_layer_choices_follow_the_viewer(make_napari_viewer, movie):
    viewer = make_napari_viewer()
    widget = make_widget(viewer)
    assert widget.layer.value is None and widget.run() is None
    first = viewer.add_image(movie, name="one")
    viewer.add_points(np.zeros((1, 3)), name="points")  # not an image: not offered
    second = viewer.add_image(movie[:3], name="two")
    assert [c for c in widget.layer.choices] == [first, second]
    widget.layer.value = second
    assert widget.stop.max == 3 and widget.stop.value == 3
    viewer.layers.remove(second)
    assert list(widget.layer.choices) == [first] and widget.layer.value is first


# ------------------------------------------------------------------ settings
def test_parameters_are_remembered(make_napari_viewer, qtbot, tmp_path, movie):
    values = dict(diameter=9, minmass=321.5, invert=True, maxsize=2.5, separation=7.0,
                  noise_size=1.5, smoothing_size=13, threshold=0.5, percentile=50.0,
                  topn=7, preprocess=False, max_iterations=5, characterize=False)
    viewer = make_napari_viewer()
    viewer.add_image(movie[:2], name="movie")
    first = make_widget(viewer, **values)
    first.channel.value = 2
    first.store_class.value = "PandasHDFStoreBig"
    assert run(qtbot, first, tmp_path / "out.h5") == "located"

    second = make_widget(viewer)
    assert {n: w.value for n, w in second.params.items()} == values
    assert second.channel.value == 2 and second.store_class.value == "PandasHDFStoreBig"
    # and every change is remembered without a run
    second.params["diameter"].value = 15
    # (an image whose features are in the viewer gets their record's parameters:
    # test_predictable; without them, the last values)
    viewer.layers.remove("movie features")
    assert make_widget(viewer).params["diameter"].value == 15


def test_status_line_notice_of_a_kernel_compile():
    """The core announces a compile from its background thread; the widget's
    notice keeps the text for the status line and lets go when closed."""
    from napari_streamtrack._widgets._common import CompileNotice
    from streamtrack import _fastpath

    for thread in list(_fastpath._threads.values()):
        thread.join()  # no real compile may announce itself meanwhile
    notice = CompileNotice()
    _fastpath._notify("compiling kernels, first run only")
    assert notice.suffix() == " (compiling kernels, first run only)"
    _fastpath._notify(None)
    assert notice.suffix() == ""
    notice.close()
    assert notice._set not in _fastpath._listeners

"""A big Link result's Tracks layer holds only the frames around the time slider.

napari draws every vertex a Tracks layer holds at every slider step (its
shader hides what is outside the tail); a whole movie's tracks made a step
of a linked bulk_water take 0.4 s. The window is made small here
(``TRACKS_WINDOW_VERTICES``) so that a small movie is windowed.
"""
import numpy as np
import pytest

import streamtrack
from napari_streamtrack import _layers, _window
from napari_streamtrack._sample_data import brownian_movie_and_truth
from napari_streamtrack._widgets import link as link_module
from napari_streamtrack._widgets.link import LinkWidget

TIMEOUT = 30_000
MARGIN = 3


@pytest.fixture
def linked_viewer(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(_window, "TRACKS_WINDOW_VERTICES", 50)
    monkeypatch.setattr(_window, "TRACKS_WINDOW_MARGIN", MARGIN)
    monkeypatch.setattr(link_module, "MAX_TAIL", 4)
    streamtrack.quiet()
    movie, _truth = brownian_movie_and_truth(n_frames=30)
    path = tmp_path / "movie.h5"
    with streamtrack.PandasHDFStore(path) as store:
        streamtrack.batch(movie, 11, minmass=500, output=store, processes=1)
    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    widget = LinkWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.store_file.value = path
    widget.search_range.value = 5
    viewer.dims.set_current_step(0, 10)
    with qtbot.waitSignal(widget.done, timeout=TIMEOUT) as blocker:
        widget.run()
    assert blocker.args == ["linked"], widget.status.value
    with streamtrack.PandasHDFStore(path, mode="r") as store:
        linked = store.dump()
    return viewer, linked


def _held_frames(tracks):
    return set(np.unique(tracks.data[:, 1]).astype(int))


def test_tracks_follow_the_slider(linked_viewer):
    viewer, linked = linked_viewer
    tracks = viewer.layers["movie tracks"]
    window = _window.tracks_window(tracks)
    assert window is not None and tracks.tail_length == 4 and tracks.head_length == 0
    # frames 10 - 4 - 3 .. 10 + 3: the tail of frame 10 and a margin either side
    assert _held_frames(tracks) == set(range(3, 14))
    all_tracks, _ = _layers.tracks_data(linked)

    for t in (11, 12, 13, 14, 20, 0, 29):
        viewer.dims.set_current_step(0, t)
        held = _held_frames(tracks)
        # the tail (and head) of the frame on screen are always there ...
        assert set(range(max(t - 4, 0), t + 1)) <= held, t
        # ... and never the whole movie
        assert len(held) <= 4 + 2 * MARGIN + 1
        # the rows held are exactly the movie's tracks of those frames
        rows = np.isin(all_tracks[:, 1], sorted(held))
        np.testing.assert_array_equal(tracks.data, all_tracks[rows])
        assert len(tracks.features) == len(tracks.data)
    # stepping inside the window does not refill it
    viewer.dims.set_current_step(0, 15)
    refills = window.refills
    viewer.dims.set_current_step(0, 16)
    assert window.refills == refills

    # one colour per particle, the same as its points
    points = viewer.layers["movie features"]
    ids = points.features["particle"].to_numpy()
    for particle in np.unique(tracks.data[:, 0])[:5]:
        colours = tracks.track_colors[tracks.data[:, 0] == particle]
        np.testing.assert_allclose(colours, colours[0:1].repeat(len(colours), 0))
        np.testing.assert_allclose(colours[0], points.border_color[ids == particle][0])


def test_left_out_tracks_stay_out_as_the_slider_moves(linked_viewer):
    """``keep_tracks`` (the Analyse widget's length filter) on a windowed layer."""
    viewer, linked = linked_viewer
    tracks = viewer.layers["movie tracks"]
    window = _window.tracks_window(tracks)
    all_tracks, _ = _layers.tracks_data(linked)
    ids = np.unique(all_tracks[:, 0])
    hidden = ids[::2]
    _window.keep_tracks(viewer, tracks, lambda p: ~np.isin(p, hidden))
    assert _window.tracks_window(tracks) is window  # the same window, filtered
    for t in (10, 20, 0, 29):
        viewer.dims.set_current_step(0, t)
        held = sorted(_held_frames(tracks))
        rows = np.isin(all_tracks[:, 1], held) & ~np.isin(all_tracks[:, 0], hidden)
        np.testing.assert_array_equal(tracks.data, all_tracks[rows])
        assert len(tracks.features) == len(tracks.data)
        assert (tracks.track_colors[:, 3] == 1).all()
    # nothing kept in the window: one transparent vertex (a Tracks layer cannot be empty)
    _window.keep_tracks(viewer, tracks, lambda p: np.zeros(len(p), bool))
    assert len(tracks.data) == 1 and (tracks.track_colors[:, 3] == 0).all()
    # all back
    _window.keep_tracks(viewer, tracks, None)
    held = sorted(_held_frames(tracks))
    np.testing.assert_array_equal(tracks.data, all_tracks[np.isin(all_tracks[:, 1], held)])
    assert _window.tracks_window(tracks) is window


def test_left_out_tracks_of_a_layer_without_window(make_napari_viewer):
    """A small Tracks layer gets a window holding every frame while tracks are left out."""
    viewer = make_napari_viewer()
    data = np.array([[1, 0, 5, 5], [1, 1, 6, 6], [2, 0, 9, 9], [2, 1, 8, 8], [2, 2, 7, 7],
                     [3, 1, 2, 2], [3, 2, 3, 3]], float)
    tracks = viewer.add_tracks(data, features={"mass": np.arange(7.0)})
    tracks.display_id = True
    _window.keep_tracks(viewer, tracks, lambda p: p != 2)
    np.testing.assert_array_equal(tracks.data, data[data[:, 0] != 2])
    np.testing.assert_array_equal(tracks.features["mass"], [0, 1, 5, 6])
    for t in (0, 1, 2):  # the slider never refills it
        viewer.dims.set_current_step(0, t)
        np.testing.assert_array_equal(tracks.data, data[data[:, 0] != 2])
    np.testing.assert_array_equal(_window.all_tracks(tracks)[0], data)
    _window.keep_tracks(viewer, tracks, None)
    np.testing.assert_array_equal(tracks.data, data)
    np.testing.assert_array_equal(tracks.features["mass"], np.arange(7.0))
    assert _window.tracks_window(tracks) is None


def test_removing_the_layer_stops_the_window(linked_viewer):
    viewer, _ = linked_viewer
    tracks = viewer.layers["movie tracks"]
    window = _window.tracks_window(tracks)
    viewer.layers.remove(tracks)
    assert _window.tracks_window(tracks) is None
    refills = window.refills
    viewer.dims.set_current_step(0, 29)
    assert window.refills == refills


def test_small_results_hold_every_track(make_napari_viewer, qtbot, tmp_path):
    movie, _truth = brownian_movie_and_truth(n_frames=10)
    path = tmp_path / "small.h5"
    streamtrack.quiet()
    with streamtrack.PandasHDFStore(path) as store:
        streamtrack.batch(movie, 11, minmass=500, output=store, processes=1)
        linked_rows = len(store.dump())
    viewer = make_napari_viewer()
    widget = LinkWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.store_file.value = path
    with qtbot.waitSignal(widget.done, timeout=TIMEOUT):
        widget.run()
    tracks = viewer.layers["small tracks"]
    assert _window.tracks_window(tracks) is None and len(tracks.data) == linked_rows


def test_a_big_linked_store_opens_with_windowed_tracks(make_napari_viewer, tmp_path,
                                                       monkeypatch):
    monkeypatch.setattr(_window, "TRACKS_WINDOW_VERTICES", 50)
    monkeypatch.setattr(_window, "TRACKS_WINDOW_MARGIN", MARGIN)
    movie, _truth = brownian_movie_and_truth(n_frames=30)
    path = tmp_path / "linked.h5"
    streamtrack.quiet()
    with streamtrack.PandasHDFStore(path) as store:
        streamtrack.batch(movie, 11, minmass=500, output=store, processes=1)
        linked = streamtrack.link_df(store.dump(), 5)
    with streamtrack.PandasHDFStore(path, mode="w") as store:
        for _, frame in linked.groupby("frame"):
            store.put(frame)
    viewer = make_napari_viewer()
    viewer.dims.set_current_step(0, 0)
    points, tracks = viewer.open(str(path), plugin="napari-streamtrack")
    assert len(points.data) == len(linked)  # the points: all of them
    window = _window.tracks_window(tracks)
    assert window is not None
    all_tracks, _ = _layers.tracks_data(linked)
    tail = int(tracks.tail_length)
    for t in (0, 20, 29, 5):
        viewer.dims.set_current_step(0, t)
        held = _held_frames(tracks)
        assert set(range(max(t - tail, 0), t + 1)) <= held
        np.testing.assert_array_equal(tracks.data, all_tracks[np.isin(all_tracks[:, 1],
                                                                      sorted(held))])
    assert len(tracks.data) < len(all_tracks)
    # without a viewer the layer data hold every track
    viewer.close()
    from napari_streamtrack import layers_from_store

    monkeypatch.setattr("napari.current_viewer", lambda: None)
    layers = layers_from_store(path)
    assert len(layers[1].data) == len(all_tracks)

"""The whole flow through napari, as a user clicks it: open the sample, Locate, Link.

Layers must hold exactly what the core produces with the same parameters,
and the store written on the way must read back, in napari and in trackpy.
"""
import numpy as np
import pandas as pd
import pytest

import streamtrack
from napari_streamtrack import _layers, _reader

trackpy = pytest.importorskip("trackpy")
TIMEOUT = 60_000


def test_sample_locate_link_against_the_core(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-streamtrack", "brownian")
    image = viewer.layers["brownian particles"]
    suggested = image.metadata

    _, locate = viewer.window.add_plugin_dock_widget("napari-streamtrack", "Locate features")
    locate.layer.value = image
    for name, value in suggested["suggested_locate"].items():
        locate.params[name].value = value
    path = str(tmp_path / "flow.h5")
    locate.store_path.value = path
    with qtbot.waitSignal(locate.done, timeout=TIMEOUT) as blocker:
        locate.run()
    assert blocker.args[0] == "located"
    points = viewer.layers["brownian particles features"]

    _, link = viewer.window.add_plugin_dock_widget("napari-streamtrack", "Link trajectories")
    link.points.value = points
    link.search_range.value = suggested["suggested_link"]["search_range"]
    link.memory.value = suggested["suggested_link"]["memory"]
    with qtbot.waitSignal(link.done, timeout=TIMEOUT) as blocker:
        link.run()
    assert blocker.args[0] == "linked"
    tracks = viewer.layers["brownian particles tracks"]

    # the core, same parameters, no napari
    features = streamtrack.batch(streamtrack.open(image.data), processes=1,
                                 **suggested["suggested_locate"])
    linked = streamtrack.link_df(features, **suggested["suggested_link"])
    want_points, want_features = _layers.points_data(linked)
    np.testing.assert_allclose(points.data, want_points)
    pd.testing.assert_frame_equal(points.features[want_features.columns].reset_index(drop=True),
                                  want_features, check_dtype=False)
    want_tracks, want_track_features = _layers.tracks_data(linked)
    np.testing.assert_allclose(tracks.data, want_tracks)
    np.testing.assert_array_equal(tracks.features["particle"], want_track_features["particle"])

    # the store holds the same, trackpy reads it, and the plugin's reader shows it again
    with trackpy.PandasHDFStore(path) as theirs:
        stored = pd.concat([theirs.get(t) for t in theirs.frames], ignore_index=True)
    pd.testing.assert_frame_equal(stored[linked.columns], linked.reset_index(drop=True),
                                  check_dtype=False)
    layers = _reader.get_reader(path)(path)
    assert [kind for *_, kind in layers] == ["points", "tracks"]
    np.testing.assert_allclose(layers[1][0], want_tracks)
    # and the truth: most true trajectories come out whole
    truth = suggested["truth"]
    assert linked["particle"].nunique() <= 1.5 * truth["particle"].nunique()


def test_widgets_show_a_store_too_big_for_layers_windowed(make_napari_viewer, qtbot, tmp_path,
                                                          monkeypatch):
    from napari_streamtrack import _window
    from napari_streamtrack._sample_data import brownian_movie_and_truth
    from napari_streamtrack._widgets.link import LinkWidget
    from napari_streamtrack._widgets.locate import LocateWidget

    monkeypatch.setattr(_layers, "WINDOW_FEATURES", 100)  # a few frames count as big
    viewer = make_napari_viewer()
    movie, _ = brownian_movie_and_truth(n_frames=12)
    image = viewer.add_image(movie, name="movie", scale=(1, 0.5, 0.5))
    locate = LocateWidget(viewer)
    viewer.window.add_dock_widget(locate)
    locate.layer.value = image
    locate.params["minmass"].value = 500
    path = str(tmp_path / "big.h5")
    locate.store_path.value = path
    with qtbot.waitSignal(locate.done, timeout=TIMEOUT):
        locate.run()
    points = viewer.layers["movie features"]
    window = _window.attached_window(points)
    assert window is not None  # not every feature held in memory
    assert tuple(points.scale) == (1, 0.5, 0.5)
    assert points.metadata["streamtrack"]["store"] == path
    window.wait()
    with streamtrack.PandasHDFStore(path, mode="r") as store:
        assert store.frames == list(range(12))
        t = window.current_frame()
        want = store.get(t)
    shown = points.data[points.shown]
    np.testing.assert_allclose(shown[shown[:, 0] == t][:, 1:], want[["y", "x"]].to_numpy())

    link = LinkWidget(viewer)
    viewer.window.add_dock_widget(link)
    link.points.value = points
    with qtbot.waitSignal(link.done, timeout=TIMEOUT) as blocker:
        link.run()
    assert blocker.args[0] == "linked"
    tracks = viewer.layers["movie tracks"]
    new_points = viewer.layers["movie features"]
    assert _window.attached_window(new_points) is not None
    assert tuple(tracks.scale) == (1, 0.5, 0.5)
    with streamtrack.PandasHDFStore(path, mode="r") as store:
        assert all("particle" in store.get(f).columns for f in store.frames)
        # the GUI's link left a checkpoint: 'streamtrack link --resume' continues it
        assert store.load_checkpoint("link")[0] == 11

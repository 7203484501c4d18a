"""The Link trajectories widget: it runs the core's linker and shows what it returns."""
import threading

import numpy as np
import pandas as pd
import pytest

import streamtrack
from napari_streamtrack import _layers
from napari_streamtrack._sample_data import brownian_movie_and_truth
from napari_streamtrack._widgets import link as link_module
from napari_streamtrack._widgets.link import LinkWidget
from streamtrack.predict import DriftPredict, NearestVelocityPredict
from streamtrack.stores.detect import open_store

TIMEOUT = 60_000


@pytest.fixture
def errors(monkeypatch):
    """Messages the widget shows with napari's show_error."""
    shown = []
    monkeypatch.setattr(link_module, "show_error", shown.append)
    return shown


def make_store(path, n_frames=15, store_class=streamtrack.PandasHDFStore):
    """Locate the sample movie into a store, as the Locate widget does."""
    streamtrack.quiet()
    movie, truth = brownian_movie_and_truth(n_frames=n_frames)
    with store_class(path) as store:
        streamtrack.batch(movie, 11, minmass=500, output=store)
        features = store.dump()
    return features, truth


def add_located(viewer, path, features, **geometry):
    """A Points layer like the Locate widget's output (data, features, metadata)."""
    data, feats = _layers.points_data(features)
    meta = {"streamtrack": {"store": str(path), "store_class": "PandasHDFStore",
                            "locate": {"diameter": 11, "minmass": 500},
                            "version": streamtrack.__version__}}
    return viewer.add_points(data, features=feats, name="movie features", metadata=meta,
                             **geometry)


def make_widget(viewer):
    widget = LinkWidget(viewer)
    viewer.window.add_dock_widget(widget)  # closed with the viewer
    return widget


def run(qtbot, widget):
    """Run the widget and wait until it has shown its results; return the outcome."""
    with qtbot.waitSignal(widget.done, timeout=TIMEOUT) as blocker:
        assert widget.run() is not None
    return blocker.args[0]


def assert_same_partition_as_truth(linked, truth):
    """Every linked particle is one true particle and every true particle one linked."""
    pairs = linked.reset_index(drop=True).reset_index().merge(
        truth, on="frame", suffixes=("", "_true"))
    pairs["d"] = np.hypot(pairs["y"] - pairs["y_true"], pairs["x"] - pairs["x_true"])
    best = pairs.loc[pairs.groupby("index")["d"].idxmin()]
    assert best["d"].max() < 1.0
    assert (best.groupby("particle")["particle_true"].nunique() == 1).all()
    assert (best.groupby("particle_true")["particle"].nunique() == 1).all()


def test_links_a_located_store_in_place(make_napari_viewer, qtbot, tmp_path, errors):
    path = tmp_path / "movie.h5"
    features, truth = make_store(path)
    viewer = make_napari_viewer()
    geometry = {"scale": (1, 0.5, 0.5), "translate": (0, 3, 4), "axis_labels": ("t", "y", "x")}
    points = add_located(viewer, path, features, **geometry)
    widget = make_widget(viewer)
    assert widget.points.value is points and widget.source.value == "Points layer"
    # two true steps of this movie are 5.6 and 5.8 px: 6 recovers every trajectory
    widget.search_range.value = 6

    assert run(qtbot, widget) == "linked" and not errors
    expected = streamtrack.link_df(features, 6)

    # the store: every frame has the core's ids (the core is deterministic)
    with open_store(path, mode="r") as store:
        assert store.frames == sorted(features["frame"].unique())
        for t in store.frames:
            np.testing.assert_array_equal(store.get(t)["particle"],
                                          expected[expected["frame"] == t]["particle"])
        record = store.metadata["link"]
    assert record["search_range"] == 6 and record["memory"] == 0
    assert record["predictor"] is None and record["adaptive_stop"] is None
    assert record["version"] == streamtrack.__version__ and record["complete"]
    assert_same_partition_as_truth(expected, truth)

    # the Tracks layer holds tracks_data of that result, on the Points layer's geometry
    tracks = viewer.layers["movie tracks"]
    tdata, tfeatures = _layers.tracks_data(expected)
    np.testing.assert_allclose(tracks.data, tdata)
    pd.testing.assert_frame_equal(tracks.features[list(tfeatures.columns)], tfeatures,
                                  check_dtype=False)
    for key, value in geometry.items():
        assert tuple(getattr(tracks, key)) == tuple(getattr(points, key)) == tuple(value)
    assert 1 <= tracks.tail_length <= 15

    # the Points layer: a particle per point, one colour per particle, shared with tracks
    np.testing.assert_array_equal(points.features["particle"], expected["particle"])
    np.testing.assert_allclose(points.data, _layers.points_data(expected)[0])
    colours = pd.DataFrame(points.border_color).assign(particle=expected["particle"].values)
    assert (colours.groupby("particle").nunique() == 1).all().all()
    assert len(colours.drop(columns="particle").drop_duplicates()) > 5
    first = np.flatnonzero(tracks.data[:, 0] == expected["particle"].iloc[0])[0]
    np.testing.assert_allclose(tracks.track_colors[first], points.border_color[0])

    for layer in (points, tracks):
        info = layer.metadata["streamtrack"]
        assert info["store"] == str(path) and info["link"]["search_range"] == 6
    assert "locate" in points.metadata["streamtrack"]
    n = expected["particle"].nunique()
    assert f"{n} trajectories" in widget.status.value and str(path) in widget.status.value


@pytest.mark.parametrize("store_class", [streamtrack.PandasHDFStoreBig,
                                         streamtrack.PandasHDFStoreSingleNode])
def test_links_a_store_file_and_adds_layers(make_napari_viewer, qtbot, tmp_path, errors,
                                            store_class):
    path = tmp_path / "big.h5"
    features, _ = make_store(path, n_frames=8, store_class=store_class)
    viewer = make_napari_viewer()
    viewer.add_points(np.zeros((1, 3)), name="hand drawn")  # not the input: a file is chosen
    widget = make_widget(viewer)
    widget.store_file.value = path
    assert widget.source.value == "Store file"  # choosing a file makes it the input

    assert run(qtbot, widget) == "linked" and not errors
    expected = streamtrack.link_df(features, 5)
    points, tracks = viewer.layers["big features"], viewer.layers["big tracks"]
    np.testing.assert_array_equal(points.features["particle"], expected["particle"])
    np.testing.assert_allclose(tracks.data, _layers.tracks_data(expected)[0])
    assert points.metadata["streamtrack"]["store"] == str(path)
    assert "particle" not in viewer.layers["hand drawn"].features
    with open_store(path, mode="r") as store:
        assert type(store) is store_class
        stored = store.dump()
    assert len(stored) == len(features)  # replaced, not appended
    np.testing.assert_array_equal(stored.sort_values(["frame", "y"])["particle"],
                                  expected.sort_values(["frame", "y"])["particle"])


def test_points_without_store_link_in_memory(make_napari_viewer, qtbot, tmp_path, errors):
    _, truth = brownian_movie_and_truth(n_frames=10)
    viewer = make_napari_viewer()
    # a layer made from a CSV of (frame, y, x): no store, no features
    table = truth.sort_values(["frame", "particle"]).reset_index(drop=True)
    points = viewer.add_points(table[["frame", "y", "x"]].to_numpy(), name="from csv")
    widget = make_widget(viewer)
    widget.search_range.value = 6  # one true step is 5.6 px

    assert run(qtbot, widget) == "linked" and not errors
    expected = streamtrack.link_df(_layers.features_from_points(points.data), 6)
    np.testing.assert_array_equal(points.features["particle"], expected["particle"])
    assert_same_partition_as_truth(expected, table)
    assert "store" not in points.metadata["streamtrack"]
    assert viewer.layers["from csv tracks"].data.shape == (len(table), 4)
    assert not list(tmp_path.rglob("*.h5"))  # nothing written


def _blinking():
    """Two still particles 20 px apart; the second is missing in frame 2."""
    return pd.DataFrame([{"frame": t, "y": 10.0 + 20 * k, "x": 10.0 + 0.1 * t}
                         for t in range(5) for k in range(2) if (k, t) != (1, 2)])


def _accelerating():
    """Two particles 50 px apart speeding up: steps of 1, 2, 3, 4, 5 px per frame."""
    return pd.DataFrame([{"frame": t, "y": 10.0 + 50 * k, "x": 10.0 + t * (t + 1) / 2}
                         for t in range(6) for k in range(2)])


@pytest.mark.parametrize("make, options, core", [
    (_blinking, {"memory": 1}, lambda df: streamtrack.link_df(df, 3.5, memory=1)),
    (_accelerating, {"predictor": "drift"}, lambda df: DriftPredict().link_df(df, 3.5)),
    (_accelerating, {"predictor": "nearest"},
     lambda df: NearestVelocityPredict().link_df(df, 3.5)),
])
def test_memory_and_predictor_as_in_the_core(make_napari_viewer, qtbot, errors, make,
                                             options, core):
    df = make()
    viewer = make_napari_viewer()
    points = viewer.add_points(df[["frame", "y", "x"]].to_numpy(), name="spots")
    widget = make_widget(viewer)
    widget.search_range.value = 3.5
    for key, value in options.items():
        getattr(widget, key).value = value

    assert run(qtbot, widget) == "linked" and not errors
    expected = core(_layers.features_from_points(points.data))
    np.testing.assert_array_equal(points.features["particle"], expected["particle"])
    # the option matters: with it each particle keeps one id, without it they break
    assert expected["particle"].nunique() == 2
    assert streamtrack.link_df(df, 3.5)["particle"].nunique() > 2
    record = points.metadata["streamtrack"]["link"]
    assert record["memory"] == options.get("memory", 0)
    assert record["predictor"] == {"drift": "DriftPredict",
                                   "nearest": "NearestVelocityPredict"}.get(
                                       options.get("predictor"))


@pytest.mark.parametrize("memory", [0, 1, 3])
def test_points_missing_a_frame_number_link_as_link_df(make_napari_viewer, qtbot, errors,
                                                       memory):
    """A table is a whole movie: a frame number without points is an empty frame
    (as in link_df), though the streaming linker counts the frames it is given."""
    df = pd.DataFrame([{"frame": t, "y": 10.0 + 20 * k, "x": 10.0 + 0.1 * t}
                       for t in (0, 1, 3, 4, 8) for k in range(2)])
    viewer = make_napari_viewer()
    points = viewer.add_points(df[["frame", "y", "x"]].to_numpy(), name="spots")
    widget = make_widget(viewer)
    widget.search_range.value, widget.memory.value = 3.5, memory

    assert run(qtbot, widget) == "linked" and not errors
    expected = streamtrack.link_df(_layers.features_from_points(points.data), 3.5,
                                   memory=memory)
    np.testing.assert_array_equal(points.features["particle"], expected["particle"])
    # gaps of 1 and 3 frame numbers: broken at both, at the second, at neither
    assert expected["particle"].nunique() == {0: 6, 1: 4, 3: 2}[memory]


def test_cancel_leaves_a_valid_partly_linked_store(make_napari_viewer, qtbot, tmp_path,
                                                   monkeypatch, errors):
    path = tmp_path / "long.h5"
    features, _ = make_store(path, n_frames=30)
    viewer = make_napari_viewer()
    add_located(viewer, path, features)
    widget = make_widget(viewer)

    # hold the linker until the test listens to the worker, and after its first frame
    # until the test has pressed Cancel: exactly two frames get linked (the one held,
    # then the one in progress when Cancel arrives)
    listening, cancelled = threading.Event(), threading.Event()
    # the checkpointed core loop the widget runs (through streamtrack.workflow)
    real = streamtrack.linking.link_store_iter

    def held(*args, **kwargs):
        assert listening.wait(30)
        for i, linked in enumerate(real(*args, **kwargs)):
            yield linked
            if i == 0:
                assert cancelled.wait(30)

    def cancel_once(n_done):
        if n_done == 1:
            widget.cancel()
            cancelled.set()

    monkeypatch.setattr(streamtrack.linking, "link_store_iter", held)
    with qtbot.waitSignal(widget.done, timeout=TIMEOUT) as blocker:
        worker = widget.run()
        worker.yielded.connect(cancel_once)
        listening.set()
    assert blocker.args == ["cancelled"] and not errors
    assert "Cancelled after 2 of 30 frames: frames 0–1" in widget.status.value
    assert "later frames were not linked" in widget.status.value
    assert worker.pbar.total == 30  # the activity dock's progress bar

    with open_store(path) as store:  # opens for writing: closed by the worker
        linked = [("particle" in store.get(t).columns) for t in store.frames]
        record = store.metadata["link"]
    assert linked == [True, True] + [False] * 28
    assert record["frames_linked"] == 2 and not record["complete"]
    assert "movie tracks" not in viewer.layers
    assert widget.run_button.enabled and not widget.cancel_button.enabled


def test_subnet_oversize_is_explained(make_napari_viewer, qtbot, tmp_path, errors):
    path = tmp_path / "dense.h5"
    rng = np.random.default_rng(0)
    with streamtrack.PandasHDFStore(path) as store:
        for t in range(3):
            store.put(pd.DataFrame({"y": rng.random(300) * 100, "x": rng.random(300) * 100,
                                    "frame": t}))
    viewer = make_napari_viewer()
    widget = make_widget(viewer)
    widget.store_file.value = path
    widget.search_range.value = 500

    assert run(qtbot, widget) == "failed"
    assert "search range" in widget.status.value and "adaptive" in widget.status.value
    assert errors == [widget.status.value]
    with open_store(path) as store:  # still a valid store
        assert store.frames == [0, 1, 2]
        assert store.metadata["link"]["complete"] is False
    assert "dense tracks" not in viewer.layers


def test_bad_input_is_explained(make_napari_viewer, tmp_path, errors):
    viewer = make_napari_viewer()
    widget = make_widget(viewer)
    assert widget.run() is None  # no Points layer, no file
    assert "No input" in widget.status.value
    widget.store_file.value = tmp_path / "gone.h5"
    assert widget.run() is None
    assert "missing" in widget.status.value
    points = viewer.add_points(np.zeros((2, 3)), name="x features",
                               metadata={"streamtrack": {"store": str(tmp_path / "moved.h5")}})
    assert widget.points.value is points  # a Locate layer is picked as it arrives
    widget.source.value = "Points layer"
    assert widget.run() is None
    assert "moved.h5 is missing" in widget.status.value
    assert len(errors) == 3 and widget.worker is None


def test_layer_choices_follow_the_viewer(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = make_widget(viewer)
    plain = viewer.add_points(np.zeros((1, 3)), name="plain")
    located = viewer.add_points(np.zeros((1, 3)), name="located",
                                metadata={"streamtrack": {"store": "x.h5"}})
    assert set(widget.points.choices) == {plain, located}
    assert widget.points.value is located  # a layer from Locate is picked as it arrives
    assert make_widget(viewer).points.value is located  # and preferred by a new widget
    viewer.layers.remove(located)
    assert widget.points.choices == (plain,) and widget.points.value is plain
    assert "Largest displacement" in widget.search_range.tooltip  # from the core docstring
    assert "frame" in widget.memory.tooltip and "drift" in widget.predictor.tooltip
    viewer.window.remove_dock_widget(widget.native)  # closed: it stops listening
    with qtbot.waitSignal(widget.native.destroyed):
        widget.native.deleteLater()
    events = viewer.layers.events
    listening = [cb[1] for cb in events.inserted.callbacks + events.removed.callbacks
                 if isinstance(cb, tuple) and cb[0]() is widget]
    assert "_on_inserted" not in listening and "_on_removed" not in listening


def test_parameters_are_remembered(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    viewer.add_points(_accelerating()[["frame", "y", "x"]].to_numpy(), name="spots")
    widget = make_widget(viewer)
    assert (widget.search_range.value, widget.memory.value, widget.predictor.value) == \
        (5.0, 0, "none")
    widget.search_range.value, widget.memory.value = 7.5, 3
    widget.adaptive_stop.value, widget.adaptive_step.value = 1.5, 0.9
    widget.predictor.value = "drift"
    with qtbot.waitSignal(widget.done, timeout=TIMEOUT):
        widget.run_button.native.click()

    again = make_widget(viewer)  # a new session reads the same settings file
    assert (again.search_range.value, again.memory.value, again.adaptive_stop.value,
            again.adaptive_step.value, again.predictor.value) == (7.5, 3, 1.5, 0.9, "drift")

"""Reader and writers: sniffing, the three layouts, trackpy's files, round trips."""
import numpy as np
import pandas as pd
import pytest
import tables
from napari.layers import Points, Tracks

import streamtrack as st
from napari_streamtrack import _layers, _reader, _writer
from napari_streamtrack._sample_data import brownian_movie_and_truth

trackpy = pytest.importorskip("trackpy")
LAYOUTS = ["PandasHDFStore", "PandasHDFStoreBig", "PandasHDFStoreSingleNode"]


@pytest.fixture(scope="module")
def linked():
    movie, _ = brownian_movie_and_truth(n_frames=8, n_particles=15)
    features = st.batch(st.open(movie), 11, minmass=500, processes=1)
    return st.link_df(features, 5)


def _write_with(module, cls, path, table):
    with getattr(module, cls)(str(path)) as store:
        for _, frame in table.groupby("frame"):
            store.put(frame)


@pytest.mark.parametrize("writer", ["trackpy", "streamtrack"])
@pytest.mark.parametrize("cls", LAYOUTS)
def test_reads_every_layout_linked_and_not(tmp_path, linked, writer, cls):
    module = trackpy if writer == "trackpy" else st
    for name, table in [("plain", linked.drop(columns="particle")), ("linked", linked)]:
        path = tmp_path / f"{name}.h5"
        _write_with(module, cls, path, table)
        reader = _reader.get_reader(str(path))
        assert reader is _reader.read_store
        layers = reader(str(path))
        assert [kind for _, _, kind in layers] == (
            ["points", "tracks"] if name == "linked" else ["points"])
        data, kwargs, _ = layers[0]
        want_data, want_features = _layers.points_data(table.reset_index(drop=True))
        np.testing.assert_allclose(data, want_data)
        pd.testing.assert_frame_equal(kwargs["features"], want_features, check_dtype=False)
        assert kwargs["metadata"]["streamtrack"]["store"] == str(path)
        if name == "linked":
            t_data, t_kwargs, _ = layers[1]
            want_t, want_tf = _layers.tracks_data(table.reset_index(drop=True))
            np.testing.assert_allclose(t_data, want_t)
            pd.testing.assert_frame_equal(t_kwargs["features"], want_tf, check_dtype=False)
            Tracks(t_data, **t_kwargs)  # napari accepts what the reader returns
        Points(data, **kwargs)


def test_refuses_everything_else_without_raising(tmp_path):
    with tables.open_file(tmp_path / "image.h5", "w") as f:  # e.g. an image in HDF5
        f.create_array("/", "data", np.zeros((4, 4)))
    pd.DataFrame({"a": [1]}).to_hdf(tmp_path / "pandas.h5", key="table", format="table")
    (tmp_path / "text.h5").write_text("not hdf5")
    (tmp_path / "folder.h5").mkdir()
    store = tmp_path / "ok.h5"
    _write_with(st, "PandasHDFStore", store, pd.DataFrame({"y": [1.0], "x": [2.0],
                                                           "frame": [0]}))
    for path in ["image.h5", "pandas.h5", "text.h5", "folder.h5", "missing.h5"]:
        assert _reader.get_reader(str(tmp_path / path)) is None, path
    assert _reader.get_reader(str(store).replace(".h5", ".csv")) is None
    assert _reader.get_reader([str(store), str(store)]) is None  # a stack is not a store
    assert _reader.get_reader([str(store)]) is _reader.read_store
    assert _reader.get_reader(12) is None


def test_a_store_without_frames_is_not_claimed(tmp_path):
    path = tmp_path / "empty.h5"
    with st.PandasHDFStore(path) as store:
        with pytest.warns(UserWarning, match="empty"):
            store.put(pd.DataFrame(columns=["y", "x", "frame"]))  # skipped
    assert _reader.get_reader(str(path)) is None


def _state(layer):
    return layer._get_state()


def test_points_round_trip_and_trackpy_reads_the_file(tmp_path, linked):
    table = linked.drop(columns="particle").reset_index(drop=True)
    data, features = _layers.points_data(table)
    layer = Points(data, features=features, name="found", scale=(1, 0.5, 0.5),
                   translate=(0, 10, 20), axis_labels=("t", "y", "x"))
    state = _state(layer)
    written = _writer.write_points(str(tmp_path / "points.h5"), state["data"], state)
    assert written == [str(tmp_path / "points.h5")]
    (back, kwargs, kind), = _reader.read_store(written[0])
    np.testing.assert_allclose(back, data)
    pd.testing.assert_frame_equal(kwargs["features"], features, check_dtype=False)
    assert kwargs["scale"] == (1, 0.5, 0.5) and kwargs["translate"] == (0, 10, 20)
    assert kwargs["axis_labels"] == ("t", "y", "x")
    with trackpy.PandasHDFStore(written[0]) as theirs:
        first = theirs.get(0)
        pd.testing.assert_frame_equal(first.reset_index(drop=True),
                                      table[table.frame == 0].reset_index(drop=True),
                                      check_dtype=False)
    assert not list(tmp_path.glob(".*partial"))  # no temporary file left behind


def test_tracks_round_trip(tmp_path, linked):
    data, features = _layers.tracks_data(linked)
    layer = Tracks(data, features=features, name="tracks")
    state = _state(layer)
    path = _writer.write_tracks(str(tmp_path / "tracks.hdf5"), state["data"], state)[0]
    points, tracks = _reader.read_store(path)
    np.testing.assert_allclose(tracks[0], layer.data)
    pd.testing.assert_frame_equal(tracks[1]["features"].drop(columns="track_id",
                                                             errors="ignore"),
                                  features, check_dtype=False)
    saved = {int(t): frame for t, frame in linked.groupby("frame")}
    with st.PandasHDFStore(path, mode="r") as store:
        assert store.frames == list(saved)  # every frame, none missing, none extra
        for t, frame in saved.items():
            assert len(store.get(t)) == len(frame), t


def test_points_and_tracks_together(tmp_path, linked):
    table = linked.reset_index(drop=True)
    p_data, p_features = _layers.points_data(table.drop(columns="particle"))
    t_data, t_features = _layers.tracks_data(table[["y", "x", "frame", "particle"]])
    points, tracks = Points(p_data, features=p_features), Tracks(t_data, features=t_features)
    path = _writer.write_points_tracks(str(tmp_path / "both.h5"), [
        (tracks.data, _state(tracks), "tracks"), (points.data, _state(points), "points")])[0]
    (back, kwargs, _), (t_back, _, _) = _reader.read_store(path)
    want_data, want_features = _layers.points_data(table)
    np.testing.assert_allclose(back, want_data)
    pd.testing.assert_frame_equal(kwargs["features"], want_features, check_dtype=False)
    np.testing.assert_allclose(t_back, _layers.tracks_data(table)[0])


def test_writers_refuse_what_a_store_cannot_hold(tmp_path, linked):
    data, features = _layers.tracks_data(linked)
    ids = np.unique(data[:, 0]).astype(int)
    split = Tracks(data, features=features, graph={int(ids[1]): [int(ids[0])]})
    with pytest.raises(ValueError, match="splits or merges"):
        _writer.write_tracks(str(tmp_path / "t.h5"), split.data, _state(split))
    p_data, p_features = _layers.points_data(linked.iloc[:-1])
    points = Points(p_data, features=p_features)
    tracks = Tracks(data, features=features)
    target = tmp_path / "both.h5"
    target.write_bytes(b"precious")  # a failed save must not touch an existing file
    with pytest.raises(ValueError, match="same features"):
        _writer.write_points_tracks(str(target), [(points.data, _state(points), "points"),
                                                  (tracks.data, _state(tracks), "tracks")])
    assert target.read_bytes() == b"precious"
    flat = Points(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="time axis"):
        _writer.write_points(str(tmp_path / "p.h5"), flat.data, _state(flat))
    assert not list(tmp_path.glob(".*partial"))

"""Sample data, and big stores opened windowed (layers follow the slider)."""
import numpy as np
import pandas as pd
import pytest

import streamtrack as st
from napari_streamtrack import _layers, _window
from napari_streamtrack._sample_data import SAMPLE_LOCATE, brownian_sample


def test_sample_is_a_movie_the_defaults_track():
    (movie, meta, kind), = brownian_sample()
    assert kind == "image" and movie.ndim == 3 and movie.dtype == np.uint8
    truth = meta["metadata"]["truth"]
    features = st.batch(st.open(movie), processes=1, **SAMPLE_LOCATE)
    # distance from each feature to the nearest true particle of its frame
    nearest = []
    for t, found in features.groupby("frame"):
        real = truth[truth["frame"] == t][["y", "x"]].to_numpy()
        d = np.linalg.norm(found[["y", "x"]].to_numpy()[:, None] - real[None], axis=2)
        nearest.append(d.min(axis=1))
    nearest = np.concatenate(nearest)
    assert nearest.max() < 2.5  # no noise detections: every feature is a particle
    assert np.mean(nearest < 0.5) > 0.98  # the rest are touching pairs, merged
    assert len(features) >= 0.9 * len(truth)  # the missing sit at the edge
    linked = st.link_df(features, **meta["metadata"]["suggested_link"])
    assert linked["particle"].nunique() <= 1.5 * truth["particle"].nunique()


@pytest.fixture
def big_store(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "big.h5"
    with st.PandasHDFStoreBig(path) as store:
        for t in range(120):
            store.put(pd.DataFrame({"y": rng.random(4) * 90, "x": rng.random(4) * 90,
                                    "mass": rng.random(4), "frame": t,
                                    "particle": np.arange(4)}))
    return str(path)


def test_big_store_opens_windowed_and_follows_the_slider(make_napari_viewer, big_store,
                                                          monkeypatch):
    monkeypatch.setattr(_layers, "WINDOW_FEATURES", 100)  # 480 features count as big
    viewer = make_napari_viewer()
    viewer.open(big_store, plugin="napari-streamtrack")
    points, tracks = viewer.layers["big features"], viewer.layers["big tracks"]
    window = _window.attached_window(points)
    assert window is not None
    assert viewer.dims.range[0][:2] == (0, 119)  # the slider spans the whole store
    with st.PandasHDFStoreBig(big_store, mode="r") as store:
        for step in [0, 60, 61, 119, 5]:
            viewer.dims.set_current_step(0, step)
            window.wait()
            shown = points.data[points.shown]
            frames = np.unique(shown[:, 0])
            assert frames.tolist() == [f for f in range(step - 2, step + 3) if 0 <= f < 120]
            want = pd.concat([store.get(int(f)) for f in frames], ignore_index=True)
            np.testing.assert_allclose(shown[:, 1:], want[["y", "x"]].to_numpy())
            np.testing.assert_allclose(points.features["mass"][points.shown], want["mass"])
            t = tracks.data[:, 1]
            assert t.min() == max(step - tracks.tail_length, 0) and t.max() == step
            assert tracks.color_by == "particle"
    viewer.layers.remove(points)
    assert _window.attached_window(points) is None


def test_small_store_is_read_whole(make_napari_viewer, big_store):
    viewer = make_napari_viewer()
    viewer.open(big_store, plugin="napari-streamtrack")
    assert _window.attached_window(viewer.layers["big features"]) is None
    assert len(viewer.layers["big features"].data) == 480

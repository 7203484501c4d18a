"""streamtrack.filtering side by side with trackpy 0.7's filtering: same rows, order,
index, columns and dtypes (``pd.testing.assert_frame_equal``)."""
import numpy as np
import pandas as pd
import pytest
import trackpy

import streamtrack as st

# trajectory lengths of the synthetic table: uneven, with ties
LENGTHS = {0: 1, 1: 2, 2: 5, 3: 5, 4: 9, 5: 12, 6: 3}


def _linked(seed=0):
    """A linked table: trajectories of uneven length with gaps in their frames,
    rows sorted by frame (as link gives them) and indexed by 'frame'."""
    rng = np.random.default_rng(seed)
    rows = []
    for particle, length in LENGTHS.items():
        frames = np.sort(rng.choice(20, length, replace=False))  # gaps
        for frame in frames:
            rows.append((frame, particle))
    t = pd.DataFrame(rows, columns=["frame", "particle"])
    n = len(t)
    t["x"] = rng.random(n) * 100
    t["y"] = rng.random(n) * 100
    t["mass"] = rng.random(n) * 1000
    # integer-valued sizes: the means are exact, thresholds can hit them
    t["size"] = rng.integers(1, 6, n).astype(float)
    t = t.sort_values("frame", kind="stable")
    return t.set_index("frame", drop=False)


def _same(ours, theirs):
    pd.testing.assert_frame_equal(ours, theirs, check_index_type=True,
                                  check_column_type=True, check_names=True)


@pytest.fixture
def tracks():
    return _linked()


THRESHOLDS = sorted({0, 1, 2, 100} | {n + d for n in LENGTHS.values() for d in (-1, 0, 1)})


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_filter_stubs_matches_trackpy(tracks, threshold):
    _same(st.filter_stubs(tracks, threshold), trackpy.filter_stubs(tracks, threshold))


def test_filter_stubs_default_threshold():
    t = _linked()
    long = pd.DataFrame({"frame": np.arange(120), "particle": 99, "x": 1.0, "y": 2.0,
                         "mass": 3.0, "size": 1.0}).set_index("frame", drop=False)
    t = pd.concat([t, long])
    _same(st.filter_stubs(t), trackpy.filter_stubs(t))
    assert set(st.filter_stubs(t)["particle"]) == {99}


def test_filter_stubs_threshold_is_inclusive(tracks):
    out = st.filter_stubs(tracks, 5)
    assert set(out["particle"]) == {p for p, n in LENGTHS.items() if n >= 5}


@pytest.mark.parametrize("index", ["range", "strings", "shuffled", "multi", "frame_level"])
def test_filter_stubs_non_default_index(index):
    t = _linked(seed=1)
    if index == "range":
        t = t.reset_index(drop=True)
    elif index == "strings":
        t.index = [f"r{i}" for i in range(len(t))]
    elif index == "shuffled":
        t = t.sample(frac=1.0, random_state=2)  # rows in no order, index kept
    elif index == "multi":
        t = t.set_index(["frame", "particle"], drop=False)  # levels named like columns
    else:
        t = t.reset_index(drop=True)
        t.index = pd.Index(t["frame"].to_numpy() * 10, name="frame")  # disagrees with column
    for threshold in (1, 3, 5, 6):
        _same(st.filter_stubs(t, threshold), trackpy.filter_stubs(t, threshold))
        _same(st.filter_clusters(t), trackpy.filter_clusters(t))


def test_float_particles_and_missing_particle():
    t = _linked(seed=3)
    t["particle"] = t["particle"].astype(float)
    t.iloc[[0, 5, 9], t.columns.get_loc("particle")] = np.nan  # unlinked rows
    for threshold in (0, 1, 2, 5):
        _same(st.filter_stubs(t, threshold), trackpy.filter_stubs(t, threshold))
    assert st.filter_stubs(t, 0)["particle"].notna().all()
    _same(st.filter_clusters(t), trackpy.filter_clusters(t))
    _same(st.filter(t, lambda g: len(g) > 2), trackpy.filter(t, lambda g: len(g) > 2))


def test_missing_frame_numbers_are_not_counted():
    t = _linked(seed=4).reset_index(drop=True)
    t["frame"] = t["frame"].astype(float)
    t.loc[t.index[:4], "frame"] = np.nan
    for threshold in (1, 2, 5):
        _same(st.filter_stubs(t, threshold), trackpy.filter_stubs(t, threshold))


@pytest.mark.parametrize("dtype", ["int64", "float64"])
def test_empty_table(dtype):
    t = pd.DataFrame({"frame": np.array([], dtype), "particle": np.array([], dtype),
                      "x": np.array([], float), "size": np.array([], float)})
    _same(st.filter_stubs(t, 2), trackpy.filter_stubs(t, 2))
    _same(st.filter_clusters(t, threshold=2.0), trackpy.filter_clusters(t, threshold=2.0))
    _same(st.filter(t, lambda g: True), trackpy.filter(t, lambda g: True))


def test_result_is_a_new_table(tracks):
    before = tracks.copy()
    for out in (st.filter_stubs(tracks, 0), st.filter_clusters(tracks, threshold=100.0),
                st.filter(tracks, lambda g: True)):
        assert out is not tracks
        out["x"] = -1.0
        pd.testing.assert_frame_equal(tracks, before)


@pytest.mark.parametrize("quantile", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_filter_clusters_quantile_matches_trackpy(tracks, quantile):
    _same(st.filter_clusters(tracks, quantile), trackpy.filter_clusters(tracks, quantile))


def test_filter_clusters_threshold_is_strict(tracks):
    means = tracks.groupby("particle")["size"].mean()
    for threshold in sorted(set(means)) + [0.0, 10.0]:
        ours = st.filter_clusters(tracks, threshold=threshold)
        _same(ours, trackpy.filter_clusters(tracks, threshold=threshold))
        assert set(ours["particle"]) == set(means.index[means < threshold])


def test_filter_clusters_threshold_overrides_quantile(tracks):
    _same(st.filter_clusters(tracks, quantile=0.1, threshold=3.5),
          trackpy.filter_clusters(tracks, quantile=0.9, threshold=3.5))


@pytest.mark.parametrize("condition", [
    lambda g: len(g) >= 5,
    lambda g: g["x"].mean() > 50,
    lambda g: g["frame"].diff().max() > 2,  # trajectories with a gap of 2+ frames
    lambda g: False,
])
def test_filter_matches_trackpy(tracks, condition):
    _same(st.filter(tracks, condition), trackpy.filter(tracks, condition))


@pytest.mark.parametrize("func", [st.filter_stubs, st.filter_clusters,
                                  lambda t: st.filter(t, lambda g: True)])
def test_unlinked_table_says_link_first(tracks, func):
    with pytest.raises(ValueError, match="link") as info:
        func(tracks.drop(columns="particle"))
    assert "'particle'" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ValueError, match="'frame'"):
        func(tracks.reset_index(drop=True).drop(columns="frame"))


def test_negative_threshold_is_refused(tracks):
    with pytest.raises(ValueError, match="threshold"):
        st.filter_stubs(tracks, -1)


def test_filter_clusters_needs_size(tracks):
    with pytest.raises(ValueError, match="'size'"):
        st.filter_clusters(tracks.drop(columns="size"))


def test_public_names():
    from streamtrack import filtering

    for name in ("filter_stubs", "filter_clusters", "filter"):
        assert getattr(st, name) is getattr(filtering, name)
        assert name in st.__all__

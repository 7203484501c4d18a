"""Linking: trackpy-identical trajectories, ground truth, limits, determinism, errors."""
import time

import numpy as np
import pandas as pd
import pytest

import streamtrack as st
from streamtrack.linking import Linker

trackpy = pytest.importorskip("trackpy")


def partition(df, column="particle"):
    """The trajectories as a set of frozensets of row labels (ids may differ)."""
    return {frozenset(g.index) for _, g in df.groupby(column)}


def walks(n, frames, *, spacing=20.0, step=1.0, seed=0, ndim=2):
    rng = np.random.default_rng(seed)
    side = spacing * n ** (1 / ndim)
    pos = rng.uniform(0, side, (n, ndim))
    rows = []
    cols = ["z", "y", "x"][-ndim:]
    for t in range(frames):
        pos = pos + rng.normal(0, step, pos.shape)
        rows.append(pd.DataFrame(dict(frame=t, truth=np.arange(n), **dict(zip(cols, pos.T)))))
    return pd.concat(rows, ignore_index=True).sample(frac=1, random_state=seed)


def by_frame(f):
    return [g for _, g in f.groupby("frame")]


@pytest.mark.parametrize("search_range,memory", [(3, 0), (5, 3), (6, 0)])
def test_same_trajectories_as_trackpy_dense_walks(search_range, memory):
    f = walks(300, 15, spacing=9.0, step=1.2, seed=search_range)
    f = f.drop(f.sample(frac=0.05, random_state=1).index)  # blinking, for memory
    ours = st.link(f, search_range, memory=memory)
    theirs = trackpy.link(f, search_range, memory=memory)
    assert partition(ours) == partition(theirs)


def test_same_trajectories_as_trackpy_on_located_movie():
    from streamtrack import synthetic

    frames, _ = synthetic.brownian_movie(n_particles=40, n_frames=25, shape=(220, 220),
                                         diffusion=1.5, seed=9)
    feats = st.batch(frames, 9)
    for sr, memory in ((3, 0), (5, 3)):
        assert partition(st.link(feats, sr, memory=memory)) == \
            partition(trackpy.link(feats, sr, memory=memory))


def linking_errors(df, column="particle"):
    """Links that disagree with the truth: consecutive detections of one true
    particle given different ids, plus of one id given different true particles."""
    d = df.sort_values("frame", kind="stable")
    broken = (d.groupby("truth")[column].diff().fillna(0) != 0).sum()
    merged = (d.groupby(column)["truth"].diff().fillna(0) != 0).sum()
    return int(broken + merged)


def test_ground_truth_walks_linking_errors_counted():
    rng = np.random.default_rng(3)
    grid = np.mgrid[0:20, 0:20].reshape(2, -1).T * 25.0
    pos = grid + rng.uniform(-4, 4, grid.shape)  # separated starts
    rows = []
    for t in range(12):
        pos = pos + rng.normal(0, 1.0, pos.shape)
        rows.append(pd.DataFrame({"frame": t, "y": pos[:, 0], "x": pos[:, 1],
                                  "truth": np.arange(len(pos))}))
    f = pd.concat(rows, ignore_index=True).sample(frac=1, random_state=0)
    assert linking_errors(st.link(f, 5)) == 0
    # crowded walks: errors happen; ours are no more than trackpy's (same objective)
    crowded = walks(400, 12, spacing=8.0, step=1.2, seed=3)
    ours, theirs = linking_errors(st.link(crowded, 3)), linking_errors(trackpy.link(crowded, 3))
    assert 0 < ours == theirs
    # the error counter can fail: a shuffled id column is wrong everywhere
    bad = f.assign(particle=np.random.default_rng(1).permutation(len(f)))
    assert linking_errors(bad) > 100


def test_link_link_iter_and_link_df_iter_agree():
    f = walks(200, 12, spacing=10.0, seed=5)
    f = f.drop(f.sample(frac=0.1, random_state=2).index)
    whole = st.link(f, 4, memory=2)
    streamed = pd.concat(st.link_df_iter(by_frame(f), 4, memory=2))
    assert partition(whole) == partition(streamed)
    assert (whole.sort_index()["particle"] == streamed.sort_index()["particle"]).all()
    ordered = f.sort_values("frame", kind="stable")
    pairs = [(int(t), g[["y", "x"]].to_numpy()) for t, g in ordered.groupby("frame")]
    ids = np.concatenate([i for _, i in st.link_iter(pairs, 4, memory=2)])
    assert (ids == whole["particle"].to_numpy()).all()


def test_link_keeps_index_and_sorts_by_frame():
    f = walks(20, 4, seed=1)
    out = st.link(f, 5)
    assert out["frame"].is_monotonic_increasing
    assert sorted(out.index) == sorted(f.index)
    assert out["particle"].dtype == np.int64
    pd.testing.assert_frame_equal(out.drop(columns="particle"), f.loc[out.index])
    for frame in st.link_df_iter(by_frame(f), 5):
        assert frame.index.isin(f.index).all() and frame["particle"].dtype == np.int64


def contracting_grid():
    g = np.mgrid[-10:11, -10:11].reshape(2, -1).T.astype(float)
    return pd.DataFrame({"frame": np.repeat([0, 1], 441),
                         "y": np.r_[g[:, 0], 0.95 * g[:, 0]],
                         "x": np.r_[g[:, 1], 0.95 * g[:, 1]]})


@pytest.mark.parametrize("search_range", [0.75, 0.8])
def test_contracting_grid_links_completely_and_fast(search_range):
    f = contracting_grid()
    st.link(f, search_range)  # load compiled kernels
    start = time.perf_counter()
    out = st.link(f, search_range)
    elapsed = time.perf_counter() - start
    assert (out.groupby("particle").size() == 2).all() and out["particle"].nunique() == 441
    assert elapsed < 1.0


def test_oversize_limit_is_a_keyword_with_a_clear_error():
    f = contracting_grid()
    with pytest.raises(st.SubnetOversizeException, match="max_subnet_size=200"):
        st.link(f, 1.0)
    out = st.link(f, 1.0, max_subnet_size=500)
    assert (out.groupby("particle").size() == 2).all()
    with pytest.raises(st.SubnetOversizeException):
        st.link(f, 0.8, max_subnet_size=5)
    # the limit is per call: the default is untouched afterwards
    assert Linker(1.0).max_subnet_size == 200


def test_adaptive_search_shrinks_crowded_subnets_like_trackpy():
    f = contracting_grid()
    ours = st.link(f, 1.0, adaptive_stop=0.56, adaptive_step=0.99)
    theirs = trackpy.link(f, 1.0, adaptive_stop=0.56, adaptive_step=0.99)
    assert partition(ours) == partition(theirs)
    with pytest.raises(st.SubnetOversizeException, match="adaptive_stop"):
        st.link(f, 1.0, adaptive_stop=0.95, adaptive_step=0.99)


def test_deterministic_ids_and_new_ids_in_row_order():
    f = walks(300, 10, spacing=9.0, step=1.5, seed=7)
    runs = [st.link(f, 5)["particle"].to_numpy() for _ in range(3)]
    assert all((r == runs[0]).all() for r in runs)
    linker = Linker(1.0)
    assert linker.step(0, [[0, 0], [10, 10]]).tolist() == [0, 1]
    assert linker.step(1, [[50, 50], [10, 10.2], [40, 40], [0.1, 0]]).tolist() == [2, 1, 3, 0]


def test_two_linkers_never_share_counters():
    a, b = Linker(1.0), Linker(1.0)
    assert a.step(0, [[0, 0], [5, 5], [9, 9]]).tolist() == [0, 1, 2]
    assert b.step(0, [[0, 0]]).tolist() == [0]
    assert a.step(1, [[0, 0], [5, 5], [9, 9], [20, 20]]).tolist() == [0, 1, 2, 3]
    assert b.step(1, [[0, 0], [30, 30]]).tolist() == [0, 1]


def test_memory_counts_frame_numbers_in_link_and_delivered_frames_when_streaming():
    f = pd.DataFrame({"frame": [0, 1, 4], "y": [1.0, 1.1, 1.2], "x": [1.0, 1.0, 1.0]})
    # link: frames 2 and 3 are missing, so empty (as in trackpy's link)
    assert st.link(f, 1, memory=2)["particle"].nunique() == 1
    assert st.link(f, 1, memory=1)["particle"].nunique() == 2
    # streaming counts the frames given (as trackpy's link_df_iter): 4 follows 1
    streamed = pd.concat(st.link_df_iter(by_frame(f), 1, memory=0))
    assert streamed["particle"].nunique() == 1
    # empty frames delivered explicitly count
    empty = f.iloc[:0]
    frames = [f.iloc[[0]], f.iloc[[1]], empty, empty, f.iloc[[2]]]
    assert pd.concat(st.link_df_iter(frames, 1, memory=2))["particle"].nunique() == 1
    assert pd.concat(st.link_df_iter(frames, 1, memory=1))["particle"].nunique() == 2
    assert [len(df) for df in st.link_df_iter(frames, 1)] == [1, 1, 0, 0, 1]


@pytest.mark.parametrize("strategy", ["auto", "recursive", "nonrecursive", "numba", "hybrid"])
def test_every_trackpy_link_strategy_name_is_accepted(strategy):
    f = walks(100, 6, spacing=8.0, seed=2)
    assert partition(st.link(f, 4, link_strategy=strategy)) == partition(st.link(f, 4))


def test_drop_strategy_and_trackpy_callable():
    from trackpy.linking.subnetlinker import subnet_linker_recursive

    f = walks(150, 8, spacing=8.0, step=1.5, seed=4)
    assert partition(st.link(f, 4, link_strategy=subnet_linker_recursive)) == \
        partition(trackpy.link(f, 4))
    dropped = st.link(f, 4, link_strategy="drop")
    assert partition(dropped) == partition(trackpy.link(f, 4, link_strategy="drop"))
    with pytest.raises(ValueError, match="link_strategy"):
        st.link(f, 4, link_strategy="fastest")


def test_anisotropic_search_range_and_3d():
    f = walks(150, 8, spacing=10.0, seed=8, ndim=3)
    assert partition(st.link(f, 3)) == partition(trackpy.link(f, 3))
    sr = (2.0, 4.0, 4.0)
    assert partition(st.link(f, sr)) == partition(trackpy.link(f, sr))


def test_to_eucl_and_btree():
    pytest.importorskip("sklearn")
    f = walks(120, 6, spacing=10.0, seed=6)
    ours = st.link(f, 4, to_eucl=lambda x: x * 2)
    assert partition(ours) == partition(trackpy.link(f, 4, to_eucl=lambda x: x * 2))
    btree = st.link(f, 4, neighbor_strategy="BTree")
    assert partition(btree) == partition(st.link(f, 4))
    manhattan = st.link(f, 4, neighbor_strategy="BTree",
                        dist_func=lambda a, b: np.abs(a - b).sum())
    assert partition(manhattan) == partition(
        trackpy.link(f, 4, neighbor_strategy="BTree", dist_func=lambda a, b: np.abs(a - b).sum()))


def test_trackpy_predictors_work_with_our_linker():
    rng = np.random.default_rng(0)
    n = 40
    pos0 = rng.uniform(0, 200, (n, 2))
    frames = [pd.DataFrame({"frame": t, "y": pos0[:, 0] + 6.0 * t, "x": pos0[:, 1],
                            "truth": np.arange(n)}) for t in range(8)]
    # drift of 6 px/frame: without prediction, search_range 4 loses every link
    plain = pd.concat(st.link_df_iter(frames, 4))
    assert plain["particle"].nunique() > n * 6
    for pred in (trackpy.predict.DriftPredict(initial_guess=[6, 0], pos_columns=["y", "x"]),
                 trackpy.predict.NearestVelocityPredict(
                     initial_guess_positions=pos0, initial_guess_vels=np.tile([6.0, 0], (n, 1)),
                     pos_columns=["y", "x"])):
        linked = pd.concat(pred.wrap(st.link_df_iter, frames, 4))
        assert partition(linked) == partition(linked, "truth")
    # our own equivalents, through their own wrappers
    for pred in (st.predict.DriftPredict(initial_guess=[6, 0], pos_columns=["y", "x"]),
                 st.predict.NearestVelocityPredict(
                     initial_guess_positions=pos0, initial_guess_vels=np.tile([6.0, 0], (n, 1)),
                     pos_columns=["y", "x"])):
        linked = pd.concat(pred.link_df_iter(frames, 4))
        assert partition(linked) == partition(linked, "truth")
        whole = pred.__class__(**({"initial_guess": [6, 0]} if isinstance(
            pred, st.predict.DriftPredict) else {"initial_guess_positions": pos0,
            "initial_guess_vels": np.tile([6.0, 0], (n, 1))}), pos_columns=["y", "x"])
        assert partition(whole.link_df(pd.concat(frames, ignore_index=True), 4)) == \
            partition(pd.concat(frames, ignore_index=True), "truth")


def test_bad_input_is_clear_and_raised_before_writing():
    f = walks(10, 3, seed=0)
    with pytest.raises(ValueError, match="'y'"):
        st.link(f.drop(columns="y"), 5)
    with pytest.raises(ValueError, match="'frame'"):
        st.link(f.drop(columns="frame"), 5)
    nan = f.copy()
    nan.iloc[3, nan.columns.get_loc("x")] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        st.link(nan, 5)
    for bad in (0, -1, np.nan, (1, 0)):
        with pytest.raises(ValueError, match="search_range"):
            st.link(f, bad)
    with pytest.raises(TypeError, match="iterable of per-frame DataFrames"):
        list(st.link_df_iter(f, 5))
    with pytest.raises(TypeError, match="link_df_iter"):
        st.link([f], 5)
    frames = by_frame(f)
    written = []
    with pytest.raises(ValueError, match="increasing frame order"):
        for df in st.link_df_iter([frames[0], frames[2], frames[1]], 5):
            written.append(int(df["frame"].iloc[0]))
    assert written == [0, 2]  # the bad frame was not yielded
    with pytest.raises(ValueError, match="increasing frame order"):
        list(st.link_df_iter([frames[0], frames[0]], 5))
    with pytest.raises(ValueError, match="several frames"):
        list(st.link_df_iter([f], 5))
    with pytest.raises(ValueError, match="memory"):
        st.link(f, 5, memory=-1)


def test_empty_frames_and_empty_input():
    empty = pd.DataFrame({"frame": pd.Series(dtype=int), "y": pd.Series(dtype=float),
                          "x": pd.Series(dtype=float)})
    assert len(st.link(empty, 3)) == 0
    out = list(st.link_df_iter([empty, empty], 3))
    assert all("particle" in o.columns and len(o) == 0 for o in out)


def test_same_ids_in_another_process(tmp_path):
    """No hashing or global state decides ids: a fresh interpreter agrees."""
    import subprocess
    import sys

    f = walks(300, 8, spacing=9.0, step=1.5, seed=11)
    path = tmp_path / "walks.pkl"
    f.to_pickle(path)
    here = st.link(f, 5, memory=1)["particle"].to_numpy()
    code = ("import sys, pandas as pd, streamtrack as st\n"
            "f = pd.read_pickle(sys.argv[1])\n"
            "print(','.join(map(str, st.link(f, 5, memory=1)['particle'])))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True, env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert out.stdout.strip() == ",".join(map(str, here))

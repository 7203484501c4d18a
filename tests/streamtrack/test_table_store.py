"""TableStore (a read-only store over a DataFrame) and analyse() on a table in memory:
the same numbers as on a store of the same rows; the fitted lag range."""
import numpy as np
import pandas as pd
import pytest

import streamtrack as tp
from streamtrack import analysis as an
from streamtrack.stores._memory import TableStore
from streamtrack.utils import fit_powerlaw

MPP, FPS = 0.4, 5.0


def uneven(traj, seed):
    """Trajectories starting late and ending early, rows dropped at random (gaps)."""
    rng = np.random.default_rng(seed)
    n, n_frames = int(traj["particle"].max()) + 1, int(traj["frame"].max()) + 1
    start = rng.integers(0, n_frames // 3, n)
    stop = np.maximum(rng.integers(5, n_frames + 1, n), start + 2)
    p, f = traj["particle"].to_numpy(), traj["frame"].to_numpy()
    keep = (f >= start[p]) & (f < stop[p]) & (rng.random(len(traj)) > 0.05)
    return traj[keep].reset_index(drop=True)


def write_store(path, traj):
    with tp.PandasHDFStoreChunked(str(path), chunk_size=40) as store:
        for _, frame in traj.groupby("frame"):
            store.put(frame.reset_index(drop=True))
    return str(path)


@pytest.fixture(scope="module")
def table():
    traj = tp.synthetic.brownian_trajectories(30, 120, diffusion=0.5, drift=(0.05, 0.02),
                                              seed=11)
    traj = uneven(traj, 12)
    traj = traj[traj["frame"] != 7]  # a frame with no row: a gap in the frame numbers
    # rows in no particular order, an index that is not a range
    return traj.sample(frac=1, random_state=3).set_index(np.arange(len(traj)) * 3 + 5)


def test_frames_get_and_read_frames(table):
    store = TableStore(table)
    frames = sorted(table["frame"].unique())
    assert store.frames == frames and 7 not in store.frames and len(store) == len(frames)
    by_frame = table.sort_values("frame", kind="stable")
    for t in (0, 6, 8, frames[-1]):
        expected = by_frame[by_frame["frame"] == t].reset_index(drop=True)
        pd.testing.assert_frame_equal(store.get(t), expected)
    block = store.read_frames([5, 6, 8, 9, 30])  # two runs of stored frames and one more
    expected = by_frame[by_frame["frame"].isin([5, 6, 8, 9, 30])].reset_index(drop=True)
    pd.testing.assert_frame_equal(block, expected)
    assert store.read_frames([]) is None
    with pytest.raises(KeyError, match="frame 7"):
        store.get(7)
    with pytest.raises(KeyError, match="frame 7"):
        store.read_frames([6, 7])
    with pytest.raises(TypeError, match="read-only"):
        store.put(table.head(1))
    assert len(store.dump()) == len(table) and not store.metadata
    original = table.copy()
    part = store.get(0)
    part.loc[:, "x"] = -1.0  # a copy: the table is not modified through the store
    pd.testing.assert_frame_equal(table, original)


def test_refuses_what_is_not_a_frame_table():
    with pytest.raises(TypeError, match="DataFrame"):
        TableStore(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="no 'frame' column"):
        TableStore(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(ValueError, match="whole frame numbers"):
        TableStore(pd.DataFrame({"frame": [0.5], "x": [1.0]}))


def test_analyse_a_table_equals_the_store(table, tmp_path):
    path = write_store(tmp_path / "same.h5", table.sort_values(["frame", "particle"]))
    for options in ({"min_length": 20, "max_lagtime": 8},
                    {"min_length": 5, "max_lagtime": 30, "smoothing": 2,
                     "subtract_drift": False}):
        with tp.PandasHDFStoreChunked(path, mode="r") as store:
            expected = an.analyse(store, MPP, FPS, **options)
        # rows within a frame in another order: the trajectories are the same
        result = an.analyse(table, MPP, FPS, **options)
        for name in ("tracks", "drift", "emsd", "imsd"):
            pd.testing.assert_frame_equal(getattr(result, name), getattr(expected, name),
                                          rtol=1e-9, check_dtype=False)
        assert result.n == pytest.approx(expected.n, rel=1e-9)
        assert result.A == pytest.approx(expected.A, rel=1e-9)
        assert result.frame_range == expected.frame_range
        assert result.n_frames == expected.n_frames
    # units travel with a dumped table (attrs), as with the store
    units = table.copy()
    units.attrs["units"] = {"mpp": MPP, "fps": FPS}
    assert an.analyse(units, max_lagtime=8).mpp == MPP


def test_fit_lags_and_refit(table):
    result = an.analyse(table, MPP, FPS, min_length=20, max_lagtime=30)
    msd = result.msd
    fit = fit_powerlaw(msd.iloc[1:10], plot=False)  # lags 2..10 frames
    ranged = an.analyse(table, MPP, FPS, min_length=20, max_lagtime=30, fit_lags=(2, 10))
    refitted = result.refit((2, 10))
    for r in (ranged, refitted):
        assert r.fit_lags == (2, 10)
        assert r.n == pytest.approx(float(fit["n"].iloc[0]), rel=1e-9)
        assert r.A == pytest.approx(float(fit["A"].iloc[0]), rel=1e-9)
        assert list(r.fitted_msd().index) == list(msd.index[1:10])
        line = next(x for x in r.summary() if x.startswith("Power-law"))
        assert "on lags 2-10 frames (0.4-2 s, 9 lags)" in line
    assert result.fit_lags is None and result.refit(None).n == pytest.approx(result.n)
    assert np.isnan(result.refit((29, 40)).n) or len(result.refit((29, 40)).fitted_msd()) >= 2
    assert np.isnan(result.refit((100, 200)).n) and result.refit((100, 200)).D is None
    for bad in ((0, 5), (5, 5), (3, 2), (1.5, 3), "ab", 7):
        with pytest.raises(ValueError, match="fit_lags must be two whole numbers"):
            result.refit(bad)

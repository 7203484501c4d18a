"""streamtrack.analysis: the streamed drift/MSD analysis of a store, against the
DataFrame pipeline (filter_stubs, compute_drift, subtract_drift, emsd, imsd) on the
dumped table, and against the truth of synthetic walks."""
import os

import numpy as np
import pandas as pd
import pytest
import trackpy

import streamtrack as tp
from streamtrack import analysis as an
from streamtrack import workflow

MPP, FPS = 0.4, 5.0


def uneven(traj, seed, n_frames):
    """Rows dropped at random (gaps), trajectories starting late and ending early."""
    rng = np.random.default_rng(seed)
    n = int(traj["particle"].max()) + 1
    start = rng.integers(0, n_frames // 3, n)
    start[: n // 4] = 0
    stop = rng.integers(5, n_frames + 1, n)
    stop[: n // 4] = n_frames  # some span the whole movie (summed, not held)
    p = traj["particle"].to_numpy()
    f = traj["frame"].to_numpy()
    keep = (f >= start[p]) & (f < np.maximum(stop[p], start[p] + 2))
    keep &= rng.random(len(traj)) > 0.05
    return traj[keep].reset_index(drop=True)


def write_store(path, traj, chunk_size=40, mpp=None, fps=None):
    with tp.PandasHDFStoreChunked(str(path), chunk_size=chunk_size) as store:
        for _, frame in traj.groupby("frame"):
            store.put(frame.reset_index(drop=True))
        if mpp is not None or fps is not None:
            workflow.save_units(store, mpp=mpp, fps=fps)
    return str(path)


def with_z(traj, seed):
    rng = np.random.default_rng(seed)
    traj = traj.sort_values(["particle", "frame"]).copy()
    traj["z"] = 30 + rng.normal(0, 1.0, len(traj))
    traj["z"] = traj.groupby("particle")["z"].cumsum() / 10
    return traj.sort_values(["frame", "particle"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def uneven_store(tmp_path_factory):
    traj = tp.synthetic.brownian_trajectories(40, 240, diffusion=0.5, drift=(0.1, -0.05),
                                              seed=4)
    traj = uneven(traj, 5, 240)
    return write_store(tmp_path_factory.mktemp("a") / "uneven.h5", traj)


def pipeline(table, lib, min_length, max_lagtime, smoothing=0, subtract=True, ndim=2):
    """The DataFrame functions on the whole table."""
    pos = ["x", "y", "z"][:ndim]
    t = lib.filter_stubs(table, min_length)
    drift = lib.compute_drift(t, smoothing)
    if subtract:
        t = lib.subtract_drift(t, drift)
    return (drift, lib.emsd(t, MPP, FPS, max_lagtime, detail=True, pos_columns=pos),
            lib.imsd(t, MPP, FPS, max_lagtime, pos_columns=pos))


@pytest.mark.parametrize("min_length, max_lagtime, smoothing",
                         [(25, 5, 0), (25, 100, 0), (0, 7, 3), (60, 12, 0)])
def test_numbers_are_the_dataframe_pipelines(uneven_store, min_length, max_lagtime,
                                             smoothing):
    with tp.PandasHDFStoreChunked(uneven_store, mode="r") as store:
        result = an.analyse(store, MPP, FPS, min_length=min_length, max_lagtime=max_lagtime,
                            smoothing=smoothing)
        table = store.dump()
    drift, emsd, imsd = pipeline(table, tp, min_length, max_lagtime, smoothing)
    pd.testing.assert_frame_equal(result.drift, drift, rtol=1e-9)
    pd.testing.assert_frame_equal(result.emsd, emsd, rtol=1e-9)
    pd.testing.assert_frame_equal(result.imsd, imsd, rtol=1e-9)
    lengths = table.groupby("particle").size()
    assert (result.lengths.to_numpy() == lengths.to_numpy()).all()
    assert (result.lengths.index.to_numpy() == lengths.index.to_numpy()).all()
    assert result.trajectories_before == len(lengths)
    assert result.trajectories_after == (lengths >= min_length).sum()
    assert 0 < result.trajectories_after < result.trajectories_before or min_length == 0
    fit = tp.utils.fit_powerlaw(emsd.set_index("lagt")["msd"], plot=False)
    assert result.n == pytest.approx(float(fit["n"].iloc[0]), rel=1e-9)
    assert result.A == pytest.approx(float(fit["A"].iloc[0]), rel=1e-9)


@pytest.mark.filterwarnings("ignore::Warning:trackpy")  # trackpy's deprecated pandas calls
def test_numbers_are_trackpys(uneven_store):
    with tp.PandasHDFStoreChunked(uneven_store, mode="r") as store:
        result = an.analyse(store, MPP, FPS, min_length=30, max_lagtime=8)
        table = store.dump()
    drift, emsd, imsd = pipeline(table, trackpy, 30, 8)
    pd.testing.assert_frame_equal(result.drift, drift, rtol=1e-9, check_dtype=False)
    pd.testing.assert_frame_equal(result.emsd, emsd, rtol=1e-9)
    pd.testing.assert_frame_equal(result.imsd, imsd, rtol=1e-9, check_column_type=False)


def test_three_dimensions(tmp_path):
    traj = with_z(uneven(tp.synthetic.brownian_trajectories(20, 150, diffusion=0.5, seed=8),
                         9, 150), 10)
    path = write_store(tmp_path / "z.h5", traj)
    with tp.PandasHDFStoreChunked(path, mode="r") as store:
        result = an.analyse(store, MPP, FPS, min_length=20, max_lagtime=6)
        table = store.dump()
    drift, emsd, imsd = pipeline(table, tp, 20, 6, ndim=3)
    assert list(result.drift.columns) == ["z", "y", "x"] and result.ndim == 3
    pd.testing.assert_frame_equal(result.drift, drift, rtol=1e-9)
    pd.testing.assert_frame_equal(result.emsd, emsd, rtol=1e-9)
    pd.testing.assert_frame_equal(result.imsd, imsd, rtol=1e-9)
    if result.D is not None:
        assert result.D == pytest.approx(result.A / 6)


def test_no_drift_measures_it_but_subtracts_nothing(uneven_store):
    with tp.PandasHDFStoreChunked(uneven_store, mode="r") as store:
        result = an.analyse(store, MPP, FPS, min_length=25, max_lagtime=10,
                            subtract_drift=False)
        table = store.dump()
    drift, emsd, imsd = pipeline(table, tp, 25, 10, subtract=False)
    pd.testing.assert_frame_equal(result.drift, drift, rtol=1e-9)
    pd.testing.assert_frame_equal(result.emsd, emsd, rtol=1e-9)
    pd.testing.assert_frame_equal(result.imsd, imsd, rtol=1e-9)
    assert any("not subtracted" in line for line in result.summary())


@pytest.fixture(scope="module")
def known_store(tmp_path_factory):
    """100 walks of 400 frames, D = 0.5 px²/frame, drift (0.2, -0.1) px/frame."""
    traj = tp.synthetic.brownian_trajectories(100, 400, shape=(600, 600), diffusion=0.5,
                                              drift=(0.2, -0.1), seed=11)
    return write_store(tmp_path_factory.mktemp("k") / "known.h5", traj, chunk_size=100,
                       mpp=MPP, fps=FPS)


def test_known_diffusion_and_drift_are_recovered(known_store):
    true_d = 0.5 * MPP ** 2 * FPS  # µm²/s
    with tp.PandasHDFStoreChunked(known_store, mode="r") as store:
        result = an.analyse(store, max_lagtime=20)  # units from the store's record
    assert (result.mpp, result.fps) == (MPP, FPS)
    assert abs(result.n - 1) < 0.05
    assert result.D == pytest.approx(true_d, rel=0.1)
    assert result.D == pytest.approx(result.A / 4)
    # the drift over 399 frames: (79.8, -39.9) px; the mean of 100 walks adds
    # sqrt(2 * 0.5 * 399 / 100) = 2 px of noise per axis
    total = result.drift.iloc[-1].to_numpy()
    assert np.all(np.abs(total - np.array([0.2, -0.1]) * 399) < 8)
    assert result.drift.index[-1] == 399 and list(result.drift.columns) == ["y", "x"]
    lines = result.summary()
    assert lines[1] == "Trajectories: 100 in the store, 100 with 25 positions or more."
    assert any(line.startswith("Drift: y +") and "subtracted" in line for line in lines)
    assert any(line.startswith(f"Diffusion: D = A/4 = {result.D:.4g} µm²/s") for line in lines)
    # without subtracting the drift, the MSD grows as t² at long lags: no D
    with tp.PandasHDFStoreChunked(known_store, mode="r") as store:
        kept = an.analyse(store, max_lagtime=20, subtract_drift=False)
    assert kept.n > 1 + an.DIFFUSIVE_TOLERANCE and kept.D is None
    assert any("super-diffusive" in line for line in kept.summary())
    pd.testing.assert_frame_equal(kept.drift, result.drift)


def test_units_come_from_the_store_and_arguments_win(known_store, uneven_store):
    with tp.PandasHDFStoreChunked(known_store, mode="r") as store:
        given = an.analyse(store, mpp=1.0, max_lagtime=3)
    assert (given.mpp, given.fps) == (1.0, FPS)
    with tp.PandasHDFStoreChunked(uneven_store, mode="r") as store:
        with pytest.raises(ValueError, match="mpp and fps unknown.*save_units"):
            an.analyse(store)
        with pytest.raises(ValueError, match="fps unknown"):
            an.analyse(store, mpp=1)
        with pytest.raises(ValueError, match="mpp must be a positive number"):
            an.analyse(store, mpp=-1, fps=1)


@pytest.mark.parametrize("kwargs, message", [
    ({"min_length": -1}, "min_length must be a whole number >= 0"),
    ({"max_lagtime": 0}, "max_lagtime must be a whole number >= 1"),
    ({"max_lagtime": 2.5}, "max_lagtime must be a whole number >= 1"),
    ({"smoothing": -2}, "smoothing must be"),
])
def test_bad_arguments_are_refused(uneven_store, kwargs, message):
    with tp.PandasHDFStoreChunked(uneven_store, mode="r") as store:
        with pytest.raises(ValueError, match=message):
            an.analyse(store, MPP, FPS, **kwargs)


def test_unlinked_and_empty_stores_are_refused(tmp_path):
    with tp.PandasHDFStoreChunked(str(tmp_path / "empty.h5")) as store:
        with pytest.raises(ValueError, match="no features"):
            an.analyse(store, MPP, FPS)
        store.put(pd.DataFrame({"frame": [0, 0], "x": [1.0, 2.0], "y": [3.0, 4.0]}))
        with pytest.raises(ValueError, match="no 'particle' column.*link it first"):
            an.analyse(store, MPP, FPS)


def test_the_store_is_read_twice_frame_by_frame(uneven_store, monkeypatch):
    reads = []  # the frames of each block read (the store's documented block reader)
    original = tp.PandasHDFStoreChunked.read_frames

    def read_frames(self, frame_numbers):
        reads.extend(int(f) for f in frame_numbers)
        return original(self, frame_numbers)

    monkeypatch.setattr(tp.PandasHDFStoreChunked, "read_frames", read_frames)
    monkeypatch.setattr(tp.PandasHDFStoreChunked, "dump", None)  # never the whole table
    calls = []
    with tp.PandasHDFStoreChunked(uneven_store, mode="r") as store:
        frames = list(store.frames)
        an.analyse(store, MPP, FPS, max_lagtime=5, progress=lambda *a: calls.append(a))
    counts = pd.Series(reads).value_counts()
    assert sorted(counts.index) == frames and (counts == 2).all()
    n = len(frames)
    assert [c for c in calls if c[1] == 0] == [("scan", 0, n), ("measure", 0, n)]
    assert calls[-1] == ("measure", n, n) and ("scan", n, n) in calls


def test_no_trajectory_long_enough(uneven_store, tmp_path):
    with tp.PandasHDFStoreChunked(uneven_store, mode="r") as store:
        with pytest.warns(UserWarning, match="no trajectory has 1000 positions or more"):
            result = an.analyse(store, MPP, FPS, min_length=1000, max_lagtime=5)
    assert result.trajectories_after == 0 and result.trajectories_before == 40
    assert list(result.emsd.columns) == ["<x>", "<y>", "<x^2>", "<y^2>", "msd", "N", "lagt"]
    assert len(result.emsd) == 0 and result.imsd.shape[1] == 0 and len(result.drift) == 0
    assert list(result.drift.columns) == ["y", "x"]
    assert np.isnan(result.n) and np.isnan(result.A) and result.D is None
    assert result.summary()[-1].startswith("Warning: no trajectory has 1000 positions")
    paths = result.write(tmp_path / "out")
    assert [os.path.basename(p) for p in paths] == list(an.OUTPUTS)
    assert pd.read_csv(paths[0]).columns.tolist() == ["frame"] + list(result.emsd.columns)
    assert all(os.path.getsize(p) > 5000 for p in paths[4:])


def test_write_and_plots(uneven_store, tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    with tp.PandasHDFStoreChunked(uneven_store, mode="r") as store:
        result = an.analyse(store, MPP, FPS, min_length=25, max_lagtime=10)
    folder = tmp_path / "new" / "out"
    paths = result.write(folder)
    assert sorted(os.listdir(folder)) == sorted(an.OUTPUTS)
    emsd = pd.read_csv(folder / "emsd.csv", index_col="frame")
    pd.testing.assert_frame_equal(emsd, result.emsd, rtol=1e-12)
    imsd = pd.read_csv(folder / "imsd.csv", index_col=0)
    assert imsd.index.name == "lag time [s]"
    assert [int(c) for c in imsd.columns] == list(result.imsd.columns)
    drift = pd.read_csv(folder / "drift.csv", index_col="frame")
    pd.testing.assert_frame_equal(drift, result.drift, rtol=1e-12)
    lengths = pd.read_csv(folder / "track_lengths.csv")
    assert lengths.columns.tolist() == ["particle", "length", "first", "last", "kept"]
    assert lengths["kept"].sum() == result.trajectories_after
    for path in paths[4:]:
        assert os.path.getsize(path) > 15000
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # refused, then replaced
    with pytest.raises(FileExistsError, match="already holds emsd.csv.*--overwrite"):
        result.write(folder)
    assert result.write(folder, overwrite=True) == paths
    with pytest.raises(NotADirectoryError, match="is a file"):
        result.write(folder / "emsd.csv")

    # the plots on given axes (a widget's canvas)
    ax = Figure().add_subplot()
    an.plot_msd(ax, result, max_curves=7)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlabel() == "lag time t [s]" and ax.get_ylabel() == "MSD [µm²]"
    assert len(ax.get_lines()) == 7 + 2  # individual, ensemble, fit
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == f"individual (7 of {result.imsd.shape[1]})"
    assert labels[1].startswith("ensemble") and labels[2].startswith("fit MSD = A t^n")
    ax = Figure().add_subplot()
    an.plot_drift(ax, result)
    assert ax.get_xlabel() == "time [s]" and ax.get_ylabel() == "drift [µm]"
    y = ax.get_lines()[0].get_ydata()
    np.testing.assert_allclose(y, result.drift["y"].to_numpy() * MPP)
    ax = Figure().add_subplot()
    an.plot_track_lengths(ax, result)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"minimum length 25: {result.trajectories_after} of 40 kept" in labels
    assert "kept" in labels and "left out" in labels
    assert ax.get_xlabel() == "trajectory length [positions]"


def test_analysis_imports_no_matplotlib():
    import subprocess
    import sys

    code = ("import sys, streamtrack.analysis; "
            "sys.exit(int('matplotlib' in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0

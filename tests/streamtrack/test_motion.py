"""streamtrack.motion and streamtrack.utils.fit_powerlaw side by side with trackpy 0.7."""
import warnings

import numpy as np
import pandas as pd
import pytest
import trackpy

import streamtrack as tp


def make_traj(n_particles=30, n_frames=60, ndim=2, gaps=True, drift=0.0, seed=0,
              offset=300.0, particle_dtype=np.int64):
    """Random walks of uneven lengths starting at uneven frames; with gaps, some
    frames are missing (as linking memory leaves them)."""
    rng = np.random.default_rng(seed)
    names = ["z", "y", "x"][-ndim:] if ndim == 3 else ["x", "y"]
    tables = []
    for p in range(n_particles):
        start = int(rng.integers(0, n_frames // 3))
        length = int(rng.integers(1, n_frames - start + 1))
        frames = np.arange(start, start + length)
        steps = rng.normal(scale=1.5, size=(length, ndim)) + drift
        pos = offset * rng.random(ndim) + np.cumsum(steps, axis=0)
        t = pd.DataFrame(pos, columns=names)
        t["frame"] = frames
        t["particle"] = particle_dtype(p * 3 + 1)
        if gaps and length > 3 and p % 2 == 0:
            drop = rng.random(length) < 0.25
            drop[0] = drop[-1] = False
            t = t[~drop]
        tables.append(t)
    traj = pd.concat(tables, ignore_index=True)
    # linked tables come sorted by frame
    return traj.sort_values(["frame", "particle"], kind="stable").reset_index(drop=True)


def quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


CASES = {
    "2d-gaps": dict(),
    "2d-nogaps": dict(gaps=False),
    "3d-gaps": dict(ndim=3, seed=1),
    "drift": dict(drift=0.7, seed=2),
    "float-particle": dict(particle_dtype=np.float64, seed=3),
}


@pytest.fixture(params=sorted(CASES))
def traj(request):
    return make_traj(**CASES[request.param])


def pos_for(traj):
    return ["z", "y", "x"] if "z" in traj else None


@pytest.mark.parametrize("max_lagtime", [1, 7, 100])
@pytest.mark.parametrize("mpp,fps", [(1, 1), (0.37, 24.0)])
def test_imsd(traj, max_lagtime, mpp, fps):
    pc = pos_for(traj)
    expected = quiet(trackpy.imsd, traj, mpp, fps, max_lagtime, pos_columns=pc)
    got = tp.imsd(traj, mpp, fps, max_lagtime, pos_columns=pc)
    pd.testing.assert_frame_equal(got, expected, rtol=1e-9)


@pytest.mark.parametrize("statistic", ["<x>", "<y^2>", "msd"])
def test_imsd_statistic(traj, statistic):
    pc = pos_for(traj)
    expected = quiet(trackpy.imsd, traj, 0.5, 3, 20, statistic=statistic, pos_columns=pc)
    got = tp.imsd(traj, 0.5, 3, 20, statistic=statistic, pos_columns=pc)
    pd.testing.assert_frame_equal(got, expected, rtol=1e-9)


@pytest.mark.parametrize("detail", [False, True])
@pytest.mark.parametrize("max_lagtime", [1, 9, 100])
def test_emsd(traj, detail, max_lagtime):
    pc = pos_for(traj)
    expected = quiet(trackpy.emsd, traj, 0.37, 24.0, max_lagtime, detail, pos_columns=pc)
    got = tp.emsd(traj, 0.37, 24.0, max_lagtime, detail, pos_columns=pc)
    # lag times are exactly lag / fps; trackpy's are weighted means of them (an
    # ulp off, NaN at a lag no trajectory measured): README, Differences
    lagtimes = np.arange(1, len(got) + 1) / 24.0
    theirs = (expected["lagt"] if detail else expected.index).to_numpy()
    np.testing.assert_array_equal((got["lagt"] if detail else got.index).to_numpy(), lagtimes)
    measured = ~np.isnan(theirs)
    np.testing.assert_allclose(theirs[measured], lagtimes[measured], rtol=1e-15)
    if detail:
        pd.testing.assert_frame_equal(got.drop(columns="lagt"), expected.drop(columns="lagt"),
                                      rtol=1e-9)
    else:
        np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-9)
        assert got.name == expected.name and got.index.name == expected.index.name


@pytest.mark.parametrize("detail", [False, True])
@pytest.mark.parametrize("max_lagtime", [1, 5, 100])
def test_msd_each_particle(traj, detail, max_lagtime):
    pc = pos_for(traj)
    for _, one in traj.groupby("particle"):
        if len(one) < 2:
            continue
        expected = quiet(trackpy.msd, one, 0.37, 24.0, max_lagtime, detail, pos_columns=pc)
        got = tp.msd(one, 0.37, 24.0, max_lagtime, detail, pos_columns=pc)
        pd.testing.assert_frame_equal(got, expected, rtol=1e-9)


def test_msd_one_position():
    one = pd.DataFrame({"x": [1.0], "y": [0.0], "frame": [3], "particle": [5]})
    pd.testing.assert_frame_equal(tp.msd(one, 1, 1), trackpy.msd(one, 1, 1))
    pd.testing.assert_frame_equal(tp.msd(one, 1, 1, detail=True),
                                  trackpy.msd(one, 1, 1, detail=True))


def test_emsd_gap_beyond_max_lagtime():
    """A particle whose only displacements are longer than max_lagtime: N is NaN
    in trackpy, and the ensemble skips it."""
    traj = make_traj(n_particles=6, gaps=False, seed=4)
    lone = pd.DataFrame({"x": [1.0, 4.0], "y": [2.0, 2.5], "frame": [0, 9], "particle": 99})
    traj = pd.concat([traj, lone], ignore_index=True)
    for detail in (False, True):
        expected = quiet(trackpy.emsd, traj, 1, 1, 4, detail)
        got = tp.emsd(traj, 1, 1, 4, detail)
        assert type(got) is type(expected)
        if detail:
            pd.testing.assert_frame_equal(got, expected, rtol=1e-9)
        else:
            pd.testing.assert_series_equal(got, expected, rtol=1e-9)
    pd.testing.assert_frame_equal(tp.imsd(traj, 1, 1, 4), quiet(trackpy.imsd, traj, 1, 1, 4),
                                  rtol=1e-9)


@pytest.mark.parametrize("length", [1, 2, 5])
def test_single_particle(length):
    traj = pd.DataFrame({"x": np.arange(length) ** 1.5, "y": np.arange(length) * 0.5,
                         "frame": np.arange(length) + 2, "particle": 7})
    pd.testing.assert_frame_equal(tp.imsd(traj, 1, 2), quiet(trackpy.imsd, traj, 1, 2))
    pd.testing.assert_series_equal(tp.emsd(traj, 1, 2), quiet(trackpy.emsd, traj, 1, 2))
    pd.testing.assert_frame_equal(tp.emsd(traj, 1, 2, detail=True),
                                  quiet(trackpy.emsd, traj, 1, 2, detail=True))


def test_empty_table():
    empty = pd.DataFrame({"x": [], "y": [], "frame": [], "particle": []})
    for func in (tp.imsd, tp.emsd):
        with pytest.raises(ValueError):
            func(empty, 1, 1)
    with pytest.raises(IndexError):  # trackpy's type, kept
        tp.msd(empty, 1, 1)
    with pytest.raises(ValueError):
        tp.msd(empty, 1, 1)
    pd.testing.assert_frame_equal(tp.compute_drift(empty), quiet(trackpy.compute_drift, empty))
    pd.testing.assert_frame_equal(tp.subtract_drift(empty),
                                  quiet(trackpy.subtract_drift, empty))


def test_unsorted_input_same_as_sorted(traj):
    shuffled = traj.sample(frac=1, random_state=1)
    pc = pos_for(traj)
    pd.testing.assert_frame_equal(tp.imsd(shuffled, 1, 1, pos_columns=pc),
                                  tp.imsd(traj, 1, 1, pos_columns=pc))


@pytest.mark.parametrize("func", [tp.msd, tp.imsd, tp.emsd])
def test_bad_max_lagtime(func):
    traj = make_traj(n_particles=3)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="max_lagtime"):
            func(traj, 1, 1, max_lagtime=bad)


@pytest.mark.parametrize("func", [tp.imsd, tp.emsd, tp.compute_drift])
def test_no_particle_column(func):
    traj = make_traj(n_particles=3).drop(columns="particle")
    with pytest.raises(ValueError, match="link first"):
        func(traj, 1, 1) if func is not tp.compute_drift else func(traj)


def test_duplicate_frames_and_bad_statistic():
    traj = make_traj(n_particles=3, gaps=False)
    doubled = pd.concat([traj, traj.iloc[:1]], ignore_index=True)
    with pytest.raises(ValueError, match="more than one row"):
        tp.imsd(doubled, 1, 1)
    with pytest.raises(ValueError, match="statistic"):
        tp.imsd(traj, 1, 1, statistic="<q>")
    with pytest.raises(ValueError, match="pos_columns"):
        tp.emsd(traj, 1, 1, pos_columns=["x", "q"])


@pytest.mark.parametrize("smoothing", [0, 1, 5])
def test_compute_drift(traj, smoothing):
    pc = None if "z" in traj else ["x", "y"]
    expected = quiet(trackpy.compute_drift, traj.copy(), smoothing, pos_columns=pc)
    got = tp.compute_drift(traj, smoothing, pos_columns=pc)
    pd.testing.assert_frame_equal(got, expected, rtol=1e-9)
    pd.testing.assert_frame_equal(tp.compute_drift(traj, smoothing),
                                  quiet(trackpy.compute_drift, traj.copy(), smoothing),
                                  rtol=1e-9)


def test_compute_drift_index_named_frame_not_mutated(traj):
    indexed = traj.set_index("frame", drop=False)
    got = tp.compute_drift(indexed)
    assert indexed.index.name == "frame"
    pd.testing.assert_frame_equal(got, quiet(trackpy.compute_drift, indexed.copy()), rtol=1e-9)


def test_subtract_drift(traj):
    drift = tp.compute_drift(traj, 3)
    expected = quiet(trackpy.subtract_drift, traj, drift)
    before = traj.copy()
    got = tp.subtract_drift(traj, drift)
    pd.testing.assert_frame_equal(traj, before)  # not in place
    pd.testing.assert_frame_equal(got, expected, rtol=1e-9)
    pd.testing.assert_frame_equal(tp.subtract_drift(traj), quiet(trackpy.subtract_drift, traj),
                                  rtol=1e-9)


def test_subtract_drift_inplace():
    traj = make_traj(drift=0.5)
    mine, theirs = traj.copy(), traj.copy()
    returned = tp.subtract_drift(mine, inplace=True)
    quiet(trackpy.subtract_drift, theirs, inplace=True)
    assert returned is mine
    pd.testing.assert_frame_equal(mine, theirs, rtol=1e-9)


def test_subtract_drift_one_trajectory_without_particle():
    traj = make_traj(n_particles=1, gaps=False, seed=5)
    drift = tp.compute_drift(traj)
    single = traj.drop(columns="particle")
    pd.testing.assert_frame_equal(tp.subtract_drift(single, drift),
                                  quiet(trackpy.subtract_drift, single, drift), rtol=1e-9)


@pytest.mark.parametrize("lagtime", [1, 4])
@pytest.mark.parametrize("ensemble", [False, True])
@pytest.mark.parametrize("bins", [24, 7, np.linspace(-5, 5, 11)])
def test_vanhove(traj, lagtime, ensemble, bins):
    pos = traj.set_index(["frame", "particle"])["x"].unstack()
    expected = quiet(trackpy.vanhove, pos, lagtime, 0.5, ensemble, bins)
    got = quiet(tp.vanhove, pos, lagtime, 0.5, ensemble, bins)
    if ensemble:
        pd.testing.assert_series_equal(got, expected, rtol=1e-9)
    else:
        pd.testing.assert_frame_equal(got, expected, rtol=1e-9)


def test_vanhove_lagtime_too_long():
    pos = make_traj().set_index(["frame", "particle"])["x"].unstack()
    with pytest.raises(ValueError, match="lagtime"):
        tp.vanhove(pos, 10_000)


def test_fit_powerlaw():
    traj = make_traj(gaps=False)
    em = tp.emsd(traj, 0.5, 10)
    pd.testing.assert_frame_equal(tp.utils.fit_powerlaw(em, plot=False),
                                  trackpy.utils.fit_powerlaw(em, plot=False), rtol=1e-9)
    im = tp.imsd(traj, 0.5, 10, max_lagtime=5)
    im = im.dropna(axis=1)  # trackpy fails on NaN (it drops them from y only)
    assert im.shape[1] > 2
    pd.testing.assert_frame_equal(tp.utils.fit_powerlaw(im, plot=False),
                                  trackpy.utils.fit_powerlaw(im, plot=False), rtol=1e-9)


def test_fit_powerlaw_plot():
    plt = pytest.importorskip("matplotlib.pyplot")
    em = tp.emsd(make_traj(gaps=False), 0.5, 10)
    plt.figure()
    try:
        tp.utils.fit_powerlaw(em)
        ax = plt.gca()
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert len(ax.lines) == 2
    finally:
        plt.close("all")


def test_import_does_not_load_matplotlib():
    import subprocess
    import sys

    code = ("import sys, streamtrack as tp; tp.motion; tp.utils; tp.imsd; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def _with(traj, **columns):
    out = traj.copy()
    for name, values in columns.items():
        out[name] = values(out) if callable(values) else values
    return out


def _some(traj, fraction, seed):
    return np.random.default_rng(seed).random(len(traj)) < fraction


# tables for compute_drift: the fast array path's branches and trackpy's quirks
DRIFT_TABLES = {
    "unsorted": lambda t: t.sample(frac=1, random_state=1),
    "nan-particles": lambda t: _with(t, particle=lambda d: d.particle.astype(float).mask(
        _some(d, 0.1, 1))),
    "nan-particles-unsorted": lambda t: _with(t, particle=lambda d: d.particle.astype(float).mask(
        _some(d, 0.1, 1))).sample(frac=1, random_state=2),
    "inf-particles": lambda t: _with(t, particle=lambda d: d.particle.astype(float).mask(
        _some(d, 0.1, 3), np.inf)),
    "all-nan-particles": lambda t: _with(t, particle=np.nan),
    "float-frames-with-nan": lambda t: _with(t, frame=lambda d: d.frame.astype(float).mask(
        _some(d, 0.1, 4))),
    "fractional-frames": lambda t: _with(t, frame=lambda d: d.frame + 0.5),
    "float32-frames": lambda t: t.astype({"frame": np.float32}),
    "uint8-frames": lambda t: t.astype({"frame": np.uint8}),
    "int32-frames": lambda t: t.astype({"frame": np.int32}),
    "negative-frames": lambda t: _with(t, frame=lambda d: d.frame - 1000),
    "sparse-frames": lambda t: _with(t, frame=lambda d: d.frame + np.where(d.frame > 20, 10**9, 0)),
    "no-steps": lambda t: _with(t, frame=lambda d: d.frame * 3),
    "negative-ids": lambda t: _with(t, particle=lambda d: -d.particle),
    "fractional-ids": lambda t: _with(t, particle=lambda d: d.particle * 0.37 + 0.1),
    "32-bit-ids": lambda t: _with(t, particle=lambda d: d.particle * 70_001 + 5),
    "32-bit-ids-unsorted": lambda t: _with(t, particle=lambda d: d.particle * 70_001 + 5).sample(
        frac=1, random_state=5),
    "64-bit-ids": lambda t: _with(t, particle=lambda d: d.particle * 2**40 - 2**62),
    "uint16-ids": lambda t: t.astype({"particle": np.uint16}),
    "Int64-ids-with-NA": lambda t: _with(t, particle=lambda d: d.particle.astype("Int64").mask(
        _some(d, 0.1, 6))),
    "duplicate-rows": lambda t: pd.concat([t, t.sample(40, random_state=1).assign(
        x=lambda d: d.x + 100)], ignore_index=True),
    "duplicate-rows-sorted": lambda t: pd.concat([t, t.sample(40, random_state=1).assign(
        x=lambda d: d.x + 100)], ignore_index=True).sort_values("frame", kind="stable"),
    "nan-positions": lambda t: _with(t, x=lambda d: d.x.mask(_some(d, 0.05, 7)),
                                     y=lambda d: d.y.mask(d.frame == 10)),
    "inf-positions": lambda t: _with(t, x=lambda d: d.x.mask(_some(d, 0.02, 8), np.inf)),
    "int-positions": lambda t: _with(t, x=lambda d: d.x.round().astype(np.int64),
                                     y=lambda d: d.y.round().astype(np.int32)),
    "float32-positions": lambda t: t.astype({"x": np.float32, "y": np.float32}),
    "int16-positions": lambda t: _with(t, x=lambda d: d.x.round().astype(np.int16)),
    "Float64-positions": lambda t: t.astype({"x": "Float64"}),
    "index-named-particle": lambda t: t.set_index("particle", drop=False),
    "object-columns": lambda t: t.set_axis(pd.Index(list(t.columns), dtype=object), axis=1),
    "string-columns": lambda t: t.set_axis(pd.Index(list(t.columns), dtype="string"), axis=1),
    "one-row": lambda t: t.iloc[:1],
    "two-rows": lambda t: pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 2.0], "frame": [4, 5],
                                        "particle": [3, 3]}),
    "empty-int": lambda t: t.iloc[:0],
}


@pytest.mark.parametrize("smoothing", [0, 3])
@pytest.mark.parametrize("name", sorted(DRIFT_TABLES))
def test_compute_drift_tables(name, smoothing):
    traj = DRIFT_TABLES[name](make_traj(n_particles=40, n_frames=50, seed=7))
    before = traj.copy()
    expected = quiet(trackpy.compute_drift, traj.copy(), smoothing)
    got = tp.compute_drift(traj, smoothing)
    pd.testing.assert_frame_equal(traj, before)
    pd.testing.assert_frame_equal(got, expected, rtol=1e-9)


@pytest.mark.parametrize("id_scale", [1, 401, 70_001])
def test_compute_drift_large_table(id_scale):
    """Thousands of frames and particles: the ids' range fits 16 bits, needs
    numbering (up to 16 times the rows), or needs two radix passes."""
    traj = make_traj(n_particles=600, n_frames=300, seed=12, drift=0.2)
    traj["particle"] = traj["particle"] * id_scale
    for table in (traj, traj.sample(frac=1, random_state=3)):
        pd.testing.assert_frame_equal(tp.compute_drift(table),
                                      quiet(trackpy.compute_drift, table.copy()), rtol=1e-9)


def test_compute_drift_int_column_names():
    traj = make_traj(seed=8).rename(columns={"x": 0, "y": 1})
    pd.testing.assert_frame_equal(tp.compute_drift(traj, pos_columns=[1, 0]),
                                  quiet(trackpy.compute_drift, traj.copy(), pos_columns=[1, 0]),
                                  rtol=1e-9)


def test_compute_drift_frame_particle_multiindex():
    """trackpy refuses an index with levels named like the columns (ambiguous
    sort keys); the columns are what it would use, and what streamtrack uses."""
    traj = make_traj(seed=9)
    indexed = traj.set_index(["frame", "particle"], drop=False)
    with pytest.raises(ValueError):
        quiet(trackpy.compute_drift, indexed.copy())
    pd.testing.assert_frame_equal(tp.compute_drift(indexed), tp.compute_drift(traj))


def test_compute_drift_fast_path_taken():
    """A linked table (float positions, int frames and ids) takes the array path."""
    from streamtrack import _drift

    traj = make_traj(seed=10)
    traj["mass"] = 1.0
    assert _drift.table_arrays(traj, ["y", "x"]) is not None
    assert _drift.table_arrays(traj.astype({"x": np.float32}), ["y", "x"]) is None


def test_mean_steps_id_encodings_agree():
    """Offset ids, numbered ids, two radix passes, lexsort of int or fractional
    ids: the same steps in the same order, so the same bits."""
    from streamtrack._drift import mean_steps

    traj = make_traj(n_particles=600, n_frames=300, seed=13)
    frames = traj["frame"].to_numpy()
    r = traj[["y", "x"]].to_numpy()
    ids = traj["particle"].to_numpy()
    reference = mean_steps(frames, ids, r)
    for particles in (ids * 401, ids * 70_001, ids * 2**40, ids * 0.5 + 0.25,
                      ids.astype(float) * 401, ids.astype(np.uint32)):
        for result, want in zip(mean_steps(frames, particles, r), reference):
            np.testing.assert_array_equal(result, want)


def test_mean_steps_blocks_add_up():
    """Per-frame sums and counts of blocks of frames that overlap by one frame
    add up to those of the whole table (what a stream does)."""
    from streamtrack._drift import drift_table, mean_steps

    traj = make_traj(n_particles=50, n_frames=80, seed=14, drift=0.3)
    whole = tp.compute_drift(traj)
    sums, counts = {}, {}
    for lo, hi in [(0, 20), (20, 55), (55, 80)]:
        block = traj[(traj.frame >= lo) & (traj.frame <= hi)]
        step_frames, s, c = mean_steps(block["frame"].to_numpy(), block["particle"].to_numpy(),
                                       block[["y", "x"]].to_numpy())
        assert step_frames.dtype == np.int64 and c.shape == (len(step_frames),)
        for f, si, ci in zip(step_frames, s, c):
            sums[f] = sums.get(f, 0) + si
            counts[f] = counts.get(f, 0) + ci
    frames = np.array(sorted(sums))
    got = drift_table(frames, np.array([sums[f] for f in frames]),
                      np.array([counts[f] for f in frames]), 0, ["y", "x"], np.int64)
    pd.testing.assert_frame_equal(got, whole, rtol=1e-12)


def test_mean_steps_nan_coordinates_counted_per_column():
    from streamtrack._drift import mean_steps

    frames = np.array([0, 1, 2, 0, 1, 2])
    particles = np.array([1, 1, 1, 2, 2, 2.0])
    r = np.array([[0, 0], [1, np.nan], [2, 2], [5, 5], [6, 6], [7, 7.0]])
    step_frames, sums, counts = mean_steps(frames, particles, r)
    np.testing.assert_array_equal(step_frames, [1, 2])
    np.testing.assert_array_equal(counts, [[2, 1], [2, 1]])
    np.testing.assert_array_equal(sums, [[2, 1], [2, 1]])

"""Analysis streamed from stores equals the DataFrame functions on ``store.dump()``."""
import warnings

import numpy as np
import pandas as pd
import pytest
from test_motion import CASES, make_traj

import streamtrack as tp
from streamtrack import _streamed, _streamed_rows
from streamtrack.workflow import save_units

STORES = {
    "chunked": lambda path: tp.PandasHDFStoreChunked(path, chunk_size=16),
    "frames": tp.PandasHDFStore,
    "big": tp.PandasHDFStoreBig,
    "single": tp.PandasHDFStoreSingleNode,
}


def write_store(path, traj, kind="chunked", extra=True):
    """``traj`` frame by frame into a new store (with locate's other columns)."""
    traj = traj.copy()
    if extra:
        rng = np.random.default_rng(0)
        traj["mass"] = rng.random(len(traj)) * 100
        traj["size"] = 1 + rng.random(len(traj))
    store = STORES[kind](str(path))
    for _, frame in traj.groupby("frame", sort=True):
        store.put(frame.reset_index(drop=True))
    return store


@pytest.fixture(params=sorted(CASES))
def case(request, tmp_path):
    traj = make_traj(**CASES[request.param])
    with write_store(tmp_path / "s.h5", traj) as store:
        yield store, (["z", "y", "x"] if "z" in traj else None)


def quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def assert_same(streamed, in_memory, rtol=1e-12, atol=0.0):
    if isinstance(in_memory, pd.Series):
        pd.testing.assert_series_equal(streamed, in_memory, rtol=rtol, atol=atol)
    else:
        pd.testing.assert_frame_equal(streamed, in_memory, rtol=rtol, atol=atol)


# ------------------------------------------------------------------ MSDs
@pytest.mark.parametrize("detail", [False, True])
@pytest.mark.parametrize("max_lagtime", [7, 100])
def test_emsd(case, detail, max_lagtime):
    """Trajectories held whole (span <= 10 x max_lagtime) go through the same code
    as a table in memory: equal up to the order of the sums over particles."""
    store, pos = case
    assert_same(tp.emsd(store, 0.35, 24, max_lagtime, detail, pos),
                tp.emsd(store.dump(), 0.35, 24, max_lagtime, detail, pos))


@pytest.mark.parametrize("statistic", ["msd", "<x>", "<y^2>", "lagt"])
def test_imsd(case, statistic):
    store, pos = case
    assert_same(tp.imsd(store, 0.5, 10, 20, statistic, pos),
                tp.imsd(store.dump(), 0.5, 10, 20, statistic, pos))


@pytest.mark.parametrize("kind", sorted(STORES))
def test_every_store_layout(tmp_path, kind):
    traj = make_traj(seed=5)
    with write_store(tmp_path / "s.h5", traj, kind) as store:
        assert_same(tp.emsd(store, 1, 1, 30, True), tp.emsd(traj, 1, 1, 30, True))
        assert_same(tp.imsd(store, 1, 1, 30), tp.imsd(traj, 1, 1, 30))


@pytest.mark.parametrize("detail", [False, True])
def test_msd_of_one_trajectory(tmp_path, detail):
    traj = make_traj(n_particles=1, n_frames=80, seed=4)
    one = traj[traj["particle"] == traj["particle"].iloc[0]]
    with write_store(tmp_path / "s.h5", one) as store:
        assert_same(tp.msd(store, 0.2, 5, 30, detail), tp.msd(one, 0.2, 5, 30, detail))


def test_msd_of_several_particles_is_refused(case):
    store, pos = case
    with pytest.raises(ValueError, match="one trajectory per particle"):
        tp.msd(store, 1, 1, pos_columns=pos)


@pytest.fixture
def summed(monkeypatch):
    """Every trajectory summed in the ring (none held), in small blocks."""
    monkeypatch.setattr(_streamed, "HOLD_FACTOR", 0)
    monkeypatch.setattr(_streamed, "MIN_BLOCK", 3)


@pytest.mark.parametrize("max_lagtime", [1, 2, 5, 40])
@pytest.mark.parametrize("detail", [False, True])
def test_running_sums_equal_the_table(case, summed, max_lagtime, detail):
    """Trajectories too long to hold are summed lag by lag across blocks (of
    4 x max_lagtime frames here), through gaps and across block edges: equal to
    trackpy's algorithms to trackpy's own rounding (its FFT cancels digits)."""
    store, pos = case
    assert_same(tp.emsd(store, 0.35, 24, max_lagtime, detail, pos),
                tp.emsd(store.dump(), 0.35, 24, max_lagtime, detail, pos), rtol=1e-9)
    # one trajectory's MSD at a lag with a pair or two can be tiny: trackpy's FFT
    # is off by up to ~1e-14 x position**2 there (its S1 - 2 S2 cancels), absolutely
    scale = (0.35 * np.abs(store.dump()[pos or ["x", "y"]].to_numpy()).max()) ** 2
    assert_same(tp.imsd(store, 0.35, 24, max_lagtime, "msd", pos),
                tp.imsd(store.dump(), 0.35, 24, max_lagtime, "msd", pos), rtol=1e-9,
                atol=1e-13 * scale)


def test_running_sums_are_exact_where_the_fft_is_not(tmp_path, summed):
    """A 3,000-frame trajectory far from the origin: trackpy's FFT is off by ~1e-10
    relative at short lags, the direct sums agree with exact (fsum) sums."""
    import math

    rng = np.random.default_rng(1)
    n = 3000
    pos = 500 + np.cumsum(rng.normal(0, 0.3, (n, 2)), axis=0)
    traj = pd.DataFrame({"frame": np.arange(n), "particle": 0, "x": pos[:, 1],
                         "y": pos[:, 0]})
    exact = np.array([math.fsum(((pos[lag:] - pos[:-lag]) ** 2).ravel()) / (n - lag)
                      for lag in range(1, 11)])
    with write_store(tmp_path / "s.h5", traj, extra=False) as store:
        streamed = tp.emsd(store, 1, 1, 10).to_numpy()
    in_memory = tp.emsd(traj, 1, 1, 10).to_numpy()
    assert np.max(np.abs(streamed - exact) / exact) < 1e-14
    assert np.max(np.abs(in_memory - exact) / exact) > 1e-13   # trackpy's FFT
    np.testing.assert_allclose(streamed, in_memory, rtol=1e-9)


def test_memory_follows_live_trajectories_not_their_number(tmp_path, summed):
    """400 trajectories, at most 8 alive at a time: the ring never grows past
    its first allocation, and every trajectory is finished once."""
    rows = []
    rng = np.random.default_rng(2)
    for p in range(400):
        start = p * 5
        frames = np.arange(start, start + 40)
        rows.append(pd.DataFrame({"frame": frames, "particle": p,
                                  "x": np.cumsum(rng.normal(size=40)),
                                  "y": np.cumsum(rng.normal(size=40))}))
    traj = pd.concat(rows).sort_values(["frame", "particle"], ignore_index=True)
    with write_store(tmp_path / "s.h5", traj, extra=False) as store:
        scan = _streamed.Scan(store, "test")
        seen = []
        sums = []
        original = _streamed._msd.RunningSums

        class Spy(original):
            def __init__(self, *args):
                super().__init__(*args)
                sums.append(self)

        _streamed._msd.RunningSums = Spy
        try:
            for codes, _values, _nlags in _streamed.msd_tables(store, scan, 1.0, 5, ["x", "y"],
                                                               False):
                seen.extend(codes.tolist())
        finally:
            _streamed._msd.RunningSums = original
    assert sorted(seen) == list(range(400))
    assert sums[0].capacity == 64


# ------------------------------------------------------------------ drift
@pytest.mark.parametrize("smoothing", [0, 3])
def test_compute_drift(case, smoothing, monkeypatch):
    store, pos = case
    monkeypatch.setattr(_streamed, "MIN_BLOCK", 5)   # steps across block edges
    pos = None if pos is None else pos
    assert_same(tp.compute_drift(store, smoothing, pos),
                tp.compute_drift(store.dump(), smoothing, pos))


def test_subtract_drift_into_another_store(case, tmp_path):
    store, pos = case
    drift = tp.compute_drift(store, pos_columns=pos)
    before = store.dump()
    expected = tp.subtract_drift(before, drift)
    assert_same(tp.subtract_drift(store, drift), expected)
    with tp.PandasHDFStoreChunked(tmp_path / "out.h5") as out:
        assert tp.subtract_drift(store, drift, output=out) is out
        got = out.dump()
    assert_same(got.reset_index(drop=True), expected.reset_index(drop=True))
    assert_same(store.dump(), before)                     # the input is not modified


def test_subtract_drift_of_a_store_is_never_in_place(case):
    store, _ = case
    with pytest.raises(ValueError, match="output="):
        tp.subtract_drift(store, inplace=True)


# ------------------------------------------------------------------ filtering
@pytest.mark.parametrize("threshold", [0, 1, 10, 40, 1000])
def test_filter_stubs(case, threshold, tmp_path):
    store, _ = case
    save_units(store, mpp=0.5, fps=3)
    dumped = store.dump()
    expected = tp.filter_stubs(dumped, threshold)
    assert_same(tp.filter_stubs(store, threshold), expected)
    with tp.PandasHDFStoreChunked(tmp_path / "out.h5") as out:
        tp.filter_stubs(store, threshold, output=out)
        got = out.dump()
        assert out.metadata["units"] == {"mpp": 0.5, "fps": 3}
        assert sorted(out.processed_frames) == sorted(store.frames)
    if len(expected):
        assert_same(got.reset_index(drop=True), expected.reset_index(drop=True))
    else:
        assert len(got) == 0
    assert_same(store.dump(), dumped)


@pytest.mark.parametrize("quantile", [0.0, 0.3, 0.8, 1.0])
def test_filter_clusters(case, quantile):
    store, _ = case
    assert_same(tp.filter_clusters(store, quantile),
                tp.filter_clusters(store.dump(), quantile))


def test_filter_clusters_quantile_narrows_in_passes(case, monkeypatch):
    """A budget of 3 values forces the bin holding the quantile to be narrowed
    16 bits at a time; the result is still exact."""
    store, _ = case
    monkeypatch.setattr(_streamed_rows, "QUANTILE_BUDGET", 3)
    scan = _streamed.Scan(store, "t", sizes=True)
    sizes = store.dump()["size"]
    for q in (0.0, 0.25, 0.5, 0.8, 0.95, 1.0):
        assert _streamed_rows.size_quantile(store, scan, q) == sizes.quantile(q)


def test_filter_clusters_with_threshold(case):
    store, _ = case
    assert_same(tp.filter_clusters(store, threshold=1.5),
                tp.filter_clusters(store.dump(), threshold=1.5))


def test_dataframe_filters_write_into_a_store(tmp_path):
    traj = make_traj()
    with tp.PandasHDFStoreChunked(tmp_path / "out.h5") as out:
        tp.filter_stubs(traj, 20, output=out)
        got = out.dump()
    expected = tp.filter_stubs(traj, 20)
    expected = expected.reset_index(drop=True).sort_values(["frame"], kind="stable")
    assert_same(got.reset_index(drop=True), expected.reset_index(drop=True))


# ------------------------------------------------------------------ units
def test_units_from_the_store_are_the_defaults(case):
    store, pos = case
    save_units(store, mpp=0.35, fps=24)
    assert_same(tp.emsd(store, pos_columns=pos), tp.emsd(store.dump(), 0.35, 24,
                                                         pos_columns=pos))
    assert_same(tp.imsd(store, pos_columns=pos), tp.imsd(store.dump(), 0.35, 24,
                                                         pos_columns=pos))
    # explicit arguments win
    assert_same(tp.emsd(store, 1, 2, pos_columns=pos), tp.emsd(store.dump(), 1, 2,
                                                               pos_columns=pos))
    # and the dumped table carries them
    assert store.dump().attrs["units"] == {"mpp": 0.35, "fps": 24}
    assert_same(tp.emsd(store.dump(), pos_columns=pos), tp.emsd(store, pos_columns=pos))


@pytest.mark.parametrize("function", ["msd", "imsd", "emsd"])
def test_missing_units_say_both_ways(case, function):
    store, pos = case
    with pytest.raises(ValueError, match=r"mpp and fps unknown.*--mpp M --fps F"):
        getattr(tp, function)(store, pos_columns=pos)
    save_units(store, mpp=0.35)
    with pytest.raises(ValueError, match=r"^\w+: fps unknown.*pass fps=\.\.\."):
        getattr(tp, function)(store, pos_columns=pos)
    with pytest.raises(ValueError, match="mpp and fps unknown"):
        getattr(tp, function)(make_traj(), pos_columns=pos)


# ------------------------------------------------------------------ bad input
def test_unlinked_store_says_link_first(tmp_path):
    traj = make_traj().drop(columns="particle")
    with write_store(tmp_path / "s.h5", traj) as store:
        for function in (tp.imsd, tp.emsd):
            with pytest.raises(ValueError, match="no 'particle' column.*link it first"):
                function(store, 1, 1)
        with pytest.raises(ValueError, match="link it first"):
            tp.filter_stubs(store, 3)
        with pytest.raises(ValueError, match="link it first"):
            tp.compute_drift(store)


def test_empty_store(tmp_path):
    with tp.PandasHDFStoreChunked(tmp_path / "s.h5") as store:
        for call in (lambda: tp.emsd(store, 1, 1), lambda: tp.imsd(store, 1, 1),
                     lambda: tp.filter_stubs(store, 2), lambda: tp.compute_drift(store)):
            with pytest.raises(ValueError, match="no features"):
                call()


def test_bad_arguments_before_any_work(case, tmp_path):
    store, _ = case
    with pytest.raises(ValueError, match="max_lagtime"):
        tp.emsd(store, 1, 1, max_lagtime=0)
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        tp.filter_stubs(store, -1)
    with pytest.raises(ValueError, match="mpp must be a positive number"):
        tp.emsd(store, -1, 1)
    with pytest.raises(ValueError, match="is the store being read"):
        tp.filter_stubs(store, 2, output=store)


@pytest.mark.parametrize("function", ["imsd", "emsd"])
def test_no_trajectory_long_enough_warns_and_is_empty(tmp_path, function):
    traj = pd.DataFrame({"frame": [0, 1, 2], "particle": [0, 1, 2], "x": [1.0, 2.0, 3.0],
                         "y": [0.0, 0.0, 0.0]})
    with write_store(tmp_path / "s.h5", traj) as store:
        with pytest.warns(UserWarning, match="no trajectory spans two frames"):
            result = getattr(tp, function)(store, 1, 1, detail=True) if function == "emsd" \
                else tp.imsd(store, 1, 1)
    with pytest.warns(UserWarning, match="no trajectory spans two frames"):
        from_table = getattr(tp, function)(traj, 1, 1)   # a DataFrame warns too
    assert len(result) == 0 and len(from_table) == 0
    if function == "emsd":
        assert list(result.columns) == ["<x>", "<y>", "<x^2>", "<y^2>", "msd", "N", "lagt"]


@pytest.mark.parametrize("kind", sorted(STORES))
def test_read_frames_equals_get(tmp_path, kind):
    """Block reads (one read per run of sealed frames in a chunk) give the rows
    of the frames asked for, sealed or still journaled, mixed columns too."""
    traj = make_traj(seed=6)
    with write_store(tmp_path / "s.h5", traj, kind) as store:
        frames = store.frames
        store.put(store.get(frames[3]).assign(extra=1.0))   # a frame with another column
        for pick in (frames, frames[2:9], frames[::3], frames[-5:], frames[:1]):
            got = store.read_frames(pick)
            expected = pd.concat([store.get(f) for f in pick], ignore_index=True)
            pd.testing.assert_frame_equal(got, expected)
        assert store.read_frames([]) is None
        with pytest.raises(KeyError, match="not in"):
            store.read_frames([10_000])


def test_readme_store_example_runs(tmp_path, monkeypatch):
    """The README's streamed example, as printed, on a linked store with units."""
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = re.search(r"The same calls take a store.*?```python\n(.*?)```", readme, re.S)
    traj = make_traj(n_frames=80, seed=7)
    with write_store(tmp_path / "tracks.h5", traj) as store:
        save_units(store, mpp=0.35, fps=24)
    monkeypatch.chdir(tmp_path)
    scope = {"tp": tp}
    exec(block.group(1), scope)
    with tp.PandasHDFStoreChunked(tmp_path / "tracks.h5", mode="r") as store:
        table = store.dump()
    assert_same(scope["em"], tp.emsd(table, 0.35, 24))
    kept = tp.filter_stubs(table, 25)
    still = tp.subtract_drift(kept, tp.compute_drift(kept))
    assert_same(scope["em_still"], tp.emsd(still, 0.35, 24))


def test_emsd_lag_times_are_exact_and_align(case):
    """trackpy's emsd labels are weighted means of equal lag times, off by an ulp
    for some lags; ours are lag / fps exactly, so a streamed and an in-memory
    result align label for label (subtracting one from the other works)."""
    store, pos = case
    streamed = tp.emsd(store, 0.35, 24, pos_columns=pos)
    in_memory = tp.emsd(store.dump(), 0.35, 24, pos_columns=pos)
    lagtimes = np.arange(1, len(in_memory) + 1) / 24.0
    np.testing.assert_array_equal(streamed.index.to_numpy(), lagtimes)
    np.testing.assert_array_equal(in_memory.index.to_numpy(), lagtimes)
    difference = streamed - in_memory                 # aligns: no label is lost
    assert len(difference) == len(in_memory)
    unmeasured = in_memory.isna().to_numpy()             # lags no pair measured
    assert (difference.isna().to_numpy() == unmeasured).all()
    np.testing.assert_allclose(difference.to_numpy()[~unmeasured], 0,
                               atol=1e-12 * np.nanmax(in_memory.abs().to_numpy()))
    detail = tp.emsd(store, 0.35, 24, detail=True, pos_columns=pos)
    np.testing.assert_array_equal(detail["lagt"].to_numpy(), lagtimes)


def test_trackpy_emsd_labels_are_off_by_an_ulp():
    """Why the labels differ from trackpy's: its own are not lag / fps."""
    import trackpy

    traj = make_traj(n_particles=60, n_frames=80, seed=8)
    theirs = quiet(trackpy.emsd, traj, 100 / 285.0, 24)
    lagtimes = np.arange(1, len(theirs) + 1) / 24.0
    assert (theirs.index.to_numpy() != lagtimes).any()
    np.testing.assert_allclose(theirs.index.to_numpy(), lagtimes, rtol=1e-15)
    ours = tp.emsd(traj, 100 / 285.0, 24)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-9)

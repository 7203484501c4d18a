"""trackpy and streamtrack side by side on the same input (issue 9, "Behaviour to match").

Each test runs trackpy 0.7 and streamtrack on one input and compares what they
give: the values yielded by ``link_iter`` (types included), the dtypes of
``link``, empty ``put``s, ``DistanceMetric`` objects, how ``memory`` counts
frames, trackpy's predictors on our linker and ours on theirs. The last tests
pin the differences that stay on purpose (RGB images, large subnetworks).
"""
import types
import warnings

import numpy as np
import pandas as pd
import pytest
import trackpy
import trackpy.linking
import trackpy.predict
from sklearn.metrics import DistanceMetric

import streamtrack as st
from streamtrack import synthetic
from streamtrack.cli import main
from streamtrack.linking import LinkingOutput

STORES = ["PandasHDFStore", "PandasHDFStoreBig", "PandasHDFStoreSingleNode",
          "PandasHDFStoreChunked"]
TRACKPY_STORE = {"PandasHDFStore": "PandasHDFStore", "PandasHDFStoreBig": "PandasHDFStoreBig",
                 "PandasHDFStoreSingleNode": "PandasHDFStoreSingleNode",
                 "PandasHDFStoreChunked": "PandasHDFStore"}  # trackpy has no chunked store


def partition(df, column="particle"):
    """The trajectories as a set of frozensets of row labels (ids may differ)."""
    return {frozenset(g.index) for _, g in df.groupby(column)}


def walks(n, frame_numbers, *, spacing=20.0, step=1.0, seed=0):
    """Random walkers, one step per frame given (whatever its number), rows shuffled
    within the table; index labels unique."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, spacing * n ** 0.5, (n, 2))
    rows = []
    for t in frame_numbers:
        pos = pos + rng.normal(0, step, pos.shape)
        rows.append(pd.DataFrame({"frame": t, "y": pos[:, 0], "x": pos[:, 1],
                                  "truth": np.arange(n)}))
    return pd.concat(rows, ignore_index=True).sample(frac=1, random_state=seed)


def by_frame(f):
    return [g for _, g in f.groupby("frame")]


@pytest.fixture
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' and PyTables' chatter in trackpy
        yield


# -- 1. link_iter yields what trackpy yields ------------------------------------------
def _far_apart_frames():
    """Well separated particles, so both libraries number new ones in row order:
    one vanishes for a frame (memory), one is new, and frame 2 is empty."""
    a = np.array([[0.0, 0.0], [10.0, 10.0], [20.0, 0.0]])
    return [a, a[:2] + 0.2, np.empty((0, 2)), np.r_[a + 0.3, [[40.0, 40.0]]], a[[2, 0]] + 0.4]


@pytest.mark.parametrize("numbering", ["arrays", "python int pairs", "numpy int pairs"])
@pytest.mark.parametrize("memory", [0, 1, 2])
def test_link_iter_yields_trackpy_values_and_types(quiet, numbering, memory):
    frames = _far_apart_frames()
    numbers = [0, 3, 4, 9, 10]
    if numbering == "arrays":
        given = frames
    elif numbering == "python int pairs":
        given = list(zip(numbers, frames))
    else:
        given = [(np.int64(t), a) for t, a in zip(numbers, frames)]
    ours = list(st.link_iter(given, 1.0, memory=memory))
    theirs = list(trackpy.link_iter(given, 1.0, memory=memory))
    assert ours == theirs

    def types(items):
        return [(type(t), type(ids), [type(i) for i in ids]) for t, ids in items]

    assert types(ours) == types(theirs)
    assert all(type(ids) is list for _, ids in ours)  # `if ids:` and `ids + [...]` work
    assert [bool(ids) for _, ids in ours] == [True, True, False, True, True]


# -- 2. link returns trackpy's dtypes ---------------------------------------------------
@pytest.mark.parametrize("frame_dtype", ["float64", "float32", "int32", "int64"])
@pytest.mark.parametrize("neighbor_strategy", ["KDTree", "BTree"])
@pytest.mark.parametrize("link_strategy",
                         ["auto", "recursive", "nonrecursive", "numba", "hybrid", "drop"])
def test_link_column_dtypes_match_trackpy(quiet, frame_dtype, neighbor_strategy, link_strategy):
    f = walks(60, range(5), spacing=9.0, step=1.2, seed=3)
    f["frame"] = f["frame"].astype(frame_dtype)
    kwargs = dict(memory=1, neighbor_strategy=neighbor_strategy, link_strategy=link_strategy)
    ours, theirs = st.link(f, 3, **kwargs), trackpy.link(f, 3, **kwargs)
    assert ours["frame"].dtype == theirs["frame"].dtype
    assert ours["particle"].dtype == theirs["particle"].dtype
    assert ours.dtypes.to_dict() == theirs.dtypes.to_dict()
    pd.testing.assert_frame_equal(ours.drop(columns="particle").sort_index(),
                                  theirs.drop(columns="particle").sort_index())
    assert partition(ours) == partition(theirs)


# -- 3. an empty put warns and writes nothing -------------------------------------------
EMPTY = {"no columns": pd.DataFrame(),
         "columns, no rows": pd.DataFrame(columns=["frame", "y", "x"]),
         "typed, no rows": pd.DataFrame({"frame": pd.Series(dtype=np.int64),
                                         "y": pd.Series(dtype=float)}),
         "no frame column": pd.DataFrame(columns=["y", "x"])}


def _put_warnings(store, df):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store.put(df)
    return [(w.category, str(w.message)) for w in caught
            if "empty DataFrame" in str(w.message)]


@pytest.mark.parametrize("empty", list(EMPTY))
@pytest.mark.parametrize("cls", STORES)
def test_empty_put_warns_and_is_skipped_as_in_trackpy(tmp_path, cls, empty):
    one = pd.DataFrame({"frame": [4, 4], "y": [1.0, 2.0], "x": [3.0, 4.0]})
    with getattr(trackpy, TRACKPY_STORE[cls])(str(tmp_path / "theirs.h5")) as theirs, \
            getattr(st, cls)(tmp_path / "ours.h5") as ours:
        warned = [_put_warnings(store, EMPTY[empty]) for store in (theirs, ours)]
        assert [len(w) for w in warned] == [1, 1]
        assert warned[1][0][0] is warned[0][0][0] is UserWarning
        assert warned[0][0][1].startswith("An empty DataFrame was passed to put().")
        assert warned[1][0][1].startswith("An empty DataFrame was passed to put().")
        # nothing written (trackpy's SingleNode cannot even take len() of such a file)
        assert list(theirs.store.keys()) == [] and len(ours) == 0 and ours.frames == []
        for store in (theirs, ours):  # still a working store
            store.put(one)
        assert list(ours.frames) == list(theirs.frames) == [4]


# -- 4. dist_func may be a scikit-learn DistanceMetric ----------------------------------
@pytest.mark.parametrize("metric", ["manhattan", "chebyshev", "euclidean"])
@pytest.mark.parametrize("neighbor_strategy", ["BTree", None])
def test_distance_metric_object_as_dist_func(quiet, metric, neighbor_strategy):
    f = walks(150, range(6), spacing=8.0, step=1.5, seed=4)
    kwargs = dict(neighbor_strategy=neighbor_strategy,
                  dist_func=DistanceMetric.get_metric(metric))
    ours, theirs = st.link(f, 4, **kwargs), trackpy.link(f, 4, **kwargs)
    assert partition(ours) == partition(theirs)
    streamed = pd.concat(st.link_df_iter(by_frame(f), 4, **kwargs))
    assert partition(streamed) == partition(theirs)
    # the metric is used: the same walks link differently with another one
    if metric == "chebyshev":
        assert partition(ours) != partition(trackpy.link(f, 4, neighbor_strategy="BTree"))


def test_dist_func_neither_callable_nor_a_metric_is_a_clear_error():
    with pytest.raises(TypeError, match="dist_func"):
        st.link(walks(5, range(2)), 4, neighbor_strategy="BTree", dist_func="manhattan")


# -- 5. what memory counts --------------------------------------------------------------
SKIPPING = [0, 25, 75, 76, 100]  # e.g. frames[::25] of a movie, or trackpy's examples


@pytest.mark.parametrize("memory", [0, 1, 24, 50])
def test_memory_counts_delivered_frames_when_streaming_frame_numbers_in_link(quiet, memory):
    f = walks(40, SKIPPING, spacing=30.0, step=0.5, seed=2)
    f = f.drop(f[(f["frame"] == 75) & (f["truth"] < 5)].index)  # five blink at 75
    frames = by_frame(f)
    streamed = pd.concat(st.link_df_iter(frames, 3, memory=memory))
    assert partition(streamed) == partition(pd.concat(trackpy.link_df_iter(frames, 3,
                                                                            memory=memory)))
    pairs = [(int(g["frame"].iloc[0]), g[["y", "x"]].to_numpy()) for g in frames]
    ids = [i for _, chunk in st.link_iter(pairs, 3, memory=memory) for i in chunk]
    theirs_ids = [i for _, chunk in trackpy.link_iter(pairs, 3, memory=memory) for i in chunk]
    rows = pd.concat(frames)
    assert partition(rows.assign(particle=ids)) == partition(rows.assign(particle=theirs_ids))
    whole = st.link(f, 3, memory=memory)
    assert partition(whole) == partition(trackpy.link(f, 3, memory=memory))
    # streaming: 25 follows 0, so everyone links; the blinkers come back with memory >= 1
    assert streamed["particle"].nunique() == (40 if memory else 45)
    # link: 24 frame numbers lie between 0 and 25, 49 between 25 and 75, 50 between
    # the blinkers' 25 and 76, 23 between 76 and 100
    assert whole["particle"].nunique() == {0: 160, 1: 160, 24: 80, 50: 40}[memory]


@pytest.mark.parametrize("memory", [0, 1])
def test_empty_dataframes_given_to_link_df_iter_count_as_frames(quiet, memory):
    f = walks(30, range(4), spacing=30.0, step=0.5, seed=5)
    frames = by_frame(f)
    frames.insert(2, f.iloc[:0])
    ours = list(st.link_df_iter(frames, 3, memory=memory))
    theirs = list(trackpy.link_df_iter(frames, 3, memory=memory))
    assert [len(df) for df in ours] == [len(df) for df in theirs] == [30, 30, 0, 30, 30]
    assert partition(pd.concat(ours)) == partition(pd.concat(theirs))
    assert pd.concat(ours)["particle"].nunique() == (30 if memory else 60)


@pytest.fixture(scope="module")
def blank_movie():
    """A synthetic movie whose frame 6 has no features (a blank frame)."""
    frames, _ = synthetic.brownian_movie(n_particles=20, n_frames=12, shape=(128, 128),
                                         diffusion=1.0, seed=5)
    arrays = [np.asarray(f) for f in frames]
    arrays[6] = np.full_like(arrays[6], 20)
    return arrays


def _located_store(cls, path, movie, **link):
    store = getattr(st, cls)(path)
    output = LinkingOutput(store, 5, **link) if link else store
    st.batch(st.open(movie), 11, minmass=500, output=output, processes=1)
    return store


@pytest.mark.parametrize("memory", [0, 1])
@pytest.mark.parametrize("cls", STORES)
def test_streaming_a_store_counts_its_empty_processed_frames(quiet, tmp_path, blank_movie,
                                                             cls, memory):
    with _located_store(cls, tmp_path / "a.h5", blank_movie) as store:
        assert 6 in store.processed_frames and 6 not in store.frames
        dump = store.dump().reset_index(drop=True)
        whole = st.link_df(dump, 5, memory=memory)
        assert partition(whole) == partition(trackpy.link_df(dump, 5, memory=memory))
        streamed = pd.concat(st.link_df_iter(store, 5, memory=memory))
        assert len(streamed) == len(dump)  # the empty frame is counted, not yielded
        np.testing.assert_array_equal(streamed["particle"], whole["particle"])
        if memory == 0:  # trackpy's link_df_iter cannot know frame 6 was processed:
            theirs = pd.concat(trackpy.link_df_iter(store, 5, memory=memory))
            assert theirs["particle"].nunique() < streamed["particle"].nunique()  # 5 to 7
        # a predictor's wrapper hands the store on (no motion: the same trajectories)
        predicted = pd.concat(st.predict.NullPredict().link_df_iter(store, 5, memory=memory))
        np.testing.assert_array_equal(predicted["particle"], whole["particle"])
        # in place, with checkpoints
        assert st.link_store(store, 5, memory=memory) == len(store.frames)
        np.testing.assert_array_equal(store.dump()["particle"], whole["particle"])
    # the command line, and locating and linking in one pass (streamtrack track)
    assert main(["link", str(tmp_path / "a.h5"), "-s", "5", "--memory", str(memory),
                 "-q"]) == 0
    with _located_store(cls, tmp_path / "b.h5", blank_movie, memory=memory) as tracked, \
            getattr(st, cls)(tmp_path / "a.h5") as linked:
        np.testing.assert_array_equal(linked.dump()["particle"], whole["particle"])
        np.testing.assert_array_equal(tracked.dump()["particle"], whole["particle"])
        assert tracked.processed_frames == list(range(12))


def test_resume_across_an_empty_processed_frame(quiet, tmp_path, blank_movie):
    with _located_store("PandasHDFStoreChunked", tmp_path / "whole.h5", blank_movie) as store:
        want = st.link_df(store.dump(), 5, memory=0)["particle"].to_numpy()
    with st.PandasHDFStoreChunked(tmp_path / "grow.h5") as store:
        st.batch(st.open(blank_movie[:7]), 11, minmass=500, output=store, processes=1)
        assert st.link_store(store, 5) == 6  # frames 0-5 stored; 6 processed, empty
        st.batch(st.open(blank_movie), 11, minmass=500, output=store, processes=1,
                 resume=True)
        assert st.link_store(store, 5, resume=True) == 5
        np.testing.assert_array_equal(store.dump()["particle"], want)


# -- 6. predictors ----------------------------------------------------------------------
def diagonal(t, n_side=3):
    """A grid of spacing 100 moving by (-1, +1) per frame number."""
    y, x = np.mgrid[:n_side, :n_side] * 100.0
    return pd.DataFrame({"x": x.ravel() + (t - 100), "y": y.ravel() - (t - 100), "frame": t})


def along(axis):
    """A grid moving along ``axis`` by sqrt(2) per frame number (channel flow)."""
    def frame(t, n_side=3):
        y, x = np.mgrid[:n_side, :n_side] * 100.0
        shift = (t - 100) * np.sqrt(2)
        return pd.DataFrame({"x": x.ravel() + (shift if axis == "x" else 0.0),
                             "y": y.ravel() + (shift if axis == "y" else 0.0), "frame": t})
    return frame


def sheared(t, n_side=4):
    y, x = np.mgrid[:n_side, :n_side] * 100.0
    return pd.DataFrame({"x": (x + 0.0045 * t * y).ravel(), "y": y.ravel(), "frame": t})


def knocked_out(make):
    frames = [make(t) for t in (0, 25, 65, 105, 145)]
    frames[3] = frames[3].drop(index=5)
    return frames


# (name, predictor factory given a predict module, frames, link options)
PROFILE = np.vstack((np.arange(4) * 100.0, np.arange(4) * 100.0 * 0.0045)).T
SCENARIOS = [
    ("null", lambda m: m.NullPredict(), [diagonal(t) for t in (0, 25)], {}),
    ("null fails", lambda m: m.NullPredict(), [diagonal(t) for t in (0, 25, 65)], {}),
    ("nearest", lambda m: m.NearestVelocityPredict(), [diagonal(t) for t in (0, 25, 65)], {}),
    ("nearest big", lambda m: m.NearestVelocityPredict(),
     [diagonal(t, 10) for t in (0, 25, 75)], {}),
    ("nearest new particles", lambda m: m.NearestVelocityPredict(),
     [diagonal(0), diagonal(25), diagonal(65, 4), diagonal(105, 4)], {}),
    ("nearest memory 0", lambda m: m.NearestVelocityPredict(), knocked_out(diagonal), {}),
    ("nearest memory 1", lambda m: m.NearestVelocityPredict(), knocked_out(diagonal),
     {"memory": 1}),
    ("nearest guess", lambda m: m.NearestVelocityPredict(
        initial_guess_positions=[(0.0, 0.0)], initial_guess_vels=[(-1, 1)],
        pos_columns=["y", "x"]), [diagonal(t) for t in (0, 100, 200)], {}),
    ("drift", lambda m: m.DriftPredict(), [diagonal(t) for t in (0, 25, 65)], {}),
    ("drift memory 1", lambda m: m.DriftPredict(), knocked_out(diagonal), {"memory": 1}),
    ("drift bad guess", lambda m: m.DriftPredict(initial_guess=(1, -1), pos_columns=["y", "x"]),
     [diagonal(t) for t in (0, 100, 200)], {}),
    ("drift guess", lambda m: m.DriftPredict(initial_guess=(1, -1), pos_columns=["x", "y"]),
     [diagonal(t) for t in (0, 100, 200)], {}),
    ("channel x", lambda m: m.ChannelPredict(3, minsamples=3),
     [along("x")(t) for t in (0, 25, 65)], {}),
    ("channel y big", lambda m: m.ChannelPredict(3, "y", minsamples=3),
     [along("y")(t, 10) for t in (0, 25, 75)], {}),
    ("channel y memory 1", lambda m: m.ChannelPredict(3, "y", minsamples=3),
     knocked_out(along("y")), {"memory": 1}),
    ("channel too few", lambda m: m.ChannelPredict(3, minsamples=30),
     [along("x")(t) for t in (0, 25, 65)], {}),
    ("channel guess", lambda m: m.ChannelPredict(110, minsamples=3,
                                                 initial_profile_guess=PROFILE),
     [sheared(t) for t in (0, 100, 200, 300)], {}),
]
IDS = [s[0] for s in SCENARIOS]


def _link_with(pred, how, frames, **options):
    if how == "link_df_iter":
        return pd.concat(pred.link_df_iter(frames, 45, **options))
    return pred.link_df(pd.concat(frames, ignore_index=True), 45, **options)


def _unique_rows(frames):
    """Index labels unique across frames, so partitions name rows unambiguously."""
    out, start = [], 0
    for df in frames:
        out.append(df.set_axis(range(start, start + len(df))))
        start += len(df)
    return out


@pytest.mark.parametrize("how", ["link_df_iter", "link_df"])
@pytest.mark.parametrize("name, make, frames, options", SCENARIOS, ids=IDS)
def test_predictors_link_as_in_trackpy(quiet, monkeypatch, name, make, frames, options, how):
    frames = _unique_rows(frames)
    reference = _link_with(make(trackpy.predict), how, frames, **options)
    # what the scenario is about really happens in trackpy: one trajectory per
    # particle, or (these scenarios) broken ones
    linked = reference["particle"].nunique() == max(len(f) for f in frames)
    assert linked == (name not in ("null fails", "nearest memory 0", "drift bad guess",
                                   "channel too few"))
    ours = _link_with(make(st.predict), how, frames, **options)
    assert partition(ours) == partition(reference)
    # trackpy's predictors, with trackpy's linking functions replaced by ours
    monkeypatch.setattr(trackpy.linking, "link_df_iter", st.link_df_iter)
    mixed = _link_with(make(trackpy.predict), how, frames, **options)
    assert partition(mixed) == partition(reference)


@pytest.mark.parametrize("module", [trackpy.predict, st.predict], ids=["trackpy", "ours"])
def test_predictor_decorator(quiet, module):
    @module.predictor
    def moving(t1, particle):
        return particle.pos + np.array([-1.0, 1.0]) * (t1 - particle.t)  # y, x

    frames = _unique_rows([diagonal(t) for t in (0, 25, 65)])
    ours = pd.concat(st.link_df_iter(frames, 45, predictor=moving))
    theirs = pd.concat(trackpy.link_df_iter(frames, 45, predictor=moving))
    assert partition(ours) == partition(theirs)
    assert (ours.groupby("particle").size() == 3).all()


def _id_map(theirs, ours):
    """trackpy's particle id -> ours, from the same rows linked by both."""
    assert (theirs.index == ours.index).all()
    pairs = set(zip(theirs["particle"], ours["particle"]))
    mapping = dict(pairs)
    assert len(mapping) == len(pairs) == len(set(mapping.values()))  # one to one
    return mapping


def _normalised(df, mapping=None):
    df = df.copy()
    if mapping is not None:
        df["particle"] = df["particle"].map(mapping)
    return df.sort_values("particle").reset_index(drop=True)


def _states_equal(theirs, ours, mapping):
    if theirs is None:
        assert ours is None
        return
    if isinstance(theirs, dict):
        assert set(theirs) == set(ours)
        frames_t, frames_o = theirs["recent_frames"], ours["recent_frames"]
        for key in set(theirs) - {"recent_frames", "interpolator"}:
            np.testing.assert_array_equal(theirs[key], ours[key])
    else:
        frames_t, frames_o = theirs, ours
    assert len(frames_t) == len(frames_o)
    for a, b in zip(frames_t, frames_o):
        a = a.rename(index=mapping) if mapping is not None else a
        pd.testing.assert_frame_equal(a.sort_index(), b.sort_index())


# trackpy's instrumented NullPredict consumes its own prediction (a map): not comparable
VELOCITY = [s for s in SCENARIOS if not s[0].startswith("null")]


@pytest.mark.parametrize("name, make, frames, options", VELOCITY, ids=[s[0] for s in VELOCITY])
def test_instrumented_predictors_record_what_trackpy_records(quiet, monkeypatch, name, make,
                                                             frames, options):
    frames = _unique_rows(frames)

    def instrumented(module):
        """The scenario's predictor, of the module's instrumented() class."""
        classes = {n: module.instrumented()(getattr(module, n))
                   for n in ("NearestVelocityPredict", "DriftPredict", "ChannelPredict")}
        return make(types.SimpleNamespace(**classes))

    reference_pred = instrumented(trackpy.predict)
    reference = pd.concat(reference_pred.link_df_iter(frames, 45, **options))
    ours_pred = instrumented(st.predict)
    ours = pd.concat(ours_pred.link_df_iter(frames, 45, **options))
    monkeypatch.setattr(trackpy.linking, "link_df_iter", st.link_df_iter)
    mixed_pred = instrumented(trackpy.predict)
    mixed = pd.concat(mixed_pred.link_df_iter(frames, 45, **options))
    reference_dump = reference_pred.dump()
    assert len(reference_dump) == len(frames) - 1
    for pred, linked in ((ours_pred, ours), (mixed_pred, mixed)):
        mapping = _id_map(reference, linked)
        dump = pred.dump()
        assert len(dump) == len(reference_dump)
        for want, got in zip(reference_dump, dump):
            assert got["t1"] == want["t1"]
            pd.testing.assert_frame_equal(_normalised(got["particledf"]),
                                          _normalised(want["particledf"], mapping))
            _states_equal(want["state"], got["state"], mapping)


def test_channel_predict_has_trackpy_signature_and_errors():
    import inspect

    assert str(inspect.signature(st.predict.ChannelPredict)) == \
        str(inspect.signature(trackpy.predict.ChannelPredict))
    for module in (trackpy.predict, st.predict):
        frames = [along("x")(t) for t in (0, 25)]
        with pytest.raises(ValueError, match="2"):
            list(module.ChannelPredict(3).link_df_iter([f.assign(z=0.0) for f in frames], 45))
        with pytest.raises(ValueError, match="flow_axis"):
            list(module.ChannelPredict(3, flow_axis="z").link_df_iter(frames, 45))


# -- differences that stay --------------------------------------------------------------
def test_rgb_image_is_an_error_naming_the_channel_fix(quiet):
    yy, xx = np.mgrid[:64, :64]
    green = (200 * np.exp(-((yy - 30.3) ** 2 + (xx - 20.6) ** 2) / 8)).astype(np.uint8)
    rgb = np.stack([green * 0, green, green // 2], axis=-1)
    # trackpy takes the colour axis for a third dimension and finds nothing
    with pytest.warns(UserWarning, match="color image"):
        assert len(trackpy.locate(rgb, 11)) == 0
    with pytest.raises(ValueError, match=r"channel.*image\[:, :, 1\]"):
        st.locate(rgb, 11)
    ours, theirs = st.locate(rgb[:, :, 1], 11), trackpy.locate(rgb[:, :, 1], 11)
    assert len(ours) == 1
    np.testing.assert_allclose(ours[["y", "x"]], theirs[["y", "x"]], rtol=0, atol=1e-12)


def contracting_grid(n_side):
    """A square grid shrinking by 1%: each point is within 1 of the next one's image,
    so a search range of 1 makes one subnetwork of them all; staying put (the truth)
    is the least squared displacement by far."""
    g = np.mgrid[:n_side, :n_side].reshape(2, -1).T.astype(float)
    n = len(g)
    return pd.DataFrame({"frame": np.repeat([0, 1], n), "y": np.r_[g[:, 0], 0.99 * g[:, 0]],
                         "x": np.r_[g[:, 1], 0.99 * g[:, 1]],
                         "truth": np.r_[np.arange(n), np.arange(n)]})


@pytest.mark.parametrize("n_side", [7, 14])  # one subnetwork of 49 / 196 particles
def test_subnetworks_up_to_200_are_solved_where_trackpy_stops_at_30(quiet, n_side):
    f = contracting_grid(n_side)
    with pytest.raises(trackpy.SubnetOversizeException, match=f"contains {n_side ** 2} points"):
        trackpy.link(f, 1.0)
    ours = st.link(f, 1.0)
    assert partition(ours) == partition(ours, "truth")
    with pytest.raises(st.SubnetOversizeException, match="max_subnet_size=200"):
        st.link(contracting_grid(15), 1.0)  # 225
    assert partition(st.link(contracting_grid(15), 1.0, max_subnet_size=225)) == \
        partition(contracting_grid(15), "truth")

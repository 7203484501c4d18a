"""batch: streaming, frame numbers, parallel order, meta, logging, errors."""
import io
import logging
import warnings

import numpy as np
import pandas as pd
import pytest

import streamtrack as st
from streamtrack import synthetic

trackpy = pytest.importorskip("trackpy")


@pytest.fixture(scope="module")
def movie():
    return synthetic.brownian_movie(n_particles=25, n_frames=12, shape=(128, 160), seed=4)


class RecordingStore:
    """A minimal output: records each put and when it happened."""

    def __init__(self):
        self.frames = []

    def put(self, df):
        self.frames.append(df.copy())


def test_same_as_trackpy_batch(movie):
    frames, _ = movie
    ours = st.batch(frames, 11, processes=1)
    theirs = trackpy.batch([np.asarray(f) for f in frames], 11, processes=1)
    assert list(ours.columns) == list(theirs.columns)
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False, rtol=1e-9)


@pytest.mark.parametrize("processes", [1, 2, 3, "auto"])
def test_parallel_results_in_frame_order(movie, processes):
    frames, _ = movie
    serial = st.batch(frames, 11, processes=1)
    store = RecordingStore()
    assert st.batch(frames, 11, processes=processes, output=store) is store
    assert [int(df["frame"].iloc[0]) for df in store.frames] == list(range(len(frames)))
    pd.testing.assert_frame_equal(pd.concat(store.frames, ignore_index=True), serial)


def test_generator_input_uses_enumeration_numbers(movie):
    frames, _ = movie
    plain = (np.asarray(f) for f in frames)  # no frame_no: numbered by position
    out = st.batch(plain, 11, processes=2)
    assert sorted(out["frame"].unique()) == list(range(len(frames)))


def test_frame_numbers_come_from_frames(movie):
    frames, _ = movie
    out = st.batch(frames[3::4], 11)
    assert sorted(out["frame"].unique()) == [3, 7, 11]


def test_stacked_array_is_numbered_by_position(movie):
    """trackpy #756: slices of one (T, Y, X) array must not all be frame 0."""
    frames, _ = movie
    stack = np.stack([np.asarray(f) for f in frames[:4]])
    out = st.batch(stack, 11)
    assert sorted(out["frame"].unique()) == [0, 1, 2, 3]


def test_streams_each_frame_before_reading_the_next(movie):
    frames, _ = movie
    store = RecordingStore()
    read = []

    def reader():
        for f in frames:
            read.append(f.frame_no)
            # a put for every earlier frame has happened by now
            assert len(store.frames) == len(read) - 1
            yield f

    st.batch(reader(), 11, output=store, processes=1)
    assert len(store.frames) == len(frames)


def test_empty_frames_are_not_put_and_empty_result_warns():
    store = RecordingStore()
    blank = [np.zeros((64, 64), np.uint8)] * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st.batch(blank, 11, output=store)
    assert store.frames == []
    with pytest.warns(UserWarning, match="No maxima"):
        out = st.batch(blank, 11)
    assert len(out) == 0 and "frame" in out.columns and "ep" in out.columns


def test_after_locate_runs_per_frame(movie):
    frames, _ = movie
    seen = []

    def after(frame_no, features):
        seen.append(frame_no)
        return features[features["mass"] > 0].assign(tag=frame_no)

    out = st.batch(frames[:4], 11, after_locate=after)
    assert seen == [0, 1, 2, 3]
    assert (out["tag"] == out["frame"]).all()


def test_kwargs_go_to_locate(movie):
    frames, _ = movie
    out = st.batch(frames[:2], 11, minmass=1e12)
    assert len(out) == 0


def test_meta_writes_yaml(movie, tmp_path):
    yaml = pytest.importorskip("yaml")
    frames, _ = movie
    path = tmp_path / "meta.yml"
    st.batch(frames[:2], 11, meta=str(path), minmass=10, invert=False, separation=(8, 9))
    info = yaml.safe_load(path.read_text())
    assert info["diameter"] == 11 and info["minmass"] == 10 and info["invert"] is False
    assert info["separation"] == [8, 9]
    assert "timestamp" in info and info["streamtrack_version"] == st.__version__
    handle = io.StringIO()
    st.batch(frames[:1], 11, meta=handle)
    assert yaml.safe_load(handle.getvalue())["diameter"] == 11


def test_progress_logging_and_quiet(movie, caplog):
    frames, _ = movie
    st.quiet(False)
    with caplog.at_level(logging.INFO, logger="streamtrack"):
        st.batch(frames[:3], 11)
    assert any(r.getMessage().startswith("Frame 2: ") and r.getMessage().endswith("features")
               for r in caplog.records)
    caplog.clear()
    st.quiet()
    st.batch(frames[:3], 11)
    assert not [r for r in caplog.records if r.name == "streamtrack"]
    st.quiet(False)


@pytest.mark.parametrize("processes", ["many", 2.0, None, True])
def test_bad_processes_is_type_error(movie, processes):
    frames, _ = movie
    with pytest.raises(TypeError, match="processes"):
        st.batch(frames[:1], 11, processes=processes)


def test_bad_arguments(movie):
    frames, _ = movie
    with pytest.raises(TypeError, match="raw_image"):
        st.batch(frames, 11, raw_image=frames[0])
    with pytest.raises(TypeError, match="put"):
        st.batch(frames, 11, output="store.h5")
    with pytest.raises(TypeError, match="iterable"):
        st.batch(pd.DataFrame({"x": [1]}), 11)
    with pytest.raises(ValueError, match="diameter"):
        st.batch(frames[:1], 10)


def test_batch_iter_yields_each_frame_after_it_is_stored(tmp_path):
    frames, _ = synthetic.brownian_movie(n_particles=10, n_frames=6)
    expected = st.batch(frames, 11, minmass=500, processes=1)
    with st.PandasHDFStore(tmp_path / "s.h5") as store:
        seen = []
        for frame_no, _features in st.batch_iter(frames, 11, output=store, minmass=500,
                                                 processes=2):
            seen.append(frame_no)
            assert frame_no in store.frames  # stored before it was yielded
            if frame_no == 3:
                break  # a caller stopping early (Cancel) keeps what was yielded
        assert seen == [0, 1, 2, 3]
        assert sorted(store.frames) == [0, 1, 2, 3]
        got = pd.concat([store.get(t) for t in range(4)], ignore_index=True)
    want = expected[expected["frame"] < 4].reset_index(drop=True)
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)


def test_batch_iter_checks_arguments_before_the_first_frame():
    with pytest.raises(TypeError, match="processes"):
        st.batch_iter([np.zeros((32, 32))], 11, processes="many")

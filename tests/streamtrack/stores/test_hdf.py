"""HDF5 stores: trackpy compatibility both ways, replace semantics, validation."""
import doctest
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

import streamtrack as st
from streamtrack.stores import base, hdf

trackpy = pytest.importorskip("trackpy")

CLASSES = ["PandasHDFStore", "PandasHDFStoreBig", "PandasHDFStoreSingleNode"]


def frame(n, rows=5, seed=None, **extra):
    rng = np.random.default_rng(n if seed is None else seed)
    df = pd.DataFrame({"y": rng.uniform(0, 100, rows), "x": rng.uniform(0, 100, rows),
                       "mass": rng.uniform(10, 50, rows), "frame": np.full(rows, n, np.int64)})
    return df.assign(**extra)


@pytest.fixture(params=CLASSES)
def cls_name(request):
    return request.param


def test_write_ours_read_trackpy(tmp_path, cls_name):
    path = tmp_path / "ours.h5"
    frames = [frame(n) for n in (0, 1, 2, 5)]
    with getattr(st, cls_name)(path) as s:
        for f in frames:
            s.put(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with getattr(trackpy, cls_name)(str(path)) as s:
            assert list(s.frames) == [0, 1, 2, 5] and s.max_frame == 5
            for f in frames:
                got = s.get(int(f["frame"].iloc[0]))
                pd.testing.assert_frame_equal(got.reset_index(drop=True),
                                              f.reset_index(drop=True), check_like=True)


def test_write_trackpy_read_ours(tmp_path, cls_name):
    path = tmp_path / "theirs.h5"
    frames = [frame(n) for n in (0, 1, 3)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with getattr(trackpy, cls_name)(str(path)) as s:
            for f in frames:
                s.put(f)
    with getattr(st, cls_name)(path, mode="r") as s:
        assert s.frames == [0, 1, 3] and len(s) == 3
        dumped = s.dump()
        pd.testing.assert_frame_equal(dumped.reset_index(drop=True),
                                      pd.concat(frames).reset_index(drop=True), check_like=True)


def test_batch_then_trackpy_links_our_store(tmp_path, cls_name):
    frames, _ = st.synthetic.brownian_movie(n_particles=10, n_frames=4, seed=2)
    path = tmp_path / "b.h5"
    with getattr(st, cls_name)(path) as s:
        st.batch(frames, 11, minmass=500, output=s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with getattr(trackpy, cls_name)(str(path)) as s:
            linked = pd.concat(trackpy.link_df_iter(s, 5))
    assert linked["particle"].nunique() == 10


def test_put_replaces_also_with_new_columns_and_write_back_while_iterating(tmp_path, cls_name):
    path = tmp_path / "r.h5"
    with getattr(st, cls_name)(path) as s:
        for n in range(4):
            s.put(frame(n))
        s.put(frame(2, rows=3, seed=9))  # replace with different rows
        assert len(s.get(2)) == 3 and len(s) == 4
        for df in s:  # the linking write-back pattern
            s.put(df.assign(particle=np.arange(len(df), dtype=np.int64)))
        assert len(s) == 4 and len(s.dump()) == 5 * 3 + 3
        assert (s.get(3)["particle"] == np.arange(5)).all()
        assert s.get(3)["particle"].dtype == np.int64
    with getattr(st, cls_name)(path, mode="r") as s:  # survives reopening
        assert len(s.dump()) == 18 and "particle" in s.get(0).columns


def test_put_validates(tmp_path, cls_name):
    with getattr(st, cls_name)(tmp_path / "v.h5") as s:
        with pytest.raises(ValueError, match="'frame' column"):
            s.put(frame(0).drop(columns="frame"))
        with pytest.raises(ValueError, match="one frame at a time"):
            s.put(pd.concat([frame(0), frame(1)]))
        with pytest.raises(TypeError, match="DataFrame"):
            s.put(frame(0).to_numpy())
        with pytest.warns(UserWarning, match="empty"):
            s.put(frame(0).iloc[:0])
        assert len(s) == 0 and s.max_frame is None
        with pytest.raises(KeyError, match="frame 7"):
            s.get(7)


def test_each_put_is_flushed_to_disk(tmp_path, cls_name):
    """After put returns, the bytes on disk hold the frame: a copy of the file
    taken while the store is still open reads back complete."""
    path = tmp_path / "f.h5"
    with getattr(st, cls_name)(path) as s:
        s.put(frame(0))
        s.put(frame(1))
        snapshot = tmp_path / "snapshot.h5"
        shutil.copyfile(path, snapshot)
        with getattr(st, cls_name)(snapshot, mode="r") as copy:
            assert copy.frames == [0, 1] and len(copy.dump()) == 10


def test_read_only_and_bad_files(tmp_path, cls_name):
    path = tmp_path / "ro.h5"
    with getattr(st, cls_name)(path) as s:
        s.put(frame(0))
    with getattr(st, cls_name)(path, mode="r") as s:
        with pytest.raises(st.StoreError, match="read-only"):
            s.put(frame(1))
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"this is not an HDF5 file")
    with pytest.raises(st.StoreError, match="junk.h5"):
        getattr(st, cls_name)(junk)
    assert junk.read_bytes() == b"this is not an HDF5 file"  # untouched
    with pytest.raises(FileNotFoundError):
        getattr(st, cls_name)(tmp_path / "missing.h5", mode="r")


def test_big_cache_node_written_and_kept_consistent(tmp_path):
    path = tmp_path / "big.h5"
    with st.PandasHDFStoreBig(path) as s:
        for n in (0, 1, 2):
            s.put(frame(n))
    with pd.HDFStore(path, mode="r") as raw:
        assert list(raw.get("_Frames_Cache").index) == [0, 1, 2]
    with st.PandasHDFStoreBig(path) as s:
        s.put(frame(7))
        assert s.frames == [0, 1, 2, 7]
        assert "_Frames_Cache" not in s._root._v_children  # stale cache dropped at once
        assert s.rebuild_cache() == [0, 1, 2, 7]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with trackpy.PandasHDFStoreBig(str(path)) as s:
            assert list(s.frames) == [0, 1, 2, 7]


def test_single_node_has_no_duplicates_after_relink(tmp_path):
    path = tmp_path / "s.h5"
    with st.PandasHDFStoreSingleNode(path) as s:
        for n in range(3):
            s.put(frame(n))
        s.put(frame(1, particle=np.arange(5)))  # new column on one frame first
        assert (s.get(0)["particle"] == -1).all()  # others: -1 = not linked yet
        for df in s:
            s.put(df.assign(particle=df.index.to_numpy()))
        all_rows = s.dump()
    assert len(all_rows) == 15 and not all_rows.duplicated(["frame", "y", "x"]).any()


def test_framewise_data_is_really_abstract():
    with pytest.raises(TypeError):
        st.FramewiseData()

    class Incomplete(st.FramewiseData):
        def put(self, df):
            pass

    with pytest.raises(TypeError):
        Incomplete()


def test_documented_subclass_example_runs():
    result = doctest.testmod(base, verbose=False)
    assert result.attempted >= 3 and result.failed == 0
    result = doctest.testmod(hdf, verbose=False)
    assert result.attempted >= 3 and result.failed == 0


def test_fast_reader_equals_pandas(tmp_path):
    """get() reads simple numeric frames itself; it must equal HDFStore.get, and
    hand anything else (strings, other index types) to pandas."""
    path = tmp_path / "fast.h5"
    named = frame(3, particle=np.arange(5, dtype=np.int64), flag=np.ones(5, bool))
    named.index = pd.Index(np.arange(10, 15), name="feature")
    frames = [frame(0), frame(1, ecc=np.float32(0.5)), named,
              frame(4, label=["a"] * 5),
              frame(5).set_index(pd.Index([f"r{i}" for i in range(5)]))]
    with st.PandasHDFStore(path) as s:
        for f in frames:
            s.put(f)
        for f in frames:
            n = int(f["frame"].iloc[0])
            got = s.get(n)
            pd.testing.assert_frame_equal(got, s.store.get(hdf.code_key(n)))
            pd.testing.assert_frame_equal(got, f, check_index_type=False)
        fast = [hdf.read_frame_table(s._root._v_children[hdf.code_key(n)]) is not None
                for n in (0, 1, 3, 4, 5)]
    assert fast == [True, True, True, False, False]


@pytest.mark.parametrize("cls", ["PandasHDFStore", "PandasHDFStoreBig",
                                 "PandasHDFStoreSingleNode"])
def test_metadata_round_trip_and_trackpy_still_reads(tmp_path, cls):
    path = tmp_path / "m.h5"
    frame = pd.DataFrame({"y": [1.0, 2.0], "x": [3.0, 4.0], "frame": [0, 0]})
    with getattr(st, cls)(path) as store:
        store.put(frame)
        store.save_metadata("locate", {"diameter": np.int64(11), "invert": True})
        with pytest.raises(TypeError, match="JSON"):
            store.save_metadata("bad", {"x": object()})
    with getattr(st, cls)(path, mode="r") as store:
        assert store.metadata == {"locate": {"diameter": 11, "invert": True}}
        with pytest.raises(st.StoreError, match="read-only"):
            store.save_metadata("x", {})
    with getattr(trackpy, cls)(str(path)) as theirs:  # its SingleNode fails with mode="r"
        assert len(theirs.get(0)) == 2


@pytest.mark.parametrize("writer", ["trackpy", "streamtrack"])
def test_single_node_row_ranges_match_queries_through_every_kind_of_put(tmp_path, writer):
    path = tmp_path / "single.h5"
    rng = np.random.default_rng(3)

    def frame(t, n):
        return pd.DataFrame({"y": rng.random(n), "x": rng.random(n), "frame": t})

    with (trackpy if writer == "trackpy" else st).PandasHDFStoreSingleNode(
            str(path)) as store:
        for t in [0, 1, 2, 5]:
            store.put(frame(t, 3 + t))
    with st.PandasHDFStoreSingleNode(path) as store:
        assert store.frames == [0, 1, 2, 5]
        store.get(0)  # the row index is built now and must follow every put below
        store.put(frame(1, 4))                        # same rows: replaced in place
        store.put(frame(2, 9))                        # other row count: removed + appended
        store.put(frame(7, 2))                        # a new frame: appended
        store.put(frame(5, 8).assign(particle=np.arange(8)))  # a new column: rewritten
        assert store.frames == [0, 1, 2, 5, 7]
        for t in store.frames:
            want = store.store.select("FrameData", where=f"frame == {t}")
            pd.testing.assert_frame_equal(store.get(t), want)
        with pytest.raises(KeyError, match="frame 3"):
            store.get(3)

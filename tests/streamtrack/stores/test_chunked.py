"""PandasHDFStoreChunked: the store for long movies (journal, chunks, lock, resume)."""
import os

import numpy as np
import pandas as pd
import pytest

import streamtrack as st
from streamtrack.stores import open_store, store_layout

trackpy = pytest.importorskip("trackpy")


def frame(t, n=20, seed=0):
    rng = np.random.default_rng(seed + t)
    return pd.DataFrame({"y": rng.random(n) * 100, "x": rng.random(n) * 100,
                         "mass": rng.random(n), "frame": np.int64(t)})


def test_frames_round_trip_across_chunks_and_reopen(tmp_path):
    path = tmp_path / "s.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=4) as store:
        for t in [0, 1, 2, 5, 6, 9, 13]:
            store.put(frame(t))
        assert store.frames == [0, 1, 2, 5, 6, 9, 13] and len(store) == 7
        assert store.max_frame == 13
        pd.testing.assert_frame_equal(store.get(5), frame(5))
        with pytest.raises(KeyError, match="frame 3"):
            store.get(3)
    assert store_layout(path) == "chunked"
    with open_store(path, mode="r") as store:
        assert isinstance(store, st.PandasHDFStoreChunked)
        for t in store.frames:
            pd.testing.assert_frame_equal(store.get(t), frame(t))
        with pytest.raises(st.StoreError, match="read-only"):
            store.put(frame(20))


def test_replacing_frames_with_a_new_column_mid_chunk(tmp_path):
    path = tmp_path / "s.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=10) as store:
        for t in range(10):
            store.put(frame(t))
    with st.PandasHDFStoreChunked(path) as store:  # link write-back, stopped half way
        for t in range(5):
            store.put(frame(t).assign(particle=np.arange(20)))
    with st.PandasHDFStoreChunked(path, mode="r") as store:
        for t in range(10):
            got = store.get(t)
            want = frame(t).assign(particle=np.arange(20)) if t < 5 else frame(t)
            pd.testing.assert_frame_equal(got, want)  # dtypes too: particle stays int64


def test_each_chunk_is_a_trackpy_file(tmp_path):
    path = tmp_path / "s.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=5) as store:
        for t in range(12):
            store.put(frame(t))
    with trackpy.PandasHDFStoreSingleNode(str(path) + ".chunks/c000001.h5") as theirs:
        assert list(theirs.frames) == [5, 6, 7, 8, 9]
        pd.testing.assert_frame_equal(theirs.get(7).reset_index(drop=True),
                                      frame(7), check_dtype=False)


def test_same_cost_at_frame_100000_as_at_frame_100(tmp_path):
    # structural check (times are in benchmarks/): the store never touches
    # more than one chunk's journal or file per operation
    with st.PandasHDFStoreChunked(tmp_path / "s.h5", chunk_size=100) as store:
        for t in [100, 100_000]:
            store.put(frame(t))
        assert store.frames == [100, 100_000] and store.max_frame == 100_000
    names = sorted(os.listdir(str(tmp_path / "s.h5") + ".chunks"))
    assert "c000001.h5" in names and "c001000.h5" in names


def test_one_writer_at_a_time_and_readers_see_finished_frames(tmp_path):
    path = tmp_path / "s.h5"
    writer = st.PandasHDFStoreChunked(path, chunk_size=3)
    for t in range(5):
        writer.put(frame(t))
    with pytest.raises(st.StoreLockedError, match="being written"):
        st.PandasHDFStoreChunked(path)
    with st.PandasHDFStoreChunked(path, mode="r") as reader:
        assert reader.frames == [0, 1, 2, 3, 4]
        writer.put(frame(5))  # seals chunk 0 under the reader's feet
        writer.put(frame(6))
        writer.put(frame(9))
        for t in range(5):
            pd.testing.assert_frame_equal(reader.get(t), frame(t))
    writer.close()
    with st.PandasHDFStoreChunked(path) as again:  # the lock went with the writer
        assert again.frames == [0, 1, 2, 3, 4, 5, 6, 9]


def test_not_a_chunked_store(tmp_path):
    path = tmp_path / "plain.h5"
    with st.PandasHDFStore(path) as store:
        store.put(frame(0))
    with pytest.raises(st.StoreError, match="not a chunked store"):
        st.PandasHDFStoreChunked(path)
    with pytest.raises(ValueError, match="chunk_size"):
        st.PandasHDFStoreChunked(tmp_path / "new.h5", chunk_size=0)


def test_torn_journal_tail_is_cut_off(tmp_path):
    path = tmp_path / "s.h5"
    store = st.PandasHDFStoreChunked(path, chunk_size=100)
    for t in range(3):
        store.put(frame(t))
    wal = str(path) + ".chunks/c000000.wal"
    store._chunks[0].writer._file.close()  # simulate a kill: no seal, no close
    store._unlock()
    with open(wal, "ab") as handle:  # half a record, as a kill mid-write leaves
        handle.write(b"STJ1\x01" + b"\x00" * 7)
    with st.PandasHDFStoreChunked(path) as repaired:
        assert repaired.frames == [0, 1, 2]
        repaired.put(frame(3))
    with st.PandasHDFStoreChunked(path, mode="r") as store:
        assert store.frames == [0, 1, 2, 3]
        pd.testing.assert_frame_equal(store.get(3), frame(3))


def test_processed_marks_survive_sealing_even_without_features(tmp_path):
    path = tmp_path / "s.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=3) as store:
        store.put(frame(0))
        for t in range(8):
            store.mark_processed(t)  # frames 1..7 had no features
    with st.PandasHDFStoreChunked(path, mode="r") as store:
        assert store.frames == [0]
        assert store.processed_frames == list(range(8))


@pytest.mark.parametrize("cls", ["PandasHDFStore", "PandasHDFStoreChunked"])
def test_a_second_process_gets_a_clear_error_or_a_consistent_view(tmp_path, cls):
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "s.h5"
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, pandas as pd, streamtrack as st
        store = st.{cls}(sys.argv[1])
        for t in range(3):
            store.put(pd.DataFrame({{"y": [1.0], "x": [2.0], "frame": [t]}}))
        print("writing", flush=True)
        sys.stdin.read()  # hold the store open until the parent is done
        store.close()
        """), str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        with pytest.raises(st.StoreLockedError, match="another"):
            getattr(st, cls)(path)  # a second writer
        if cls == "PandasHDFStoreChunked":  # readers see the finished frames
            with st.PandasHDFStoreChunked(path, mode="r") as reader:
                assert reader.frames == [0, 1, 2]
        else:  # HDF5 locks the file against readers too: a clear error
            with pytest.raises(st.StoreLockedError, match="being written|another process"):
                st.PandasHDFStore(path, mode="r")
    finally:
        child.communicate("")
    assert child.returncode == 0

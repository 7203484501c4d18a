"""Resume and incremental work: batch(resume=True), locate/link --resume, appended frames."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import tifffile

import streamtrack as st
from streamtrack import synthetic

STORES = ["PandasHDFStore", "PandasHDFStoreBig", "PandasHDFStoreSingleNode",
          "PandasHDFStoreChunked"]


@pytest.fixture(scope="module")
def movie():
    frames, truth = synthetic.brownian_movie(n_particles=20, n_frames=16, shape=(128, 128),
                                             seed=5)
    arrays = [np.asarray(f) for f in frames]
    arrays[6] = np.full_like(arrays[6], 20)  # a frame without features
    return arrays


def all_frames(store):
    return pd.concat([store.get(t) for t in store.frames], ignore_index=True)


@pytest.mark.parametrize("cls", STORES)
def test_batch_resume_continues_after_the_last_processed_frame(tmp_path, movie, cls):
    frames = st.open(movie)
    with getattr(st, cls)(tmp_path / "whole.h5") as store:
        st.batch(frames, 11, minmass=500, output=store, processes=1)
        whole = all_frames(store)
    with getattr(st, cls)(tmp_path / "resumed.h5") as store:
        for frame_no, _ in st.batch_iter(frames, 11, minmass=500, output=store, processes=2):
            if frame_no == 6:  # interrupted right after the empty frame
                break
        assert store.processed_frames == list(range(7))  # the empty frame 6 too
        seen = []
        st.batch(frames, 11, minmass=500, output=store, processes=2, resume=True,
                 after_locate=lambda t, f: seen.append(t) or f)
        assert seen == list(range(7, 16))  # nothing located twice
        pd.testing.assert_frame_equal(all_frames(store), whole)
        assert store.processed_frames == list(range(16))


def test_batch_resume_needs_a_store_that_records_frames(movie):
    with pytest.raises(TypeError, match="resume"):
        st.batch(st.open(movie), 11, resume=True)


def test_batch_resume_with_a_plain_list_and_a_generator(tmp_path, movie):
    with st.PandasHDFStoreChunked(tmp_path / "a.h5") as store:
        st.batch(movie[:5], 11, minmass=500, output=store, processes=1)
        st.batch(iter(movie), 11, minmass=500, output=store, processes=1, resume=True)
        got = all_frames(store)
    want = st.batch(movie, 11, minmass=500, processes=1)
    pd.testing.assert_frame_equal(got, want)


def run_cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "streamtrack.cli", *args],
                          capture_output=True, text=True, **kwargs)


def kill_when(args, ready, timeout=120):
    """Start the CLI, SIGKILL it once ``ready()`` is true."""
    child = subprocess.Popen([sys.executable, "-m", "streamtrack.cli", *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.monotonic()
    try:
        while not ready():
            assert child.poll() is None, "finished before it could be killed"
            assert time.monotonic() - start < timeout
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


def processed(path):
    try:
        with st.PandasHDFStoreChunked(path, mode="r") as store:
            return len(store.processed_frames), store.load_checkpoint("link")
    except (OSError, st.StoreError):
        return 0, None


def test_cli_locate_and_link_killed_then_resumed_equal_an_uninterrupted_run(tmp_path):
    frames, _ = synthetic.brownian_movie(n_particles=30, n_frames=60, shape=(160, 160), seed=2)
    paths = []
    for i, frame in enumerate(frames):
        paths.append(str(tmp_path / f"f{i:03d}.tif"))
        tifffile.imwrite(paths[-1], np.asarray(frame))
    pattern = str(tmp_path / "*.tif")
    common = ["-d", "11", "--minmass", "500", "--store", "chunked", "--processes", "1"]
    whole, cut = str(tmp_path / "whole.h5"), str(tmp_path / "cut.h5")
    assert run_cli("locate", pattern, *common, "-o", whole, "-q").returncode == 0
    assert run_cli("link", whole, "-s", "5", "--memory", "2", "-q").returncode == 0

    kill_when(["locate", pattern, *common, "-o", cut],
              lambda: processed(cut)[0] >= 20)
    n_done = processed(cut)[0]
    assert 20 <= n_done < 60
    assert run_cli("locate", pattern, *common, "-o", cut, "-q").returncode != 0  # exists
    result = run_cli("locate", pattern, *common, "-o", cut, "--resume", "-q")
    assert result.returncode == 0, result.stderr

    kill_when(["link", cut, "-s", "5", "--memory", "2"],
              lambda: (processed(cut)[1] or (-1,))[0] >= 10)
    result = run_cli("link", cut, "-s", "5", "--memory", "2", "--resume", "-q")
    assert result.returncode == 0, result.stderr
    with st.PandasHDFStoreChunked(whole, mode="r") as a, \
            st.PandasHDFStoreChunked(cut, mode="r") as b:
        pd.testing.assert_frame_equal(all_frames(b), all_frames(a))  # features and ids
        assert b.processed_frames == a.processed_frames == list(range(60))


def test_frames_appended_later_are_linked_incrementally(tmp_path):
    frames, _ = synthetic.brownian_movie(n_particles=25, n_frames=30, shape=(160, 160), seed=8)
    frames = st.open([np.asarray(f) for f in frames])
    with st.PandasHDFStoreChunked(tmp_path / "all.h5") as store:
        st.batch(frames, 11, minmass=500, output=store)
        st.link_store(store, 5, memory=1)
        want = all_frames(store)
    with st.PandasHDFStoreChunked(tmp_path / "grow.h5", chunk_size=8) as store:
        st.batch(frames[:12], 11, minmass=500, output=store)
        assert st.link_store(store, 5, memory=1) == 12
        st.batch(frames, 11, minmass=500, output=store, resume=True)  # more frames arrive
        assert st.link_store(store, 5, memory=1, resume=True) == 18  # only the new ones
        pd.testing.assert_frame_equal(all_frames(store), want)


def test_resume_from_a_checkpoint_written_before_memory_counted_steps(tmp_path):
    """Checkpoints of earlier versions hold no memory clock: their frame numbers
    serve as one, and resuming still gives the ids of an uninterrupted run."""
    frames, _ = synthetic.brownian_movie(n_particles=25, n_frames=20, shape=(160, 160), seed=4)
    frames = st.open([np.asarray(f) for f in frames])
    with st.PandasHDFStoreChunked(tmp_path / "all.h5") as store:
        st.batch(frames, 11, minmass=500, output=store)
        st.link_store(store, 5, memory=2)
        want = all_frames(store)
    with st.PandasHDFStoreChunked(tmp_path / "old.h5") as store:
        st.batch(frames[:10], 11, minmass=500, output=store)
        st.link_store(store, 5, memory=2)
        frame_no, arrays = store.load_checkpoint("link")
        assert {"clock", "seen"} <= set(arrays)
        store.save_checkpoint("link", frame_no, {k: v for k, v in arrays.items()
                                                 if k not in ("clock", "seen")})
        st.batch(frames, 11, minmass=500, output=store, resume=True)
        assert st.link_store(store, 5, memory=2, resume=True) == 10
        pd.testing.assert_frame_equal(all_frames(store), want)

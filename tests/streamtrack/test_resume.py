"""Resume and incremental work: batch(resume=True), locate/link --resume, appended frames."""
import os
import resource
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
                                                 if k not in ("clock", "seen", "options")})
        st.batch(frames, 11, minmass=500, output=store, resume=True)
        assert st.link_store(store, 5, memory=2, resume=True) == 10
        pd.testing.assert_frame_equal(all_frames(store), want)


# -- track --resume ---------------------------------------------------------------------
TRACK = ["-d", "11", "--minmass", "500", "-s", "5", "--memory", "2", "--processes", "1"]


@pytest.fixture(scope="module")
def tiff_movie(tmp_path_factory):
    """60 TIFF frames, frames 25-26 and 41 blank (so memory counts across them); the glob."""
    folder = tmp_path_factory.mktemp("tiffs")
    frames, _ = synthetic.brownian_movie(n_particles=30, n_frames=60, shape=(160, 160), seed=2)
    for i, frame in enumerate(frames):
        image = np.asarray(frame)
        if i in (25, 26, 41):
            image = np.full_like(image, 20)
        tifffile.imwrite(folder / f"f{i:03d}.tif", image)
    return str(folder / "*.tif")


@pytest.fixture(scope="module")
def tracked(tiff_movie, tmp_path_factory):
    """An uninterrupted 'track' of the movie per store layout: {layout: path}."""
    folder = tmp_path_factory.mktemp("tracked")
    paths = {}
    for layout in ("frames", "big", "single", "chunked"):
        paths[layout] = str(folder / f"whole_{layout}.h5")
        result = run_cli("track", tiff_movie, *TRACK, "--store", layout, "-o", paths[layout],
                         "-q")
        assert result.returncode == 0, result.stderr
    return paths


def assert_same_store(got, want):
    """The same features, ids and processed frames in two stores."""
    from streamtrack.stores import open_store

    with open_store(got, mode="r") as b, open_store(want, mode="r") as a:
        pd.testing.assert_frame_equal(all_frames(b), all_frames(a))  # features and ids
        assert b.processed_frames == a.processed_frames == list(range(60))
        assert b.metadata == a.metadata


def test_cli_track_killed_then_resumed_equals_an_uninterrupted_run(tmp_path, tiff_movie,
                                                                   tracked):
    cut = str(tmp_path / "cut.h5")
    args = ["track", tiff_movie, *TRACK, "--store", "chunked", "-o", cut]
    kill_when(args, lambda: processed(cut)[0] >= 15)
    n_done, checkpoint = processed(cut)
    assert 15 <= n_done < 60 and checkpoint is not None
    refused = run_cli(*args, "-q")
    assert refused.returncode == 2 and "--resume" in refused.stderr  # exists: the advice
    kill_when([*args, "--resume"], lambda: processed(cut)[0] >= n_done + 15)  # twice
    n_done = processed(cut)[0]
    assert n_done < 60
    result = run_cli(*args, "--resume", "-q")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{60 - n_done} frames")  # nothing located twice
    assert_same_store(cut, tracked["chunked"])
    # and the store links on as 'link --resume' from the checkpoint track left
    assert processed(cut)[1][0] == 59
    result = run_cli("link", cut, "-s", "5", "--memory", "2", "--resume", "-q")
    assert result.returncode == 0 and "linked 0 frames" in result.stdout, result.stderr


@pytest.mark.parametrize("changed, named", [
    (["-d", "13"], ["diameter (stored 11, given 13)"]),
    (["--minmass", "400"], ["minmass"]),
    (["-s", "4"], ["search_range"]),
    (["--memory", "1"], ["memory"]),
    (["--adaptive-stop", "2"], ["adaptive_stop"]),
])
def test_cli_track_resume_refuses_other_options_and_writes_nothing(tmp_path, tiff_movie,
                                                                   tracked, changed, named):
    """Locate options as 'locate --resume' refuses them, link options as 'link --resume'."""
    from streamtrack.stores import open_store

    cut = str(tmp_path / "cut.h5")
    first_half = tiff_movie.replace("*.tif", "f0[0-2]?.tif")  # frames 0-29
    common = ["--store", "chunked", "-o", cut, "-q"]
    assert run_cli("track", first_half, *TRACK, *common).returncode == 0
    with open_store(cut, mode="r") as store:
        before = all_frames(store), store.metadata, store.load_checkpoint("link")[0]
    options = list(TRACK)
    for i in range(0, len(changed), 2):
        if changed[i] in options:
            options[options.index(changed[i]) + 1] = changed[i + 1]
        else:
            options += changed[i:i + 2]
    result = run_cli("track", tiff_movie, *options, *common, "--resume")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in ["resum", *named]:
        assert word in result.stderr, (word, result.stderr)
    with open_store(cut, mode="r") as store:
        pd.testing.assert_frame_equal(all_frames(store), before[0])
        assert store.metadata == before[1]
        assert store.load_checkpoint("link")[0] == before[2] == 29
        assert store.processed_frames == list(range(30))
    # with the options of the run it continues, it does
    result = run_cli("track", tiff_movie, *TRACK, *common, "--resume")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("30 frames")
    assert_same_store(cut, tracked["chunked"])


def size_limit(limit):
    def limit_file_size():  # runs in the child, before exec
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limit_file_size


@pytest.mark.parametrize("layout", ["frames", "big", "single"])
def test_cli_track_refused_for_want_of_room_resumes_as_the_message_says(tmp_path, tiff_movie,
                                                                        tracked, layout):
    """The store's refusal says 'rerun with --resume': 'track --resume' finishes the run."""
    # no compiled kernels in the children: nothing but the store writes files
    env = dict(os.environ, STREAMTRACK_NO_FASTPATH="1")
    cut = str(tmp_path / "cut.h5")
    # (the blank frames' own warning aside, the error is the whole of stderr)
    args = [sys.executable, "-W", "ignore:Image is completely black", "-m",
            "streamtrack.cli", "track", tiff_movie, *TRACK,
            "--store", layout, "-o", cut, "-q"]
    from streamtrack.stores._room import ROOM_FIXED

    # each write asks for ROOM_FIXED to spare: without it, the small single-node
    # store would be refused at its first frame
    limit = int(0.6 * os.path.getsize(tracked[layout])) + ROOM_FIXED
    result = subprocess.run(args, capture_output=True, text=True, env=env,
                            preexec_fn=size_limit(limit))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("streamtrack track: error: cannot write"), lines[0]
    assert "file size limit reached" in lines[0] and "rerun with --resume" in lines[0]
    with st.stores.open_store(cut, mode="r") as store:
        assert 0 < len(store.processed_frames) < 60, lines[0]  # the limit struck mid-movie
    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_store(cut, tracked[layout])


@pytest.mark.parametrize("cls", STORES)
def test_link_store_with_options_that_fail_keeps_the_last_links_record(tmp_path, cls):
    """Options refused at the first frame change nothing: resume continues the last link."""
    frames, _ = synthetic.brownian_movie(n_particles=25, n_frames=20, shape=(160, 160), seed=6)
    frames = st.open([np.asarray(f) for f in frames])
    with st.PandasHDFStoreChunked(tmp_path / "all.h5") as store:
        st.batch(frames, 11, minmass=500, output=store, processes=1)
        st.link_store(store, 5, memory=1)
        want = all_frames(store)
    with getattr(st, cls)(tmp_path / "grow.h5") as store:
        st.batch(frames[:12], 11, minmass=500, output=store, processes=1)
        assert st.link_store(store, 5, memory=1) == 12
        before = all_frames(store), store.metadata, store.load_checkpoint("link")[0]
        with pytest.raises(ValueError, match="search_range has 3 values"):
            st.link_store(store, (3, 4, 5), memory=1)  # 2-D data: fails at the first frame
        pd.testing.assert_frame_equal(all_frames(store), before[0])
        assert store.metadata == before[1] and store.load_checkpoint("link")[0] == before[2]
        st.batch(frames, 11, minmass=500, output=store, processes=1, resume=True)
        assert st.link_store(store, 5, memory=1, resume=True) == 8  # the new frames only
        pd.testing.assert_frame_equal(all_frames(store), want)


@pytest.mark.parametrize("cls", STORES)
def test_resume_after_a_link_stopped_between_its_options_record_and_checkpoint(tmp_path,
                                                                               cls):
    """A link with new options stopped after saving its options record but before its
    first checkpoint (as a kill there leaves it): resume with the new options must not
    continue the old run's checkpoint."""
    frames, _ = synthetic.brownian_movie(n_particles=25, n_frames=20, shape=(160, 160), seed=6)
    frames = st.open([np.asarray(f) for f in frames])
    with st.PandasHDFStoreChunked(tmp_path / "b.h5") as store:
        st.batch(frames, 11, minmass=500, output=store, processes=1)
        st.link_store(store, 3, memory=2)  # uninterrupted with options B
        want = all_frames(store)
    with getattr(st, cls)(tmp_path / "cut.h5") as store:
        st.batch(frames, 11, minmass=500, output=store, processes=1)
        assert st.link_store(store, 5, memory=0) == 20  # options A, checkpoint at 19
        save = store.save_checkpoint
        store.save_checkpoint = lambda *args: (_ for _ in ()).throw(KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):  # after the options record, before any checkpoint
            st.link_store(store, 3, memory=2)
        store.save_checkpoint = save
        assert store.metadata["link_checkpoint"]["memory"] == 2  # B's record...
        assert store.load_checkpoint("link")[0] == 19  # ...next to A's checkpoint
        try:
            st.link_store(store, 3, memory=2, resume=True)
        except ValueError as exc:  # refused: one line naming the mismatch
            message = str(exc)
            assert len(message.splitlines()) == 1 and "resume" in message, message
            assert "memory" in message and "search_range" in message, message
            st.link_store(store, 3, memory=2)  # the advice: link again without resume
        pd.testing.assert_frame_equal(all_frames(store), want)

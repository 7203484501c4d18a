"""batch(..., client=...): locate on a Dask cluster (a LocalCluster of 2 worker processes).

Shown here: same results and order as without a client; workers read their
frames from files (only an index travels with each task); in-memory frames
travel as pixels; puts in frame order although workers finish out of order;
a bounded number of frames in flight; worker errors keep their type; address
strings; the missing-extra ImportError; trackpy's signature; no dask import
on ``import streamtrack``; the CLI's ``--scheduler``.
"""
import inspect
import subprocess
import sys
import time
import weakref

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import streamtrack as st
from streamtrack import _distributed
from streamtrack.cli import main
from streamtrack.frames import FrameSequence, UnreadableFrameError

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

MINMASS = 500


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    """A synthetic movie written as PNG and as TIFF files, and its frames in memory."""
    import tifffile

    folder = tmp_path_factory.mktemp("movie")
    frames, _ = st.synthetic.brownian_movie(n_particles=20, n_frames=12, shape=(128, 160),
                                            seed=5)
    arrays = [np.asarray(f) for f in frames]
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(folder / f"img{i}.png")
        tifffile.imwrite(folder / f"img{i}.tif", a)
    expected = st.batch(frames, 11, minmass=MINMASS, processes=1)
    return folder, np.stack(arrays), expected


class Spy:
    """Wraps ``client.submit`` and ``client.scatter``: records what is shipped,
    and counts futures submitted, finished (done callbacks) and at most unfinished.

    A task's arguments end with its run of frames (indices, or ``(frame_no,
    pixels)`` pairs) and the curried ``locate``."""

    def __init__(self, client, monkeypatch):
        self.submitted, self.scattered, self.done = [], [], []
        self.max_unfinished = 0
        submit, scatter = client.submit, client.scatter
        futures = []

        def spy_submit(func, *args, **kwargs):
            future = submit(func, *args, **kwargs)
            self.submitted.append(args)
            futures.append(weakref.ref(future))  # weak: released futures are done
            index = len(self.submitted) - 1
            future.add_done_callback(lambda f, i=index: self.done.append(i))
            # done callbacks run later on the client's loop; a future's own
            # state is set before its result is handed to the driver
            self.max_unfinished = max(self.max_unfinished,
                                      sum(f() is not None and not f().done()
                                          for f in futures))
            return future

        self.runs = lambda: [args[-2] for args in self.submitted]
        self.n_frames = lambda: sum(len(args[-2]) for args in self.submitted)

        def spy_scatter(data, *args, **kwargs):
            self.scattered.append(data)
            return scatter(data, *args, **kwargs)

        monkeypatch.setattr(client, "submit", spy_submit)
        monkeypatch.setattr(client, "scatter", spy_scatter)


def test_signature_is_trackpys_plus_keyword_only_client():
    trackpy = pytest.importorskip("trackpy")
    ours = inspect.signature(st.batch).parameters
    theirs = inspect.signature(trackpy.batch).parameters
    positional = [p for p in ours.values() if p.kind != p.KEYWORD_ONLY]
    assert [(p.name, p.default, p.kind) for p in positional] == \
        [(p.name, p.default, p.kind) for p in theirs.values()]
    assert ours["client"].kind == inspect.Parameter.KEYWORD_ONLY
    assert ours["client"].default is None
    assert inspect.signature(st.batch_iter).parameters["client"].default is None


def test_import_streamtrack_does_not_import_dask():
    code = ("import sys, numpy as np, streamtrack as tp, streamtrack.cli; tp.quiet(); "
            "tp.batch([np.zeros((32, 32), np.uint8)] * 2, 5, processes=1); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=True)


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_workers_read_files_same_results(client, movie, monkeypatch, ext):
    folder, stack, expected = movie
    frames = st.open(str(folder / f"*.{ext}"))
    spy = Spy(client, monkeypatch)
    got = st.batch(frames, 11, minmass=MINMASS, client=client)
    pd.testing.assert_frame_equal(got, expected)
    # the lazy sequence went to the workers once, and it holds no pixels
    [[shipped]] = spy.scattered
    assert isinstance(shipped, FrameSequence)
    assert len(cloudpickle.dumps(shipped)) < stack.nbytes / 20
    # each task: the scattered sequence's future, a run of frame indices, locate's
    # settings; every frame once, in order
    assert [i for run in spy.runs() for i in run] == list(range(len(frames)))
    for sequence, indices, curried in spy.submitted:
        assert isinstance(sequence, distributed.Future)
        assert all(isinstance(i, int) for i in indices)
        assert "client" not in curried.keywords and curried.keywords["minmass"] == MINMASS
        assert len(cloudpickle.dumps((indices, curried))) < stack[0].nbytes / 10


def test_pipelined_files_ship_and_keep_frame_numbers(client, movie, monkeypatch):
    folder, _, expected = movie

    @st.pipeline
    def brighter(image):  # a local function: pickled by value for the workers
        return np.minimum(image.astype(np.uint16) + 1, 255).astype(np.uint8)

    frames = brighter(st.open(str(folder / "*.png")))[1::2]
    spy = Spy(client, monkeypatch)
    got = st.batch(frames, 11, minmass=MINMASS, client=client)
    assert spy.scattered and sorted(got["frame"].unique()) == list(range(1, 12, 2))
    pd.testing.assert_frame_equal(got, st.batch(frames, 11, minmass=MINMASS, processes=1))
    assert len(got) == len(expected[expected["frame"] % 2 == 1])


def test_in_memory_frames_are_sent_as_pixels(client, movie, monkeypatch):
    _, stack, expected = movie
    spy = Spy(client, monkeypatch)
    got = st.batch(stack, 11, minmass=MINMASS, client=client)
    pd.testing.assert_frame_equal(got, expected)
    assert spy.scattered == []  # nothing lazy to ship: each task carries its frames
    sent = [item for run in spy.runs() for item in run]
    assert [frame_no for frame_no, _ in sent] == list(range(len(stack)))
    assert all(np.array_equal(pixels, stack[i]) for i, (_, pixels) in enumerate(sent))
    # a generator, and an open()ed in-memory movie too large to scatter
    got = st.batch((f for f in stack), 11, minmass=MINMASS, client=client)
    pd.testing.assert_frame_equal(got, expected)
    monkeypatch.setattr(_distributed, "MAX_SHIPPED_SEQUENCE", stack.nbytes // 2)
    sliced = st.open(stack)[2::3]
    assert not _distributed.shipped_sequence(sliced)
    got = st.batch(sliced, 11, minmass=MINMASS, client=client)
    assert sorted(got["frame"].unique()) == [2, 5, 8, 11]
    pd.testing.assert_frame_equal(got, st.batch(sliced, 11, minmass=MINMASS, processes=1))
    assert spy.scattered == []


def test_multipage_tiff_is_read_on_the_driver(client, movie, monkeypatch, tmp_path):
    import tifffile

    _, stack, expected = movie
    tifffile.imwrite(tmp_path / "stack.tif", stack)
    frames = st.open(str(tmp_path / "stack.tif"))
    assert not _distributed.shipped_sequence(frames)  # its reader holds an open file
    spy = Spy(client, monkeypatch)
    pd.testing.assert_frame_equal(st.batch(frames, 11, minmass=MINMASS, client=client),
                                  expected)
    assert spy.scattered == [] and spy.n_frames() == len(stack)


def test_store_gets_frames_in_order_while_workers_finish_out_of_order(
        client, movie, monkeypatch, tmp_path):
    folder, _, expected = movie

    @st.pipeline
    def slow_even(image):  # even frames finish after the odd frame started with them
        time.sleep(0.3 if image.frame_no % 2 == 0 else 0)
        return image

    class RecordingStore(st.PandasHDFStore):
        def put(self, df):
            puts.append(int(df["frame"].iloc[0]))
            super().put(df)

    puts = []
    spy = Spy(client, monkeypatch)
    with RecordingStore(tmp_path / "s.h5") as store:
        assert st.batch(slow_even(st.open(str(folder / "*.png")))[:6], 11, output=store,
                        minmass=MINMASS, client=client) is store
    assert spy.done != sorted(spy.done)  # the workers did finish out of order
    assert puts == list(range(6))
    with st.PandasHDFStore(tmp_path / "s.h5", mode="r") as store:
        assert store.frames == list(range(6))
        got = store.dump()
    pd.testing.assert_frame_equal(got.reset_index(drop=True),
                                  expected[expected["frame"] < 6].reset_index(drop=True))


def test_one_frame_per_task_when_frames_are_slow(client, monkeypatch):
    """Frames worth a task each: at most 2 x 2 worker threads of them in flight."""
    monkeypatch.setattr(_distributed, "TASK_SECONDS", 0)  # any frame is slow enough
    frames, _ = st.synthetic.brownian_movie(n_particles=10, n_frames=24, shape=(96, 96))
    size = _distributed.window(client)
    assert size == 4  # 2 x (2 workers x 1 thread)
    spy = Spy(client, monkeypatch)
    not_consumed = []

    def after_locate(frame_no, features):
        # this frame's result has been taken; the others submitted still wait
        not_consumed.append(spy.n_frames() - (frame_no + 1))
        return features

    st.batch(frames, 11, client=client, after_locate=after_locate)
    assert spy.runs() == [[i] for i in range(24)]
    assert spy.max_unfinished <= size
    assert max(not_consumed) == size and not_consumed[0] == size  # not all 24 at once


def test_runs_of_cheap_frames_stay_bounded(client, monkeypatch):
    """Cheap frames are grouped (a task is worth ~TASK_SECONDS); still bounded."""
    monkeypatch.setattr(_distributed, "MAX_RUN", 5)
    frames, _ = st.synthetic.brownian_movie(n_particles=4, n_frames=60, shape=(64, 64))
    spy = Spy(client, monkeypatch)
    not_consumed = []

    def after_locate(frame_no, features):
        not_consumed.append(spy.n_frames() - (frame_no + 1))
        return features

    got = st.batch(frames, 11, client=client, after_locate=after_locate)
    pd.testing.assert_frame_equal(got, st.batch(frames, 11, processes=1))
    runs = spy.runs()
    assert [i for run in runs for i in run] == list(range(60))
    assert max(map(len, runs)) == 5 and len(runs) < 30  # grouped, at most MAX_RUN
    # 4 runs in flight, plus the rest of the run being stored
    assert spy.max_unfinished <= 4 and max(not_consumed) <= (4 + 1) * 5 - 1


class RecordingStore:
    def __init__(self):
        self.frames = []

    def put(self, df):
        self.frames.append(int(df["frame"].iloc[0]))


def test_worker_errors_keep_their_type(client, movie, tmp_path, monkeypatch):
    folder, stack, _ = movie
    for i in range(4):
        Image.fromarray(stack[i]).save(tmp_path / f"f{i}.png")
    (tmp_path / "f2.png").write_bytes(b"not a png")
    frames = st.open(str(tmp_path / "*.png"))
    with pytest.raises(UnreadableFrameError, match="f2.png") as local:
        st.batch(frames, 11, processes=1)
    with pytest.raises(UnreadableFrameError, match="f2.png") as remote:
        st.batch(frames, 11, client=client)
    assert str(remote.value) == str(local.value)
    # a long run of cheap frames fails in its middle: the frames before the bad
    # one are still stored, then the error comes, as without a client
    for i in range(20):
        Image.fromarray(stack[i % len(stack)]).save(tmp_path / f"g{i}.png")
    (tmp_path / "g9.png").write_bytes(b"not a png")
    frames = st.open(str(tmp_path / "g*.png"))
    monkeypatch.setattr(_distributed, "TASK_SECONDS", 100)  # after the first: long runs
    spy = Spy(client, monkeypatch)
    puts = {}
    for key, kwargs in (("local", dict(processes=1)), ("remote", dict(client=client))):
        store = RecordingStore()
        with pytest.raises(UnreadableFrameError, match="g9.png"):
            st.batch(frames, 11, output=store, **kwargs)
        puts[key] = store.frames
    assert puts["remote"] == puts["local"] == list(range(9))
    # 4 single frames in flight, then half of the 16 left in one run (2 worker
    # threads), which stops at the bad frame and is retried from it
    runs = spy.runs()
    assert runs[:5] == [[0], [1], [2], [3], list(range(4, 12))] and [9, 10, 11] in runs
    frames = st.open(str(tmp_path / "f*.png"))
    (tmp_path / "f3.png").unlink()  # gone after open(): read on the worker
    with pytest.raises(FileNotFoundError):
        st.batch(frames[3:], 11, client=client)
    # nothing of those runs is left on the cluster
    assert not [k for k in client.futures if str(k).startswith("streamtrack-locate")]


def test_address_string_and_batch_iter_stopping_early(cluster, movie, tmp_path):
    folder, _, expected = movie
    frames = st.open(str(folder / "*.png"))
    got = st.batch(frames, 11, minmass=MINMASS, client=cluster.scheduler_address)
    pd.testing.assert_frame_equal(got, expected)
    with st.PandasHDFStore(tmp_path / "s.h5") as store:
        seen = []
        for frame_no, _ in st.batch_iter(frames, 11, output=store, minmass=MINMASS,
                                         client=cluster.scheduler_address):
            seen.append(frame_no)
            assert frame_no in store.frames
            if frame_no == 2:
                break
        assert seen == [0, 1, 2] and store.frames == [0, 1, 2]


def test_missing_distributed_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    frames = [np.zeros((32, 32), np.uint8)]
    with pytest.raises(ImportError, match=r"napari-streamtrack\[distributed\]"):
        st.batch(frames, 11, client="tcp://127.0.0.1:8786")
    with pytest.raises(ImportError, match=r"napari-streamtrack\[distributed\]"):
        st.batch_iter(frames, 11, client="tcp://127.0.0.1:8786")  # before any frame


def test_bad_client_is_a_type_error():
    with pytest.raises(TypeError, match="Client"):
        st.batch([np.zeros((32, 32), np.uint8)], 11, client=8786)


def test_cli_locate_and_track_with_scheduler(cluster, movie, tmp_path, capsys):
    folder, _, expected = movie
    address = cluster.scheduler_address
    out = tmp_path / "f.h5"
    assert main(["locate", str(folder / "*.png"), "-d", "11", "--minmass", str(MINMASS),
                 "--scheduler", address, "-o", str(out), "-q"]) == 0
    assert "12 frames" in capsys.readouterr().out
    with st.PandasHDFStore(out, mode="r") as store:
        pd.testing.assert_frame_equal(store.dump().reset_index(drop=True), expected)
    tracks = tmp_path / "t.h5"
    assert main(["track", str(folder / "*.png"), "-d", "11", "--minmass", str(MINMASS),
                 "-s", "5", "--scheduler", address, "-o", str(tracks), "-q"]) == 0
    with st.PandasHDFStore(tracks, mode="r") as store:
        linked = store.dump()
    assert len(linked) == len(expected) and linked["particle"].ge(0).all()


def test_cli_unreachable_scheduler_is_one_line(movie, tmp_path, capsys):
    import dask

    folder, _, _ = movie
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code = main(["locate", str(folder / "*.png"), "-d", "11", "--scheduler",
                     "tcp://127.0.0.1:1", "-o", str(tmp_path / "x.h5"), "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("streamtrack locate: error:") and "127.0.0.1:1" in err

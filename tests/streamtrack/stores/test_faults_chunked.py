"""Issue 10 ("Nothing lost, nothing silent") for PandasHDFStoreChunked and put().

Each test reproduces one fault class a hostile user found: a damaged journal,
a lost entry file, flipped bytes in a sealed chunk, a truncated chunk index
or chunk file, a text file opened as a store, and frames a store cannot hold.
Journals are left unsealed the way they are in real life: by a child process
killed with SIGKILL after its puts returned. Every test checks that nothing
already stored is lost or changed and that the user is told (a warning or an
error naming the file, the frames and what to do).
"""
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest

import streamtrack as st
from streamtrack import StoreDamageWarning, StoreRepairWarning
from streamtrack.cli import main
from streamtrack.stores import _journal

LINK = dict(memory=0, adaptive_stop=None, adaptive_step=0.95, max_subnet_size=200)  # the CLI's

CHILD = textwrap.dedent("""
    import sys
    import numpy as np, pandas as pd
    import streamtrack as st

    def frame(t):
        rng = np.random.default_rng(t)
        return pd.DataFrame({"y": rng.random(20) * 100, "x": rng.random(20) * 100,
                             "mass": rng.random(20), "frame": np.int64(t)})

    path, chunk_size, n, task = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    store = st.PandasHDFStoreChunked(path, chunk_size=chunk_size)
    if task == "put":
        for t in range(n):
            store.put(frame(t))
    else:  # link the store in place (the linked frames go into the journals)
        st.link_store(store, 2.0, memory=0, adaptive_stop=None, adaptive_step=0.95,
                      max_subnet_size=200)
    print("done", flush=True)
    sys.stdin.read()  # hold on, unsealed, until killed
""")


def frame(t):
    rng = np.random.default_rng(t)
    return pd.DataFrame({"y": rng.random(20) * 100, "x": rng.random(20) * 100,
                         "mass": rng.random(20), "frame": np.int64(t)})


def killed_after(path, task="put", n=10, chunk_size=100):
    """Run CHILD, let its puts (or link) return, then SIGKILL it: journals unsealed."""
    with subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(chunk_size), str(n),
                           task], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as child:
        try:
            assert child.stdout.readline().strip() == "done"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    assert child.returncode == -signal.SIGKILL


def wal_of(path, k=0):
    return f"{path}.chunks/c{k:06d}.wal"


def flip(path, offset, mask=0xFF):
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([byte ^ mask]))


def record_of(wal, frame_no):
    """Payload offset and length of the newest journal record of ``frame_no``."""
    found = [(offset, len(payload)) for offset, kind, payload in _journal.scan(wal).records
             if kind == _journal.FRAME and int.from_bytes(payload[:8], "little") == frame_no]
    return found[-1]


def opened(path, mode="a"):
    """Open, list the frames, read every one, close; return (frames, data, warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with st.PandasHDFStoreChunked(path, mode=mode) as store:
            frames = store.frames
            data = {t: store.get(t) for t in frames}
    return frames, data, [w for w in caught if issubclass(w.category, (StoreDamageWarning,
                                                                          StoreRepairWarning))]


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


def listing(path):
    folder = f"{path}.chunks"
    return {name: read(os.path.join(folder, name))
            for name in sorted(os.listdir(folder)) if name != "lock"}


def tree(folder):
    """Every folder (None) and file (its bytes) under ``folder``."""
    found = {}
    for top, folders, names in os.walk(folder):
        for name in folders + names:
            where = os.path.join(top, name)
            found[os.path.relpath(where, folder)] = None if name in folders else read(where)
    return found


# -- 1. a damaged journal --------------------------------------------------------------
def test_journal_damaged_mid_record_keeps_later_frames_reports_and_keeps_the_damage(tmp_path):
    path = tmp_path / "movie.h5"
    killed_after(path, n=10)
    wal = wal_of(path)
    offset, length = record_of(wal, 3)
    flip(wal, offset + length // 2)  # inside frame 3's feature values
    damaged = read(wal)

    # a reader: every intact frame, a warning naming the journal and frame 3, no change
    before = listing(path)
    frames, data, told = opened(path, mode="r")
    assert frames == [0, 1, 2, 4, 5, 6, 7, 8, 9]  # frames after the damage are recovered
    for t in frames:
        pd.testing.assert_frame_equal(data[t], frame(t))
    assert len(told) == 1 and told[0].category is StoreDamageWarning
    assert wal in str(told[0].message) and "frames lost: 3" in str(told[0].message)
    assert listing(path) == before

    # a writer keeps the damaged journal before it rewrites (and later seals) it
    frames, data, told = opened(path)
    assert frames == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert read(wal + ".damaged") == damaged  # kept byte for byte
    assert "frames lost: 3" in str(told[0].message) and ".damaged" in str(told[0].message)
    assert not os.path.exists(wal)  # sealed into the chunk file

    # every later open says it again, until the user moves the kept file away
    frames, data, told = opened(path)
    assert frames == [0, 1, 2, 4, 5, 6, 7, 8, 9] and len(told) == 1
    assert "frames lost: 3" in str(told[0].message) and "move that file" in str(told[0].message)
    shutil.move(wal + ".damaged", tmp_path / "kept.wal")
    frames, data, told = opened(path)
    assert told == [] and frames == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    for t in frames:
        pd.testing.assert_frame_equal(data[t], frame(t))


@pytest.mark.parametrize("where", ["magic", "kind", "length", "crc-and-payload"])
def test_journal_damaged_in_its_first_bytes(tmp_path, where):
    path = tmp_path / "movie.h5"
    killed_after(path, n=10)
    wal = wal_of(path)
    if where == "magic":
        flip(wal, 0)
        flip(wal, 1)
    elif where == "kind":
        flip(wal, 4, 0x07)
    elif where == "length":
        flip(wal, 6, 0x10)  # the record's length now overruns the next records
    else:
        flip(wal, 14)
        flip(wal, 40)
    frames, data, told = opened(path)
    assert len(told) == 1 and wal in str(told[0].message)
    if where == "crc-and-payload":  # frame 0 itself is gone: said, and nothing else lost
        assert told[0].category is StoreDamageWarning
        assert "frames lost: 0" in str(told[0].message)
        assert frames == list(range(1, 10))
    else:  # only the header was hit: the payload's checksum proves it whole
        assert told[0].category is StoreRepairWarning
        assert "Nothing lost" in str(told[0].message)
        assert frames == list(range(10))
    for t in frames:
        pd.testing.assert_frame_equal(data[t], frame(t))
    assert os.path.exists(wal + ".damaged")


def test_damaged_last_record_is_reported_and_a_torn_one_is_not(tmp_path):
    path = tmp_path / "movie.h5"
    killed_after(path, n=10)
    wal = wal_of(path)
    offset, length = record_of(wal, 9)
    flip(wal, offset + length - 5)  # whole length, wrong checksum: damage, not a kill
    frames, _, told = opened(path, mode="r")
    assert frames == list(range(9))
    assert told and "frames lost: 9" in str(told[0].message)

    torn = tmp_path / "torn.h5"
    killed_after(torn, n=10)
    wal = wal_of(torn)
    offset, length = record_of(wal, 9)
    os.truncate(wal, offset + length // 2)  # what a kill in the middle of a write leaves
    frames, _, told = opened(torn)
    assert frames == list(range(9)) and told == []  # the documented crash repair, silent


def test_relinked_frame_whose_newest_write_is_damaged(tmp_path, capsys):
    path = tmp_path / "movie.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=100) as store:
        for t in range(10):
            store.put(frame(t))
    killed_after(path, task="link")  # frames 0-9 rewritten with 'particle', unsealed
    wal = wal_of(path)
    offset, length = record_of(wal, 5)
    flip(wal, offset + length // 2)

    frames, data, told = opened(path, mode="r")
    assert frames == list(range(10))
    assert "particle" not in data[5] and all("particle" in data[t] for t in frames if t != 5)
    assert "older version" in str(told[0].message) and ": 5" in str(told[0].message)

    # the command line refuses to work on a store that lost data, and says why
    assert main(["link", str(path), "-s", "2", "--resume", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and wal in err and "older version" in err
    # once the user set the damaged journal aside, resume notices frame 5
    shutil.move(wal + ".damaged", tmp_path / "kept.wal")
    assert main(["link", str(path), "-s", "2", "--resume", "-q"]) == 2
    err = capsys.readouterr().err
    assert "[5]" in err and "'particle'" in err and "without --resume" in err
    with pytest.raises(ValueError, match=r"frames \[5\]"):
        st.link_store(st.PandasHDFStoreChunked(path, mode="r"), 2.0, resume=True, **LINK)
    assert main(["link", str(path), "-s", "2", "-q"]) == 0  # relinked whole
    _, data, told = opened(path, mode="r")
    assert told == [] and all("particle" in df for df in data.values())


# -- 2. a store whose entry file is missing ----------------------------------------------
def test_missing_entry_file_is_rebuilt_never_deleted(tmp_path):
    path = tmp_path / "movie.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=7) as store:
        for t in range(20):
            store.put(frame(t))
    os.remove(path)
    chunks = listing(path)

    frames, data, told = opened(path, mode="r")  # a reader reads, writes nothing
    assert frames == list(range(20)) and not os.path.exists(path)
    assert "was missing" in str(told[0].message) and told[0].category is StoreRepairWarning
    frames, data, told = opened(path)  # a writer rebuilds the entry file
    assert os.path.exists(path) and frames == list(range(20))
    assert "rebuilt" in str(told[0].message)
    for t in frames:
        pd.testing.assert_frame_equal(data[t], frame(t))
    assert listing(path) == chunks  # no chunk file touched
    with st.PandasHDFStoreChunked(path) as store:
        assert store.chunk_size == 7


def test_missing_entry_file_of_an_older_store_infers_its_chunk_size(tmp_path):
    import json

    path = tmp_path / "movie.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=7) as store:
        for t in range(20):
            store.put(frame(t))
    os.remove(path)
    os.remove(f"{path}.chunks/layout.json")  # stores written before layout.json
    for k in range(3):
        index_path = f"{path}.chunks/c{k:06d}.json"
        with open(index_path) as handle:
            index = json.load(handle)
        del index["chunk_size"]
        with open(index_path, "w") as handle:
            json.dump(index, handle)
    frames, _, told = opened(path)  # default chunk_size=1000 given: 7 is found
    assert frames == list(range(20)) and "chunk size 7" in str(told[0].message)
    with st.PandasHDFStoreChunked(path) as store:
        store.put(frame(20))
        assert store.chunk_size == 7
    assert os.path.exists(f"{path}.chunks/c000002.h5")


def test_cli_output_whose_entry_file_is_missing(tmp_path, capsys):
    tifffile = pytest.importorskip("tifffile")  # the movie format of the CLI tests
    from streamtrack import synthetic

    movie, _ = synthetic.brownian_movie(n_particles=10, n_frames=8, shape=(96, 96), seed=3)
    for i, image in enumerate(movie):
        tifffile.imwrite(tmp_path / f"f{i:03d}.tif", np.asarray(image))
    out = str(tmp_path / "movie.h5")
    common = ["-d", "11", "--minmass", "500", "--store", "chunked", "--processes", "1", "-q"]
    assert main(["locate", str(tmp_path / "f00[0-3].tif"), *common, "-o", out]) == 0
    os.remove(out)
    chunks = listing(out)
    capsys.readouterr()
    assert main(["locate", str(tmp_path / "*.tif"), *common, "-o", out]) == 2
    err = capsys.readouterr().err
    assert "movie.h5.chunks holds a chunked store" in err and "--resume" in err
    assert listing(out) == chunks  # nothing deleted
    with pytest.warns(StoreRepairWarning, match="movie.h5 has been rebuilt from them"):
        assert main(["locate", str(tmp_path / "*.tif"), *common, "-o", out, "--resume"]) == 0
    with st.PandasHDFStoreChunked(out, mode="r") as store:
        assert store.frames == list(range(8)) and store.processed_frames == list(range(8))


def test_entry_file_without_its_folder_is_an_error_not_an_empty_store(tmp_path):
    path = tmp_path / "movie.h5"
    with st.PandasHDFStoreChunked(path) as store:
        store.put(frame(0))
    shutil.move(f"{path}.chunks", tmp_path / "elsewhere")
    for mode in ("r", "a"):
        with pytest.raises(st.StoreError, match="folder .* is missing: copy it"):
            st.PandasHDFStoreChunked(path, mode=mode)
    assert not os.path.exists(f"{path}.chunks")  # not recreated empty


def test_open_store_and_cli_link_open_a_store_whose_entry_file_is_missing(tmp_path):
    from streamtrack.stores import open_store

    path = tmp_path / "movie.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=7) as store:
        for t in range(20):
            store.put(frame(t))
    os.remove(path)
    chunks = listing(path)
    with pytest.warns(StoreRepairWarning, match="was missing.*read from the chunks"):
        with open_store(path, mode="r") as store:  # as PandasHDFStoreChunked(path, 'r')
            assert isinstance(store, st.PandasHDFStoreChunked)
            assert store.frames == list(range(20))
            pd.testing.assert_frame_equal(store.get(9), frame(9))
    assert not os.path.exists(path) and listing(path) == chunks  # a reader writes nothing
    with pytest.warns(StoreRepairWarning, match="movie.h5 has been rebuilt from them"):
        assert main(["link", str(path), "-s", "2", "-q"]) == 0  # opens it with open_store
    frames, data, told = opened(path, mode="r")
    assert told == [] and frames == list(range(20))
    for t in frames:
        pd.testing.assert_frame_equal(data[t].drop(columns="particle"), frame(t))
    with pytest.raises(FileNotFoundError, match="no such file"):
        open_store(tmp_path / "other.h5")  # neither a file nor a folder of chunks


# -- 3. sealed chunks carry a checksum ------------------------------------------------------
def test_flipped_byte_in_a_sealed_chunk_is_an_error_naming_it(tmp_path):
    path = tmp_path / "movie.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=5) as store:
        for t in range(15):
            store.put(frame(t))
    chunk = f"{path}.chunks/c000001.h5"
    value = frame(7)["x"].to_numpy()[3].tobytes()
    data = read(chunk)
    assert data.count(value) == 1
    flip(chunk, data.index(value) + 2, 0x01)  # a feature value changes slightly
    damaged = read(chunk)

    with st.PandasHDFStoreChunked(path, mode="r") as store:
        with pytest.raises(st.StoreError, match=r"c000001\.h5 is damaged: its checksum"):
            store.get(7)
        with pytest.raises(st.StoreError, match=r"frames 5-9"):
            store.get(5)  # every frame of the chunk: none is trusted
        for t in [*range(5), *range(10, 15)]:
            pd.testing.assert_frame_equal(store.get(t), frame(t))

    # a writer putting into that chunk cannot seal it: the journal keeps the frame
    store = st.PandasHDFStoreChunked(path)
    store.put(frame(6).assign(particle=np.arange(20)))
    with pytest.raises(st.StoreError, match=r"chunk 1 cannot be sealed.*stay safe in its journal"):
        store.close()
    assert read(chunk) == damaged  # never replaced by a partial chunk
    assert not [n for n in os.listdir(f"{path}.chunks") if n.endswith(".tmp")]
    with st.PandasHDFStoreChunked(path, mode="r") as store:
        pd.testing.assert_frame_equal(store.get(6), frame(6).assign(particle=np.arange(20)))


def test_truncated_chunk_index_is_rebuilt_from_its_chunk_file(tmp_path):
    path = tmp_path / "movie.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=5) as store:
        for t in range(15):
            store.put(frame(t))
    index = f"{path}.chunks/c000001.json"
    whole = read(index)
    with open(index, "wb") as handle:
        handle.write(whole[:len(whole) // 2])
    frames, data, told = opened(path, mode="r")
    assert frames == list(range(15)) and len(told) == 1
    assert index in str(told[0].message) and "nothing lost" in str(told[0].message)
    frames, data, told = opened(path)
    assert read(index + ".damaged") == whole[:len(whole) // 2]
    assert read(index) == whole  # rebuilt as it was
    frames, data, told = opened(path)
    assert told == [] and frames == list(range(15))
    for t in frames:
        pd.testing.assert_frame_equal(data[t], frame(t))


def test_truncated_chunk_file_is_a_clear_error(tmp_path):
    path = tmp_path / "movie.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=5) as store:
        for t in range(15):
            store.put(frame(t))
    chunk = f"{path}.chunks/c000002.h5"
    os.truncate(chunk, os.path.getsize(chunk) // 2)
    with st.PandasHDFStoreChunked(path, mode="r") as store:
        with pytest.raises(st.StoreError, match=r"c000002\.h5 cannot be read \(truncated or "
                                                r"damaged.*frames 10-14.*Restore it"):
            store.get(12)
        pd.testing.assert_frame_equal(store.get(3), frame(3))
    # both the index and the file of a chunk damaged: its frames are reported unknown
    index = f"{path}.chunks/c000002.json"
    os.truncate(index, 10)
    frames, _, told = opened(path)
    assert frames == list(range(10))
    assert "frames 10-14 are unknown" in str(told[0].message)
    assert os.path.getsize(index) == 10  # left as found


@pytest.mark.parametrize("content", [b"frame,x,y\n0,1,2\n", b"", "truncated", "trackpy"])
def test_a_file_that_is_no_chunked_store(tmp_path, content):
    path = tmp_path / "movie.h5"
    if content == "truncated":
        with st.PandasHDFStoreChunked(path) as store:
            store.put(frame(0))
        os.truncate(path, os.path.getsize(path) // 2)
        match = "HDF5 file cannot be read.*move .* aside"
    elif content == "trackpy":
        with st.PandasHDFStore(path) as store:
            store.put(frame(0))
        match = "it holds a PandasHDFStore store; open it with streamtrack.PandasHDFStore"
    else:
        path.write_bytes(content)
        match = rf"not an HDF5 file \({len(content)} bytes"
    before = path.read_bytes()
    for mode in ("r", "a"):
        with pytest.raises(st.StoreError, match=match):
            st.PandasHDFStoreChunked(path, mode=mode)
    assert path.read_bytes() == before


@pytest.mark.parametrize("layout", ["PandasHDFStore", "PandasHDFStoreBig",
                                    "PandasHDFStoreSingleNode"])
def test_a_trackpy_layout_is_refused_before_anything_is_created(tmp_path, layout):
    path = tmp_path / "movie.h5"
    with getattr(st, layout)(path) as store:
        store.put(frame(0))
    before = tree(tmp_path)
    for mode in ("a", "r+", "r"):
        with pytest.raises(st.StoreError, match=f"it holds a {layout} store"):
            st.PandasHDFStoreChunked(path, mode=mode)
    assert tree(tmp_path) == before  # no movie.h5.chunks/, no lock file
    os.mkdir(f"{path}.chunks")  # an empty folder left beside it: no lock file in it either
    before = tree(tmp_path)
    with pytest.raises(st.StoreError, match=f"it holds a {layout} store"):
        st.PandasHDFStoreChunked(path)
    assert tree(tmp_path) == before
    with pytest.raises(ValueError, match="chunk_size must be a positive integer, got 0"):
        st.PandasHDFStoreChunked(tmp_path / "new.h5", chunk_size=0)  # a new store, refused
    assert tree(tmp_path) == before


# -- 8. put refuses what a store cannot hold, the same in every layout ---------------------
BAD = {
    "fractional frame": (pd.DataFrame({"frame": [1.5, 1.5], "x": [1.0, 2.0]}), ValueError,
                         r"'frame' must hold whole frame numbers; got 1\.5"),
    "NaN frame": (pd.DataFrame({"frame": [np.nan, np.nan], "x": [1.0, 2.0]}), ValueError,
                  "whole frame numbers; got nan"),
    "text frame": (pd.DataFrame({"frame": ["1", "1"], "x": [1.0, 2.0]}), ValueError,
                   "whole frame numbers; got '1'"),
    "mixed objects": (pd.DataFrame({"frame": [1, 1], "note": ["a", 2]}), TypeError,
                      "column 'note' holds object values of kind 'mixed-integer'"),
    "lists": (pd.DataFrame({"frame": [1, 1], "note": [[1], [2]]}), TypeError,
              "column 'note' holds object values"),
    "datetimes": (pd.DataFrame({"frame": [1, 1], "when": pd.to_datetime(["2020", "2021"])}),
                  TypeError, "column 'when' holds dtype datetime64"),
    "nullable ints": (pd.DataFrame({"frame": [1, 1], "n": pd.array([1, None], "Int64")}),
                      TypeError, "column 'n' holds dtype Int64"),
    "number as name": (pd.DataFrame({"frame": [1, 1], 0: [1.0, 2.0]}), TypeError,
                       "column names must be strings; 0 is a int"),
    "name twice": (pd.DataFrame([[1, 1.0, 2.0]], columns=["frame", "x", "x"]), ValueError,
                   "column 'x' appears 2 times"),
}
LAYOUTS = ["PandasHDFStore", "PandasHDFStoreBig", "PandasHDFStoreSingleNode",
           "PandasHDFStoreChunked"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_put_refuses_what_a_store_cannot_hold(tmp_path, layout):
    path = tmp_path / "s.h5"
    with getattr(st, layout)(path) as store:
        store.put(frame(0))
        for df, error, match in BAD.values():
            with pytest.raises(error, match=match):
                store.put(df)
        assert list(store.frames) == [0]  # nothing half written
        store.put(frame(1))
    with getattr(st, layout)(path, mode="r") as store:  # closed cleanly, nothing lost
        assert list(store.frames) == [0, 1]
        pd.testing.assert_frame_equal(store.get(0).reset_index(drop=True), frame(0))
    with getattr(st, layout)(tmp_path / "float.h5") as store:
        store.put(frame(2).assign(frame=2.0))  # a whole float frame number is one
        assert list(store.frames) == [2]
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    if layout == "PandasHDFStoreChunked":
        leftovers += [n for n in os.listdir(f"{path}.chunks") if n.endswith(".tmp")]
    assert leftovers == []


def test_chunk_refuses_strings_where_its_other_frames_hold_numbers(tmp_path):
    path = tmp_path / "s.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=10) as store:
        store.put(frame(0).assign(tag="a"))
        with pytest.raises(TypeError, match="column 'tag' holds numbers in frame 1 but "
                                            "strings in frame 0 of the same chunk"):
            store.put(frame(1).assign(tag=1.5))  # one table per chunk: one type per column
        store.put(frame(1))
        store.put(frame(10).assign(tag=1.5))  # another chunk takes it
    with st.PandasHDFStoreChunked(path) as store:  # sealed: still known
        with pytest.raises(TypeError, match="holds numbers in frame 3 but strings in frame 0"):
            store.put(frame(3).assign(tag=2.0))
        store.put(frame(0).assign(tag=0.5))  # replacing the only string frame is fine
        store.put(frame(3).assign(tag=2.0))
    with st.PandasHDFStoreChunked(path, mode="r") as store:
        assert store.frames == [0, 1, 3, 10]
        assert store.get(0)["tag"].tolist() == [0.5] * 20
        pd.testing.assert_frame_equal(store.get(1), frame(1))


def test_frames_that_differ_in_columns_and_types_round_trip(tmp_path):
    # a bool or int column missing in some frames used to break the seal
    frames = [pd.DataFrame({"frame": [0, 0], "x": [1.0, 2.0]}),
              pd.DataFrame({"frame": [1, 1], "x": [1.0, 2.0], "ok": [True, False]}),
              pd.DataFrame({"frame": [2, 2], "x": [1.0, 2.0], "particle": np.int64([7, 3])}),
              pd.DataFrame({"frame": [3, 3], "x": np.float32([1, 2]), "c": np.complex64([1j, 2])}),
              pd.DataFrame({"frame": [4, 4], "x": [1.0, 2.0], "s": ["a", None]}),
              pd.DataFrame({"frame": [5, 5], "x": np.uint8([1, 2]), "ok": np.int8([1, -1])})]
    path = tmp_path / "s.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=10) as store:
        for df in frames:
            store.put(df)
    with st.PandasHDFStoreChunked(path, mode="r") as store:
        for df in frames:
            pd.testing.assert_frame_equal(store.get(int(df["frame"].iloc[0])), df)


def _no_size_limit_errors():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))


def test_seal_that_cannot_write_keeps_every_frame_and_leaves_no_temp_file(tmp_path):
    # a chunk file needs ~70 kB; the journals (~5 kB a frame) fit under 60 kB
    path = tmp_path / "movie.h5"
    script = textwrap.dedent("""
        import sys
        import numpy as np, pandas as pd
        import streamtrack as st
        store = st.PandasHDFStoreChunked(sys.argv[1], chunk_size=3)
        for t in range(9):
            rng = np.random.default_rng(t)
            df = pd.DataFrame({"y": rng.random(20) * 100, "x": rng.random(20) * 100,
                               "mass": rng.random(20), "frame": np.int64(t)})
            try:
                store.put(df)
                print("put", t, flush=True)
            except Exception as exc:
                print("failed", t, type(exc).__name__, flush=True)
        try:
            store.close()
        except Exception as exc:
            print("close failed", type(exc).__name__, flush=True)
    """)
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                            text=True, preexec_fn=_no_size_limit_errors, timeout=120)
    put = [int(line.split()[1]) for line in result.stdout.splitlines()
           if line.startswith("put")]
    failures = [line for line in result.stdout.splitlines() if "failed" in line]
    assert failures, result.stdout
    # every failure is the store's one-line error, never HDF5's own stack
    assert all(line.split()[-1] == "StoreError" for line in failures), result.stdout
    assert put, result.stdout + result.stderr
    assert not [n for n in os.listdir(f"{path}.chunks") if n.endswith(".tmp")]
    frames, data, _ = opened(path)  # no limit now: everything put is there
    assert set(put) <= set(frames)
    for t in frames:
        pd.testing.assert_frame_equal(data[t], frame(t))


def _twelve_kilobytes():  # a soft limit: the child lifts it later, as space freed up
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (12_000, resource.RLIM_INFINITY))


def test_put_past_a_file_size_limit_says_so_and_keeps_whole_records(tmp_path):
    path = tmp_path / "movie.h5"  # each put journals ~2 kB: the 6th does not fit
    script = textwrap.dedent("""
        import resource, sys
        import numpy as np, pandas as pd
        import streamtrack as st
        store = st.PandasHDFStoreChunked(sys.argv[1])
        for t in range(10):
            if t == 8:  # room again: the next puts must not revive the failed ones
                resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
            rng = np.random.default_rng(t)
            try:
                store.put(pd.DataFrame({"y": rng.random(60), "x": rng.random(60),
                                        "frame": np.int64(t)}))
                print("put", t, flush=True)
            except OSError as exc:
                print("failed", t, exc, flush=True)
        store._unlock()  # as a kill would: no seal
    """)
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                            text=True, preexec_fn=_twelve_kilobytes, timeout=120)
    lines = result.stdout.splitlines()
    put = [int(line.split()[1]) for line in lines if line.startswith("put")]
    failed = [line for line in lines if line.startswith("failed")]
    assert put[-2:] == [8, 9] and 3 <= len(put) < 8, result.stdout + result.stderr
    assert put[:-2] == list(range(len(put) - 2))
    assert failed and all("cannot write to the journal" in line and "c000000.wal" in line
                          and "File too large" in line for line in failed)
    frames, data, told = opened(path)
    assert frames == put and told == []  # whole records only: nothing torn, nothing damaged
    for t in frames:
        rng = np.random.default_rng(t)
        pd.testing.assert_frame_equal(data[t], pd.DataFrame(
            {"y": rng.random(60), "x": rng.random(60), "frame": np.int64(t)}))

"""``streamtrack check STORE``: read a whole store, one line per problem, exit code.

Exit 0 when the store is sound; 1 with a ``problem:`` line per problem
(damaged chunk checksum, damaged journal, unreadable frame, a file that is no
store); 2 with one error line when there is nothing to check. ``check`` is
read-only: the store is byte for byte the same afterwards.
"""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import trackpy  # the test-only oracle: stores written by trackpy itself

import streamtrack as st
from streamtrack.cli import main
from streamtrack.stores import _journal


def frame(t, n=15):
    rng = np.random.default_rng(t)
    return pd.DataFrame({"y": rng.random(n) * 100, "x": rng.random(n) * 100,
                         "mass": rng.random(n), "frame": np.int64(t)})


def check(path, capsys):
    code = main(["check", str(path)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def snapshot(folder):
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            if name != "lock":
                with open(os.path.join(root, name), "rb") as handle:
                    found[os.path.join(root, name)] = handle.read()
    return found


def flip(path, offset):
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([byte ^ 0x01]))


def test_a_sound_chunked_store(tmp_path, capsys):
    path = tmp_path / "movie.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=4) as store:
        for t in range(10):
            store.put(frame(t))
    code, lines, err = check(path, capsys)
    assert code == 0 and err == ""
    assert lines[0] == f"{path}: chunked layout, 10 frames (0-9), 150 features"
    assert lines[-1] == "sound"


def test_a_damaged_chunked_store_one_line_per_problem(tmp_path, capsys):
    path = tmp_path / "movie.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=4) as store:
        for t in range(8):
            store.put(frame(t))
    # flipped bytes in a sealed chunk (a feature value of frame 5)
    chunk = f"{path}.chunks/c000001.h5"
    with open(chunk, "rb") as handle:
        data = handle.read()
    flip(chunk, data.index(frame(5)["y"].to_numpy()[2].tobytes()) + 1)
    # a journal left by a writer killed after its puts returned, then damaged
    child = textwrap.dedent("""
        import sys, numpy as np, pandas as pd, streamtrack as st
        store = st.PandasHDFStoreChunked(sys.argv[1])
        for t in (8, 9, 10):
            rng = np.random.default_rng(t)
            store.put(pd.DataFrame({"y": rng.random(15) * 100, "x": rng.random(15) * 100,
                                    "mass": rng.random(15), "frame": np.int64(t)}))
        print("done", flush=True)
        sys.stdin.read()
    """)
    with subprocess.Popen([sys.executable, "-c", child, str(path)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline().strip() == "done"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    wal = f"{path}.chunks/c000002.wal"
    offset, _, payload = [r for r in _journal.scan(wal).records
                          if int.from_bytes(r[2][:8], "little") == 9][-1]
    flip(wal, offset + len(payload) // 2)
    before = snapshot(f"{path}.chunks")

    code, lines, err = check(path, capsys)
    assert code == 1 and err == ""
    problems = [line for line in lines if line.startswith("problem: ")]
    assert len(problems) == 2 and lines[-1] == "2 problem(s)"
    assert any("c000001.h5 is damaged: its checksum" in p and "frames 4-7" in p for p in problems)
    assert any(wal in p and "frames lost: 9" in p for p in problems)
    assert lines[0].startswith(f"{path}: chunked layout, 10 frames")  # 9 is gone, 8 and 10 not
    assert snapshot(f"{path}.chunks") == before  # read-only


def test_a_chunked_store_whose_entry_file_is_missing(tmp_path, capsys):
    path = tmp_path / "movie.h5"
    with st.PandasHDFStoreChunked(path, chunk_size=4) as store:
        for t in range(6):
            store.put(frame(t))
    os.remove(path)
    code, lines, _ = check(path, capsys)
    assert code == 1 and "6 frames" in lines[0]
    assert any(line.startswith("problem: ") and "was missing" in line and "mode='a'" in line
               for line in lines)
    assert not os.path.exists(path)  # check rebuilds nothing


@pytest.mark.parametrize("cls", ["PandasHDFStore", "PandasHDFStoreBig",
                                 "PandasHDFStoreSingleNode"])
def test_trackpy_layouts_written_by_trackpy(tmp_path, capsys, cls):
    path = tmp_path / "theirs.h5"
    with getattr(trackpy, cls)(str(path)) as store:
        for t in range(5):
            store.put(frame(t))
    code, lines, err = check(path, capsys)
    assert code == 0 and err == "" and lines[-1] == "sound"
    assert "5 frames (0-4), 75 features" in lines[0]

    os.truncate(path, os.path.getsize(path) // 3)  # a copy cut short
    code, lines, err = check(path, capsys)
    assert code == 1 and err == ""
    problems = [line for line in lines if line.startswith("problem: ")]
    assert len(problems) == 1 and "truncated" in problems[0]


def test_a_file_that_is_no_store_and_a_missing_one(tmp_path, capsys):
    text = tmp_path / "notes.h5"
    text.write_text("frame,x,y\n")
    code, lines, err = check(text, capsys)
    assert code == 1 and err == ""
    problems = [line for line in lines if line.startswith("problem: ")]
    assert len(problems) == 1 and str(text) in problems[0]
    assert "not an HDF5 file" in problems[0]
    code, lines, err = check(tmp_path / "none.h5", capsys)
    assert code == 2 and lines == []
    assert err.count("\n") == 1 and "no store at" in err and "none.h5" in err

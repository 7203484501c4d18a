"""The resumable-store contract of FramewiseData, its helpers, and the stores' layering.

Every streamtrack store keeps the records of a run (processed frames,
metadata, checkpoints) the same way from the outside; a FramewiseData that
keeps none gets the documented defaults; ``resumable`` and
``processed_marker`` tell outputs apart without looking for attributes.
"""
import ast
import os

import numpy as np
import pandas as pd
import pytest

import streamtrack as st
from streamtrack.linking import LinkingOutput
from streamtrack.stores import detect
from streamtrack.stores.base import FramewiseData, processed_marker, resumable
from streamtrack.stores.errors import short_reason

CLASSES = ["PandasHDFStore", "PandasHDFStoreBig", "PandasHDFStoreSingleNode",
           "PandasHDFStoreChunked"]


class MemoryStore(FramewiseData):
    """A complete FramewiseData that keeps no records of a run."""

    def __init__(self):
        self._frames = {}

    @property
    def t_column(self):
        return "frame"

    @property
    def frames(self):
        return sorted(self._frames)

    def put(self, df):
        if self._validate(df):
            self._frames[int(df["frame"].iloc[0])] = df.copy()

    def get(self, frame_no):
        return self._frames[frame_no].copy()

    def close(self):
        pass


def frame(t, **extra):
    return pd.DataFrame({"frame": np.int64([t, t]), "y": [1.0, 2.0], "x": [3.0, 4.0],
                         **extra})


def test_a_store_keeping_no_records_has_the_documented_defaults():
    store = MemoryStore()
    assert not store.keeps_records and not resumable(store)
    assert store.processed_frames == [] and store.metadata == {}
    assert store.load_checkpoint("link") is None
    assert store.frames_without("particle") is None
    for write in (lambda: store.mark_processed(0), lambda: store.save_metadata("a", {}),
                  lambda: store.save_checkpoint("link", 0, {"a": np.zeros(2)})):
        with pytest.raises(NotImplementedError, match="MemoryStore keeps no"):
            write()
    assert processed_marker(store) is None


@pytest.mark.parametrize("cls", CLASSES)
def test_every_store_keeps_the_records_of_a_run(tmp_path, cls):
    path = tmp_path / "s.h5"
    with getattr(st, cls)(path) as store:
        assert resumable(store) and processed_marker(store) == store.mark_processed
        store.put(frame(0))
        for t in (0, 1, 3, 2):  # 1 and 3: processed without features
            store.mark_processed(np.int64(t))
        store.save_metadata("run", {"diameter": np.int64(11), "sizes": np.arange(2)})
        with pytest.raises(TypeError, match="metadata 'bad' must be JSON-serialisable"):
            store.save_metadata("bad", {"x": object()})
        assert store.load_checkpoint("link") is None
        for t in (0, 1):  # the newest replaces the older one
            store.save_checkpoint("link", t, {"ids": np.arange(3) + t, "n": np.int64(t)})
        store.save_checkpoint("other", 5, {"ids": np.zeros(0)})
    with getattr(st, cls)(path, mode="r") as store:
        assert store.processed_frames == [0, 1, 2, 3]
        assert store.metadata == {"run": {"diameter": 11, "sizes": [0, 1]}}
        t, arrays = store.load_checkpoint("link")
        assert t == 1 and arrays["ids"].tolist() == [1, 2, 3] and int(arrays["n"]) == 1
        assert store.load_checkpoint("other")[0] == 5
        lacking = store.frames_without("particle")
        # the chunked store answers from its indexes; trackpy's layouts cannot tell
        assert lacking == ([0] if cls == "PandasHDFStoreChunked" else None)


@pytest.mark.parametrize("cls", CLASSES)
def test_a_read_only_store_refuses_records(tmp_path, cls):
    path = tmp_path / "s.h5"
    with getattr(st, cls)(path) as store:
        store.put(frame(0))
    with getattr(st, cls)(path, mode="r") as store:
        for write in (lambda: store.mark_processed(1), lambda: store.save_metadata("a", {}),
                      lambda: store.save_checkpoint("link", 0, {"a": np.zeros(1)})):
            with pytest.raises(st.StoreError, match="read-only"):
                write()


def test_outputs_that_are_not_stores():
    class PutOnly(list):
        put = list.append

    assert not resumable(PutOnly()) and processed_marker(PutOnly()) is None
    assert not resumable(None) and processed_marker(None) is None
    linking = LinkingOutput(PutOnly(), 5)
    assert not resumable(linking)
    assert processed_marker(linking) == linking.mark_processed  # it counts frames


def test_batch_with_a_store_keeping_no_records():
    frames, _ = st.synthetic.brownian_movie(n_particles=5, n_frames=3)
    store = MemoryStore()
    st.batch(frames, 11, minmass=500, output=store, processes=1)
    assert store.frames == [0, 1, 2]
    with pytest.raises(TypeError, match="resume=True needs an output store"):
        st.batch(frames, 11, minmass=500, output=store, processes=1, resume=True)


def test_link_store_refuses_a_store_keeping_no_checkpoints_before_writing():
    store = MemoryStore()
    store.put(frame(0))
    with pytest.raises(TypeError, match="needs a streamtrack store"):
        st.link_store(store, 5)
    assert "particle" not in store.get(0).columns


# -- one line from an HDF5 error, and the HDF5 signature ---------------------------------

TRACE = ("HDF5 error back trace\n\n  File \"H5F.c\", line 827, in H5Fopen\n    unable to open "
         "file\n  File \"H5Fsuper.c\", line 590, in H5F__super_read\n    truncated file: "
         "eof = 42, stored_eof = 84\n\nEnd of HDF5 error back trace\n\nUnable to "
         "open/create file 'x.h5'")


def test_short_reason_keeps_the_innermost_hdf5_cause():
    assert short_reason(OSError(TRACE)) == ("truncated file: eof = 42, stored_eof = 84; "
                                            "Unable to open/create file 'x.h5'")
    assert short_reason("cannot open: " + TRACE, limit=20) == "cannot open: truncat"
    assert short_reason(KeyError()) == "KeyError"
    assert short_reason("two\n  lines") == "two lines"


def test_is_hdf5_reads_the_signature_itself(tmp_path):
    with st.PandasHDFStore(tmp_path / "a.h5") as store:
        store.put(frame(0))
    text = tmp_path / "b.h5"
    text.write_text("frame,x,y\n")
    block = tmp_path / "c.h5"  # HDF5 after a user block of 512 bytes
    block.write_bytes(b"\0" * 512 + b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    assert detect.is_hdf5(tmp_path / "a.h5") and detect.is_hdf5(block)
    assert not detect.is_hdf5(text)
    with pytest.raises(OSError):
        detect.is_hdf5(tmp_path / "missing.h5")


# -- layering --------------------------------------------------------------------------

def _imports(package):
    """``{module: modules of the same package it imports}``, function-level too."""
    folder = os.path.dirname(package.__file__)
    names = {f[:-3] for f in os.listdir(folder) if f.endswith(".py")}
    found = {}
    for name in names:
        with open(os.path.join(folder, name + ".py")) as handle:
            tree = ast.parse(handle.read())
        found[name] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    found[name].add(node.module.split(".")[0])
                else:
                    found[name].update(a.name for a in node.names if a.name in names)
    return {k: v & names - {k} for k, v in found.items()}


@pytest.mark.parametrize("package", ["stores", "linking"])
def test_modules_import_one_way(package):
    import importlib

    edges = _imports(importlib.import_module(f"streamtrack.{package}"))
    done, visiting = set(), []

    def visit(name):
        assert name not in visiting, f"import cycle: {' -> '.join(visiting + [name])}"
        if name in done:
            return
        visiting.append(name)
        for other in edges[name]:
            visit(other)
        visiting.pop()
        done.add(name)

    for name in edges:
        visit(name)


def test_no_private_pandas_handle_in_the_stores():
    import re

    import streamtrack.stores as stores

    folder = os.path.dirname(stores.__file__)
    for name in os.listdir(folder):
        if name.endswith(".py"):
            with open(os.path.join(folder, name)) as handle:
                assert not re.search(r"\._handle\b", handle.read()), name

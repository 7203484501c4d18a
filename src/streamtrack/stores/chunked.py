"""``PandasHDFStoreChunked``: the store for long movies; nothing lost on a crash.

trackpy's layouts keep every frame in one HDF5 file. Past ~16,000 nodes in a
group HDF5 slows down, a process killed while HDF5 writes can leave the whole
file unreadable, and nothing records which frames were processed. This store
splits the movie into chunk files and writes through a journal:

``movie.h5``
    A small HDF5 file naming the layout (root attribute
    ``streamtrack_chunked``); written once, at creation.
``movie.h5.chunks/c<k>.h5``
    Frames ``k*chunk_size ... (k+1)*chunk_size - 1`` in one ``FrameData``
    table: each chunk is a file ``trackpy.PandasHDFStoreSingleNode`` reads.
    ``c<k>.json`` holds each frame's rows and the frames processed.
``movie.h5.chunks/c<k>.wal``
    The journal of that chunk: every ``put`` since the chunk was last sealed,
    appended as one checksummed record (:mod:`._journal`). ``put`` returns
    once the record is written, so a SIGKILL after that loses nothing.
``movie.h5.chunks/checkpoints.wal``, ``meta.json``, ``lock``
    Linker checkpoints (the latest wins), metadata records, the writer's lock.

When the writer moves on, a finished chunk is *sealed*: a complete new
``c<k>.h5`` is written under a temporary name and moved over the old one,
then its journal is deleted. Chunk files are therefore never modified in
place, and every step of a seal leaves a state the next open reads correctly
(the journal, when present, wins over the chunk file). Opening for writing
cuts off a torn last record and removes temporary files: that is the repair.

Every operation costs the same at frame 100,000 as at frame 100: frames live
in memory-resident per-chunk indexes, ``get`` opens one chunk of at most
``chunk_size`` nodes, ``put`` appends to one journal.
"""
from __future__ import annotations

import fcntl
import json
import os
import warnings
from collections import OrderedDict

import numpy as np
import pandas as pd

from ..exceptions import StoreError, StoreLockedError
from . import _journal
from ._fastread import read_table_rows
from .base import FramewiseData

LAYOUT_ATTR = "streamtrack_chunked"
CHUNK_KEY = "FrameData"  # each chunk is a trackpy PandasHDFStoreSingleNode file
INDEX_ATTR = "streamtrack_chunk_index"  # the chunk's frames, row ranges, processed


def _atomic_write(path, data: bytes):
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


class _Chunk:
    """What is known about one chunk: sealed frames, journaled frames, processed."""

    __slots__ = ("sealed", "processed", "journal", "wal_end", "writer", "rows", "signatures")

    def __init__(self):
        self.sealed = set()      # frames in c<k>.h5
        self.processed = set()   # frames batch marked as done (empty ones too)
        self.journal = {}        # frame -> (offset, length) in c<k>.wal
        self.wal_end = 0
        self.writer = None       # an open _journal.Journal
        self.rows = None         # frame -> (first row, rows, signature), read lazily
        self.signatures = None


class PandasHDFStoreChunked(FramewiseData):
    """A framewise store for movies of any length that survives being killed.

    Parameters
    ----------
    filename : str or path
        The entry file (``movie.h5``); chunks go in ``movie.h5.chunks/``.
    mode : {'a', 'r', 'w'}, optional
        'a' (default) creates or appends, 'w' starts empty, 'r' reads. One
        process at a time may write; readers see the frames whose ``put``
        had returned when they opened the store.
    t_column : str, optional
        Frame-number column. Default 'frame'.
    chunk_size : int, optional
        Frames per chunk file for a new store. Default 1000.

    Raises
    ------
    StoreLockedError
        Opening for writing while another process writes the store.
    StoreError
        The file exists and is not a chunked store.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), 'long.h5')
    >>> with PandasHDFStoreChunked(path, chunk_size=2) as s:
    ...     for t in range(5):
    ...         s.put(pd.DataFrame({'frame': [t], 'y': [1.0 * t], 'x': [0.0]}))
    ...     print(s.frames, s.get(3)['y'].tolist(), s.max_frame)
    [0, 1, 2, 3, 4] [3.0] 4
    """

    def __init__(self, filename, mode="a", t_column="frame", chunk_size=1000):
        if mode not in ("a", "r", "w", "r+"):
            raise ValueError(f"mode must be 'a', 'r', 'r+' or 'w', got {mode!r}.")
        self.filename = os.fspath(filename)
        self.mode = "a" if mode == "r+" else mode
        self._t_column = t_column
        self.directory = self.filename + ".chunks"
        self._chunks: dict[int, _Chunk] = {}
        self._handles: OrderedDict[int, object] = OrderedDict()
        self._lock_handle = None
        self._active: list[int] = []  # chunks with open journals, most recent last
        self._closed = False
        if self.mode == "r":
            if not os.path.exists(self.filename):
                raise FileNotFoundError(f"no store at {self.filename!r}")
        else:
            self._lock()
        try:
            if self.mode == "w" or not os.path.exists(self.filename):
                self._create(chunk_size)
            self.chunk_size = self._read_layout()
            for attempt in range(5):
                try:
                    self._load()
                    break
                except FileNotFoundError:
                    # a writer sealed a chunk between our listing and our
                    # reading its journal: list again (its json is newer now)
                    self._close_readers()
                    self._chunks = {}
                    if attempt == 4:
                        raise
        except BaseException:
            self._unlock()
            raise

    # -- opening -------------------------------------------------------------
    def _lock(self):
        os.makedirs(self.directory, exist_ok=True)
        handle = open(os.path.join(self.directory, "lock"), "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            handle.close()
            raise StoreLockedError(
                f"{self.filename!r} is being written by another writer (pid {owner}); "
                "open it with mode='r' to read the frames finished so far.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle

    def _unlock(self):
        if self._lock_handle is not None:
            self._lock_handle.close()  # closing releases the flock
            self._lock_handle = None

    def _create(self, chunk_size):
        import tables

        if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
        if os.path.exists(self.filename) and self.mode != "w":
            raise StoreError(f"{self.filename!r} exists and is not a chunked store.")
        for name in os.listdir(self.directory):
            if name != "lock":
                os.remove(os.path.join(self.directory, name))
        tmp = self.filename + ".tmp"
        with tables.open_file(tmp, "w") as handle:
            handle.root._v_attrs[LAYOUT_ATTR] = json.dumps(
                {"format": 1, "chunk_size": int(chunk_size), "t_column": self._t_column,
                 "directory": os.path.basename(self.directory)})
        os.replace(tmp, self.filename)

    def _read_layout(self):
        import tables

        try:
            with tables.open_file(self.filename, "r") as handle:
                text = handle.root._v_attrs[LAYOUT_ATTR]
        except Exception as exc:  # noqa: BLE001 - not HDF5, or no such attribute
            raise StoreError(f"{self.filename!r} is not a chunked store "
                             f"(PandasHDFStoreChunked): {exc}") from exc
        return int(json.loads(text)["chunk_size"])

    def _load(self):
        self._wal_readers = {}
        names = sorted(os.listdir(self.directory)) if os.path.isdir(self.directory) else []
        for name in names:
            path = os.path.join(self.directory, name)
            if name.endswith(".tmp"):  # a seal or a metadata write cut short
                if self.mode != "r":
                    os.remove(path)
                continue
            if not name.startswith("c") or "." not in name:
                continue
            stem, ext = name.split(".", 1)
            if not stem[1:].lstrip("-").isdigit():
                continue
            chunk = self._chunk(int(stem[1:]))
            if ext == "json":
                with open(path) as handle:
                    index = json.load(handle)
                chunk.sealed.update(index["frames"])
                chunk.processed.update(index["processed"])
            elif ext == "wal":
                # open now and keep open: if a writer seals the chunk and
                # deletes the journal, this descriptor still reads it
                self._wal_readers[int(stem[1:])] = open(path, "rb")
                records, end = _journal.replay(path)
                chunk.wal_end = end
                for offset, kind, payload in records:
                    if kind == _journal.FRAME:
                        frame_no = int(np.frombuffer(payload[:8], "<i8")[0])
                        chunk.journal[frame_no] = (offset + 8, len(payload) - 8)
                    elif kind == _journal.PROCESSED:
                        chunk.processed.add(int(np.frombuffer(payload, "<i8")[0]))
        self._frames = sorted({f for c in self._chunks.values()
                               for f in (*c.sealed, *c.journal)})
        self._frame_set = set(self._frames)

    def _chunk(self, k):
        chunk = self._chunks.get(k)
        if chunk is None:
            chunk = self._chunks[k] = _Chunk()
        return chunk

    def _path(self, k, ext):
        return os.path.join(self.directory, f"c{k:06d}.{ext}")

    # -- FramewiseData -------------------------------------------------------
    @property
    def t_column(self):
        return self._t_column

    @property
    def frames(self):
        return list(self._frames)

    def __len__(self):
        return len(self._frames)

    @property
    def max_frame(self):
        return self._frames[-1] if self._frames else None

    def _writable(self):
        if self._closed:
            raise StoreError(f"the store {self.filename!r} is closed.")
        if self.mode == "r":
            raise StoreError(f"{self.filename!r} was opened read-only (mode='r'); open it "
                             "with mode='a' to write.")

    def _journal_for(self, k):
        chunk = self._chunk(k)
        if chunk.writer is None:
            if k not in self._active and len(self._active) >= 2:
                self._seal(self._active[0])  # the writer has moved on from it
            chunk.writer = _journal.Journal(self._path(k, "wal"), chunk.wal_end)
        if k in self._active:
            self._active.remove(k)
        self._active.append(k)
        return chunk.writer

    def put(self, df):
        """Journal one frame (replacing it if present); return once it is safe.

        Raises
        ------
        TypeError, ValueError
            Not a DataFrame; no frame column; several frames in one.
        StoreError
            The store is read-only or closed.
        """
        self._writable()
        if not self._validate(df):
            return
        frame_no = int(df[self.t_column].iloc[0])
        k = frame_no // self.chunk_size
        journal = self._journal_for(k)
        payload = np.int64(frame_no).tobytes() + _journal.encode_frame(df)
        offset = journal.append(_journal.FRAME, payload)
        chunk = self._chunks[k]
        chunk.journal[frame_no] = (offset + 8, len(payload) - 8)
        chunk.wal_end = journal.size()
        if frame_no not in self._frame_set:
            self._frame_set.add(frame_no)
            if not self._frames or frame_no > self._frames[-1]:
                self._frames.append(frame_no)
            else:
                self._frames = sorted(self._frame_set)

    def get(self, frame_no):
        """The features of frame ``frame_no``.

        Raises
        ------
        KeyError
            The frame is not in the store (the message names it).
        """
        frame_no = int(frame_no)
        k = frame_no // self.chunk_size
        chunk = self._chunks.get(k)
        if chunk is None or frame_no not in self._frame_set:
            raise KeyError(f"frame {frame_no} is not in {self.filename!r}")
        if frame_no in chunk.journal:
            offset, length = chunk.journal[frame_no]
            return _journal.decode_frame(self._read_wal(k, offset, length))
        return self._read_sealed(k, frame_no)

    def _read_wal(self, k, offset, length):
        handle = self._wal_readers.get(k)
        if handle is None:
            # kept open: a seal by another process may delete the file, and
            # an open descriptor still reads what this process was shown
            handle = self._wal_readers[k] = open(self._path(k, "wal"), "rb")
        return os.pread(handle.fileno(), length, offset)

    def _handle(self, k):
        import tables

        handle = self._handles.pop(k, None)
        if handle is None:
            handle = tables.open_file(self._path(k, "h5"), "r")
            while len(self._handles) >= 4:
                old, old_handle = self._handles.popitem(last=False)
                old_handle.close()
                # its row index goes with it: memory stays bounded however
                # many chunks a long read visits
                self._chunks[old].rows = None
        self._handles[k] = handle
        return handle

    def _index(self, k):
        """The sealed chunk's row ranges and column signatures (its json)."""
        chunk = self._chunks[k]
        if chunk.rows is None:
            # from the chunk file itself, not c<k>.json: a writer may replace
            # the file between the two reads, and the file's own index always
            # matches the handle this process reads rows from
            index = json.loads(self._handle(k).root._v_attrs[INDEX_ATTR])
            chunk.rows = {f: (a, n, sig) for f, a, n, sig in
                          zip(index["frames"], index["starts"], index["counts"],
                              index["signature_of_frame"])}
            chunk.signatures = index["signatures"]
        return chunk

    def _read_sealed(self, k, frame_no):
        chunk = self._index(k)
        start, count, sig = chunk.rows[frame_no]
        table = self._handle(k).root[CHUNK_KEY].table
        frame = read_table_rows(table, start, start + count)
        if frame is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame = pd.read_hdf(self._path(k, "h5"), CHUNK_KEY, start=start,
                                    stop=start + count)
        if len(chunk.signatures) > 1:  # a chunk of mixed frames: this one's columns
            columns = chunk.signatures[sig]
            frame = frame[[c for c, _ in columns]].astype(dict(columns))
        return frame

    # -- sealing ---------------------------------------------------------------
    def _seal(self, k):
        """Rewrite chunk ``k`` with its journaled frames, then drop the journal.

        The chunk file is one trackpy ``FrameData`` table (SingleNode layout,
        ``frame`` a data column), written in a single append: a thousand
        frames cost one HDF5 write instead of a thousand node creations.
        """
        chunk = self._chunks[k]
        if chunk.writer is not None:
            chunk.writer.close()
            chunk.writer = None
        if k in self._active:
            self._active.remove(k)
        if not chunk.journal and not os.path.exists(self._path(k, "wal")):
            return
        frames = {}
        for frame_no in sorted(chunk.sealed - set(chunk.journal)):
            frames[frame_no] = self._read_sealed(k, frame_no)
        for frame_no, (offset, length) in chunk.journal.items():
            frames[frame_no] = _journal.decode_frame(self._read_wal(k, offset, length))
        order = sorted(frames)
        if not order:  # only processed marks (frames without features)
            index = {"frames": [], "processed": sorted(chunk.processed)}
            _atomic_write(self._path(k, "json"), json.dumps(index).encode())
            self._drop_journal(k)
            return
        signatures, signature_of_frame = [], []
        for frame_no in order:
            sig = [[str(c), str(t)] for c, t in frames[frame_no].dtypes.items()]
            if sig not in signatures:
                signatures.append(sig)
            signature_of_frame.append(signatures.index(sig))
        table = pd.concat([frames[f] for f in order])
        if len(signatures) > 1:  # a column missing in some frames: NaN there
            table = table.astype({c: "float64" for c in table.columns
                                  if table[c].isna().any() and table[c].dtype.kind in "biu"})
        counts = [len(frames[f]) for f in order]
        index = {"frames": order, "starts": np.cumsum([0] + counts[:-1]).tolist(),
                 "counts": counts, "signatures": signatures,
                 "signature_of_frame": signature_of_frame,
                 "processed": sorted(chunk.processed)}
        tmp = self._path(k, "h5.tmp")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' performance chatter
            with pd.HDFStore(tmp, "w") as out:
                out.append(CHUNK_KEY, table, format="table", data_columns=[self.t_column],
                           index=False)
                out._handle.root._v_attrs[INDEX_ATTR] = json.dumps(index)
        handle = self._handles.pop(k, None)
        if handle is not None:
            handle.close()
        os.replace(tmp, self._path(k, "h5"))
        _atomic_write(self._path(k, "json"), json.dumps(index).encode())
        self._drop_journal(k)
        chunk.sealed, chunk.rows = set(order), None

    def _drop_journal(self, k):
        reader = self._wal_readers.pop(k, None)
        if reader is not None:
            reader.close()
        if os.path.exists(self._path(k, "wal")):
            os.remove(self._path(k, "wal"))
        chunk = self._chunks[k]
        chunk.journal, chunk.wal_end = {}, 0

    def flush(self):
        """Seal every chunk with a journal (``close`` does it too)."""
        self._writable()
        for k in sorted(k for k, c in self._chunks.items()
                        if c.journal or c.writer is not None
                        or os.path.exists(self._path(k, "wal"))):
            self._seal(k)

    # -- processed frames, metadata, checkpoints -----------------------------------
    def mark_processed(self, frame_no):
        """Record that ``frame_no`` was processed (also when it had no features)."""
        self._writable()
        frame_no = int(frame_no)
        k = frame_no // self.chunk_size
        self._journal_for(k).append(_journal.PROCESSED, np.int64(frame_no).tobytes())
        self._chunks[k].wal_end = self._chunks[k].writer.size()
        self._chunks[k].processed.add(frame_no)

    @property
    def processed_frames(self):
        """Sorted frame numbers :meth:`mark_processed` recorded."""
        return sorted(f for c in self._chunks.values() for f in c.processed)

    @property
    def metadata(self):
        try:
            with open(os.path.join(self.directory, "meta.json")) as handle:
                return json.load(handle)
        except FileNotFoundError:
            return {}

    def save_metadata(self, name, record):
        """Save a JSON-serialisable ``record`` under ``name`` (atomically)."""
        self._writable()
        from .hdf import _json_default

        meta = self.metadata
        meta[str(name)] = json.loads(json.dumps(record, default=_json_default))
        _atomic_write(os.path.join(self.directory, "meta.json"), json.dumps(meta).encode())

    def save_checkpoint(self, name, frame_no, arrays):
        """Journal a checkpoint: the state after ``frame_no`` as named arrays."""
        self._writable()
        path = os.path.join(self.directory, "checkpoints.wal")
        if getattr(self, "_checkpoints", None) is None:
            _, end = _journal.replay(path)
            self._checkpoints = _journal.Journal(path, end)
        payload = _journal.encode_checkpoint(name, frame_no, arrays)
        if self._checkpoints.size() > 64 * 2**20:  # keep only the newest: compact
            self._checkpoints.close()
            tmp = path + ".tmp"
            if os.path.exists(tmp):
                os.remove(tmp)
            fresh = _journal.Journal(tmp, 0)
            fresh.append(_journal.CHECKPOINT, payload)
            fresh.close()
            os.replace(tmp, path)
            self._checkpoints = _journal.Journal(path, os.path.getsize(path))
        else:
            self._checkpoints.append(_journal.CHECKPOINT, payload)

    def load_checkpoint(self, name):
        """``(frame_no, arrays)`` of the newest checkpoint called ``name``, or None."""
        records, _ = _journal.replay(os.path.join(self.directory, "checkpoints.wal"))
        for _, kind, payload in reversed(records):
            found = _journal.decode_checkpoint(payload)
            if kind == _journal.CHECKPOINT and found[0] == name:
                return found[1], found[2]
        return None

    def _close_readers(self):
        for handle in getattr(self, "_wal_readers", {}).values():
            handle.close()
        self._wal_readers = {}

    def close(self):
        """Seal the journals (when writing), close every file, release the lock."""
        if self._closed:
            return
        try:
            if self.mode != "r":
                self.flush()
        finally:
            self._closed = True
            for handle in self._handles.values():
                handle.close()
            self._close_readers()
            if getattr(self, "_checkpoints", None) is not None:
                self._checkpoints.close()
            self._unlock()

    def __repr__(self):
        return f"<PandasHDFStoreChunked {self.filename!r}, {len(self)} frames>"

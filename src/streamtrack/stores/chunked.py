"""``PandasHDFStoreChunked``: the store for long movies; nothing lost on a crash.

trackpy's layouts keep every frame in one HDF5 file. Past ~16,000 nodes in a
group HDF5 slows down, a process killed while HDF5 writes can leave the whole
file unreadable, and nothing records which frames were processed. This store
splits the movie into chunk files and writes through a journal:

``movie.h5``
    A small HDF5 file naming the layout (root attribute
    ``streamtrack_chunked``); written once, at creation. A copy of its record
    sits in ``movie.h5.chunks/layout.json``: a lost ``movie.h5`` is rebuilt.
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
``movie.h5.chunks/*.damaged``, ``damage.json``
    Damaged files kept as they were found, and what each one cost.

When the writer moves on, a finished chunk is *sealed*: a complete new
``c<k>.h5`` is written under a temporary name and moved over the old one,
then its journal is deleted. Chunk files are therefore never modified in
place, and every step of a seal leaves a state the next open reads correctly
(the journal, when present, wins over the chunk file); a new chunk file is
read back and its checksum checked before the journal goes, because HDF5
does not report every failed write (a file-size limit). Opening for writing
cuts off a torn last record and removes temporary files: that is the crash
repair.

Damage (flipped bytes, truncated or missing files) is never repaired
silently and never deleted (:mod:`._damage`): a journal is read past a
damaged record, kept as ``c<k>.wal.damaged`` before a writer rewrites it,
and what was lost is named in a :class:`StoreDamageWarning` at every open
until the kept file is moved out of the folder; a sealed chunk carries a
checksum, checked the first time a process reads it (a mismatch is a
``StoreError`` naming the chunk); a damaged ``c<k>.json`` is rebuilt from its
chunk file and a missing ``movie.h5`` from ``layout.json`` and the chunks
(:class:`StoreRepairWarning`).

Every operation costs the same at frame 100,000 as at frame 100: frames live
in memory-resident per-chunk indexes, ``get`` opens one chunk of at most
``chunk_size`` nodes, ``put`` appends to one journal.
"""
from __future__ import annotations

import json
import os
import warnings
from collections import OrderedDict

import numpy as np
import pandas as pd

from ..exceptions import StoreDamageWarning, StoreError, StoreRepairWarning  # noqa: F401
from . import _damage, _journal, _tables
from ._chunk_columns import _Columns
from ._chunk_open import _check_chunk_size, _Opening, file_identity
from ._chunk_records import _ChunkRecords
from ._chunk_seal import _Sealing
from ._fastread import read_table_rows
from ._layouts import CHUNK_KEY, INDEX_ATTR
from ._layouts import CHUNKED_ATTR as LAYOUT_ATTR  # noqa: F401 - the layout's name, for readers


class _Chunk:
    """What is known about one chunk: sealed frames, journaled frames, processed."""

    __slots__ = ("sealed", "processed", "journal", "wal_end", "writer", "rows", "signatures",
                 "damaged", "kinds")

    def __init__(self):
        self.sealed = set()      # frames in c<k>.h5
        self.processed = set()   # frames batch marked as done (empty ones too)
        self.journal = {}        # frame -> (offset, length) in c<k>.wal
        self.wal_end = 0
        self.writer = None       # an open _journal.Journal
        self.rows = None         # frame -> (first row, rows, signature), read lazily
        self.signatures = None
        self.damaged = None      # why c<k>.h5 must not be rewritten (its frames unknown)
        self.kinds = None        # frames' column kinds (_chunk_columns), while written


class PandasHDFStoreChunked(_Opening, _Columns, _Sealing, _ChunkRecords):
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

    Attributes
    ----------
    damage : list of str
        What the open found lost or unreadable (also warned).
    repairs : list of str
        Damage found and repaired with nothing lost (also warned).

    Raises
    ------
    StoreLockedError
        Opening for writing while another process writes the store.
    StoreError
        The file exists and is not a chunked store, or cannot be read.

    Warns
    -----
    StoreDamageWarning
        Frames, marks or chunk files were lost or cannot be read; the
        message names the files, the frames and what to do.
    StoreRepairWarning
        Damage was repaired with nothing lost (a damaged chunk index, a
        damaged journal header, a missing ``movie.h5``).

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
        self._verified = {}  # (inode, size, mtime) of a chunk file -> carries a checksum
        self.damage, self.repairs = [], []
        entry = os.path.exists(self.filename)
        # everything that can refuse the open is checked before the lock is
        # taken: a refused open leaves no chunks folder or lock file behind
        layout, seen = None, file_identity(self.filename)
        if entry and self.mode != "w":
            layout = self._read_layout()  # not a chunked store at all: that error first
            if not os.path.isdir(self.directory):
                raise StoreError(f"{self.filename!r} is a chunked store but its folder "
                                 f"{self.directory}/, which holds every frame, is missing: "
                                 "copy it next to the file (or open with mode='w' to start "
                                 "an empty store).")
        elif self.mode == "r":
            if not _damage.holds_store(self.directory):
                raise FileNotFoundError(f"no store at {self.filename!r}")
        elif self.mode == "w" or not _damage.holds_store(self.directory):
            _check_chunk_size(chunk_size)  # a new store: before its folder is made
        if self.mode != "r":
            self._lock()
        try:
            if self.mode == "w" or (not entry and not _damage.holds_store(self.directory)):
                self._create(chunk_size)
                self.chunk_size = self._read_layout()
            elif not entry:  # movie.h5 lost, movie.h5.chunks/ kept: the data is there
                self.chunk_size = self._rebuild_entry(chunk_size)
            else:
                # read before the lock; again only if a writer with mode='w'
                # replaced the entry file meanwhile
                self.chunk_size = layout if file_identity(self.filename) == seen \
                    else self._read_layout()
            opened = (list(self.damage), list(self.repairs))
            for attempt in range(5):
                try:
                    self.damage, self.repairs = list(opened[0]), list(opened[1])
                    self._load()
                    break
                except FileNotFoundError:
                    # a writer sealed a chunk between our listing and our
                    # reading its journal: list again (its json is newer now)
                    self._close_readers()
                    self._chunks = {}
                    if attempt == 4:
                        raise
            if self.repairs:
                warnings.warn(" ".join(self.repairs), StoreRepairWarning, stacklevel=2)
            if self.damage:
                warnings.warn(" ".join(self.damage), StoreDamageWarning, stacklevel=2)
        except BaseException:
            for handle in self._handles.values():
                handle.close()
            self._close_readers()
            self._unlock()
            raise

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
                old = self._active[0]  # the writer has moved on from it
                try:
                    self._seal(old)
                except StoreError:
                    pass  # a damaged chunk: its journal keeps every frame; close() says why
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
            Not a DataFrame; no frame column; several or fractional frame
            numbers; a column the store cannot hold (the message names it).
        StoreError
            The store is read-only or closed.
        """
        self._writable()
        if not self._validate(df):
            return
        frame_no = int(df[self.t_column].iloc[0])
        k = frame_no // self.chunk_size
        self._check_kinds(k, frame_no, df)
        payload = np.int64(frame_no).tobytes() + _journal.encode_frame(df)  # before writing
        journal = self._journal_for(k)
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
        StoreError
            Its chunk file is damaged (checksum mismatch) or unreadable.
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

    def read_frames(self, frame_numbers):
        """The rows of several frames as one DataFrame: sealed frames that lie
        next to each other in a chunk file with the same columns are read in
        one call (a frame at a time costs ~0.2 ms of DataFrame building)."""
        parts = []
        run = []                       # (start, count) of sealed frames read together

        def flush(k):
            if run:
                table = self._chunk_file(k).root[CHUNK_KEY].table
                rows = read_table_rows(table, run[0][0], run[-1][0] + run[-1][1])
                if rows is None:
                    parts.extend(self._read_sealed(k, f) for f in run_frames)
                else:
                    parts.append(rows)
                run.clear()
                run_frames.clear()

        run_frames = []
        current = None
        for frame_no in frame_numbers:
            frame_no = int(frame_no)
            k = frame_no // self.chunk_size
            chunk = self._chunks.get(k)
            if k != current:
                flush(current)
                current = k
            if chunk is None or frame_no not in self._frame_set:
                raise KeyError(f"frame {frame_no} is not in {self.filename!r}")
            if frame_no in chunk.journal or len(self._index(k).signatures) > 1:
                flush(k)
                parts.append(self.get(frame_no))
                continue
            start, count, _sig = chunk.rows[frame_no]
            if run and run[-1][0] + run[-1][1] != start:
                flush(k)
            run.append((start, count))
            run_frames.append(frame_no)
        flush(current)
        parts = [p for p in parts if len(p)]
        return pd.concat(parts, ignore_index=True) if parts else None

    def _read_wal(self, k, offset, length):
        handle = self._wal_readers.get(k)
        if handle is None:
            # kept open: a seal by another process may delete the file, and
            # an open descriptor still reads what this process was shown
            handle = self._wal_readers[k] = open(self._path(k, "wal"), "rb")
        return os.pread(handle.fileno(), length, offset)

    def _frames_note(self, k):
        frames = self._chunks[k].sealed if k in self._chunks else ()
        return f" (frames {_damage.frame_ranges(frames)})" if frames else ""

    def _chunk_file(self, k):
        handle = self._handles.pop(k, None)
        if handle is None:
            path = self._path(k, "h5")
            try:
                handle = _tables.open_file(path, "r")
            except Exception as exc:  # noqa: BLE001 - truncated, damaged, missing
                raise StoreError(_damage.unreadable_chunk(path, self._frames_note(k), exc)) \
                    from None
            try:
                self._verify(k, handle)
            except BaseException:
                handle.close()
                raise
            while len(self._handles) >= 4:
                old, old_handle = self._handles.popitem(last=False)
                old_handle.close()
                # its row index goes with it: memory stays bounded however
                # many chunks a long read visits
                self._chunks[old].rows = None
        self._handles[k] = handle
        return handle

    def _verify(self, k, handle=None, force=False):
        """Check chunk ``k``'s checksum, once per file and process (``force``: again).

        Returns False when the chunk carries no checksum (sealed by an older
        version). Raises StoreError, naming the chunk, on a mismatch.
        """
        path = self._path(k, "h5")
        before = file_identity(path)
        if not force and before is not None and before in self._verified:
            return self._verified[before]
        if handle is None:
            try:
                with _tables.open_file(path, "r") as fresh:
                    return self._verify(k, fresh, force=True)
            except StoreError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise StoreError(_damage.unreadable_chunk(path, self._frames_note(k), exc)) \
                    from None
        found = _damage.verify_chunk(handle, path, self._frames_note(k))
        if before is not None and before == file_identity(path):  # not replaced meanwhile
            self._verified[before] = found
        return found

    def _index(self, k):
        """The sealed chunk's row ranges and column signatures (its json)."""
        chunk = self._chunks[k]
        if chunk.rows is None:
            # from the chunk file itself, not c<k>.json: a writer may replace
            # the file between the two reads, and the file's own index always
            # matches the handle this process reads rows from
            index = json.loads(self._chunk_file(k).root._v_attrs[INDEX_ATTR])
            chunk.rows = {f: (a, n, sig) for f, a, n, sig in
                          zip(index["frames"], index["starts"], index["counts"],
                              index["signature_of_frame"])}
            chunk.signatures = index["signatures"]
        return chunk

    def _read_sealed(self, k, frame_no):
        chunk = self._index(k)
        start, count, sig = chunk.rows[frame_no]
        table = self._chunk_file(k).root[CHUNK_KEY].table
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

    def flush(self):
        """Seal every chunk with a journal (``close`` does it too).

        Raises
        ------
        StoreError
            A chunk could not be sealed because its file is damaged; every
            other chunk is sealed, and its journal keeps what was put.
        """
        self._writable()
        errors = []
        for k in sorted(k for k, c in self._chunks.items()
                        if c.journal or c.writer is not None
                        or os.path.exists(self._path(k, "wal"))):
            try:
                self._seal(k)
            except StoreError as exc:
                errors.append((k, str(exc)))
        if errors:
            others = [k for k, _ in errors[1:]]
            raise StoreError(errors[0][1] + (f" Chunks {others} could not be sealed either; "
                                             "their journals keep their frames too."
                                             if others else ""))

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
            if getattr(self, "_checkpoint_journal", None) is not None:
                self._checkpoint_journal.close()
            self._unlock()

    def __repr__(self):
        return f"<PandasHDFStoreChunked {self.filename!r}, {len(self)} frames>"

"""Opening a chunked store: the layout, the chunk listing, and the repairs on the way.

A mixin of :class:`.chunked.PandasHDFStoreChunked`. Opening reads the entry
file's layout record (rebuilding a lost entry file from ``layout.json`` and
the chunks), lists the chunk indexes and journals, cuts off a torn journal
tail (the crash repair), and turns damage into recovered records and
reports (:mod:`._damage`): nothing is deleted, nothing passes silently.
"""
from __future__ import annotations

import fcntl
import json
import os

import numpy as np

from ..exceptions import StoreError, StoreLockedError
from . import _damage, _journal, _tables
from ._layouts import CHUNKED_ATTR, CLASSES, INDEX_ATTR, LAYOUT_FILE
from ._probe import is_hdf5, store_layout
from .errors import short_reason

_CHUNK_KINDS = (_journal.FRAME, _journal.PROCESSED)


def _atomic_write(path, data: bytes):
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def file_identity(path):
    """``(inode, size, mtime)`` of ``path``, or None: whether a file was replaced."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _check_chunk_size(chunk_size):
    """Refuse a chunk size a new store cannot have (ValueError naming it)."""
    if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")


class _Opening:
    """Opening, locking, creating and loading (mixed into the store class)."""

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
        _check_chunk_size(chunk_size)
        # mode='w' asks for an empty store; otherwise the folder holds nothing
        # but a lock (__init__ rebuilds the entry file of a folder with data)
        for name in os.listdir(self.directory):
            if name != "lock":
                os.remove(os.path.join(self.directory, name))
        self._write_entry(json.dumps(
            {"format": 1, "chunk_size": int(chunk_size), "t_column": self._t_column,
             "directory": os.path.basename(self.directory)}))

    def _write_entry(self, record):
        _atomic_write(os.path.join(self.directory, LAYOUT_FILE), record.encode())
        tmp = self.filename + ".tmp"
        with _tables.open_file(tmp, "w") as handle:
            handle.root._v_attrs[CHUNKED_ATTR] = record
        os.replace(tmp, self.filename)

    def _rebuild_entry(self, hint):
        """Chunk size of a store whose entry file is gone; a writer rebuilds the file."""
        record = None
        try:
            with open(os.path.join(self.directory, LAYOUT_FILE)) as handle:
                record = handle.read()
            size = int(json.loads(record)["chunk_size"])
        except (OSError, ValueError, KeyError, TypeError):
            size, record = self._infer_chunk_size(hint), None
        note = (f"{self.filename} was missing but {self.directory}/ holds its chunks "
                f"(chunk size {size})")
        if self.mode == "r":
            self.repairs.append(note + ": read from the chunks; open the store with mode='a' "
                                "to rebuild the entry file. Nothing is lost.")
        else:
            self._write_entry(record or json.dumps(
                {"format": 1, "chunk_size": size, "t_column": self._t_column,
                 "directory": os.path.basename(self.directory)}))
            self.repairs.append(note + f": {self.filename} has been rebuilt from them; nothing "
                                "is lost (to start an empty store instead, open it with "
                                "mode='w').")
        return size

    def _infer_chunk_size(self, hint):
        """The chunk size that puts every stored frame in its chunk (old stores)."""
        low, high = 1, None
        for name in os.listdir(self.directory):
            k, ext = self._parse(name)
            if k is None or k < 0:
                continue
            path = os.path.join(self.directory, name)
            frames = []
            try:
                if ext == "json":
                    with open(path) as handle:
                        index = json.load(handle)
                    if "chunk_size" in index:
                        return int(index["chunk_size"])
                    frames = [int(f) for f in index["frames"]]
                elif ext == "wal":
                    frames = [int(np.frombuffer(p[:8], "<i8")[0]) for _, kind, p in
                              _journal.scan(path, _CHUNK_KINDS).records]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            for f in (f for f in frames if f >= 0):
                low = max(low, f // (k + 1) + 1)  # k*size <= f < (k+1)*size
                if k > 0:
                    high = f // k if high is None else min(high, f // k)
        if isinstance(hint, (int, np.integer)) and low <= hint and (high is None or hint <= high):
            return int(hint)
        if high is not None and low == high:
            return low
        fits = f"from {low} to {high}" if high is not None else f"of {low} or more"
        raise StoreError(f"{self.filename!r} is missing and the chunk size of {self.directory}/ "
                         f"cannot be told from its chunks (any size {fits} fits): pass the "
                         "chunk_size the store was written with, e.g. "
                         "PandasHDFStoreChunked(path, chunk_size=1000), to rebuild it.")

    def _read_layout(self):
        path = self.filename
        rebuild = (f" Its folder {self.directory}/ holds a chunked store: move {path} aside "
                   "and open the store again with mode='a' to rebuild it from the chunks."
                   if _damage.holds_store(self.directory) else "")
        try:
            hdf5 = is_hdf5(path)
        except OSError:  # unreadable: not HDF5 for our purpose
            hdf5 = False
        if not hdf5:
            raise StoreError(f"{path!r} is not a chunked store (PandasHDFStoreChunked): not an "
                             f"HDF5 file ({os.path.getsize(path)} bytes: a text file, an empty "
                             "file or one cut short)." + rebuild)
        try:
            with _tables.open_file(path, "r") as handle:
                attrs = handle.root._v_attrs
                text = str(attrs[CHUNKED_ATTR]) if CHUNKED_ATTR in attrs._v_attrnamesuser \
                    else None
        except Exception as exc:  # noqa: BLE001 - damaged HDF5 fails in many ways
            raise StoreError(f"{path!r} is not a readable chunked store: the HDF5 file cannot "
                             f"be read (damaged or cut short: {short_reason(exc, 160)})."
                             + rebuild) from None
        if text is None:
            other = CLASSES.get(store_layout(path))
            raise StoreError(f"{path!r} is not a chunked store (PandasHDFStoreChunked): " + (
                f"it holds a {other} store; open it with streamtrack.{other} or open_store()."
                if other else "an HDF5 file without the chunked layout."))
        try:
            return int(json.loads(text)["chunk_size"])
        except (ValueError, KeyError, TypeError):
            raise StoreError(f"{path!r} is a damaged chunked store: its layout record cannot "
                             "be read." + rebuild) from None

    @staticmethod
    def _parse(name):
        """``(k, ext)`` of a chunk file name ``c<k>.<ext>``, else ``(None, None)``."""
        if not name.startswith("c") or "." not in name:
            return None, None
        stem, ext = name.split(".", 1)
        if not stem[1:].lstrip("-").isdigit():
            return None, None
        return int(stem[1:]), ext

    def _load(self):
        self._wal_readers = {}
        names = sorted(os.listdir(self.directory)) if os.path.isdir(self.directory) else []
        for name, report in _damage.read_reports(self.directory).items():
            if report.get("lost", True):  # damage found earlier, not yet dealt with
                self.damage.append("Found earlier: " + report.get("message", "")
                                   + _damage.acknowledge(self.directory, name))
        indexes, files, journals = [], set(), []
        for name in names:
            path = os.path.join(self.directory, name)
            if name.endswith((".tmp", ".part")):  # a seal, a write or a copy cut short
                if self.mode != "r":
                    try:
                        os.remove(path)
                    except FileNotFoundError:
                        pass
                continue
            k, ext = self._parse(name)
            if k is None:
                continue
            self._chunk(k)
            if ext == "json":
                indexes.append((k, path))
            elif ext == "h5":
                files.add(k)
            elif ext == "wal":
                # open now and keep open: if a writer seals the chunk and
                # deletes the journal, this descriptor still reads it
                reader = self._wal_readers[k] = open(path, "rb")
                journals.append((k, path, _journal.scan(reader.read(), _CHUNK_KINDS)))
        for k, path in indexes:
            self._load_index(k, path, k in files)
        for k, path, scan in journals:
            if scan.clean:
                self._replay(k, scan.records, scan.end)
            else:
                self._recover_journal(k, path, scan)
        self._frames = sorted({f for c in self._chunks.values()
                               for f in (*c.sealed, *c.journal)})
        self._frame_set = set(self._frames)

    def _load_index(self, k, path, has_file):
        """Read ``c<k>.json``; a damaged one is rebuilt from the chunk file."""
        chunk, h5 = self._chunks[k], self._path(k, "h5")
        try:
            with open(path) as handle:
                index = json.load(handle)
            frames = [int(f) for f in index["frames"]]
            processed = [int(f) for f in index["processed"]]
        except (ValueError, KeyError, TypeError) as exc:  # truncated, or not ours
            why = short_reason(exc, 160)
            try:
                index = json.loads(self._chunk_file(k).root._v_attrs[INDEX_ATTR])
                frames, processed = index["frames"], index["processed"]
            except (StoreError, OSError, ValueError, KeyError, TypeError):
                chunk.damaged = (f"chunk index {path} is damaged ({why}) and its chunk "
                                 f"file {h5} cannot be read: the frames and 'processed' marks "
                                 f"of frames {k * self.chunk_size}-"
                                 f"{(k + 1) * self.chunk_size - 1} are unknown; restore both "
                                 "files from a backup.")
                self.damage.append(chunk.damaged)
                return
            note = f"chunk index {path} was damaged ({why})"
            if self.mode == "r":
                self.repairs.append(note + f"; read from {h5} instead, nothing lost (the next "
                                    "writer rebuilds it).")
            else:
                kept = _journal.set_aside(path)  # before anything is rewritten
                _atomic_write(path, json.dumps(index).encode())
                message = note + f"; rebuilt from {h5}, nothing lost (damaged copy: {kept})."
                _damage.add_report(self.directory, os.path.basename(kept), message, False)
                self.repairs.append(message)
        if frames and not has_file and not os.path.exists(h5):
            chunk.damaged = (f"chunk file {h5} is missing: frames "
                             f"{_damage.frame_ranges(frames)} listed in {path} cannot be "
                             "read. Restore it from a backup, or move the .json out of the "
                             "folder too to drop those frames.")
            self.damage.append(chunk.damaged)
            frames = []
        chunk.sealed.update(frames)
        chunk.processed.update(processed)

    def _replay(self, k, records, end):
        chunk = self._chunks[k]
        chunk.wal_end = end
        for offset, kind, payload in records:
            if kind == _journal.FRAME:
                frame_no = int(np.frombuffer(payload[:8], "<i8")[0])
                chunk.journal[frame_no] = (offset + 8, len(payload) - 8)
            elif kind == _journal.PROCESSED:
                chunk.processed.add(int(np.frombuffer(payload, "<i8")[0]))

    def _recover_journal(self, k, path, scan):
        """Take every readable record of a damaged journal; a writer keeps the
        damaged file as ``.damaged`` before it rewrites the journal clean."""
        chunk = self._chunks[k]
        message, lost = _damage.journal_damage(
            path, scan, k * self.chunk_size, (k + 1) * self.chunk_size - 1, chunk.sealed,
            chunk.processed)
        records, end = scan.records, scan.end
        if self.mode == "r":
            tail = (" Opened read-only, nothing changed: a writer keeps the damaged journal "
                    "as .damaged before it repairs it.")
        else:
            kept = _journal.set_aside(path)  # before anything is rewritten
            _damage.add_report(self.directory, os.path.basename(kept), message, lost)
            offsets = _journal.rewrite(path, records)
            self._wal_readers.pop(k).close()
            self._wal_readers[k] = open(path, "rb")
            records = [(at, kind, payload) for at, (_, kind, payload) in zip(offsets, records)]
            end = os.path.getsize(path)
            tail = (_damage.acknowledge(self.directory, os.path.basename(kept)) if lost
                    else f" Nothing lost; the damaged copy is kept as {kept}.")
        (self.damage if lost else self.repairs).append(message + tail)
        self._replay(k, records, end)

"""Where the chunked store keeps the records of a run: journals and ``meta.json``.

The storage methods of :class:`._records.RecordingStore` for
:class:`.chunked.PandasHDFStoreChunked` (a mixin). A frame's 'processed'
mark is a record of its chunk's journal, sealed into ``c<k>.json`` with the
chunk's frames; linker checkpoints are appended to ``checkpoints.wal`` (the
newest of a name wins; compacted past 64 MiB); metadata records are one
JSON file, replaced atomically. A damaged checkpoint journal is kept as
``.damaged`` and rewritten with every readable checkpoint.
"""
from __future__ import annotations

import json
import os
import warnings

import numpy as np

from ..exceptions import StoreError, StoreRepairWarning
from . import _damage, _journal
from ._chunk_open import _atomic_write
from ._records import RecordingStore
from .errors import short_reason


class _ChunkRecords(RecordingStore):
    """The records of a run in a chunked store (mixed into the store class)."""

    def _record_processed(self, frame_no):
        # a journal record of the frame's chunk: sealed with the chunk's frames
        k = frame_no // self.chunk_size
        self._journal_for(k).append(_journal.PROCESSED, np.int64(frame_no).tobytes())
        self._chunks[k].wal_end = self._chunks[k].writer.size()
        self._chunks[k].processed.add(frame_no)

    def _processed(self):
        return [f for c in self._chunks.values() for f in c.processed]

    def _read_metadata(self):
        path = os.path.join(self.directory, "meta.json")
        try:
            with open(path) as handle:
                return json.load(handle)
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise StoreError(f"the store's metadata records {path} are damaged "
                             f"({short_reason(exc, 160)}): move the file aside (it holds run "
                             "parameters, no features) and run again.") from None

    def _write_metadata(self, name, text):
        meta = self._read_metadata()
        meta[name] = json.loads(text)
        _atomic_write(os.path.join(self.directory, "meta.json"), json.dumps(meta).encode())

    def _checkpoint_scan(self, path):
        scan = _journal.scan(path, (_journal.CHECKPOINT,))
        if scan.clean:
            return scan, ""
        lost = sum(b - a for a, b in scan.damaged)
        return scan, (f"linker checkpoints {path} are damaged ({lost} bytes cannot be read): "
                      f"{len(scan.records)} readable checkpoint(s) kept; 'link --resume' "
                      "continues from the newest of them (features are not affected).")

    def _write_checkpoint(self, name, frame_no, payload):
        # appended to one journal of every checkpoint; the newest of a name wins
        path = os.path.join(self.directory, "checkpoints.wal")
        if getattr(self, "_checkpoint_journal", None) is None:
            scan, message = self._checkpoint_scan(path)
            end = scan.end
            if message:  # keep the damaged file, then append to a clean copy
                kept = _journal.set_aside(path)
                _damage.add_report(self.directory, os.path.basename(kept), message, False)
                _journal.rewrite(path, scan.records)
                end = os.path.getsize(path)
                warnings.warn(f"{message} The damaged file is kept as {kept}.",
                              StoreRepairWarning, stacklevel=3)
            self._checkpoint_journal = _journal.Journal(path, end)
        if self._checkpoint_journal.size() > 64 * 2**20:  # keep only the newest: compact
            self._checkpoint_journal.close()
            tmp = path + ".tmp"
            if os.path.exists(tmp):
                os.remove(tmp)
            fresh = _journal.Journal(tmp, 0)
            fresh.append(_journal.CHECKPOINT, payload)
            fresh.close()
            os.replace(tmp, path)
            self._checkpoint_journal = _journal.Journal(path, os.path.getsize(path))
        else:
            self._checkpoint_journal.append(_journal.CHECKPOINT, payload)

    def _checkpoints(self, name):
        scan, message = self._checkpoint_scan(os.path.join(self.directory, "checkpoints.wal"))
        if message:
            warnings.warn(message, StoreRepairWarning, stacklevel=3)
        for _, kind, payload in reversed(scan.records):
            if kind == _journal.CHECKPOINT:
                yield payload

"""Sealing a chunk: its journaled frames written into a new chunk file, then the journal dropped.

A mixin of :class:`.chunked.PandasHDFStoreChunked`. While the writer is in a
chunk, its frames go to the chunk's journal (one append per ``put``); when
the writer moves on, the chunk is *sealed*: a complete new ``c<k>.h5`` is
written under a temporary name, read back and its checksum checked (HDF5
does not report every failed write), moved over the old file, and only then
is the journal deleted. Every step leaves a state the next open reads
correctly, and chunk files are never modified in place.
"""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pandas as pd

from ..exceptions import StoreError
from . import _damage, _journal, _tables
from ._chunk_columns import _common_dtypes
from ._chunk_open import _atomic_write, file_identity
from ._layouts import CHUNK_KEY, CRC_ATTR, INDEX_ATTR
from .errors import short_reason


class _Sealing:
    """Sealing chunks (mixed into the store class)."""

    def _seal(self, k):
        """Rewrite chunk ``k`` with its journaled frames, then drop the journal.

        The chunk file is one trackpy ``FrameData`` table (SingleNode layout,
        ``frame`` a data column), written in a single append: a thousand
        frames cost one HDF5 write instead of a thousand node creations. Its
        row index and a checksum of index and rows go in its attributes.
        """
        chunk = self._chunks[k]
        if chunk.writer is not None:
            chunk.writer.close()
            chunk.writer = None
        if k in self._active:
            self._active.remove(k)
        if not chunk.journal and not os.path.exists(self._path(k, "wal")):
            return
        keep = f" The frames put into it since stay safe in its journal {self._path(k, 'wal')}."
        if chunk.damaged:  # sealing would replace frames it cannot read
            raise StoreError(f"chunk {k} cannot be sealed: {chunk.damaged}{keep}")
        frames = {}
        try:
            for frame_no in sorted(chunk.sealed - set(chunk.journal)):
                frames[frame_no] = self._read_sealed(k, frame_no)
        except StoreError as exc:
            raise StoreError(f"chunk {k} cannot be sealed: {exc}{keep}") from None
        for frame_no, (offset, length) in chunk.journal.items():
            frames[frame_no] = _journal.decode_frame(self._read_wal(k, offset, length))
        order = sorted(frames)
        if not order:  # only processed marks (frames without features)
            index = {"frames": [], "processed": sorted(chunk.processed),
                     "chunk_size": self.chunk_size}
            _atomic_write(self._path(k, "json"), json.dumps(index).encode())
            self._drop_journal(k)
            return
        signatures, signature_of_frame = [], []
        for frame_no in order:
            sig = [[str(c), str(t)] for c, t in frames[frame_no].dtypes.items()]
            if sig not in signatures:
                signatures.append(sig)
            signature_of_frame.append(signatures.index(sig))
        if len(signatures) > 1:  # frames differ: one type per column, restored on reading
            common = _common_dtypes([frames[f] for f in order])
            table = pd.concat([frames[f].astype({c: t for c, t in common.items()
                                                 if c in frames[f].columns}) for f in order])
        else:
            table = pd.concat([frames[f] for f in order])
        counts = [len(frames[f]) for f in order]
        index = {"frames": order, "starts": np.cumsum([0] + counts[:-1]).tolist(),
                 "counts": counts, "signatures": signatures,
                 "signature_of_frame": signature_of_frame,
                 "processed": sorted(chunk.processed), "chunk_size": self.chunk_size}
        text = json.dumps(index)
        tmp = self._path(k, "h5.tmp")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pandas' performance chatter
                with pd.HDFStore(tmp, "w") as out:
                    out.append(CHUNK_KEY, table, format="table", data_columns=[self.t_column],
                               index=False)
                    root = out.root
                    root[CHUNK_KEY].table.flush()
                    root._v_attrs[INDEX_ATTR] = text
                    root._v_attrs[CRC_ATTR] = _damage.chunk_checksum(
                        root[CHUNK_KEY].table, text)
            self._check_written(k, tmp)
        except BaseException as exc:
            if os.path.exists(tmp):  # ours, half written: the journal still holds it all
                os.remove(tmp)
            if isinstance(exc, (OSError, RuntimeError)) and not isinstance(exc, StoreError):
                # a full disk or a size limit reaches us as HDF5's own error stack
                raise StoreError(
                    f"chunk {k} could not be written to {tmp!r} ({short_reason(exc, 120)}): a "
                    f"full disk or a file-size limit? Nothing was lost: the frames stay in "
                    f"the journal {self._path(k, 'wal')}, sealed when the store is next "
                    "closed with room to write.") from None
            raise
        handle = self._handles.pop(k, None)
        if handle is not None:
            handle.close()
        self._verified[file_identity(tmp)] = True  # a rename keeps inode, size and mtime
        os.replace(tmp, self._path(k, "h5"))
        _atomic_write(self._path(k, "json"), text.encode())
        self._drop_journal(k)
        chunk.sealed, chunk.rows = set(order), None

    def _check_written(self, k, tmp):
        """Read a new chunk file back before its journal may go.

        HDF5 does not always report a failed write: under a file-size limit it
        closes a truncated file without an error. The checksum catches that.
        """
        try:
            with _tables.open_file(tmp, "r") as handle:
                _damage.verify_chunk(handle, tmp)
        except Exception as exc:  # noqa: BLE001 - StoreError or HDF5's own
            raise StoreError(
                f"chunk {k} could not be written: {tmp} reads back damaged "
                f"({short_reason(exc, 100)}): a full disk or a file-size limit? Nothing was lost: "
                f"the frames stay in the journal {self._path(k, 'wal')}, sealed when the store "
                "is next closed with room to write.") from None

    def _drop_journal(self, k):
        reader = self._wal_readers.pop(k, None)
        if reader is not None:
            reader.close()
        if os.path.exists(self._path(k, "wal")):
            os.remove(self._path(k, "wal"))
        chunk = self._chunks[k]
        # the column record is kept for the chunks being written only: memory
        # stays flat however many chunks a long run seals
        chunk.journal, chunk.wal_end, chunk.kinds = {}, 0, None

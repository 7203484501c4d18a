"""The columns of a chunked store's frames: one type per column in a chunk file.

A mixin of :class:`.chunked.PandasHDFStoreChunked`. A chunk file is one
table, so a column must hold numbers in every frame of a chunk or strings in
every frame: :meth:`_Columns._check_kinds` refuses a ``put`` that would mix
them (before anything is written), and :func:`_common_dtypes` gives frames
that differ in columns or numeric types one table type, each frame getting
its own back on reading.
"""
from __future__ import annotations

import json

import numpy as np

from ..exceptions import StoreError
from . import _journal
from ._layouts import INDEX_ATTR
from .base import column_dtypes


def _common_dtypes(frames):
    """One dtype per column for a chunk whose frames differ in columns or types.

    A column of numbers missing in some frames, or of several numeric types,
    becomes float64 (complex128 if any frame's is complex): NaN where it is
    missing, and each frame gets its own type back on reading (its
    signature). Strings stay objects.
    """
    seen = {}
    for df in frames:
        for column, dtype in df.dtypes.items():
            seen.setdefault(column, []).append(dtype)
    common = {}
    for column, dtypes in seen.items():
        if not all(isinstance(t, np.dtype) and t.kind in "biufc" for t in dtypes):
            common[column] = object
        elif len(dtypes) < len(frames) or len(set(dtypes)) > 1:
            common[column] = "complex128" if any(t.kind == "c" for t in dtypes) else "float64"
    return common


def _is_number(dtype) -> bool:
    try:
        return np.dtype(dtype).kind in "biufc"
    except TypeError:  # pandas' own dtypes ('str', ...): strings
        return False


def _count(kinds, frame_no, sig):
    of, count = kinds
    old = of.get(frame_no)
    if old is not None:
        count[old] -= 1
    of[frame_no] = sig
    count[sig] = count.get(sig, 0) + 1


class _Columns:
    """Column bookkeeping (mixed into the store class)."""

    def _check_kinds(self, k, frame_no, df):
        """Refuse a column holding strings where other frames of the chunk hold
        numbers (or the reverse): a chunk file is one table, one type per column.

        Each frame's *kind signature* (its columns, each a number or not) is
        counted per chunk; frames are compared only when a put brings a
        signature the chunk does not hold yet, so a put costs a few µs.
        """
        chunk = self._chunk(k)
        if chunk.kinds is None:
            chunk.kinds = ({}, {})  # frame -> signature, signature -> frames holding it
            try:
                columns = self._sealed_columns(k, dtypes=True) if chunk.sealed else {}
            except StoreError:  # a damaged chunk file: sealing it is refused anyway
                columns = {}
            for f, (offset, _length) in chunk.journal.items():
                size = int(np.frombuffer(self._read_wal(k, offset, 4), "<u4")[0])
                columns[f] = _journal.frame_columns(self._read_wal(k, offset, 4 + size),
                                                    dtypes=True)
            for f, pairs in columns.items():
                _count(chunk.kinds, f, tuple((c, _is_number(t)) for c, t in pairs))
        of, count = chunk.kinds
        sig = tuple(zip(df.columns, [isinstance(t, np.dtype) and t.kind in "biufc"
                                     for t in column_dtypes(df)]))
        if not count.get(sig):  # a new signature in this chunk: compare with the others
            mine = dict(sig)
            for other, n in count.items():
                if n - (of.get(frame_no) == other) <= 0:
                    continue
                for column, number in other:
                    if mine.get(column, number) != number:
                        where = min(f for f, s in of.items() if s == other and f != frame_no)
                        raise TypeError(
                            f"column {column!r} holds {'strings' if number else 'numbers'} "
                            f"in frame {frame_no} but {'numbers' if number else 'strings'} "
                            f"in frame {where} of the same chunk (frames "
                            f"{k * self.chunk_size}-{(k + 1) * self.chunk_size - 1}), which "
                            "is one table: give it one type in every frame (e.g. .astype(str)).")
        _count(chunk.kinds, frame_no, sig)

    def frames_without(self, column, through=None):
        """Stored frames (up to ``through``) that have no ``column``.

        Read from the chunk indexes and journal headers, not from the
        features: ``link_store(resume=True)`` uses it to find linked frames
        whose ``particle`` column was lost.
        """
        found = []
        for k in sorted(self._chunks):
            chunk = self._chunks[k]
            if through is not None and k * self.chunk_size > through:
                continue
            for f, (offset, _length) in chunk.journal.items():
                if through is None or f <= through:
                    size = int(np.frombuffer(self._read_wal(k, offset, 4), "<u4")[0])
                    if column not in _journal.frame_columns(self._read_wal(k, offset, 4 + size)):
                        found.append(f)
            rest = [f for f in chunk.sealed - set(chunk.journal) if through is None or f <= through]
            if rest:
                columns = self._sealed_columns(k)
                found.extend(f for f in rest if column not in columns.get(f, ()))
        return sorted(found)

    def _sealed_columns(self, k, dtypes=False):
        """``{frame: column names}`` (or ``(name, dtype)`` pairs) of a sealed chunk,
        from ``c<k>.json`` if it can (no chunk file opened)."""
        try:
            with open(self._path(k, "json")) as handle:
                index = json.load(handle)
            index["signatures"], index["signature_of_frame"]
        except (OSError, ValueError, KeyError):
            index = json.loads(self._chunk_file(k).root._v_attrs[INDEX_ATTR])
        names = [[tuple(pair) if dtypes else pair[0] for pair in sig]
                 for sig in index["signatures"]]
        return {f: names[s] for f, s in zip(index["frames"], index["signature_of_frame"])}

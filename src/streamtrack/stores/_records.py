"""The records of a run, kept the same way by every layout: one implementation.

:class:`RecordingStore` implements the records part of the
:class:`.base.FramewiseData` contract (processed frames, metadata,
checkpoints) once: what is checked, how records are encoded (JSON for
metadata, :func:`._journal.encode_checkpoint` for checkpoints) and what the
methods return. A layout supplies only where the bytes go, through the
storage methods below: trackpy's HDF5 layouts in root attributes and nodes
trackpy ignores (:mod:`._hdfbase`), the chunked store in its journals and
``meta.json`` (:mod:`._chunk_records`).
"""
import json
from abc import abstractmethod

import numpy as np

from . import _journal
from .base import FramewiseData


def json_default(value):
    """numpy scalars and arrays as JSON (``json.dumps(..., default=json_default)``)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


class RecordingStore(FramewiseData):
    """A :class:`FramewiseData` that keeps the records of a run.

    Subclasses implement ``_writable`` (raise when closed or read-only) and
    the storage methods ``_record_processed``, ``_processed``,
    ``_read_metadata``, ``_write_metadata``, ``_write_checkpoint`` and
    ``_checkpoints``.
    """

    keeps_records = True

    def mark_processed(self, frame_no):
        """Record that frame ``frame_no`` was processed, also when it had no features.

        ``batch(..., resume=True)`` continues after the last frame recorded.

        Raises
        ------
        StoreError
            The store is closed or read-only, or has no room for the record
            (nothing is written then).
        """
        self._writable()
        self._record_processed(int(frame_no))

    @property
    def processed_frames(self):
        """Sorted list of the frame numbers :meth:`mark_processed` recorded."""
        return sorted(self._processed())

    @property
    def metadata(self):
        """The records :meth:`save_metadata` saved, ``{name: record}``."""
        return self._read_metadata()

    def save_metadata(self, name, record):
        """Save a JSON-serialisable ``record`` (parameters, version) under ``name``.

        Raises
        ------
        TypeError
            ``record`` cannot be written as JSON.
        StoreError
            As for :meth:`mark_processed`.
        """
        self._writable()
        try:
            text = json.dumps(record, default=json_default)
        except TypeError as exc:
            raise TypeError(f"metadata {name!r} must be JSON-serialisable: {exc}") from exc
        self._write_metadata(str(name), text)

    def save_checkpoint(self, name, frame_no, arrays):
        """Keep a checkpoint: the state after ``frame_no`` as named arrays.

        The new checkpoint is written before the old one goes.

        Raises
        ------
        StoreError
            As for :meth:`mark_processed`.
        """
        self._writable()
        payload = _journal.encode_checkpoint(name, frame_no, arrays)
        self._write_checkpoint(name, frame_no, payload)

    def load_checkpoint(self, name):
        """``(frame_no, arrays)`` of the newest checkpoint called ``name``, or None."""
        for payload in self._checkpoints(name):
            found, frame_no, arrays = _journal.decode_checkpoint(payload)
            if found == name:
                return frame_no, arrays
        return None

    # -- where a layout keeps them ------------------------------------------------
    @abstractmethod
    def _writable(self):
        """Raise StoreError when the store is closed or read-only."""

    @abstractmethod
    def _record_processed(self, frame_no):
        """Keep the mark that ``frame_no`` (an int) was processed."""

    @abstractmethod
    def _processed(self):
        """The frame numbers marked processed (any order)."""

    @abstractmethod
    def _read_metadata(self):
        """``{name: record}`` of every metadata record."""

    @abstractmethod
    def _write_metadata(self, name, text):
        """Keep the JSON ``text`` as the metadata record ``name`` (a str)."""

    @abstractmethod
    def _write_checkpoint(self, name, frame_no, payload):
        """Keep the encoded checkpoint ``payload`` as the newest called ``name``."""

    @abstractmethod
    def _checkpoints(self, name):
        """Encoded checkpoints that may be called ``name``, the one to use first.

        :meth:`load_checkpoint` returns the first whose name matches.
        """

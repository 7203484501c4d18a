"""Damage in a chunked store: chunk checksums, what a damaged journal lost, reports.

The chunked store (:mod:`.chunked`) uses these to keep the rule "nothing lost,
nothing silent":

- every sealed chunk file carries a checksum of its row index and its table
  (:func:`chunk_checksum`), verified the first time a process reads the chunk
  (:func:`verify_chunk`);
- a damaged journal is described frame by frame (:func:`journal_damage`) and
  kept as ``*.damaged`` before it is rewritten; the description is saved in
  ``damage.json`` (:func:`add_report`) and repeated at every open while the
  kept file is in the store's folder (:func:`read_reports`).

:mod:`._integrity` reads a whole store for ``streamtrack check``.
"""
from __future__ import annotations

import json
import os
import zlib

import numpy as np

from ..exceptions import StoreError
from . import _journal
from ._layouts import CHUNK_KEY, CRC_ATTR, INDEX_ATTR
from .errors import short_reason

REPORTS = "damage.json"


def frame_ranges(frames, limit=12) -> str:
    """``'0-3, 7, 9-12'``: sorted frame numbers as ranges (the first ``limit``)."""
    frames = sorted(set(int(f) for f in frames))
    runs = []
    for f in frames:
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs[:limit])
    return text + (f", ... ({len(frames)} frames)" if len(runs) > limit else "")


def holds_store(directory) -> bool:
    """Whether a chunks folder holds anything of a store (more than a lock)."""
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return any(n != "lock" and not n.endswith((".tmp", ".part")) for n in names)


# -- chunk checksums -----------------------------------------------------------------
def chunk_checksum(table, index_text: str) -> int:
    """crc32 of a chunk's index text and of every row of its table."""
    return zlib.crc32(table.read(), zlib.crc32(index_text.encode()))


def verify_chunk(handle, path, frames_note=""):
    """Check the checksum a sealed chunk file carries.

    Returns
    -------
    bool
        True when verified, False when the chunk has no checksum (sealed by
        a version that did not record one).

    Raises
    ------
    StoreError
        The checksum does not match, or the file cannot be read.
    """
    try:
        attrs = handle.root._v_attrs
        if CRC_ATTR not in attrs._v_attrnamesuser:
            return False
        good = int(attrs[CRC_ATTR]) == chunk_checksum(handle.root[CHUNK_KEY].table,
                                                      str(attrs[INDEX_ATTR]))
    except Exception as exc:  # noqa: BLE001 - a damaged file fails in many ways
        raise StoreError(unreadable_chunk(path, frames_note, exc)) from None
    if not good:
        raise StoreError(
            f"chunk file {path} is damaged: its checksum does not match its contents, so "
            f"its features{frames_note} cannot be trusted; nothing was read or changed. "
            "Restore it from a backup, or move it and its .json out of the folder to drop "
            "those frames (then locate them again).")
    return True


def unreadable_chunk(path, frames_note, exc) -> str:
    """The message for a chunk file that cannot be opened or read."""
    what = "is missing" if isinstance(exc, FileNotFoundError) else \
        f"cannot be read (truncated or damaged: {short_reason(exc, 160)})"
    return (f"chunk file {path} {what}: its features{frames_note} are unreadable; nothing "
            "was changed. Restore it from a backup, or move it and its .json out of the "
            "folder to drop those frames (then locate them again).")


# -- damaged journals ----------------------------------------------------------------
def journal_damage(path, scan, first, last, sealed, processed):
    """Describe what the damaged ranges of one chunk's journal lost.

    Parameters
    ----------
    path : str
        The journal.
    scan : _journal.Scan
    first, last : int
        The chunk's frame range (a frame number outside it is not believed).
    sealed, processed : set of int
        Frames held by the chunk file, frames recorded as processed anywhere.

    Returns
    -------
    message : str
    lost : bool
        Whether anything stored is gone (else only headers were damaged).
    """
    latest = {}  # frame -> offset of its newest readable record
    for offset, kind, payload in scan.records:
        if kind == _journal.FRAME:
            latest[int(np.frombuffer(payload[:8], "<i8")[0])] = offset
    seen_processed = set(processed)
    for _, kind, payload in scan.records:
        if kind == _journal.PROCESSED:
            seen_processed.add(int(np.frombuffer(payload, "<i8")[0]))
    lost, reverted, marks, unknown = set(), set(), set(), 0
    for start, stop in scan.damaged:
        guesses, complete = _journal.guess_records(scan.data, start, stop)
        unknown += not complete
        for kind, head in guesses:
            value = int(np.frombuffer(head.ljust(8, b"\0"), "<i8")[0])
            if not first <= value <= last:
                unknown += 1
                continue
            if kind == _journal.FRAME:
                if latest.get(value, -1) > stop:
                    continue  # written again after the damage: nothing lost
                if value in sealed or value in latest:
                    reverted.add(value)
                else:
                    lost.add(value)
            elif kind == _journal.PROCESSED and value not in seen_processed:
                marks.add(value)
    size = sum(b - a for a, b in scan.damaged)
    parts = []
    if scan.damaged:
        parts.append(f"{size} bytes in {len(scan.damaged)} place(s) cannot be read "
                     f"(first at byte {scan.damaged[0][0]})")
    if lost:
        parts.append(f"frames lost: {frame_ranges(lost)}")
    if reverted:
        parts.append(f"frames back to an older version (their newest write is damaged; "
                     f"a 'particle' column written by linking may be gone): "
                     f"{frame_ranges(reverted)}")
    if marks:
        parts.append(f"'processed' marks lost: {frame_ranges(marks)}")
    if unknown:
        parts.append("some damaged records could not be identified (other frames of "
                     f"{first}-{last} may be lost or older)")
    recovered = sum(1 for _, kind, _ in scan.records if kind == _journal.FRAME)
    parts.append(f"{recovered} frame record(s) recovered"
                 + (f", {scan.repaired} of them past a damaged header" if scan.repaired else ""))
    anything_lost = bool(lost or reverted or marks or unknown)
    return f"journal {path} is damaged: " + "; ".join(parts) + ".", anything_lost


# -- persistent reports ----------------------------------------------------------------
def read_reports(directory) -> dict:
    """``{kept file name: {'message', 'lost'}}`` for kept files still in ``directory``."""
    try:
        with open(os.path.join(directory, REPORTS)) as handle:
            reports = json.load(handle)
    except FileNotFoundError:
        return {}
    except ValueError:  # the report file itself damaged: say so, lose nothing
        return {REPORTS: {"message": f"{os.path.join(directory, REPORTS)} (the record of "
                                     "earlier damage) cannot be read.", "lost": True}}
    return {name: r for name, r in reports.items()
            if os.path.exists(os.path.join(directory, name))}


def add_report(directory, kept_name, message, lost):
    """Record damage found in the store (atomically), keyed by the kept file's name."""
    path = os.path.join(directory, REPORTS)
    try:
        with open(path) as handle:
            reports = json.load(handle)
    except (FileNotFoundError, ValueError):
        reports = {}
    reports[kept_name] = {"message": message, "lost": bool(lost)}
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(reports, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def acknowledge(directory, kept_name) -> str:
    """What to do about a kept damaged file (the end of every damage message)."""
    return (f" The damaged file is kept as {os.path.join(directory, kept_name)}: recreate "
            "what was lost (locate or link those frames again), then move that file out "
            "of the folder to stop this warning.")

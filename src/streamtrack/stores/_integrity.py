"""``streamtrack check``: read a whole store of any layout and report on it.

Every frame is read and every sealed chunk's checksum verified; what is
wrong comes back one line per problem, never as a traceback. The damage
bookkeeping the chunked store keeps as it opens is in :mod:`._damage`.
"""
from __future__ import annotations

import os
import warnings

from ..exceptions import StoreError
from . import _journal
from ._damage import holds_store, read_reports  # noqa: F401 - holds_store: for the CLI
from .chunked import PandasHDFStoreChunked
from .detect import open_store, store_layout
from .errors import short_reason


def check_store(path):
    """Read a whole store of any layout and report on it.

    Returns
    -------
    summary : str
        One line: the layout and the frames held.
    problems : list of str
        One line per problem (damage, unreadable frames); empty when sound.
    notes : list of str
        Repairs made earlier with nothing lost, and the like.

    Raises
    ------
    FileNotFoundError
        Neither the file nor a chunked store's folder exists.
    """
    path = os.fspath(path)
    if not os.path.exists(path) and not holds_store(path + ".chunks"):
        raise FileNotFoundError(f"no store at {path!r} (check takes a store file written "
                                "by streamtrack or trackpy).")
    if holds_store(path + ".chunks") or store_layout(path) == "chunked":
        return _check_chunked(path)
    layout = store_layout(path)
    try:
        store = open_store(path, mode="r")  # says what is wrong with a file that is no store
    except Exception as exc:  # noqa: BLE001 - report, never a traceback
        what = f"{layout} layout" if layout else "not a readable framewise store"
        return f"{path}: {what}", [str(exc) if isinstance(exc, StoreError)
                                   else f"{path} cannot be opened: {_short(exc)}"], []
    problems = []
    n_rows = 0
    with store:
        frames = list(store.frames)
        for t in frames:
            try:
                n_rows += len(store.get(t))
            except Exception as exc:  # noqa: BLE001
                problems.append(f"frame {t} cannot be read: {_short(exc)}")
    return _summary(path, layout, frames, n_rows), problems, []


def _check_chunked(path):
    problems, notes = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same lines are in store.damage and .repairs
        try:
            store = PandasHDFStoreChunked(path, mode="r")
        except Exception as exc:  # noqa: BLE001
            return f"{path}: chunked layout", [f"{path} cannot be opened: {_short(exc)}"], []
    n_rows = 0
    with store:
        # read-only: whatever the open found is still there, repairable or not
        problems += store.damage + store.repairs
        notes += [f"repaired earlier, nothing lost: {report['message']} (kept: {name})"
                  for name, report in read_reports(store.directory).items()
                  if not report.get("lost", True)]
        bad = set()
        unchecked = []
        for k in sorted(store._chunks):
            if not store._chunks[k].sealed - set(store._chunks[k].journal):
                continue  # nothing read from the chunk file
            try:
                if not store._verify(k, force=True):
                    unchecked.append(k)
            except StoreError as exc:
                problems.append(str(exc))
                bad.add(k)
        if unchecked:
            notes.append(f"{len(unchecked)} chunk file(s) carry no checksum (sealed before "
                         "checksums were recorded; the next rewrite adds one): read only.")
        frames = store.frames
        for t in frames:
            k = t // store.chunk_size
            if k in bad and t not in store._chunks[k].journal:
                continue  # reported once, for the whole chunk
            try:
                n_rows += len(store.get(t))
            except Exception as exc:  # noqa: BLE001
                problems.append(f"frame {t} cannot be read: {_short(exc)}")
        scan = _journal.scan(os.path.join(store.directory, "checkpoints.wal"),
                             (_journal.CHECKPOINT,))
        if scan.damaged:
            problems.append(f"linker checkpoints {store.directory}/checkpoints.wal: "
                            f"{sum(b - a for a, b in scan.damaged)} bytes cannot be read "
                            "('link --resume' uses the newest readable checkpoint).")
    return _summary(path, "chunked", frames, n_rows), problems, notes


def _summary(path, layout, frames, n_rows):
    span = "" if not len(frames) else \
        f" ({frames[0]})" if len(frames) == 1 else f" ({frames[0]}-{frames[-1]})"
    return f"{path}: {layout} layout, {len(frames)} frames{span}, {n_rows} features"


def _short(exc) -> str:
    return f"{type(exc).__name__}: {short_reason(exc, 160)}"

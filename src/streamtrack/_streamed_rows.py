"""Rows of a store kept, rewritten or written frame by frame (the filters' streaming).

``filter_stubs``, ``filter_clusters`` and ``subtract_drift`` on a store: the
kept (or rewritten) rows of each block of frames go into an ``output=`` store
frame by frame, or are collected into one DataFrame; ``filter_clusters``' size
quantile is found exactly in bounded memory (:func:`size_quantile`). The
reading and the scan are :mod:`._streamed`'s.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import _streamed
from ._streamed import is_store, sort_keys
from .stores.base import processed_marker


def _write_or_collect(store, output, keep_rows, function, progress=None, transform=None):
    """Stream ``store``'s frames in blocks, keep rows, put each frame into
    ``output`` (returned) or collect the blocks (a list of DataFrames)."""
    mark = None
    if output is not None:
        if output is store:
            raise ValueError(f"{function}: output= is the store being read; pass another "
                             "store (the input is not modified)")
        if not hasattr(output, "put"):
            raise TypeError(f"{function}: output must be a store (with a put method), got "
                            f"{type(output).__name__}")
        mark = processed_marker(output)
        if is_store(output) and output.keeps_records:
            for name, record in (store.metadata or {}).items():
                output.save_metadata(name, record)
    kept = []
    frames = np.asarray(store.frames, dtype=np.int64)
    for start in range(0, len(frames), _streamed.MIN_BLOCK):
        block = frames[start:start + _streamed.MIN_BLOCK]
        table = store.read_frames(block)
        if table is not None:
            rows = keep_rows(table)
            part = table[rows] if rows is not None else table
            if transform is not None:
                part = transform(part)
            if output is None:
                kept.append(part)
            elif len(part):
                flat = part.reset_index(drop=True)
                for _frame_no, rows_of_frame in flat.groupby("frame", sort=True):
                    output.put(rows_of_frame.reset_index(drop=True))
        if mark is not None:
            for frame_no in block:
                mark(int(frame_no))
        if progress is not None:
            progress(start + len(block))
    return output if output is not None else kept


def filter_by_particle(store, keep, scan, function, output, progress=None):
    def keep_rows(table):
        codes = scan.codes.codes(table["particle"].to_numpy(), add=False)
        return keep[np.maximum(codes, 0)] & (codes >= 0)

    result = _write_or_collect(store, output, keep_rows, function, progress)
    if output is not None:
        return result
    columns = list(scan.columns)
    table = (pd.concat(result, ignore_index=True) if result
             else pd.DataFrame(columns=columns))
    return table.set_index("frame", drop=False)


def _from_keys(keys):
    negative = (keys >> np.uint64(63)) == 0
    bits = np.where(negative, ~keys, keys & ~np.uint64(1 << 63))
    return bits.view(np.float64)


#: values a streamed quantile may collect at once (8 bytes each)
QUANTILE_BUDGET = 2_000_000


def size_quantile(store, scan, quantile):
    """pandas' ``Series.quantile`` (linear) of the store's ``size`` column, streamed.

    The scan counted the sizes by their top 16 key bits; each further pass
    narrows the bin holding the wanted rank by 16 bits until it holds at most
    ``QUANTILE_BUDGET`` values, which are then read and sorted: exact, in
    memory bounded by the budget.
    """
    n = scan.n_sizes
    if n == 0:
        return np.nan
    # numpy's linear method as pandas calls it (percent, divided back by numpy)
    q = np.true_divide(np.asarray(quantile, dtype=np.float64) * 100.0, 100)
    virtual = (n - 1) * q
    lo = int(np.floor(virtual))
    a = _select(store, scan.size_histogram, lo)
    b = _select(store, scan.size_histogram, min(lo + 1, n - 1)) if lo + 1 < n else a
    gamma = virtual - lo
    diff = b - a
    return float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)


def _select(store, histogram, rank):
    """The value of the given rank (0-based) among the store's sizes."""
    shift = 48
    prefix = np.uint64(0)
    below = 0
    counts = histogram
    while True:
        cumulative = np.cumsum(counts)
        b = int(np.searchsorted(cumulative, rank - below, side="right"))
        below += int(cumulative[b - 1]) if b else 0
        prefix = prefix | (np.uint64(b) << np.uint64(shift))
        inside = int(counts[b])
        mask = ~np.uint64(0) << np.uint64(shift) if shift else ~np.uint64(0)
        if inside <= QUANTILE_BUDGET or shift == 0:
            chosen = []
            for table in store:
                keys = sort_keys(_finite(table))
                chosen.append(keys[(keys & mask) == prefix])
            keys = np.sort(np.concatenate(chosen))
            return float(_from_keys(keys[rank - below:rank - below + 1])[0])
        shift -= 16
        counts = np.zeros(1 << 16, np.int64)
        for table in store:
            keys = sort_keys(_finite(table))
            keys = keys[(keys & mask) == prefix]
            counts += np.bincount(((keys >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(
                np.int64), minlength=1 << 16)


def _finite(table):
    size = table["size"].to_numpy(np.float64) if "size" in table.columns else np.zeros(0)
    return size[~np.isnan(size)]


def rewrite(store, output, function, transform, progress=None):
    """Every frame of ``store`` through ``transform`` (a DataFrame function on one
    frame's rows), into ``output`` or, without one, one DataFrame."""
    _streamed.first_columns(store, function)
    result = _write_or_collect(store, output, lambda table: None, function, progress,
                               transform)
    if output is not None:
        return result
    return pd.concat(result) if result else pd.DataFrame()


def put_frames(table, output, function):
    """A result table written into the store ``output`` frame by frame (returned)."""
    if not hasattr(output, "put"):
        raise TypeError(f"{function}: output must be a store (with a put method), got "
                        f"{type(output).__name__}")
    mark = processed_marker(output)
    flat = table.reset_index(drop=True)
    for frame_no, part in flat.groupby("frame", sort=True):
        output.put(part.reset_index(drop=True))
        if mark is not None:
            mark(int(frame_no))
    return output

"""What every export reads: a store or a table, in blocks of rows in frame order.

A store is read with :func:`streamtrack._streamed.blocks` (``MIN_BLOCK``
frames at a time, never whole); a DataFrame is sorted by frame once (stable:
the rows of a frame keep their order) and cut into the same blocks. Every
block has the columns of the first block with rows, in its order (a column
missing from a later frame is filled with NaN; one that appears later is
dropped, with a warning), and a new RangeIndex.
"""
from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import pandas as pd

from .._streamed import MIN_BLOCK, blocks, is_store

#: the column of frame numbers (trackpy's ``t_column``)
FRAME = "frame"
PARTICLE = "particle"
#: position columns, in trackpy's order
POSITIONS = ("z", "y", "x")


class Source:
    """A store or a feature table, read in blocks of frames.

    Attributes
    ----------
    units : dict
        ``{'mpp': ..., 'fps': ...}``: the store's units record (or the
        table's ``attrs['units']``), values None when unknown.
    records : dict
        The store's metadata records (empty for a table).
    n_frames : int
        Number of frames (for a progress bar).
    """

    def __init__(self, source, function):
        self.function = function
        if is_store(source):
            self.store, self.table = source, None
            meta = source.metadata or {}
            self.records = {k: v for k, v in meta.items() if k != "units"}
            recorded = meta.get("units") or {}
            self.n_frames = len(source.frames)
        elif isinstance(source, pd.DataFrame):
            if FRAME not in source.columns:
                raise ValueError(f"{function}: the table has no {FRAME!r} column")
            self.store = None
            table = source.reset_index(drop=True)
            frames = table[FRAME].to_numpy()
            if len(frames) and np.any(frames[1:] < frames[:-1]):
                table = table.iloc[np.argsort(frames, kind="stable")].reset_index(drop=True)
            self.table = table
            self.records = {}
            recorded = source.attrs.get("units") or {}
            self.n_frames = int(table[FRAME].nunique())
        else:
            raise TypeError(f"{function}: expected a store (streamtrack.PandasHDFStore..., "
                            f"any FramewiseData) or a DataFrame, got {type(source).__name__}")
        self.units = {name: recorded.get(name) for name in ("mpp", "fps")}
        self.columns = None
        self.dtypes = {}
        self._warned = set()

    def blocks(self, progress=None):
        """Yield tables of consecutive frames, rows in frame order (a new RangeIndex)."""
        for table in self._raw_blocks(progress):
            if table is None or not len(table):
                continue
            frames = table[FRAME].to_numpy()
            if np.any(frames[1:] < frames[:-1]):
                table = table.iloc[np.argsort(frames, kind="stable")].reset_index(drop=True)
            yield self._conform(table)

    def _raw_blocks(self, progress):
        if self.store is not None:
            for _start, _stop, table in blocks(self.store, MIN_BLOCK, progress):
                yield table
            return
        frames = self.table[FRAME].to_numpy()
        starts = np.flatnonzero(np.r_[True, frames[1:] != frames[:-1]]) if len(frames) \
            else np.zeros(0, np.int64)
        done = 0
        for first in range(0, len(starts), MIN_BLOCK):
            lo = starts[first]
            hi = starts[first + MIN_BLOCK] if first + MIN_BLOCK < len(starts) else len(frames)
            yield self.table.iloc[lo:hi].reset_index(drop=True)
            done = min(first + MIN_BLOCK, len(starts))
            if progress is not None:
                progress(done)

    def _conform(self, table):
        if self.columns is None:
            self.columns = list(table.columns)
            self.dtypes = {name: str(dtype) for name, dtype in table.dtypes.items()}
            return table
        if list(table.columns) == self.columns:
            return table
        extra = [c for c in table.columns if c not in self.columns]
        new = [c for c in extra if c not in self._warned]
        if new:
            self._warned.update(new)
            warnings.warn(f"{self.function}: column(s) {new} appear from frame "
                          f"{table[FRAME].iloc[0]} on, not in the first frames; they are "
                          "left out", UserWarning, stacklevel=4)
        return table.reindex(columns=self.columns)


# ---------------------------------------------------------------- output files
def check_output(path, overwrite, function, directory=False, flag="overwrite=True"):
    """Refuse, before anything is written, an output that exists (without
    ``overwrite``), that is a folder that is not ours to replace, or whose folder
    does not exist."""
    path = os.fspath(path)
    function = f"{function}: " if function else ""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{function}the folder {folder} does not exist; create it "
                                "first or choose another path")
    if os.path.lexists(path):
        if not overwrite:
            raise FileExistsError(f"{function}{path} exists; pass {flag} to replace it, "
                                  "or choose another path")
        if os.path.isdir(path) and not os.path.islink(path) and not _is_zarr(path):
            raise IsADirectoryError(f"{function}{path} is a folder that is not a GEFF/zarr "
                                    "group; not replacing it: choose another path")
        if os.path.isdir(path) and not directory:
            raise IsADirectoryError(f"{function}{path} is a folder; give a file name")
    return path


def _is_zarr(path):
    return any(os.path.exists(os.path.join(path, name))
               for name in (".zgroup", "zarr.json", ".zattrs"))


def partial_path(path):
    """Where an output is written before it takes its name (an existing one is
    replaced only once the new one is complete)."""
    head, tail = os.path.split(os.path.abspath(path))
    return os.path.join(head, f".{tail}.partial-{os.getpid()}")


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def finish(partial, path):
    """Give the complete output its name (replacing an existing one)."""
    if os.path.lexists(path):
        remove(path)
    os.replace(partial, path)


def known_units(units):
    """The units that are known, as plain floats (``{}`` when none)."""
    return {k: float(v) for k, v in units.items() if v is not None}

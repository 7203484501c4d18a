"""``TableStore``: a read-only framewise store over a DataFrame held in memory.

The streamed analyses (:mod:`streamtrack.analysis`, :mod:`streamtrack._streamed`)
read stores frame block by frame block; this store lets them read a table
the same way -- a napari Points layer linked in memory, a table from a CSV --
so a table and a store of the same rows give the same numbers.

The table is sorted by frame once (stably: within a frame, rows keep their
order) and each frame's row range is kept, so :meth:`TableStore.get` and
:meth:`TableStore.read_frames` are slices, not searches.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .base import FramewiseData

__all__ = ["TableStore"]


class TableStore(FramewiseData):
    """A read-only :class:`FramewiseData` over a DataFrame.

    Parameters
    ----------
    table : DataFrame
        Features with a frame column (whole numbers) -- linked ones (a
        ``particle`` column) for the trajectory analyses. Not modified: the
        store keeps a frame-sorted copy. Its ``attrs['units']`` (what
        :meth:`FramewiseData.dump` puts there) become the store's ``units``
        record.
    t_column : str, optional
        The frame column. Default ``'frame'``.

    Raises
    ------
    TypeError
        ``table`` is not a DataFrame.
    ValueError
        No frame column, or frame numbers that are not whole numbers.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({'frame': [2, 0, 2], 'x': [1.0, 2.0, 3.0]})
    >>> store = TableStore(t)
    >>> store.frames, list(store.get(2)['x']), len(store.read_frames([0, 2]))
    ([0, 2], [1.0, 3.0], 3)
    """

    keeps_records = False

    def __init__(self, table: pd.DataFrame, t_column: str = "frame"):
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"TableStore takes a DataFrame, got {type(table).__name__}")
        if t_column not in table.columns:
            raise ValueError(f"the table has no {t_column!r} column (frame numbers); it has "
                             f"{list(table.columns)}")
        self._t = t_column
        values = np.asarray(table[t_column].to_numpy())
        if values.dtype.kind not in "iuf" or (values.dtype.kind == "f" and not (
                np.isfinite(values).all() and (values == np.round(values)).all())):
            raise ValueError(f"column {t_column!r} must hold whole frame numbers "
                             f"(dtype {values.dtype})")
        frames = values.astype(np.int64)
        order = np.argsort(frames, kind="stable")
        self._table = table.iloc[order].reset_index(drop=True)
        numbers, starts = np.unique(frames[order], return_index=True)
        self._numbers = numbers
        self._bounds = np.append(starts, len(frames)).astype(np.int64)
        units = table.attrs.get("units")
        self._metadata = {"units": dict(units)} if units else {}

    @property
    def t_column(self):
        return self._t

    @property
    def frames(self):
        """Sorted list of the frame numbers the table has rows for."""
        return self._numbers.tolist()

    @property
    def metadata(self):
        """``{'units': ...}`` when the table's ``attrs`` carry units, else ``{}``."""
        return {key: dict(value) for key, value in self._metadata.items()}

    def _index(self, frame_no) -> int:
        i = int(np.searchsorted(self._numbers, frame_no))
        if i >= len(self._numbers) or self._numbers[i] != frame_no:
            raise KeyError(f"frame {frame_no} is not in the table")
        return i

    def get(self, frame_no):
        """The rows of frame ``frame_no`` (a copy, with a new RangeIndex).

        Raises
        ------
        KeyError
            The table has no row in that frame.
        """
        i = self._index(frame_no)
        return self._table.iloc[self._bounds[i]:self._bounds[i + 1]].reset_index(drop=True)

    def read_frames(self, frame_numbers):
        """The rows of several frames as one DataFrame (a new RangeIndex), or None.

        Consecutive stored frames are one slice of the sorted table.

        Parameters
        ----------
        frame_numbers : sequence of int
            Frame numbers the table has, ascending.
        """
        wanted = np.asarray(frame_numbers, dtype=np.int64)
        if not len(wanted):
            return None
        index = np.searchsorted(self._numbers, wanted)
        if (index >= len(self._numbers)).any() or (self._numbers[index] != wanted).any():
            missing = wanted[(index >= len(self._numbers))
                             | (self._numbers[np.minimum(index, len(self._numbers) - 1)]
                                != wanted)]
            raise KeyError(f"frame {int(missing[0])} is not in the table")
        # runs of consecutive stored frames: one slice each
        breaks = np.flatnonzero(np.diff(index) != 1) + 1
        parts = [self._table.iloc[self._bounds[run[0]]:self._bounds[run[-1] + 1]]
                 for run in np.split(index, breaks)]
        parts = [part for part in parts if len(part)]
        if not parts:
            return None
        return (parts[0] if len(parts) == 1 else pd.concat(parts)).reset_index(drop=True)

    def put(self, df):
        raise TypeError("a TableStore is read-only: write into a file store "
                        "(e.g. PandasHDFStoreChunked) instead.")

    def close(self):
        """Nothing to release."""

    def __repr__(self):
        return (f"TableStore({len(self._table)} rows, {len(self._numbers)} frames, "
                f"t_column={self._t!r})")

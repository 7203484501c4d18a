"""The column types of a ``PandasHDFStoreSingleNode`` table, and fitting a frame to them.

Used by :class:`.hdf.PandasHDFStoreSingleNode`, whose store is one pandas
table: every column has one type, set by the first frame, and a
string column a fixed width. pandas refuses a later frame of other types
with an internal message ("Cannot serialize the column ..."), and does so
*after* a ``put`` that replaces a frame has removed the frame's old rows.
:func:`fit_frame` therefore settles every type before anything is written:

- a number column is cast to the table's type when no value changes (whole
  float frame numbers into an integer ``frame`` column, int32 into int64,
  ints into a float column);
- a string longer than its column, or a new string column, makes the table
  be rewritten once with wider columns (the values stored stay as they are);
- anything else (strings where the table holds numbers, 1.5 where it holds
  integers, a bool column new to a table with rows) is refused with one line
  naming the column, its type and the table's type.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .base import column_dtypes

_NUMBER_KINDS = {"integer", "float", "complex", "bool"}
_KIND_OF = {"i": "integer", "u": "integer", "f": "float", "c": "complex", "b": "bool",
            "M": "datetime64", "m": "timedelta64"}


class TableTypes:
    """What a table holds: column order, each column's type, the index's type.

    Attributes
    ----------
    order : list of str
        The table's columns, in order.
    columns : dict
        ``{name: (kind, dtype, width)}``: pandas' kind ('integer', 'float',
        'complex', 'bool', 'string', ...), the numpy dtype of a number column
        (else None) and the byte width of a string column.
    index : tuple
        ``(kind, width)`` of the index.
    nan_rep, encoding : str
        How pandas writes a missing string, and strings' encoding.
    nrows : int
        Rows stored.
    levels : int
        Index levels (a MultiIndex is stored as columns).
    """

    __slots__ = ("order", "columns", "index", "nan_rep", "encoding", "nrows", "levels")

    def __init__(self, storer):
        storer.infer_axes()
        self.columns = {}
        for axis in storer.values_axes:
            dtype = np.dtype(axis.dtype) if axis.kind in _NUMBER_KINDS else None
            for name in axis.values:
                self.columns[str(name)] = (axis.kind, dtype, int(axis.itemsize or 0))
        self.order = [str(c) for c in storer.non_index_axes[0][1]]
        index = storer.index_axes[0]
        self.index = (index.kind, int(index.itemsize or 0))
        self.nan_rep = storer.nan_rep or "nan"  # pandas' default when the table has none
        self.encoding = storer.encoding or "UTF-8"
        self.nrows = storer.table.nrows
        self.levels = getattr(storer, "levels", 1)

    def string_widths(self):
        """``{column: width}`` of the string columns (and of a string index)."""
        widths = {c: w for c, (kind, _, w) in self.columns.items() if kind == "string"}
        if self.index[0] == "string":
            widths["index"] = self.index[1]
        return widths


def _is_string(dtype):
    return not (isinstance(dtype, np.dtype) and dtype.kind in "biufc")


def _width(values, nan_rep, encoding):
    """Bytes the widest string of ``values`` needs (``nan_rep`` for a missing one)."""
    present = [v for v in values if isinstance(v, str)]
    need = max((len(v.encode(encoding)) for v in present), default=0)
    if len(present) < len(values):  # None / NaN are written as nan_rep
        need = max(need, len(nan_rep.encode(encoding)))
    return need


def _exact(values, dtype):
    """``values`` as ``dtype`` if not one of them changes, else None."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # ComplexWarning, invalid casts: judged below
        cast = values.astype(dtype)
        back = cast.astype(values.dtype)
        # both ways: a round trip misses int64 -> uint64 (-1 comes back), a
        # comparison by value misses int64 -> float64 past 2**53
        same = np.array_equal(back, values, equal_nan=values.dtype.kind in "fc") and \
            np.array_equal(cast, values, equal_nan=values.dtype.kind in "fc")
    return cast if same else None


def _first_changed(values, dtype):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        back = values.astype(dtype).astype(values.dtype)
    bad = ~((back == values) | (pd.isna(back) & pd.isna(values)))
    return values[np.flatnonzero(bad)[0]].item() if bad.any() else values[0].item()


def missing_values(dtype, n):
    """What the rows without a column hold: -1 (integers), NaN, None (strings)."""
    if _is_string(dtype):
        return np.full(n, None, dtype=object)
    if n == 0:  # a bool or unsigned column is only new to a table without rows
        return np.empty(0, dtype=dtype)
    if dtype.kind == "i":
        return np.full(n, -1, dtype=dtype)
    return np.full(n, np.nan, dtype=dtype)  # float or complex


def fit_frame(df, types, frame_no, filename):
    """Fit one frame to the table's types, or refuse it; nothing is written here.

    Parameters
    ----------
    df : DataFrame
        A validated frame.
    types : TableTypes
        The table's types.
    frame_no : int
    filename : str
        For the messages.

    Returns
    -------
    df : DataFrame
        The frame, number columns cast to the table's types and the table's
        columns it lacks filled in (-1 in integer, NaN in float, a missing
        string in string columns); its own new columns last.
    new : list of str
        Its columns the table does not have yet.
    widths : dict
        ``{column: width}`` of string columns the table must be rewritten
        with (a new string column, or a wider one); empty when it fits.
    growth : int
        Bytes per row the rewrite adds (for the room check).

    Raises
    ------
    TypeError
        A column (or the index) the table cannot take as it is without a
        stored value changing: one line naming the column, its type, the
        table's type and what to do.
    """
    head = f"cannot put frame {frame_no} into {filename!r}: "
    tail = "; nothing was written."
    changes, new, widths, growth = {}, [], {}, 0
    for name, dtype in zip(df.columns, column_dtypes(df)):
        column = types.columns.get(name)
        if column is None:
            new.append(name)
            if _is_string(dtype):
                # the rows stored before get a missing string: nan_rep's width
                need = max(_width(df[name].to_numpy(object), types.nan_rep, types.encoding),
                           _width([None], types.nan_rep, types.encoding) if types.nrows else 0)
                widths[name] = need
                growth += need
            elif types.nrows and dtype.kind in "bu":
                raise TypeError(
                    head + f"column {name!r} is new and holds {dtype}, but the "
                    f"{types.nrows} rows stored before it need a missing value, which "
                    f"{dtype} has none of: convert it (df[{name!r}] = "
                    f"df[{name!r}].astype('float64'): NaN where missing) or give it to "
                    "every frame from the first" + tail)
            else:
                growth += dtype.itemsize
            continue
        kind, table_dtype, width = column
        if kind == "string":
            if not _is_string(dtype):
                raise TypeError(
                    head + f"column {name!r} holds {dtype} but the table's column holds "
                    f"strings (in the {types.nrows} rows stored): give it one type in every "
                    f"frame (df[{name!r}] = df[{name!r}].astype(str)) or write to a new "
                    "store" + tail)
            need = _width(df[name].to_numpy(object), types.nan_rep, types.encoding)
            if need > width:
                # doubled: a column whose strings keep growing is rewritten
                # a few times, not at every frame
                widths[name] = max(need, 2 * width)
                growth += widths[name] - width
            continue
        values = df[name].to_numpy() if not _is_string(dtype) else None
        if values is None and kind in ("float", "complex") and df[name].isna().all():
            # an all-missing column (None): NaN is a number
            values = changes[name] = np.full(len(df), np.nan, dtype=table_dtype)
        if values is None or table_dtype is None or \
                (values.dtype.kind == "b") != (table_dtype.kind == "b"):
            held = "strings" if values is None else str(values.dtype)
            raise TypeError(
                head + f"column {name!r} holds {held} but the table's column holds "
                f"{table_dtype or kind} (in the {types.nrows} rows stored): give it one type "
                f"in every frame (df[{name!r}] = df[{name!r}].astype('{table_dtype or kind}'))"
                " or write to a new store" + tail)
        if values.dtype == table_dtype:
            continue
        cast = _exact(values, table_dtype)
        if cast is None:
            raise TypeError(
                head + f"column {name!r} holds {values.dtype} values that the table's "
                f"column type {table_dtype} cannot hold exactly (e.g. "
                f"{_first_changed(values, table_dtype)!r}); the {types.nrows} rows stored "
                f"keep their type: convert it (df[{name!r}] = "
                f"df[{name!r}].astype('{table_dtype}')) if that is what you want, or "
                "write to a new store" + tail)
        changes[name] = cast
    for name in types.order:
        if name in df.columns:
            continue
        kind, table_dtype, width = types.columns[name]
        if kind == "string":
            changes[name] = missing_values(object, len(df))
            need = _width([None], types.nan_rep, types.encoding)
            if need > width:
                widths[name] = max(need, 2 * width)
                growth += widths[name] - width
        elif table_dtype is not None and table_dtype.kind in "ifc":
            changes[name] = missing_values(table_dtype, len(df))
        else:
            raise TypeError(
                head + f"it has no column {name!r}, which the table holds as "
                f"{table_dtype or kind}, a type without a missing value for the rows that "
                f"lack it: add the column to the frame" + tail)
    df = _fit_index(df, types, widths, head, tail)
    if "index" in widths:
        growth += widths["index"] - types.index[1]
    if changes:
        df = df.assign(**changes)
    return df, new, widths, growth


def _fit_index(df, types, widths, head, tail):
    """The frame with an index the table's index takes (pandas stores it as a column).

    A string index wider than the table's goes into ``widths['index']``.
    """
    index = df.index
    if isinstance(index, pd.MultiIndex) or types.levels != 1:
        return df  # pandas stores such an index as columns: left to it
    kind, width = types.index
    dtype = index.dtype
    mine = _KIND_OF.get(dtype.kind) if isinstance(dtype, np.dtype) and dtype.kind != "O" \
        else ("string" if pd.api.types.infer_dtype(index, skipna=True) == "string"
              else "object")
    if mine == kind:
        need = _width(index.to_numpy(object), types.nan_rep, types.encoding) \
            if kind == "string" else 0
        if need > width:  # as a string column: the table is rewritten wider
            widths["index"] = max(need, 2 * width)
        return df
    if kind in ("float", "complex") and mine in ("integer", "float"):
        cast = _exact(index.to_numpy(), np.dtype("float64" if kind == "float" else "complex128"))
        if cast is not None:
            return df.set_axis(pd.Index(cast))
    raise TypeError(head + f"its index holds {dtype} but the table's index holds {kind} "
                    "values: reset it (df = df.reset_index(drop=True))" + tail)

"""Read a pandas ``frame_table`` node straight from PyTables.

``HDFStore.get`` spends most of its time inferring what it reads; for the
plain numeric frames that locate and link write, the layout is simple: an
``index`` column and value blocks whose column names sit in the table's
attributes. Anything else (strings, categoricals, data columns, a
MultiIndex) returns None and the caller uses pandas.
"""
import numpy as np
import pandas as pd

_NUMERIC = {"float64", "float32", "int64", "int32", "int16", "int8", "uint64", "uint32",
            "uint16", "uint8", "bool"}


def read_frame_table(group):
    """The DataFrame stored in pandas group ``group``, or None if not simple."""
    try:
        attrs = group._v_attrs
        if (str(getattr(attrs, "pandas_type", "")) != "frame_table"
                or list(getattr(attrs, "data_columns", [None]))
                or int(getattr(attrs, "levels", 0)) != 1
                or list(getattr(attrs, "index_cols", [])) != [(0, "index")]):
            return None
        columns = list(attrs.non_index_axes[0][1])
        index_info = attrs.info.get("index", {})
        if set(index_info) - {"index_name"}:  # e.g. a freq or a timezone
            return None
        index_name = index_info.get("index_name")
        table = group.table
        tattrs = table.attrs
        if str(getattr(tattrs, "index_kind", "")) != "integer":
            return None
        blocks = list(attrs.values_cols)
        data = table.read()
    except Exception:  # noqa: BLE001 - anything unexpected: let pandas read it
        return None
    out = {}
    for block in blocks:
        names = getattr(tattrs, block + "_kind", None)
        dtype = str(getattr(tattrs, block + "_dtype", ""))
        if names is None or dtype not in _NUMERIC or getattr(tattrs, block + "_meta", None):
            return None
        values = data[block]
        if values.ndim == 1:
            values = values[:, None]
        for i, name in enumerate(names):
            out[name] = values[:, i].astype(dtype, copy=False)
    if set(out) != set(columns):
        return None
    index = pd.Index(np.asarray(data["index"]), name=index_name)
    return pd.DataFrame({c: out[c] for c in columns}, index=index, columns=columns)


def read_table_rows(table, start, stop):
    """Rows ``start:stop`` of a pandas table straight from PyTables, or None.

    ``HDFStore.select`` costs ~1.5 ms of inference per call; the layout is
    known: value blocks (and data columns) whose column names sit in the
    table's attributes. Anything unexpected returns None (use pandas).
    """
    try:
        attrs = table._v_parent._v_attrs
        columns = list(attrs.non_index_axes[0][1])
        blocks = list(attrs.values_cols)
        tattrs = table.attrs
        if str(getattr(tattrs, "index_kind", "")) != "integer":
            return None  # e.g. a string index: pandas decodes its bytes
        data = table.read(start, stop)
        out = {}
        for block in blocks:
            names = list(getattr(tattrs, block + "_kind"))
            values = data[block]
            if values.dtype.kind not in "biuf" or getattr(tattrs, block + "_meta", None):
                return None
            if values.ndim == 1:
                values = values[:, None]
            for i, name in enumerate(names):
                out[name] = values[:, i]
        if set(out) != set(columns) or attrs.info.get("index", {}).get("freq"):
            return None
        index = pd.Index(data["index"], name=attrs.info.get("index", {}).get("index_name"))
        return pd.DataFrame({c: out[c] for c in columns}, index=index, columns=columns)
    except Exception:  # noqa: BLE001 - any surprise: pandas reads it
        return None

"""CSV and Parquet export and import of feature tables, streamed in blocks of frames.

Rows are in frame order with the store's (trackpy's) column names. The units
(``{'mpp': ..., 'fps': ...}``, when known) travel in a first comment line of
a CSV (``# streamtrack units: {"mpp": 0.35, "fps": 24.0}``; read it with
:func:`read_csv`, or with ``pandas.read_csv(path, comment='#')``) and in the
``streamtrack`` key of a Parquet file's metadata. Parquet needs pyarrow
(``pip install 'napari-streamtrack[parquet]'``); each block of frames is one
row group.
"""
from __future__ import annotations

import json
import os

import pandas as pd

from .._version import __version__
from ._source import Source, check_output, finish, known_units, partial_path, remove

UNITS_COMMENT = "# streamtrack units: "
PARQUET_KEY = b"streamtrack"


def _pyarrow(function):
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError(f"{function}: Parquet needs pyarrow: pip install "
                          "'napari-streamtrack[parquet]' (or pip install pyarrow)") from None
    return pyarrow, pyarrow.parquet


def to_csv(source, path, *, overwrite=False, progress=None):
    """Write a store's (or table's) rows to a CSV file in frame order, streaming.

    Columns keep their names (trackpy's); no index column. When the units
    are known (the store's units record, or ``attrs['units']`` of a table),
    the first line is a comment holding them: ``# streamtrack units: {...}``.

    Parameters
    ----------
    source : FramewiseData or DataFrame
    path : str or path
    overwrite : bool
        Replace an existing file (only once the new one is complete).
    progress : callable, optional
        ``progress(frames_done)`` after each block of frames.

    Returns
    -------
    int
        The number of rows written.
    """
    path = check_output(path, overwrite, "to_csv")
    src = Source(source, "to_csv")
    partial = partial_path(path)
    rows = 0
    try:
        with open(partial, "w", newline="", encoding="utf-8") as f:
            units = known_units(src.units)
            if units:
                f.write(UNITS_COMMENT + json.dumps(src.units) + "\n")
            for table in src.blocks(progress):
                table.to_csv(f, header=rows == 0, index=False, lineterminator="\n")
                rows += len(table)
        if src.columns is None:
            raise ValueError("to_csv: the source has no features (no frame has rows); "
                             "nothing to export")
        finish(partial, path)
    except BaseException:
        remove(partial)
        raise
    return rows


def read_csv(path):
    """A CSV written by :func:`to_csv` (or any CSV of features) as a DataFrame.

    Numbers are parsed exactly as written (round-trip float precision);
    the units comment, if any, becomes ``attrs['units']``.
    """
    path = os.fspath(path)
    units = None
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    if first.startswith(UNITS_COMMENT):
        units = json.loads(first[len(UNITS_COMMENT):])
    # only the first line is a comment: a '#' inside a text value stays
    # pandas 2 parses floats exactly only when asked to (pandas 3 always does and
    # deprecates the option)
    exact = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    table = pd.read_csv(path, skiprows=1 if units is not None else 0, **exact)
    if units:
        table.attrs["units"] = units
    return table


def to_parquet(source, path, *, overwrite=False, progress=None):
    """Write a store's (or table's) rows to a Parquet file in frame order, streaming.

    One row group per block of frames; the column types are those of the
    first block (later blocks are converted to them). The units and the
    version are in the file's metadata (key ``streamtrack``, JSON). Needs
    pyarrow (``pip install 'napari-streamtrack[parquet]'``).

    Returns
    -------
    int
        The number of rows written.
    """
    pa, pq = _pyarrow("to_parquet")
    path = check_output(path, overwrite, "to_parquet")
    src = Source(source, "to_parquet")
    partial = partial_path(path)
    writer, rows = None, 0
    note = json.dumps({"version": __version__, "units": src.units}).encode()
    try:
        for table in src.blocks(progress):
            if writer is None:
                schema = pa.Schema.from_pandas(table, preserve_index=False)
                schema = schema.with_metadata({**(schema.metadata or {}), PARQUET_KEY: note})
                writer = pq.ParquetWriter(partial, schema)
            try:
                arrow = pa.Table.from_pandas(table, schema=schema, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise ValueError(f"to_parquet: frames {table['frame'].iloc[0]}-"
                                 f"{table['frame'].iloc[-1]} do not fit the column types of "
                                 f"the first frames ({exc})") from None
            writer.write_table(arrow, row_group_size=max(len(table), 1))
            rows += len(table)
        if writer is None:
            raise ValueError("to_parquet: the source has no features (no frame has rows); "
                             "nothing to export")
        writer.close()
        writer = None
        finish(partial, path)
    except BaseException:
        if writer is not None:
            writer.close()
        remove(partial)
        raise
    return rows


def read_parquet(path):
    """A Parquet file written by :func:`to_parquet` as a DataFrame (units in
    ``attrs['units']``). Needs pyarrow."""
    _, pq = _pyarrow("read_parquet")
    path = os.fspath(path)
    arrow = pq.read_table(path)
    table = arrow.to_pandas()
    note = (arrow.schema.metadata or {}).get(PARQUET_KEY)
    if note:
        units = json.loads(note).get("units") or {}
        if any(v is not None for v in units.values()):
            table.attrs["units"] = units
    table.index = pd.RangeIndex(len(table))
    return table

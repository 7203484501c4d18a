"""Exports and imports of trajectories: GEFF, CSV and Parquet (issue 14).

Every writer streams its source (a store of any layout and length, read in
blocks of frames, or a DataFrame) in flat memory and writes the rows in frame
order; an existing output is replaced (``overwrite=True``) only once the new
one is complete.

- :func:`to_geff` / :func:`from_geff`: the graph exchange file format (a
  zarr folder, ``.geff`` or ``.zarr``): one node per row (**node id = the
  row's position in frame order**), one edge per pair of consecutive
  observations of a particle (edge property ``frame_gap``), ``particle`` as
  the tracklet id, axes ``t``/``z``/``y``/``x`` with the units record's
  scales. See :mod:`streamtrack.exchange._geff`.
- :func:`to_csv` / :func:`read_csv`, :func:`to_parquet` / :func:`read_parquet`
  (pyarrow: ``pip install 'napari-streamtrack[parquet]'``): trackpy's
  columns, the units in a first comment line (CSV) or the file metadata
  (Parquet).
- :func:`export`: the format from the output's extension (``streamtrack
  export STORE OUT``).

Examples
--------
>>> import os, tempfile, warnings
>>> import streamtrack as tp
>>> t = tp.synthetic.brownian_trajectories(3, 5, seed=1)
>>> folder = tempfile.mkdtemp()
>>> tp.to_geff(t, os.path.join(folder, 'tracks.geff'))['edges']   # 3 x 4 links
12
>>> back = tp.from_geff(os.path.join(folder, 'tracks.geff'))
>>> back.equals(t.reset_index(drop=True))
True
>>> tp.to_csv(t, os.path.join(folder, 'tracks.csv'))
15
>>> tp.read_csv(os.path.join(folder, 'tracks.csv')).equals(t.reset_index(drop=True))
True
"""
from __future__ import annotations

import os

from ._geff import from_geff, to_geff
from ._tables import read_csv, read_parquet, to_csv, to_parquet

__all__ = ["to_geff", "from_geff", "to_csv", "read_csv", "to_parquet", "read_parquet",
           "export", "export_format", "FORMATS"]

#: output extension -> format
FORMATS = {".geff": "geff", ".zarr": "geff", ".csv": "csv", ".parquet": "parquet",
           ".pq": "parquet"}
_WRITERS = {"geff": to_geff, "csv": to_csv, "parquet": to_parquet}


def export_format(path) -> str:
    """The format of an output path from its extension ('geff', 'csv' or 'parquet').

    Raises
    ------
    ValueError
        An unknown extension (the message lists the known ones).
    """
    ext = os.path.splitext(os.fspath(path).rstrip("/\\"))[1].lower()
    if ext not in FORMATS:
        raise ValueError(f"cannot tell the format of {os.fspath(path)!r} from its extension; "
                         f"use one of {', '.join(FORMATS)} (GEFF: .geff/.zarr)")
    return FORMATS[ext]


def export(source, path, *, overwrite=False, progress=None):
    """Write ``source`` (a store or a table) to ``path`` in the format of its extension.

    ``.geff``/``.zarr``: :func:`to_geff`; ``.csv``: :func:`to_csv`;
    ``.parquet``: :func:`to_parquet`. Returns what the writer returns.
    """
    return _WRITERS[export_format(path)](source, path, overwrite=overwrite, progress=progress)

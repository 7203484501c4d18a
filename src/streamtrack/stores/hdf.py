"""trackpy's three HDF5 store layouts, file-compatible with trackpy both ways.

- :class:`PandasHDFStore`: one pandas table node ``Frame_<n>`` per frame.
- :class:`PandasHDFStoreBig`: the same nodes, plus the frame list cached in a
  ``_Frames_Cache`` node (listing 10^4+ nodes is slow in HDF5).
- :class:`PandasHDFStoreSingleNode`: one appendable table ``FrameData``.

Every ``put`` validates its frame, replaces an existing frame instead of
duplicating it, and is flushed before it returns.
"""
import json
import os
import warnings

import numpy as np
import pandas as pd

from ..exceptions import StoreError, StoreLockedError
from . import _journal
from ._fastread import read_frame_table, read_table_rows
from .base import FramewiseData

# A frame node is read whole, so the PyTables index pandas builds by default
# (two thirds of the cost of a put) is never used: skip it.
_FRAME_NODE = dict(format="table", index=False, track_times=False)
KEY_PREFIX = "Frame_"
CACHE_KEY = "_Frames_Cache"
_META_PREFIX = "streamtrack_"
_PROCESSED = "streamtrack__processed"  # not a metadata record: two underscores
_CHECKPOINT = "_streamtrack_checkpoint_"


def _merge_ranges(ranges):
    merged = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return merged


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def code_key(frame_no):
    """Node name of a frame: ``Frame_12``."""
    return f"{KEY_PREFIX}{int(frame_no)}"


def _frame_number(df, t_column):
    value = df[t_column].iloc[0]
    if isinstance(value, (float, np.floating)) and not float(value).is_integer():
        raise ValueError(f"column {t_column!r} must hold integer frame numbers, got {value!r}.")
    return int(value)


class _HDFStoreBase(FramewiseData):
    def __init__(self, filename, mode="a", t_column="frame", **kwargs):
        self.filename = os.fspath(filename)
        self.mode = mode
        self._t_column = t_column
        if mode == "r" and not os.path.exists(self.filename):
            raise FileNotFoundError(f"no store at {self.filename!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            try:
                self.store = pd.HDFStore(self.filename, mode, **kwargs)
            except Exception as exc:  # noqa: BLE001 - PyTables raises many kinds
                if "unable to lock" in str(exc):  # HDF5's own file lock
                    raise StoreLockedError(
                        f"{self.filename!r} is open for writing in another process; wait "
                        "for it to finish (HDF5 allows one writer and no reader meanwhile; "
                        "PandasHDFStoreChunked lets readers in).") from None
                raise StoreError(f"cannot open {self.filename!r} as an HDF5 store "
                                 f"(mode {mode!r}): {exc}") from exc

    @property
    def t_column(self):
        return self._t_column

    @property
    def _root(self):
        if not self.store.is_open:
            raise StoreError(f"the store {self.filename!r} is closed.")
        return self.store._handle.root

    def _writable(self):
        if self.mode == "r":
            raise StoreError(f"{self.filename!r} was opened read-only (mode='r'); open it "
                             "with mode='a' to put frames.")

    @property
    def metadata(self):
        """Records saved with :meth:`save_metadata`: ``{name: dict}``.

        Kept as JSON in attributes of the file's root group, which trackpy
        ignores, so files stay trackpy-compatible.
        """
        attrs = self._root._v_attrs
        return {name[len(_META_PREFIX):]: json.loads(attrs[name])
                for name in attrs._v_attrnamesuser
                if name.startswith(_META_PREFIX) and name != _PROCESSED}

    def save_metadata(self, name, record):
        """Save a JSON-serialisable ``record`` (parameters, version) under ``name``.

        Raises
        ------
        TypeError
            ``record`` cannot be written as JSON.
        StoreError
            The store is read-only.
        """
        self._writable()
        try:
            text = json.dumps(record, default=_json_default)
        except TypeError as exc:
            raise TypeError(f"metadata {name!r} must be JSON-serialisable: {exc}") from exc
        self._root._v_attrs[_META_PREFIX + str(name)] = text
        self.store.flush()

    def mark_processed(self, frame_no):
        """Record that ``frame_no`` was processed (also when it had no features).

        ``batch(..., resume=True)`` continues after the last recorded frame.
        Kept as ranges in a root attribute, which trackpy ignores.
        """
        self._writable()
        ranges = self._processed_ranges()
        frame_no = int(frame_no)
        if ranges and ranges[-1][1] + 1 == frame_no:
            ranges[-1][1] = frame_no  # the usual case: the next frame in order
        elif not any(a <= frame_no <= b for a, b in ranges):
            ranges = _merge_ranges(ranges + [[frame_no, frame_no]])
        self._root._v_attrs[_PROCESSED] = json.dumps(ranges)
        self.store.flush()

    def _processed_ranges(self):
        attrs = self._root._v_attrs
        if _PROCESSED not in attrs._v_attrnamesuser:
            return []
        return json.loads(attrs[_PROCESSED])

    @property
    def processed_frames(self):
        """Sorted frame numbers :meth:`mark_processed` recorded."""
        return [t for a, b in self._processed_ranges() for t in range(a, b + 1)]

    def save_checkpoint(self, name, frame_no, arrays):
        """Keep a checkpoint (the state after ``frame_no``) in a root node.

        The new node is written before the old one is dropped.
        """
        self._writable()
        handle = self.store._handle
        key, tmp = _CHECKPOINT + str(name), _CHECKPOINT + str(name) + "_new"
        payload = np.frombuffer(_journal.encode_checkpoint(name, frame_no, arrays), np.uint8)
        if tmp in self._root._v_children:
            handle.remove_node(self._root, tmp)
        handle.create_array(self._root, tmp, payload)
        if key in self._root._v_children:
            handle.remove_node(self._root, key)
        handle.rename_node(self._root, key, tmp)
        self.store.flush()

    def load_checkpoint(self, name):
        """``(frame_no, arrays)`` of the checkpoint called ``name``, or None."""
        children = self._root._v_children
        for key in (_CHECKPOINT + str(name), _CHECKPOINT + str(name) + "_new"):
            if key in children:
                _, frame_no, arrays = _journal.decode_checkpoint(children[key].read().tobytes())
                return frame_no, arrays
        return None

    def close(self):
        if self.store.is_open:
            self.store.close()

    def __repr__(self):
        return f"<{type(self).__name__} {self.filename!r}, {len(self)} frames>"


class PandasHDFStore(_HDFStoreBase):
    """Save each frame's features in its own ``Frame_<n>`` node (trackpy's layout).

    Parameters
    ----------
    filename : str or path
        HDF5 file; created if needed.
    mode : {'a', 'r', 'r+', 'w'}, optional
        As for ``pandas.HDFStore``. Default 'a'.
    t_column : str, optional
        Frame-number column. Default 'frame'.
    **kwargs
        Passed to ``pandas.HDFStore`` (e.g. ``complevel=5, complib='zlib'``).

    Raises
    ------
    StoreError
        The file exists but is not HDF5, or cannot be opened in that mode.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), 'f.h5')
    >>> with PandasHDFStore(path) as s:
    ...     s.put(pd.DataFrame({'frame': [3], 'y': [1.0], 'x': [2.0]}))
    ...     print(s.frames, s.get(3)['x'].tolist())
    [3] [2.0]
    """

    def put(self, df):
        """Store one frame (replacing it if present) and flush.

        Raises
        ------
        TypeError, ValueError
            Not a DataFrame; no frame column; several frames.
        StoreError
            The store is read-only.
        """
        self._writable()
        if not self._validate(df):
            return
        frame_no = _frame_number(df, self.t_column)
        key = code_key(frame_no)
        root = self._root
        if key in root._v_children:
            # write the new frame first, then swap: a crash keeps old or new, never neither
            tmp = "_new_" + key
            if tmp in root._v_children:
                self.store._handle.remove_node(root, tmp, recursive=True)
            self.store.put(tmp, df, **_FRAME_NODE)
            self.store._handle.remove_node(root, key, recursive=True)
            self.store._handle.rename_node(root, key, tmp)
        else:
            self.store.put(key, df, **_FRAME_NODE)
        self._after_put(frame_no)
        self.store.flush()

    def _after_put(self, frame_no):
        pass

    def get(self, frame_no):
        """The features of frame ``frame_no``.

        Raises
        ------
        KeyError
            The frame is not in the store (the message names it and the file).
        """
        key = code_key(frame_no)
        children = self._root._v_children
        if key not in children:
            raise KeyError(f"frame {frame_no} is not in {self.filename!r}")
        frame = read_frame_table(children[key])
        return self.store.get(key) if frame is None else frame

    @property
    def frames(self):
        """Sorted frame numbers, read off the node names (not ``HDFStore.keys()``)."""
        names = self._root._v_children.keys()
        return sorted(int(n[len(KEY_PREFIX):]) for n in names
                      if n.startswith(KEY_PREFIX) and n[len(KEY_PREFIX):].lstrip("-").isdigit())


class PandasHDFStoreBig(PandasHDFStore):
    """Like :class:`PandasHDFStore`, with the frame list cached in ``_Frames_Cache``.

    The cache is kept in memory, written to the file on ``close`` (when
    writable) and dropped from the file on every ``put`` so that an
    interrupted run never leaves a stale list behind.
    """

    def __init__(self, filename, mode="a", t_column="frame", **kwargs):
        super().__init__(filename, mode=mode, t_column=t_column, **kwargs)
        self._frames_cache = None
        self._cache_on_disk_valid = CACHE_KEY in self._root._v_children

    def _after_put(self, frame_no):
        if self._cache_on_disk_valid or CACHE_KEY in self._root._v_children:
            self.store._handle.remove_node(self._root, CACHE_KEY, recursive=True)
            self._cache_on_disk_valid = False
        if self._frames_cache is not None and frame_no not in self._frames_cache:
            self._frames_cache = sorted(self._frames_cache + [frame_no])

    @property
    def frames(self):
        if self._frames_cache is None:
            if CACHE_KEY in self._root._v_children:
                self._frames_cache = sorted(int(n) for n in self.store.get(CACHE_KEY).index)
            else:
                self._frames_cache = super().frames
        return list(self._frames_cache)

    def rebuild_cache(self):
        """Forget the cached frame list and list the nodes again."""
        self._frames_cache = None
        return self.frames

    def _flush_cache(self):
        if self.mode == "r" or self._cache_on_disk_valid or not self.store.is_open:
            return
        frames = self.frames
        if not frames:  # pandas writes nothing for an empty table anyway
            return
        cache = pd.DataFrame({"dummy": np.zeros(len(frames))}, index=pd.Index(frames))
        self.store.put(CACHE_KEY, cache, format="table", track_times=False)
        self._cache_on_disk_valid = True

    def close(self):
        if self.store.is_open:
            self._flush_cache()
        super().close()


class PandasHDFStoreSingleNode(_HDFStoreBase):
    """All frames in one appendable table (``FrameData``), every column queryable.

    ``put`` of an existing frame replaces its rows; a frame bringing new
    columns (linking adds ``particle``) makes the table be rewritten once with
    them, the rows already stored getting -1 in new integer columns and NaN in
    new float columns. So ``for f in link_df_iter(s, ...): s.put(f)`` leaves
    one copy of every row (trackpy's SingleNode appends duplicates).

    Parameters
    ----------
    filename : str or path
    key : str, optional
        Table node name. Default 'FrameData'.
    mode, t_column, **kwargs
        As for :class:`PandasHDFStore`.
    use_tabular_copy : bool, optional
        Accepted for trackpy compatibility; tables we write are always tabular.
    """

    def __init__(self, filename, key="FrameData", mode="a", t_column="frame",
                 use_tabular_copy=False, **kwargs):
        super().__init__(filename, mode=mode, t_column=t_column, **kwargs)
        self.key = key
        # frame -> (first row, end row), or None for a frame whose rows are not
        # contiguous; built from the frame column on the first read and kept
        # up to date by put, so get reads a row range instead of a query
        self._ranges = None
        if key in self._root._v_children:
            storer = self.store.get_storer(key)
            if not storer.is_table:
                raise StoreError(f"node {key!r} in {self.filename!r} is not a table; a "
                                 "SingleNode store needs a table-format node.")

    def _has_table(self):
        return self.key in self._root._v_children

    def _columns(self):
        return list(self.store.select(self.key, start=0, stop=0).columns)

    def put(self, df):
        """Store one frame (replacing its rows if present) and flush."""
        self._writable()
        if not self._validate(df):
            return
        frame_no = _frame_number(df, self.t_column)
        if self._has_table():
            columns = self._columns()
            new = [c for c in df.columns if c not in columns]
            if new:
                self._rewrite_with(new, df)
                columns = self._columns()
            missing = [c for c in columns if c not in df.columns]
            df = df.assign(**{c: self._fill_value(c) for c in missing})[columns]
            if self._replace_in_place(frame_no, df):  # rows stay where they were
                self.store.flush()
                return
            if self._ranges is None or frame_no in self._ranges:
                self._ranges = None  # rows removed from the middle: rebuild on read
            self.store.remove(self.key, where=f"{self.t_column} == {frame_no}")
        # no PyTables index: pandas would rebuild it on every append (O(table));
        # get() reads the frame's row range instead
        start = self._nrows()
        self.store.append(self.key, df, format="table", data_columns=True, index=False)
        if self._ranges is not None:
            self._ranges[frame_no] = (start, start + len(df))
        self.store.flush()

    def _nrows(self):
        return self.store.get_storer(self.key).table.nrows if self._has_table() else 0

    def _row_ranges(self):
        if self._ranges is None:
            ranges = {}
            if self._has_table():
                values = self.store.get_storer(self.key).table.col(self.t_column)
                if len(values):
                    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
                    ends = np.r_[starts[1:], len(values)]
                    for frame_no, a, b in zip(values[starts].tolist(), starts.tolist(),
                                              ends.tolist()):
                        # a frame seen in two places: fall back to a query for it
                        ranges[int(frame_no)] = None if frame_no in ranges else (a, b)
            self._ranges = ranges
        return self._ranges

    def _replace_in_place(self, frame_no, df):
        """Overwrite the rows of ``frame_no`` where they are, when the new frame
        has as many rows and the same columns (linking write-back): O(frame)
        instead of removing rows from the middle of the table (O(table))."""
        table = self.store.get_storer(self.key).table
        rows = table.get_where_list(f"({self.t_column} == {frame_no})")
        if len(rows) == 0 or len(rows) != len(df) or rows[-1] - rows[0] + 1 != len(rows):
            return False
        if set(table.colnames) != set(df.columns) | {"index"} or \
                df.index.dtype.kind not in "iu":
            return False
        records = np.empty(len(df), dtype=table.dtype)
        records["index"] = df.index.to_numpy()
        for column in df.columns:
            values = df[column].to_numpy()
            if values.dtype.kind != records.dtype[column].kind:
                return False  # e.g. strings: let pandas convert them
            records[column] = values
        table.modify_rows(int(rows[0]), int(rows[-1]) + 1, rows=records)
        return True

    def _fill_value(self, column):
        dtype = self.store.select(self.key, start=0, stop=1)[column].dtype \
            if column in self._columns() else np.dtype(float)
        return -1 if dtype.kind in "iu" else np.nan

    def _rewrite_with(self, new_columns, example):
        data = self.store.select(self.key)
        for c in new_columns:
            kind = example[c].dtype.kind
            data[c] = np.full(len(data), -1 if kind in "iu" else np.nan).astype(
                example[c].dtype if kind in "iuf" else float)
        data = data[list(example.columns) + [c for c in data.columns if c not in example.columns]]
        self._ranges = None  # same rows, but a new table: rebuild on read
        tmp = "_new_" + self.key
        if tmp in self._root._v_children:
            self.store.remove(tmp)
        self.store.append(tmp, data, format="table", data_columns=True, index=False)
        self.store._handle.remove_node(self._root, self.key, recursive=True)
        self.store._handle.rename_node(self._root, self.key, tmp)
        self.store.flush()

    def get(self, frame_no):
        """The rows of frame ``frame_no`` (a row range read, not a query).

        Raises
        ------
        KeyError
            The frame is not in the store (the message names it and the file).
        """
        if not self._has_table():
            raise KeyError(f"frame {frame_no} is not in {self.filename!r} (empty store)")
        frame_no = int(frame_no)
        ranges = self._row_ranges()
        if frame_no not in ranges:
            raise KeyError(f"frame {frame_no} is not in {self.filename!r}")
        frame = None
        if ranges[frame_no] is not None:
            frame = read_table_rows(self.store.get_storer(self.key).table, *ranges[frame_no])
        if frame is None:  # rows scattered, or a table layout the fast path skips
            frame = self.store.select(self.key, where=f"{self.t_column} == {frame_no}")
        return frame

    @property
    def frames(self):
        return sorted(self._row_ranges())

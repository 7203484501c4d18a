"""trackpy's three HDF5 store layouts, file-compatible with trackpy both ways.

- :class:`PandasHDFStore`: one pandas table node ``Frame_<n>`` per frame.
- :class:`PandasHDFStoreBig`: the same nodes, plus the frame list cached in a
  ``_Frames_Cache`` node (listing 10^4+ nodes is slow in HDF5).
- :class:`PandasHDFStoreSingleNode`: one appendable table ``FrameData``.

Every ``put`` validates its frame, replaces an existing frame instead of
duplicating it, and is flushed before it returns. Each class opens only its
own layout (or a file without frames). A write that the disk or the file
size limit has no room for is refused before HDF5 writes anything, so the
frames stored before it stay intact and the run can be resumed.
"""
import warnings

import numpy as np
import pandas as pd

from ..exceptions import StoreError
from . import _room, _tables
from ._fastread import read_frame_table, read_table_rows
from ._hdfbase import _HDFStoreBase
from ._layouts import CACHE_KEY, FRAME_PREFIX, SINGLE_KEY, is_frame_node
from ._single_columns import TableTypes, fit_frame, missing_values

# A frame node is read whole, so the PyTables index pandas builds by default
# (two thirds of the cost of a put) is never used: skip it.
_FRAME_NODE = dict(format="table", index=False, track_times=False)


def code_key(frame_no):
    """Node name of a frame: ``Frame_12``."""
    return f"{FRAME_PREFIX}{int(frame_no)}"


def _frame_number(df, t_column):
    value = df[t_column].iloc[0]
    if isinstance(value, (float, np.floating)) and not float(value).is_integer():
        raise ValueError(f"column {t_column!r} must hold integer frame numbers, got {value!r}.")
    return int(value)


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
        The file exists but is empty, not HDF5 or damaged (e.g. truncated), or
        holds another class's layout (the message names the class to use).
    StoreLockedError
        Another process has the file open for writing.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), 'f.h5')
    >>> with PandasHDFStore(path) as s:
    ...     s.put(pd.DataFrame({'frame': [3], 'y': [1.0], 'x': [2.0]}))
    ...     print(s.frames, s.get(3)['x'].tolist())
    [3] [2.0]
    """

    _layout = "frames"
    _accepts = (None, "frames")

    def put(self, df):
        """Store one frame (replacing it if present) and flush.

        Raises
        ------
        TypeError, ValueError
            Not a DataFrame; no frame column; several frames.
        StoreError
            The store is read-only; or the disk or the file size limit has no
            room for the frame: then nothing is written and the frames stored
            before stay as they were (the message names the cause).
        """
        self._writable()
        if not self._validate(df):
            return
        frame_no = _frame_number(df, self.t_column)
        key = code_key(frame_no)
        root = self._root
        with self._writing(f"frame {frame_no}", _room.room_for(df, len(root._v_children)),
                           frame_no):
            if key in root._v_children:
                # write the new frame first, then swap: a crash keeps old or new, never neither
                tmp = "_new_" + key
                _tables.remove(self.store, tmp)
                self.store.put(tmp, df, **_FRAME_NODE)
                _tables.replace(self.store, key, tmp)
            else:
                self.store.put(key, df, **_FRAME_NODE)
            self._after_put(frame_no)

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
        return sorted(int(n[len(FRAME_PREFIX):]) for n in names if is_frame_node(n))


class PandasHDFStoreBig(PandasHDFStore):
    """Like :class:`PandasHDFStore`, with the frame list cached in ``_Frames_Cache``.

    The cache is kept in memory, written to the file on ``close`` (when
    writable) and dropped from the file on every ``put`` so that an
    interrupted run never leaves a stale list behind. Opens files of
    :class:`PandasHDFStore` too (as trackpy's does), adding the cache.
    """

    _layout = "big"
    _accepts = (None, "frames", "big")

    def __init__(self, filename, mode="a", t_column="frame", **kwargs):
        super().__init__(filename, mode=mode, t_column=t_column, **kwargs)
        self._frames_cache = None
        self._cache_on_disk_valid = CACHE_KEY in self._root._v_children

    def _after_put(self, frame_no):
        if self._cache_on_disk_valid or CACHE_KEY in self._root._v_children:
            _tables.remove(self.store, CACHE_KEY)
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

    def _before_close(self):
        if self._cache_on_disk_valid:
            return
        refused_before = self._refused
        frames = self.frames
        if not frames:  # pandas writes nothing for an empty table anyway
            return
        cache = pd.DataFrame({"dummy": np.zeros(len(frames))}, index=pd.Index(frames))
        try:
            with self._writing("the frame list (_Frames_Cache)",
                               _room.room_for(cache, len(self._root._v_children))):
                self.store.put(CACHE_KEY, cache, format="table", track_times=False)
        except StoreError as exc:
            if self._failure is not None:
                raise  # HDF5 had begun writing: the file may be damaged, say so
            # refused before anything was written: the frames are all there,
            # only the list that spares listing the nodes is missing; said
            # once per store (a refused put has already told the user)
            if refused_before:
                return
            warnings.warn(f"the frame list (_Frames_Cache) of {self.filename!r} was not "
                          f"written: {exc.reason}; every frame is stored, and "
                          "PandasHDFStoreBig and trackpy list the Frame_<n> nodes instead "
                          "(slower to open).", RuntimeWarning, stacklevel=3)
            return
        self._cache_on_disk_valid = True


class PandasHDFStoreSingleNode(_HDFStoreBase):
    """All frames in one appendable table (``FrameData``), every column queryable.

    ``put`` of an existing frame replaces its rows; a frame bringing new
    columns (linking adds ``particle``) makes the table be rewritten once with
    them, the rows already stored getting -1 in new integer columns, NaN in
    new float columns and a missing string in new string columns. A frame of
    other column types is cast to the table's when no value changes, else
    refused naming the column (:mod:`._single_columns`). So
    ``for f in link_df_iter(s, ...): s.put(f)`` leaves one copy of every row
    (trackpy's SingleNode appends duplicates).

    Parameters
    ----------
    filename : str or path
    key : str, optional
        Table node name. Default 'FrameData'.
    mode, t_column, **kwargs
        As for :class:`PandasHDFStore`.
    use_tabular_copy : bool, optional
        Accepted for trackpy compatibility; tables we write are always tabular.

    Raises
    ------
    StoreError, StoreLockedError
        As for :class:`PandasHDFStore`.
    """

    _layout = "single"
    _accepts = (None, "single")

    def __init__(self, filename, key=SINGLE_KEY, mode="a", t_column="frame",
                 use_tabular_copy=False, **kwargs):
        super().__init__(filename, mode=mode, t_column=t_column, **kwargs)
        self.key = key
        # frame -> (first row, end row), or None for a frame whose rows are not
        # contiguous; built from the frame column on the first read and kept
        # up to date by put, so get reads a row range instead of a query
        self._ranges = None
        self._types = None  # the table's column types (_single_columns), read once
        if key in self._root._v_children and not self.store.get_storer(key).is_table:
            self.store.close()
            raise StoreError(f"node {key!r} in {self.filename!r} is not a table; a "
                             "SingleNode store needs a table-format node.")

    def _has_table(self):
        return self.key in self._root._v_children

    def _table_types(self):
        if self._types is None:
            self._types = TableTypes(self.store.get_storer(self.key))
        self._types.nrows = self._nrows()
        return self._types

    def put(self, df):
        """Store one frame (replacing its rows if present) and flush.

        A frame whose column types differ from the table's is fitted to it
        when no value changes (whole float frame numbers into an integer
        ``frame`` column, int32 into int64); a longer string or a new
        string column rewrites the table once with wider columns.

        Raises
        ------
        TypeError
            As for :meth:`PandasHDFStore.put`; also a column the table
            cannot take without a value changing (strings where it holds
            numbers, 1.5 where it holds integers): the message names the
            column, its type and the table's, and nothing is written.
        ValueError, StoreError
            As for :meth:`PandasHDFStore.put`.
        """
        self._writable()
        if not self._validate(df):
            return
        frame_no = _frame_number(df, self.t_column)
        new, widths = (), {}
        if self._has_table():
            # every type settled before anything is written: pandas would
            # refuse a misfit only after a replaced frame's rows were removed
            types = self._table_types()
            df, new, widths, growth = fit_frame(df, types, frame_no, self.filename)
        need = _room.room_for(df)
        if new or widths:  # the whole table is rewritten beside the old one
            table = self.store.get_storer(self.key).table
            need += 2 * table.nrows * (table.rowsize + growth)
        with self._writing(f"frame {frame_no}", need, frame_no):
            self._put(frame_no, df, new, widths)

    def _put(self, frame_no, df, new=(), widths=None):
        if self._has_table():
            if new or widths:
                self._rewrite_with(new, df, widths)
            df = df[(self._types or self._table_types()).order]  # read again after a rewrite
            if self._replace_in_place(frame_no, df):  # rows stay where they were
                return
            if self._ranges is None or frame_no in self._ranges:
                self._ranges = None  # rows removed from the middle: rebuild on read
            self.store.remove(self.key, where=f"{self.t_column} == {frame_no}")
        else:
            self._types = None  # the append below creates the table
        # no PyTables index: pandas would rebuild it on every append (O(table));
        # get() reads the frame's row range instead
        start = self._nrows()
        self.store.append(self.key, df, format="table", data_columns=True, index=False)
        if self._ranges is not None:
            self._ranges[frame_no] = (start, start + len(df))

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

    def _rewrite_with(self, new_columns, example, widths=None):
        """Rewrite the table with ``example``'s new columns and wider string columns.

        The rows stored keep their values: -1 in a new integer column, NaN in
        a new float column, a missing string in a new string column.
        """
        data = self.store.select(self.key)
        for c in new_columns:
            data[c] = missing_values(example[c].dtype, len(data))
        data = data[list(example.columns) + [c for c in data.columns if c not in example.columns]]
        # no string column narrows: pandas would size it to the widest value
        # left, and the next longer string would need another rewrite
        sizes = {**self._table_types().string_widths(), **(widths or {})}
        self._ranges = None  # same rows, but a new table: rebuild on read
        self._types = None
        tmp = "_new_" + self.key
        if tmp in self._root._v_children:
            self.store.remove(tmp)
        self.store.append(tmp, data, format="table", data_columns=True, index=False,
                          min_itemsize=sizes or None)
        _tables.replace(self.store, self.key, tmp)

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

"""``FramewiseData``: the abstract interface of every framewise store."""
from abc import ABC, abstractmethod

import numpy as np
import pandas as pd


def column_dtypes(df):
    """The dtypes of ``df``'s columns, in order, without building a Series.

    ``df.dtypes`` costs ~15 µs per call, a tenth of a put; the block
    manager has them at hand (public ``df.dtypes`` if that ever changes).
    """
    try:
        return list(df._mgr.get_dtypes())
    except AttributeError:
        return list(df.dtypes)


def _check_columns(df):
    """Refuse, naming the column, what the HDF5 table format and the chunked
    journal cannot both hold: stores take numbers, booleans and strings."""
    names = df.columns
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"column names must be strings; {name!r} is a "
                            f"{type(name).__name__}: rename it (df.columns = "
                            "df.columns.astype(str)).")
    if not names.is_unique:
        twice = names[names.duplicated()][0]
        raise ValueError(f"column {twice!r} appears {list(names).count(twice)} times in this "
                         "DataFrame; a store keeps one column per name: rename or drop the "
                         "copies.")
    for i, dtype in enumerate(column_dtypes(df)):
        if isinstance(dtype, np.dtype) and dtype.kind in "biufc":
            continue
        name = names[i]
        if dtype.kind in "OU" or isinstance(dtype, pd.StringDtype):
            inferred = pd.api.types.infer_dtype(df.iloc[:, i], skipna=True)
            if inferred in ("string", "empty"):
                continue
            what = f"object values of kind {inferred!r}"
        else:
            what = f"dtype {dtype}"
        raise TypeError(f"column {name!r} holds {what}, which a store cannot hold (stores "
                        "take numbers, booleans and strings): convert it, e.g. "
                        f"df[{name!r}] = df[{name!r}].astype(float) or .astype(str), "
                        "or drop it.")


class FramewiseData(ABC):
    """Abstract base class of stores that hold one DataFrame of features per frame.

    Subclass it to add a storage format: implement ``put``, ``get``,
    ``close`` and the properties ``frames`` and ``t_column``; iteration,
    ``len``, ``store[n]``, ``dump``, ``max_frame`` and the context manager
    come with the base class. ``FramewiseData()`` and incomplete subclasses
    raise ``TypeError``.

    A store that can be resumed also keeps the records of a run: the frames
    processed, metadata records and checkpoints (``mark_processed``,
    ``processed_frames``, ``metadata``, ``save_metadata``,
    ``save_checkpoint``, ``load_checkpoint``, ``frames_without``), and sets
    ``keeps_records = True``. The base class's versions are those of a store
    that keeps none: the readers find nothing, the writers raise
    ``NotImplementedError``. :func:`resumable` tells the two apart, for any
    object (trackpy's own stores are not ``FramewiseData``).

    Examples
    --------
    A complete store that keeps frames in memory:

    >>> import pandas as pd
    >>> class MemoryStore(FramewiseData):
    ...     def __init__(self, t_column='frame'):
    ...         self._frames, self._t = {}, t_column
    ...     @property
    ...     def t_column(self):
    ...         return self._t
    ...     @property
    ...     def frames(self):
    ...         return sorted(self._frames)
    ...     def put(self, df):
    ...         if self._validate(df):
    ...             self._frames[int(df[self.t_column].iloc[0])] = df.copy()
    ...     def get(self, frame_no):
    ...         return self._frames[frame_no].copy()
    ...     def close(self):
    ...         pass
    >>> with MemoryStore() as s:
    ...     s.put(pd.DataFrame({'frame': [0, 0], 'x': [1.0, 2.0], 'y': [3.0, 4.0]}))
    ...     s.put(pd.DataFrame({'frame': [1], 'x': [1.5], 'y': [3.5]}))
    ...     print(len(s), s.max_frame, len(s.dump()), len(s.dump(1)), list(s[1]['x']))
    2 1 3 2 [1.5]
    """

    @abstractmethod
    def put(self, df):
        """Store the features of one frame, replacing that frame if present."""

    @abstractmethod
    def get(self, frame_no):
        """The features of frame ``frame_no`` as a DataFrame."""

    @abstractmethod
    def close(self):
        """Release the underlying file or resource."""

    @property
    @abstractmethod
    def frames(self):
        """Sorted list of the frame numbers held."""

    @property
    @abstractmethod
    def t_column(self):
        """Name of the frame-number column."""

    def __getitem__(self, frame_no):
        return self.get(frame_no)

    def __len__(self):
        return len(self.frames)

    def __iter__(self):
        # the frame list is taken once: frames put back while iterating
        # (linking writes each frame back) are not visited twice
        for frame_no in list(self.frames):
            yield self.get(frame_no)

    def read_frames(self, frame_numbers):
        """The rows of several stored frames as one DataFrame (a new RangeIndex).

        The analysis functions read stores block by block through it. The
        default concatenates :meth:`get`; a layout may read contiguous frames
        at once.

        Parameters
        ----------
        frame_numbers : sequence of int
            Stored frame numbers, ascending.

        Returns
        -------
        DataFrame or None
            None when the frames have no rows.
        """
        parts = [part for part in (self.get(int(f)) for f in frame_numbers) if len(part)]
        return pd.concat(parts, ignore_index=True) if parts else None

    def dump(self, N=None):
        """All frames (or the first ``N``) as one DataFrame.

        The units record, when the store has one, is in the table's
        ``attrs['units']`` (``{'mpp': ..., 'fps': ...}``).
        """
        frames = list(self.frames)
        if N is not None:
            frames = frames[:N]
        if not frames:
            table = pd.DataFrame(columns=[self.t_column])
        else:
            table = pd.concat([self.get(n) for n in frames])
        units = self.metadata.get("units")
        if units:
            # the movie's units travel with the table: the analysis defaults
            table.attrs["units"] = dict(units)
        return table

    @property
    def max_frame(self):
        """The largest frame number held (None when empty)."""
        frames = self.frames
        return max(frames) if len(frames) else None

    def _validate(self, df):
        """Check one frame before writing it; False (with a warning) if it is empty.

        An empty DataFrame, with or without columns, is not an error (trackpy's
        stores skip it with the same ``UserWarning``). Every layout checks the
        same, before anything is written: a frame a store cannot hold, or would
        hold under another frame number, is refused with the column named.

        Raises
        ------
        TypeError
            Not a DataFrame; a column of a type the stores cannot hold (they
            take numbers, booleans and strings); a column name that is not a
            string.
        ValueError
            No t_column; frame numbers that are not whole numbers; several
            frame numbers in one DataFrame; a column name used twice.
        """
        import warnings

        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"put() takes a DataFrame of one frame's features, got "
                            f"{type(df).__name__}.")
        # as trackpy: any empty frame, even one without columns (pd.DataFrame()),
        # is skipped with a warning, before the columns are checked
        if len(df) == 0:
            warnings.warn("An empty DataFrame was passed to put(). Continuing (nothing "
                          "was written).", UserWarning, stacklevel=3)
            return False
        if self.t_column not in df.columns:
            raise ValueError(f"cannot put features without a {self.t_column!r} column "
                             f"(columns: {list(df.columns)}); add the frame number.")
        _check_columns(df)
        values = df[self.t_column].to_numpy()
        if values.dtype.kind not in "iuf" or (values.dtype.kind == "f" and not (
                np.isfinite(values).all() and (values == np.round(values)).all())):
            bad = [v for v in values.tolist() if not (isinstance(v, (int, float)) and not
                                                     isinstance(v, bool) and float(v).is_integer())]
            raise ValueError(f"column {self.t_column!r} must hold whole frame numbers; got "
                             f"{(bad or values.tolist())[0]!r} ({values.dtype}): a frame "
                             "number is the index of an image in the movie.")
        if (values != values[0]).any():
            raise ValueError(f"put() takes one frame at a time; this DataFrame holds frames "
                             f"{sorted(set(values.tolist()))[:6]}.")
        return True

    # -- the records of a run: what resuming needs ------------------------------
    #: Whether the store keeps the records below (every streamtrack store).
    #: False: the base class's versions, which keep nothing.
    keeps_records = False

    def _keeps_none(self, what):
        return NotImplementedError(f"{type(self).__name__} keeps no {what} (keeps_records "
                                   "is False): write to a streamtrack store to resume runs.")

    def mark_processed(self, frame_no):
        """Record that frame ``frame_no`` was processed, also when it had no features.

        ``batch`` calls it after each frame (after ``put``, when the frame had
        features); ``batch(..., resume=True)`` continues after the last frame
        recorded.

        Parameters
        ----------
        frame_no : int

        Raises
        ------
        NotImplementedError
            The default: the store keeps no records.
        """
        raise self._keeps_none("processed frames")

    @property
    def processed_frames(self):
        """Sorted list of the frame numbers :meth:`mark_processed` recorded.

        Default: ``[]`` (nothing recorded).
        """
        return []

    @property
    def metadata(self):
        """The records :meth:`save_metadata` saved, ``{name: record}``.

        Default: ``{}`` (nothing recorded).
        """
        return {}

    def save_metadata(self, name, record):
        """Save a JSON-serialisable ``record`` (run parameters, a version) under ``name``.

        Replaces a record of that name.

        Parameters
        ----------
        name : str
        record : dict
            Numbers, strings, lists, dicts; numpy scalars and arrays too.

        Raises
        ------
        TypeError
            ``record`` cannot be written as JSON.
        NotImplementedError
            The default: the store keeps no records.
        """
        raise self._keeps_none("metadata records")

    def save_checkpoint(self, name, frame_no, arrays):
        """Keep the state a process reached after frame ``frame_no`` (the linker's).

        Replaces the checkpoint of that name once the new one is safe: an
        interrupted save leaves the previous checkpoint.

        Parameters
        ----------
        name : str
        frame_no : int
        arrays : dict of str to array_like
            The state, as named numpy arrays (scalars too).

        Raises
        ------
        NotImplementedError
            The default: the store keeps no records.
        """
        raise self._keeps_none("checkpoints")

    def load_checkpoint(self, name):
        """The newest checkpoint called ``name``: ``(frame_no, arrays)``, or None.

        Default: None (no checkpoint).
        """
        return None

    def frames_without(self, column, through=None):
        """The stored frames (up to ``through``) that have no ``column``, or None.

        Answered from the store's own records, without reading the features:
        ``link_store(resume=True)`` uses it to find linked frames whose
        ``particle`` column a damaged record lost. None when the layout
        cannot tell without reading every frame (the default; trackpy's
        layouts replace a frame whole, so none loses its newest version
        while keeping an older one).

        Parameters
        ----------
        column : str
        through : int, optional
            The last frame number to consider. Default: all.

        Returns
        -------
        list of int or None
        """
        return None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if exc_type is None:
            self.close()
            return
        try:  # an error is on its way: closing must not replace it with another
            self.close()
        except Exception as exc:  # noqa: BLE001
            import warnings

            warnings.warn(f"closing {self!r} after an error failed too: {exc}",
                          RuntimeWarning, stacklevel=2)


def resumable(obj) -> bool:
    """Whether ``obj`` is a store that keeps the records of a run.

    True for every streamtrack store: it records the frames processed,
    metadata and checkpoints (see :class:`FramewiseData`), so a run writing
    into it can be resumed. False for anything else an output may be:
    trackpy's own stores, a :class:`FramewiseData` that keeps no records,
    an object with a ``put`` method only.
    """
    return isinstance(obj, FramewiseData) and obj.keeps_records


def processed_marker(output):
    """The function recording in ``output`` that a frame was processed, or None.

    ``batch`` calls it after each frame. A store that keeps records marks
    the frame; an output that forwards frames to a store and declares
    ``mark_processed`` (:class:`streamtrack.linking.LinkingOutput`, which
    counts the frame for ``memory``) gets it too. A store that keeps no
    records and an object with ``put`` only get nothing.
    """
    if isinstance(output, FramewiseData):
        return output.mark_processed if output.keeps_records else None
    mark = getattr(output, "mark_processed", None)  # a wrapper's own declaration
    return mark if callable(mark) else None

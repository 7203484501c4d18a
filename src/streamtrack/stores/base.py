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

    def dump(self, N=None):
        """All frames (or the first ``N``) as one DataFrame."""
        frames = list(self.frames)
        if N is not None:
            frames = frames[:N]
        if not frames:
            return pd.DataFrame(columns=[self.t_column])
        return pd.concat([self.get(n) for n in frames])

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
                             f"{(bad or values.tolist())[0]!r} ({values.dtype}): a frame number is the index of an "
                             "image in the movie.")
        if (values != values[0]).any():
            raise ValueError(f"put() takes one frame at a time; this DataFrame holds frames "
                             f"{sorted(set(values.tolist()))[:6]}.")
        return True

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

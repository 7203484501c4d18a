"""``FramewiseData``: the abstract interface of every framewise store."""
from abc import ABC, abstractmethod

import pandas as pd


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
        stores skip it with the same ``UserWarning``).

        Raises
        ------
        TypeError
            Not a DataFrame.
        ValueError
            No t_column, or several frame numbers in one DataFrame.
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
        values = df[self.t_column].to_numpy()
        if (values != values[0]).any():
            raise ValueError(f"put() takes one frame at a time; this DataFrame holds frames "
                             f"{sorted(set(values.tolist()))[:6]}.")
        return True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()

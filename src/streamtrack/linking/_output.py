"""Link while locating: an ``output`` for ``batch`` that links each frame
before passing it on, so one streaming pass both locates and links."""
from ._api import _check_columns, _frame_numbers, _pos_columns, _positions
from ._linker import Linker


class LinkingOutput:
    """Wraps a store: ``put(frame)`` adds ``particle`` (linked to the frames
    put before) and puts the frame into the wrapped store.

    Parameters
    ----------
    store : object with ``put``
        Where linked frames go (e.g. a :class:`streamtrack.PandasHDFStore`).
    search_range : float or tuple
        As for :func:`streamtrack.link`.
    pos_columns : list of str, optional
        Default ``['y', 'x']`` (``['z', 'y', 'x']`` with a ``z`` column).
    t_column : str, optional
        Default 'frame'.
    **kwargs
        Linker options (memory, predictor, adaptive_stop, ...).

    Examples
    --------
    >>> import streamtrack as tp
    >>> frames, truth = tp.synthetic.brownian_movie(n_particles=5, n_frames=4)
    >>> class Collect(list):
    ...     put = list.append
    >>> collected = Collect()
    >>> _ = tp.batch(frames, 11, minmass=500, output=LinkingOutput(collected, 5))
    >>> sorted({int(p) for df in collected for p in df['particle']})
    [0, 1, 2, 3, 4]
    """

    def __init__(self, store, search_range, pos_columns=None, t_column="frame", **kwargs):
        self.store = store
        self.linker = Linker(search_range, **kwargs)
        self.pos_columns = pos_columns
        self.t_column = t_column

    def put(self, df):
        cols = _pos_columns(df.columns, self.pos_columns)
        _check_columns(df, cols, self.t_column, "a frame")
        if len(df) == 0:
            return
        t = _frame_numbers(df[self.t_column].to_numpy(), self.t_column)
        linked = df.copy()
        linked["particle"] = self.linker.step(t[0], _positions(df, cols, f"frame {t[0]}"))
        self.store.put(linked)

"""Link while locating: an ``output`` for ``batch`` that links each frame
before passing it on, so one streaming pass both locates and links."""
from ..stores.base import processed_marker
from ._api import _link_frame
from ._linker import Linker


class LinkingOutput:
    """Wraps a store: ``put(frame)`` adds ``particle`` (linked to the frames
    put before) and puts the frame into the wrapped store.

    ``memory`` counts frames as :func:`streamtrack.link_df_iter` does on the
    store written: each frame put is one frame, and so is each frame
    ``batch`` marks processed without putting it (no features), so linking
    while locating gives the trajectories of linking the store afterwards.

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
        self.linker = Linker(search_range, memory_counts="steps", **kwargs)
        self.pos_columns = pos_columns
        self.t_column = t_column
        self._last_put = None

    def put(self, df):
        """Link ``df`` (one frame) and put it, with ``particle``, into the store.

        An empty frame is not put (a store would only warn) and not counted:
        ``batch`` marks it processed instead, which counts it.
        """
        if len(df) == 0:
            return
        linked = _link_frame(self.linker, df, self.pos_columns, self.t_column)
        self._before_put(linked)
        self._last_put = self.linker.t
        self.store.put(linked)

    def _before_put(self, linked):
        """Called with each linked frame before it is put (a subclass keeps records)."""

    def mark_processed(self, frame_no):
        """Record ``frame_no`` as processed (``batch`` calls it after each frame).

        A frame that was not put had no features: it is linked as an empty
        frame, so it counts towards ``memory``. Forwarded to the store when it
        records processed frames.
        """
        if frame_no != self._last_put:
            self.linker.step(frame_no, ())
        mark = processed_marker(self.store)
        if mark is not None:
            mark(frame_no)

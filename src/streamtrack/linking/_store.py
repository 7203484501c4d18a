"""Link a store in place, with checkpoints: resumable, and incremental as frames arrive.

``link_df_iter`` + ``put`` (trackpy's pattern) cannot continue after a crash
or link only the frames added since the last run: the linker's state is lost.
:func:`link_store_iter` saves that state in the store with every linked
frame (``store.save_checkpoint``), so a later call with ``resume=True``
restores it and links the frames after the checkpoint, giving exactly the ids
an uninterrupted run gives.

As :func:`streamtrack.link_df_iter` on a store, ``memory`` counts the frames
delivered, and every frame the store recorded as processed without features
is delivered as an empty frame (counted, not yielded).
"""
import json

import numpy as np

from ..stores.base import resumable
from ._api import _link_frame, _store_frames
from ._linker import Linker
from ._output import LinkingOutput

CHECKPOINT = "link"
#: the store's metadata record of the options of the run the checkpoint belongs to
RECORD = "link_checkpoint"
#: the checkpoint's own copy of its run's options (JSON bytes): checkpoints of
#: earlier versions lack it, and resuming them checks the record only
OPTIONS = "options"


def _check_store(store, what):
    """Refuse, before anything is written, a store that cannot keep checkpoints."""
    if not resumable(store):
        raise TypeError(f"{what} keeps the linker's checkpoints in the store, which needs a "
                        "streamtrack store (PandasHDFStore, PandasHDFStoreBig, "
                        "PandasHDFStoreSingleNode, PandasHDFStoreChunked); got "
                        f"{type(store).__name__}.")


def _parameters(search_range, kwargs):
    params = {"search_range": np.atleast_1d(np.asarray(search_range, dtype=float)).tolist()}
    params.update({k: (v if isinstance(v, (int, float, str, bool, type(None)))
                       else repr(v)) for k, v in sorted(kwargs.items())})
    return params


def _save_checkpoint(store, linker, frame_no, params):
    """Keep ``linker``'s state after ``frame_no`` in ``store``, with the options
    ``params`` of the run (so a resume checks the options of this very state,
    not only the record, which a run saves before its first checkpoint)."""
    state = linker.state()
    store.save_checkpoint(CHECKPOINT, frame_no, {
        "next_id": np.int64(state["next_id"]), "ids": state["ids"],
        "pos": (np.empty((0, 0)) if state["pos"] is None else state["pos"]),
        "t_last": state["t_last"], "clock": np.int64(state["clock"]),
        "seen": state["seen"],
        OPTIONS: np.frombuffer(json.dumps(params, sort_keys=True).encode(), np.uint8)})


def _restored(store, linker, params, through=None):
    """Restore ``linker`` from the store's checkpoint; return its frame, or None.

    Writes nothing. None when the store holds no checkpoint, or (``through``
    given) one beyond frame ``through``, which the caller is about to redo:
    linking then starts afresh.

    Raises
    ------
    ValueError
        The checkpoint belongs to a run with other options, or frames before it
        lost their ``particle`` column (see :func:`link_store_iter`).
    """
    found = store.load_checkpoint(CHECKPOINT)
    if found is None or (through is not None and found[0] > through):
        return None
    frame_no, state = found
    own = state.pop(OPTIONS, None)
    # the checkpoint's own options first: the record may be that of a later run
    # stopped before its first checkpoint, next to this older checkpoint
    for saved, what in ((None if own is None else json.loads(own.tobytes().decode()),
                         f"the checkpoint of frame {frame_no}"),
                        (store.metadata.get(RECORD), "the options record")):
        if saved is not None and saved != params:
            changed = sorted(k for k in set(saved) | set(params)
                             if saved.get(k) != params.get(k))
            raise ValueError(
                f"resume=True (--resume) must use the options of the run it continues; "
                f"these differ: {changed} (saved in {what}: "
                f"{ {k: saved.get(k) for k in changed} }); if the last link was "
                "interrupted with other options, link again without resume.")
    # a linked frame whose newest write was lost to damage (the store
    # warned) is back to its unlinked version: resuming would skip it
    unlinked = store.frames_without("particle", through=frame_no) or []
    if unlinked:
        raise ValueError(
            f"resume=True (--resume) cannot continue: frames {unlinked[:10]}"
            f"{' ...' if len(unlinked) > 10 else ''} ({len(unlinked)} in all) have no "
            f"'particle' column although the checkpoint says frames up to {frame_no} "
            "were linked (their linked version was lost, e.g. to a damaged journal); "
            "link the whole store again without resume (streamtrack link STORE -s ... "
            "without --resume).")
    pos = state["pos"]
    linker.restore({**state, "t": frame_no,
                    "pos": pos if pos.ndim == 2 and pos.shape[1] else None})
    return frame_no


def _link_stored(store, linker, params, after=None, through=None, pos_columns=None,
                 t_column="frame"):
    """Link the stored frames after ``after`` (through ``through``) in place.

    The options record is saved once the first frame was linked: options
    that fail on it (a search range per axis of other data) leave the record
    of the last complete link, so a resume with those options still works.
    """
    recorded = False
    for t, frame in _store_frames(store, after):
        if through is not None and t > through:
            break
        if frame is None:
            # processed, no features: counted; its checkpoint comes with the next
            # stored frame (a resume before it steps it again, to the same state)
            linker.step(t, ())
            continue
        linked = _link_frame(linker, frame, pos_columns, t_column, f"frame {t}")
        if not recorded:
            store.save_metadata(RECORD, params)
            recorded = True
        if len(frame):
            store.put(linked)
        _save_checkpoint(store, linker, t, params)
        yield linked


def link_store_iter(store, search_range, *, resume=False, pos_columns=None,
                    t_column="frame", **kwargs):
    """Link ``store`` in place, frame by frame; yield each linked frame once it is saved.

    Parameters
    ----------
    store : streamtrack store
        One that keeps the records of a run (``stores.base.resumable``): any
        of the four streamtrack HDF5 classes.
    search_range : float or tuple
        As in :func:`streamtrack.link`.
    resume : bool, optional
        Continue from the checkpoint the last run left in the store: link only
        the frames after it (the rest of an interrupted run, or frames
        appended since), continuing the existing trajectories. Without a
        checkpoint, link from the start. Default False: link every frame.
    pos_columns, t_column
        As in :func:`streamtrack.link_df_iter`.
    **kwargs
        Linker options (memory, adaptive_stop, ...). A ``predictor`` cannot be
        checkpointed and is refused.

    Yields
    ------
    DataFrame
        Each stored frame with its ``particle`` column (as ``link_df_iter``
        yields it), after it and the linker's state were written. Processed
        frames without features are linked as empty frames, not yielded.

    Raises
    ------
    TypeError
        ``store`` is not a streamtrack store (e.g. trackpy's own), which
        keeps no checkpoints; nothing is written.
    ValueError
        ``resume`` with options other than those of the checkpointed run, or
        with a predictor; ``resume`` on a store whose frames before the
        checkpoint lost their ``particle`` column (stores that can tell:
        ``frames_without``). Options that fail on the first frame (e.g. a
        ``search_range`` per axis of data of another dimension) raise before
        anything is written: the store keeps the options record and the
        checkpoint of its last link, which ``resume`` continues.
    """
    if kwargs.get("predictor") is not None:
        raise ValueError("link_store_iter() keeps a checkpoint of the linker, which cannot "
                         "hold a predictor's state; use link_df_iter() with a predictor.")
    _check_store(store, "link_store_iter()")
    params = _parameters(search_range, {"pos_columns": pos_columns, **kwargs})
    linker = Linker(search_range, memory_counts="steps", **kwargs)
    after = _restored(store, linker, params) if resume else None
    yield from _link_stored(store, linker, params, after, pos_columns=pos_columns,
                            t_column=t_column)


def link_store(store, search_range, *, resume=False, **kwargs):
    """Link ``store`` in place with checkpoints; return the number of frames linked.

    See :func:`link_store_iter` (this runs it to the end).

    Examples
    --------
    >>> import os, tempfile, pandas as pd, streamtrack as tp
    >>> path = os.path.join(tempfile.mkdtemp(), 'a.h5')
    >>> with tp.PandasHDFStoreChunked(path) as store:
    ...     for t in range(3):
    ...         store.put(pd.DataFrame({'frame': [t], 'y': [0.5 * t], 'x': [0.0]}))
    ...     link_store(store, 1.0)
    ...     store.put(pd.DataFrame({'frame': [3], 'y': [1.5], 'x': [0.0]}))  # arrives later
    ...     link_store(store, 1.0, resume=True)  # links frame 3 only
    ...     print([int(store.get(t)['particle'].iloc[0]) for t in range(4)])
    3
    1
    [0, 0, 0, 0]
    """
    return sum(1 for _ in link_store_iter(store, search_range, resume=resume, **kwargs))


class _CheckpointedOutput(LinkingOutput):
    """A :class:`LinkingOutput` that keeps the linker's state in the store, as
    :func:`link_store_iter` does: the store can be resumed by ``link_store``
    (or ``streamtrack track/link --resume``) after an interrupted run.

    Use :meth:`resuming` to continue the run that located and linked a store.

    Parameters
    ----------
    store : streamtrack store
        One that keeps the records of a run (``stores.base.resumable``).
    search_range, pos_columns, t_column, **kwargs
        As for :class:`LinkingOutput`; no ``predictor`` (its state cannot be
        checkpointed).

    Notes
    -----
    A frame's checkpoint is saved after the store marked the frame processed
    (``batch`` calls ``mark_processed`` after ``put``), so a checkpoint is
    never ahead of the processed frames a resumed ``batch`` skips.
    """

    def __init__(self, store, search_range, pos_columns=None, t_column="frame", **kwargs):
        if kwargs.get("predictor") is not None:
            raise ValueError("a checkpointed linker cannot hold a predictor's state; link "
                             "with a predictor in one run, without checkpoints.")
        _check_store(store, "a checkpointed linking output")
        super().__init__(store, search_range, pos_columns, t_column, **kwargs)
        self.params = _parameters(search_range, {"pos_columns": pos_columns, **kwargs})
        self._recorded = False

    @classmethod
    def resuming(cls, store, search_range, pos_columns=None, t_column="frame", **kwargs):
        """The output continuing the run that located into ``store`` while linking.

        Restores the linker from the store's checkpoint (checking that it was
        saved with these options) and links the stored frames after it up to
        the last frame the store recorded as processed; ``batch`` then
        continues with the frames after that one (``_after_processed``).
        Nothing is written until the returned iterator runs.

        Returns
        -------
        output : _CheckpointedOutput
        pending : iterator of DataFrame
            The stored frames linked from the checkpoint on (empty processed
            frames are stepped, not yielded); run it to the end before
            feeding ``output``.
        n_pending : int
            How many frames ``pending`` links or steps.

        Raises
        ------
        ValueError
            As :func:`link_store_iter` with ``resume=True``, before anything
            is written.
        """
        output = cls(store, search_range, pos_columns, t_column, **kwargs)
        processed = store.processed_frames
        through = int(processed[-1]) if len(processed) else None
        if through is None:  # batch locates from the first frame: link from scratch
            return output, iter(()), 0
        # a checkpoint ahead of the processed frames (a frame put, then linked by
        # 'link', but never marked) would link a frame batch locates again
        after = _restored(store, output.linker, output.params, through)
        n_pending = sum(1 for t in _numbers(store, after) if t <= through)
        pending = _link_stored(store, output.linker, output.params, after, through,
                               pos_columns, t_column)
        return output, pending, n_pending

    def _before_put(self, linked):
        """Save the options record with the first frame linked."""
        if not self._recorded:  # only now: these options linked a frame
            self.store.save_metadata(RECORD, self.params)
            self._recorded = True

    def mark_processed(self, frame_no):
        """Mark ``frame_no`` processed, then checkpoint the linker after it."""
        super().mark_processed(frame_no)
        if frame_no == self._last_put:
            # frames without features are stepped again by a resume, to the
            # same state (as link_store_iter checkpoints stored frames only)
            _save_checkpoint(self.store, self.linker, frame_no, self.params)


def _numbers(store, after):
    """The frame numbers ``_store_frames`` delivers after ``after`` (reads no frame)."""
    numbers = set(store.frames).union(int(t) for t in store.processed_frames)
    return sorted(t for t in numbers if after is None or t > after)

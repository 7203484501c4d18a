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
import numpy as np

from ._api import _link_frame, _store_frames
from ._linker import Linker

CHECKPOINT = "link"


def _saved_parameters(store):
    return getattr(store, "metadata", {}).get("link_checkpoint")


def _parameters(search_range, kwargs):
    params = {"search_range": np.atleast_1d(np.asarray(search_range, dtype=float)).tolist()}
    params.update({k: (v if isinstance(v, (int, float, str, bool, type(None)))
                       else repr(v)) for k, v in sorted(kwargs.items())})
    return params


def link_store_iter(store, search_range, *, resume=False, pos_columns=None,
                    t_column="frame", **kwargs):
    """Link ``store`` in place, frame by frame; yield each linked frame once it is saved.

    Parameters
    ----------
    store : framewise store
        Any store with ``put``, ``get``, ``frames``, ``save_checkpoint`` and
        ``load_checkpoint`` (the four streamtrack HDF5 classes).
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
    ValueError
        ``resume`` with options other than those of the checkpointed run, or
        with a predictor; ``resume`` on a store whose frames before the
        checkpoint lost their ``particle`` column (stores that can tell:
        ``frames_without``).
    """
    if kwargs.get("predictor") is not None:
        raise ValueError("link_store_iter() keeps a checkpoint of the linker, which cannot "
                         "hold a predictor's state; use link_df_iter() with a predictor.")
    params = _parameters(search_range, {"pos_columns": pos_columns, **kwargs})
    linker = Linker(search_range, memory_counts="steps", **kwargs)
    after = None
    if resume:
        found = store.load_checkpoint(CHECKPOINT)
        if found is not None:
            saved = _saved_parameters(store)
            if saved is not None and saved != params:
                changed = sorted(k for k in set(saved) | set(params)
                                 if saved.get(k) != params.get(k))
                raise ValueError(f"resume=True must use the options of the run it continues;"
                                 f" these differ: {changed} (saved: "
                                 f"{ {k: saved.get(k) for k in changed} }).")
            frame_no, state = found
            # a linked frame whose newest write was lost to damage (the store
            # warned) is back to its unlinked version: resuming would skip it
            lacking = getattr(store, "frames_without", None)
            unlinked = lacking("particle", through=frame_no) if lacking else []
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
            after = frame_no
    if hasattr(store, "save_metadata"):
        store.save_metadata("link_checkpoint", params)
    for t, frame in _store_frames(store, after):
        if frame is None:
            # processed, no features: counted; its checkpoint comes with the next
            # stored frame (a resume before it steps it again, to the same state)
            linker.step(t, ())
            continue
        linked = _link_frame(linker, frame, pos_columns, t_column, f"frame {t}")
        if len(frame):
            store.put(linked)
        state = linker.state()
        store.save_checkpoint(CHECKPOINT, t, {
            "next_id": np.int64(state["next_id"]), "ids": state["ids"],
            "pos": (np.empty((0, 0)) if state["pos"] is None else state["pos"]),
            "t_last": state["t_last"], "clock": np.int64(state["clock"]),
            "seen": state["seen"]})
        yield linked


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

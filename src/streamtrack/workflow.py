"""The workflow every front end runs: a movie located into a store, a store linked.

The command line, the napari widgets, the napari console and scripts call
these functions; they keep only their own argument handling and display.
Each step writes its record into the store, whoever runs it, so a store
made by ``streamtrack locate`` and one made in napari carry the same
records and open the same way:

``"locate"``
    :data:`streamtrack.params.LOCATE`'s options (every default filled in),
    plus ``version``, ``source`` (the movie), ``channel`` (of colour frames)
    and ``frames`` (``[first, stop)`` of the frame numbers asked for).
``"link"``
    :data:`streamtrack.params.LINK`'s options (``predictor`` as the class
    name, or None), ``version``, ``frames_linked`` and ``complete`` (False
    after a Cancel or an error: the file says how far linking got).

The store layouts and the predictors are registered once, here and in
:mod:`streamtrack.params`.

Examples
--------
>>> import os, tempfile
>>> import streamtrack as tp
>>> from streamtrack import workflow
>>> frames, truth = tp.synthetic.brownian_movie(n_particles=5, n_frames=4, seed=2)
>>> path = os.path.join(tempfile.mkdtemp(), 'movie.h5')
>>> with workflow.new_store(path, 'chunked') as store:
...     located = list(workflow.locate_into(frames, store, 11, minmass=500, processes=1,
...                                         source='synthetic'))
...     linked = list(workflow.link_in_place(store, 5))
...     store.metadata['locate']['diameter'], store.metadata['link']['complete']
(11, True)
>>> with tp.PandasHDFStoreChunked(path, mode='r') as store:
...     workflow.trajectory_count(store)
5
"""
from __future__ import annotations

import os

from ._version import __version__
from .params import LINK, LOCATE, UNITS, predictor_class
from .stores._layouts import CLASSES

__all__ = ["LAYOUTS", "LOCATE_RECORD", "LINK_RECORD", "store_class", "new_store",
           "select_channel", "open_movie", "check_first_frame", "locate_record",
           "locate_into", "link_record", "link_in_place", "link_table", "relink_edited",
           "same_features", "track_into",
           "frames_to_link", "trajectory_count", "save_units", "units"]

#: layout name (command line, widgets) -> store class name in streamtrack
LAYOUTS = dict(CLASSES)
LOCATE_RECORD = "locate"
LINK_RECORD = "link"
#: microns per pixel and frames per second of the movie, when known
UNITS_RECORD = "units"
#: records of earlier versions: the channel of a command-line run
_OLD_INPUT_RECORD = "locate_input"


# ----------------------------------------------------------------------- stores
def store_class(layout: str):
    """The store class of ``layout`` (a key of :data:`LAYOUTS` or a class name).

    Raises
    ------
    ValueError
        An unknown layout (the message lists the known ones).
    """
    import streamtrack

    name = LAYOUTS.get(layout, layout)
    if name not in LAYOUTS.values():
        raise ValueError(f"store layout must be one of {', '.join(LAYOUTS)} (or "
                         f"{', '.join(LAYOUTS.values())}); got {layout!r}.")
    return getattr(streamtrack, name)


def new_store(path, layout: str = "frames", mode: str = "a"):
    """Open (create) a store of ``layout`` at ``path``."""
    return store_class(layout)(os.fspath(path), mode=mode)


def save_units(store, mpp=None, fps=None) -> dict:
    """Record the movie's units in ``store`` (given values replace recorded ones).

    Returns the record. Raises ValueError for a value that is not a positive
    number (before anything is written).

    Examples
    --------
    >>> import os, tempfile, streamtrack as tp
    >>> path = os.path.join(tempfile.mkdtemp(), 'u.h5')
    >>> with tp.PandasHDFStoreChunked(path) as store:
    ...     save_units(store, mpp=0.35)
    ...     save_units(store, fps=24)
    {'mpp': 0.35, 'fps': None}
    {'mpp': 0.35, 'fps': 24}
    """
    given = {k: v for k, v in (("mpp", mpp), ("fps", fps)) if v is not None}
    UNITS.check(given)
    record = {**UNITS.defaults(), **units(store), **given}
    store.save_metadata(UNITS_RECORD, record)
    return record


def units(store) -> dict:
    """The units recorded in ``store``: ``{'mpp': ..., 'fps': ...}`` (None when unknown)."""
    saved = store.metadata.get(UNITS_RECORD) or {}
    return {name: saved.get(name) for name in UNITS.names}


# ----------------------------------------------------------------------- frames
def select_channel(frames, channel: int | None, name: str = "channel"):
    """``frames`` reduced to one colour channel (lazily); ``channel`` None: as they are.

    ``name`` is how the front end spells the option in messages
    (``--channel`` on the command line).

    Raises
    ------
    ValueError
        When a frame is read: ``channel`` given for frames that are not colour
        images, or out of range (the message lists the channels there are).
    """
    if channel is None:
        return frames
    from .frames import pipeline

    @pipeline
    def pick_channel(image):
        if image.ndim != 3:
            raise ValueError(f"{name} {channel} given, but the frames are not colour "
                             f"images (shape {image.shape}); leave {name} out.")
        if channel >= image.shape[-1]:
            raise ValueError(f"{name} {channel} is out of range: the frames have "
                             f"{image.shape[-1]} channels (shape {image.shape}); pick one "
                             f"of 0-{image.shape[-1] - 1}, e.g. {name} 1 (green).")
        return image[..., channel]
    return pick_channel(frames)


def open_movie(source, channel: int | None = None, name: str = "channel"):
    """:func:`streamtrack.open` ``source`` (one path, glob, array or a list of
    files), then :func:`select_channel`."""
    from .frames import open as open_frames

    if isinstance(source, (list, tuple)) and len(source) == 1:
        source = source[0]
    return select_channel(open_frames(source), channel, name)


def check_first_frame(frames, diameter, channel=None, *, name="channel", **kwargs):
    """Check the options on the movie's first frame (decodes one frame, writes nothing).

    Raises
    ------
    ValueError
        No frames; colour frames without a ``channel``; whatever ``locate``
        refuses on this image (sizes per axis of another dimension, ...).
    """
    from ._feature import check_arguments

    if len(frames) == 0:
        raise ValueError(f"{getattr(frames, 'source', 'the movie')} holds no frames; check "
                         "the path.")
    first = frames[0]
    if channel is None and first.ndim == 3 and first.shape[-1] in (3, 4) and \
            not isinstance(diameter, tuple):
        raise ValueError(f"the frames are colour images (shape {first.shape}); choose the "
                         f"channel to analyse with {name} N (0=red, 1=green, 2=blue), e.g. "
                         f"{name} 1.")
    check_arguments(first, diameter, **kwargs)
    return first


# ----------------------------------------------------------------------- locate
def _frame_range(frames):
    numbers = getattr(frames, "frame_numbers", None)
    if numbers is not None and len(numbers):
        return [int(numbers[0]), int(numbers[-1]) + 1]
    return [0, len(frames)] if hasattr(frames, "__len__") else None


def locate_record(diameter, kwargs, *, source=None, channel=None, frame_range=None) -> dict:
    """The "locate" record of a run: every option of :data:`LOCATE`, and the input."""
    return {**LOCATE.record({**kwargs, "diameter": diameter}), "version": __version__,
            "source": None if source is None else str(source), "channel": channel,
            "frames": frame_range}


def check_resumed_channel(store, channel, name="channel"):
    """A resumed run must use the channel of the run it continues.

    Raises
    ------
    ValueError
        The store's record names another channel.
    """
    meta = store.metadata
    saved = meta.get(LOCATE_RECORD) or meta.get(_OLD_INPUT_RECORD)
    if saved is not None and "channel" in saved and saved["channel"] != channel:
        raise ValueError(f"resuming must use the options of the run it continues; the store "
                         f"was written with {name} {saved['channel']}, this run gives "
                         f"{channel}. Resume with the stored value, or locate into a new "
                         "store.")


def locate_into(frames, store, diameter, *, source=None, channel=None, frame_range=None,
                processes="auto", client=None, resume=False, meta=None, channel_name="channel",
                units=None, **kwargs):
    """Locate ``frames`` into ``store``; yield ``(frame_no, features)`` per stored frame.

    :func:`streamtrack.batch_iter` with the "locate" record written into the
    store once the first frame is located (so a run that fails on its first
    frame leaves no record). Stopping the iteration leaves every yielded
    frame stored.

    Parameters
    ----------
    frames : iterable of images
        E.g. :func:`open_movie`'s result.
    store : FramewiseData
    diameter, **kwargs
        :data:`streamtrack.params.LOCATE`'s options (as ``locate``).
    source : str, optional
        What the movie is (a path, a layer name): recorded.
    channel : int, optional
        The colour channel the frames were reduced to: recorded, and checked
        against the record when ``resume``.
    channel_name : str, optional
        How the front end spells the channel option in messages.
    units : dict, optional
        ``{'mpp': ..., 'fps': ...}`` of the movie: recorded with the first
        frame (see :func:`save_units`).
    frame_range : [first, stop], optional
        Recorded; default the frame numbers of ``frames``.
    processes, client, resume, meta
        As in :func:`streamtrack.batch`.

    Raises
    ------
    TypeError, ValueError
        Bad options, before anything is written (as ``batch``).
    """
    from ._batch import batch_iter

    LOCATE.check({**kwargs, "diameter": diameter})
    units = {k: v for k, v in (units or {}).items() if v is not None}
    UNITS.check(units)
    if resume:
        check_resumed_channel(store, channel, channel_name)
    record = locate_record(diameter, kwargs, source=source, channel=channel,
                           frame_range=_frame_range(frames) if frame_range is None
                           else list(frame_range))
    recorded = []

    def record_once(frame_no, features):
        if not recorded:
            store.save_metadata(LOCATE_RECORD, record)
            if units:
                save_units(store, **units)
            recorded.append(frame_no)
        return features
    yield from batch_iter(frames, diameter, output=store, processes=processes,
                          after_locate=record_once, client=client, resume=resume,
                          meta=meta, **kwargs)


# ------------------------------------------------------------------------- link
def link_record(search_range, predictor="none", **kwargs) -> dict:
    """The "link" record of a run (before ``frames_linked`` and ``complete``)."""
    cls = predictor_class(predictor)
    record = LINK.record({**kwargs, "search_range": search_range})
    record["predictor"] = cls.__name__ if cls else None
    return {**record, "version": __version__}


def _check_link(search_range, predictor, kwargs):
    LINK.check({**kwargs, "search_range": search_range, "predictor": predictor})


def _first_columns(store):
    for t in store.frames:
        frame = store.get(t)
        if len(frame):
            return frame.columns
    return None


def link_in_place(store, search_range, *, predictor="none", resume=False, **kwargs):
    """Link ``store`` in place; yield each linked frame once it is written back.

    Without a predictor the checkpointed :func:`streamtrack.link_store_iter`
    runs (``resume=True`` continues an interrupted run, or links frames
    appended since); a predictor's state cannot be checkpointed, so it links
    through its own ``link_df_iter`` and ``put``. The "link" record is written
    at the end, also after a Cancel or an error (``complete`` False).

    Parameters
    ----------
    store : FramewiseData
    search_range, **kwargs
        :data:`streamtrack.params.LINK`'s options (memory, adaptive_stop, ...).
    predictor : str
        A key of :data:`streamtrack.params.PREDICTORS` (or a class name).
    resume : bool
        Continue from the store's linker checkpoint (no predictor).

    Raises
    ------
    ValueError
        Bad options, ``resume`` with a predictor, a ``search_range`` per axis
        of data of another dimension: before anything is written.
    """
    from .linking import link_store_iter
    from .linking._api import _pos_columns, check_search_range

    _check_link(search_range, predictor, kwargs)
    cls = predictor_class(predictor)
    if cls is not None and resume:
        raise ValueError("resume keeps a checkpoint of the linker, which cannot hold a "
                         "predictor's state; link with a predictor in one run.")
    columns = _first_columns(store)
    if columns is not None:
        check_search_range(search_range, _pos_columns(columns, None))
    record = link_record(search_range, predictor, **kwargs)
    n_done, complete = 0, False
    try:
        if cls is None:
            linked_frames = link_store_iter(store, search_range, resume=resume, **kwargs)
        else:
            linked_frames = _put_back(store, cls().link_df_iter(store, search_range, **kwargs))
        for linked in linked_frames:
            n_done += 1
            yield linked
        complete = True
    finally:
        # also when cancelled or stopped by an error: the file says how far it got
        if n_done or complete:
            try:
                store.save_metadata(LINK_RECORD, {**record, "frames_linked": n_done,
                                                  "complete": complete})
            except Exception:  # noqa: BLE001 - a missing note must not hide why it stopped
                if complete:
                    raise


def _put_back(store, linked_frames):
    for linked in linked_frames:
        if len(linked):  # an empty frame is not stored (put would warn)
            store.put(linked)  # written back before the next frame is read
        yield linked


def frames_to_link(store, resume=False) -> int:
    """How many frames :func:`link_in_place` will step (for a progress bar)."""
    found = store.load_checkpoint("link") if resume else None
    if found is None:
        return len(store)
    return sum(t > found[0] for t in store.frames)


def trajectory_count(store) -> int:
    """The number of distinct ``particle`` ids in a store (reads every frame)."""
    ids = set()
    for t in store.frames:
        frame = store.get(t)
        if "particle" in frame.columns:
            ids.update(frame["particle"].tolist())
    return len(ids)


def _with_missing_frames(frames, memory: int, t_column="frame"):
    """``frames`` with an empty frame for each missing frame number in between.

    The streaming linker counts the frames it is given; a table is a whole
    movie, so, as in ``link_df``, a missing frame number is an empty frame.
    Beyond ``memory + 1`` empty frames every particle is forgotten anyway, so
    no more are delivered (a sparse table does not cost one step per number).
    """
    previous = None
    for frame in frames:
        t = int(frame[t_column].iloc[0])
        if previous is not None:
            for _ in range(min(t - previous - 1, memory + 1)):
                yield frame.iloc[:0]
        previous = t
        yield frame


def link_table(table, search_range, *, predictor="none", **kwargs):
    """Link an in-memory feature table frame by frame; yield each linked frame.

    Without a predictor the frames together equal ``link_df(table, ...)``;
    with one, the predictor's ``link_df`` (whose memory counts the frames
    present, as trackpy's). Nothing is written.
    """
    from .linking import link_df_iter

    _check_link(search_range, predictor, kwargs)
    cls = predictor_class(predictor)
    frames = (frame for _, frame in table.groupby("frame", sort=True))
    if cls is None:
        frames = _with_missing_frames(frames, kwargs.get("memory", 0))
        linked_frames = link_df_iter(frames, search_range, **kwargs)
    else:
        linked_frames = cls().link_df_iter(frames, search_range, **kwargs)
    for linked in linked_frames:
        if len(linked):  # not the empty frames filled in
            yield linked


def same_features(store, table, t_column="frame") -> bool:
    """Whether ``table`` holds the store's features: the same rows, frames and positions.

    For a front end that shows a store's features for editing (a napari
    Points layer): False once a feature was deleted, added or moved. Rows
    are compared frame by frame in the store's order.
    """
    import numpy as np

    from .linking._api import _pos_columns

    stored = [store.get(t) for t in store.frames]
    stored = [f for f in stored if len(f)]
    n_stored = sum(len(f) for f in stored)
    if n_stored != len(table):
        return False
    if not n_stored:
        return True
    import pandas as pd

    stored = pd.concat(stored, ignore_index=True)
    pos = _pos_columns(stored.columns, None)
    if any(c not in table.columns for c in (*pos, t_column)):
        return False
    keys = [t_column, *pos]
    ours = table.sort_values(t_column, kind="stable")[keys].to_numpy(dtype=float)
    theirs = stored.sort_values(t_column, kind="stable")[keys].to_numpy(dtype=float)
    return bool(np.allclose(ours, theirs, rtol=0, atol=1e-6))


def relink_edited(path, table, search_range, *, predictor="none", **kwargs):
    """Make ``table`` the features of the store at ``path`` and link them; yield each
    linked frame.

    For features edited after they were stored (spurious detections deleted,
    missed ones added, positions corrected): the table is what gets linked,
    as :func:`link_table` links it (a frame number without features is an
    empty frame), and what the store holds afterwards, with the table's
    columns (the store's other columns come along in the table). It is
    written to a new store of the same layout beside ``path`` with the
    store's records and processed-frame marks; the "link" record is written
    as by :func:`link_in_place`; the new store replaces ``path`` only once
    every frame is linked, so after a cancel or an error the store is as it
    was.

    Raises
    ------
    ValueError
        Bad options (nothing is written), or a chunked store (its files
        cannot be swapped in one step: save the table to a new store and link
        that).
    """
    from .stores.detect import open_store

    _check_link(search_range, predictor, kwargs)
    path = os.fspath(path)
    with open_store(path, mode="r") as store:
        class_name, meta = type(store).__name__, store.metadata
        try:
            processed = list(store.processed_frames)
        except NotImplementedError:  # a store that keeps no marks
            processed = []
    layouts = {cls: key for key, cls in LAYOUTS.items()}
    layout = layouts.get(class_name)
    if layout is None or layout == "chunked":
        raise ValueError(f"{path} is a {class_name}: edited features cannot be written "
                         "back into it; save them to a new store and link that.")
    record = link_record(search_range, predictor, **kwargs)
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.relink.tmp")
    if os.path.exists(tmp):
        os.remove(tmp)  # a run that crashed before its swap
    n_done, complete = 0, False
    new = new_store(tmp, layout, mode="w")
    try:
        for key, value in meta.items():
            if key != LINK_RECORD and "checkpoint" not in key:
                new.save_metadata(key, value)
        for frame_no in processed:
            new.mark_processed(frame_no)
        for linked in link_table(table, search_range, predictor=predictor, **kwargs):
            new.put(linked)
            n_done += 1
            yield linked
        new.save_metadata(LINK_RECORD, {**record, "frames_linked": n_done,
                                        "complete": True})
        complete = True
    finally:
        new.close()
        if complete:
            os.replace(tmp, path)
        elif os.path.exists(tmp):
            os.remove(tmp)


# ------------------------------------------------------------------------ track
def track_into(frames, store, diameter, search_range, *, link_options=None, source=None,
               channel=None, processes="auto", client=None, resume=False, checkpoints=True,
               channel_name="channel", units=None, **kwargs):
    """Locate and link ``frames`` into ``store`` in one streaming pass.

    Yields ``(frame_no, features, next_id)`` per frame (``next_id``: the
    trajectories so far). With ``checkpoints`` (default) the linker's state
    is kept in the store, so ``resume=True`` continues an interrupted run
    (first linking the stored frames after the checkpoint). Writes the
    "locate" and "link" records.

    Parameters
    ----------
    frames, store, diameter, source, channel, processes, client, resume, channel_name, units
        As in :func:`locate_into`.
    **kwargs
        :data:`streamtrack.params.LOCATE`'s options.
    search_range : float or tuple
    link_options : dict, optional
        :data:`streamtrack.params.LINK`'s other options (no predictor).

    Raises
    ------
    ValueError
        Bad options, or a resume whose records disagree with the options
        given, before anything is written.
    """
    from ._batch import RECORD, _after_processed, _check_resumed_record, _locate_record, batch_iter
    from .linking import LinkingOutput
    from .linking._store import _CheckpointedOutput

    link_options = dict(link_options or {})
    if link_options.get("predictor", "none") not in ("none", None):
        raise ValueError("a predictor needs the linked frames in order; locate first, then "
                         "link with the predictor.")
    link_options.pop("predictor", None)
    LOCATE.check({**kwargs, "diameter": diameter})
    _check_link(search_range, "none", link_options)
    units = {k: v for k, v in (units or {}).items() if v is not None}
    UNITS.check(units)
    options = _locate_record(diameter, kwargs)  # what batch's own resume checks
    record = locate_record(diameter, kwargs, source=source, channel=channel,
                           frame_range=_frame_range(frames))
    if resume:
        _check_resumed_record(store, options)
        check_resumed_channel(store, channel, channel_name)
        output, pending, _ = _CheckpointedOutput.resuming(store, search_range,
                                                          **link_options)
        frames = _after_processed(frames, store)
        for _ in pending:  # the stored frames after the checkpoint
            pass
    elif checkpoints:
        output = _CheckpointedOutput(store, search_range, **link_options)
    else:
        output = LinkingOutput(store, search_range, **link_options)
    link = link_record(search_range, "none", **link_options)
    n_done, complete = 0, False

    def record_once(frame_no, features):
        # batch records into its output, here the linker: the store gets them
        if not n_done:
            store.save_metadata(RECORD, options)
            store.save_metadata(LOCATE_RECORD, record)
            if units:
                save_units(store, **units)
        return features
    try:
        for frame_no, features in batch_iter(frames, diameter, output=output,
                                             processes=processes, after_locate=record_once,
                                             client=client, **kwargs):
            n_done += 1
            yield frame_no, features, output.linker.next_id
        complete = True
    finally:
        if n_done:  # every processed frame is linked (a resume continues the count)
            store.save_metadata(LINK_RECORD, {**link,
                                              "frames_linked": len(store.processed_frames),
                                              "complete": complete})

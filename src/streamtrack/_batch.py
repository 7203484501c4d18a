"""``batch``: locate features frame by frame, streaming into a store."""
import datetime
import inspect
import itertools
import json
import os
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pandas as pd

from ._feature import check_options, empty_features, feature_columns, locate
from ._logging import logger
from ._meta import write_meta
from ._numbering import frame_number, indexable, numbered, process_frame
from ._version import __version__
from .stores.base import processed_marker, resumable


def _n_workers(processes, output=None):
    if isinstance(processes, str):
        if processes != "auto":
            raise TypeError(f"processes must be an integer or 'auto', got {processes!r}.")
        # with a store, this thread spends most of its time in put (pandas and
        # PyTables: Python, holding the GIL); one worker more keeps the cores
        # busy meanwhile (bulk_water into a PandasHDFStore on 2 cores: 20% faster)
        return (os.cpu_count() or 1) + (output is not None)
    if isinstance(processes, (bool, np.bool_)) or not isinstance(processes, (int, np.integer)):
        raise TypeError(f"processes must be an integer or 'auto', was type "
                        f"{type(processes).__name__}.")
    return max(int(processes), 1)


def _located(frames, curried, n_workers):
    """Yield ``(frame_no, features)`` in input order, ``n_workers`` at a time.

    Frames are numbered by `_numbering`'s rule, as on a Dask cluster."""
    if n_workers <= 1:
        for frame_no, image in numbered(frames):
            yield frame_no, curried(image)
        return
    # Threads, not processes: the compiled kernels release the GIL, and
    # threads need no pickling, no spawn start-up and no per-worker JIT.
    with ThreadPoolExecutor(n_workers, thread_name_prefix="streamtrack-batch") as pool:
        pending = deque()
        if indexable(frames):  # workers read their own frame, in parallel
            jobs = (pool.submit(process_frame, frames, i, curried) for i in range(len(frames)))
        else:
            jobs = (pool.submit(lambda n, im: (n, curried(im)), n, im)
                    for n, im in numbered(frames))
        failed = None  # what the frame source raised, kept until the frames before it are out

        def top_up(n):
            # Pulling the next job runs the caller's iterator (a generator
            # may raise): the frames it already gave are still located and
            # delivered before its error propagates, as with processes=1.
            nonlocal failed
            if failed is not None:
                return
            try:
                for job in itertools.islice(jobs, n):
                    pending.append(job)
            except Exception as exc:  # noqa: BLE001 - re-raised below, with its own type
                failed = exc

        try:
            # keep a bounded number of frames in flight: memory stays flat
            top_up(2 * n_workers)
            while pending:
                result = pending.popleft().result()
                top_up(1)
                yield result
            if failed is not None:
                raise failed
        finally:
            for job in pending:
                job.cancel()


#: the store's metadata record of the locate options (see ``_locate_record``);
#: not 'locate', which the napari plugin's Locate widget writes
RECORD = "locate_options"
#: locate arguments that do not change the features found
_NOT_RECORDED = ("raw_image", "engine", "filter_before", "filter_after")


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)


def _locate_record(diameter, kwargs):
    """The locate options of a run, every default filled in, as JSON loads them."""
    params = {name: p.default for name, p in inspect.signature(locate).parameters.items()
              if name not in _NOT_RECORDED and p.default is not inspect.Parameter.empty}
    params.update({k: v for k, v in kwargs.items() if k not in _NOT_RECORDED})
    params["diameter"] = diameter
    return json.loads(json.dumps(params, default=_jsonable))


def _check_resumed_record(output, record):
    """Refuse to resume into a store written with other locate options.

    Resuming with another diameter or topn would mix two parameter sets in
    one store without a word; the message names every option that differs.
    """
    try:
        saved = output.metadata if resumable(output) else None
    except Exception:  # noqa: BLE001 - a store that cannot say: nothing to compare
        saved = None
    saved = saved.get(RECORD) if isinstance(saved, dict) else None
    if saved is None:
        return
    changed = sorted(k for k in set(saved) | set(record) if saved.get(k) != record.get(k))
    if changed:
        differ = ", ".join(f"{k} (stored {saved.get(k)!r}, given {record.get(k)!r})"
                           for k in changed)
        raise ValueError(f"resuming must use the locate options of the run it continues, "
                         f"which the store recorded; these differ: {differ}. Resume with "
                         "the stored values, or locate into a new store.")


def _check_batch_args(frames, output, kwargs, client=None, diameter=None):
    if "raw_image" in kwargs:
        raise TypeError("batch() takes the images from frames; do not pass raw_image.")
    if output is not None and not callable(getattr(output, "put", None)):
        raise TypeError(f"output must have a put(DataFrame) method (e.g. a "
                        f"streamtrack.PandasHDFStore), got {type(output).__name__}.")
    if isinstance(frames, (pd.DataFrame, str)) or not hasattr(frames, "__iter__"):
        raise TypeError(f"frames must be an iterable of images (e.g. streamtrack.open(...)),"
                        f" got {type(frames).__name__}.")
    if client is not None:
        from ._distributed import check_client

        check_client(client)
    # what locate would refuse on every frame, before any frame: a bad option
    # is reported before meta or the store is written, not from inside the
    # first frame (where a worker thread would raise it). Image-dependent
    # checks (RGB frames, sizes per axis) wait for the first frame, which
    # also comes before anything is written.
    check_options(diameter, **kwargs)


def _write_meta(info, meta):
    try:
        write_meta(info, meta)
    except OSError as exc:
        # errno alone ("No space left on device") does not say which file
        name = os.fsdecode(meta) if isinstance(meta, (str, bytes, os.PathLike)) else \
            getattr(meta, "name", "the meta file")
        error = type(exc)(f"cannot write meta={name!r}: {exc.strerror or exc}")
        error.errno = exc.errno
        raise error from exc


def _check_meta_target(meta):
    """A ``meta`` path must be writable: say so now, not after the first frame."""
    if isinstance(meta, (str, bytes)) or hasattr(meta, "__fspath__"):
        folder = os.path.dirname(os.path.abspath(os.fsdecode(meta))) or "."
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"meta={os.fsdecode(meta)!r}: the folder {folder!r} does "
                                    "not exist; create it or choose another path.")
    elif not hasattr(meta, "write"):
        raise TypeError(f"meta must be a file path or an open text file, got "
                        f"{type(meta).__name__}.")


def _after_processed(frames, output):
    """The frames after the last one ``output`` recorded as processed."""
    if not resumable(output):
        raise TypeError("resume=True needs an output store that records the frames it "
                        "processed (any streamtrack HDF5 store); got "
                        f"{type(output).__name__}.")
    done = output.processed_frames
    if not len(done):
        return frames
    through = int(done[-1])
    from .frames import Frame, FrameSequence
    from .frames import open as open_frames

    if isinstance(frames, np.ndarray):
        frames = open_frames(frames)  # numbered by position, as batch numbers them
    if isinstance(frames, FrameSequence):  # skip without decoding anything
        return frames[np.asarray(frames._indices) > through]
    # any other iterable: frames are numbered as batch numbers them, so the
    # skipped ones must be walked past; the rest keep their numbers
    return (image if getattr(image, "frame_no", None) is not None else Frame(image, i)
            for i, image in enumerate(frames) if frame_number(image, i) > through)


def batch_iter(frames, diameter, output=None, processes='auto', after_locate=None, *,
               client=None, resume=False, meta=None, **kwargs):
    """Locate frame by frame, yielding each frame's features once it is stored.

    The generator behind :func:`batch`, for callers that report progress or
    stop early (the napari plugin's worker): each ``(frame_no, features)``
    is yielded after ``output.put`` returned, so stopping the iteration
    leaves ``output`` holding every yielded frame that had features.

    Parameters
    ----------
    frames, diameter, output, processes, after_locate, client, resume, meta, **kwargs
        As in :func:`batch`.

    Yields
    ------
    frame_no : int
    features : DataFrame
        With a ``frame`` column; possibly empty (an empty frame is not put).

    Raises
    ------
    TypeError, ValueError, ImportError
        As in :func:`batch`, when the generator is created (bad options, a
        resume with options other than the recorded ones).
    Exception
        As in :func:`batch`, while iterating: after every frame before the
        failing one was stored and yielded.

    Examples
    --------
    >>> import streamtrack as tp
    >>> frames, truth = tp.synthetic.brownian_movie(n_particles=10, n_frames=3)
    >>> [(t, len(f) > 0) for t, f in tp.batch_iter(frames, 11, minmass=500, processes=1)]
    [(0, True), (1, True), (2, True)]
    """
    _check_batch_args(frames, output, kwargs, client, diameter)
    n_workers = _n_workers(processes, output)
    record = _locate_record(diameter, kwargs)
    if resume:
        frames = _after_processed(frames, output)
        _check_resumed_record(output, record)
    write = _meta_writer(meta, frames, diameter, kwargs)
    kwargs["diameter"] = diameter
    return _batch_iter(frames, output, n_workers, after_locate, partial(locate, **kwargs),
                       client, _recorder(output, record, write))


def _meta_writer(meta, frames, diameter, kwargs):
    """What writes ``meta`` (trackpy's YAML record) once the first frame is located."""
    if not meta:
        return None
    _check_meta_target(meta)
    info = dict(timestamp=datetime.datetime.now(datetime.timezone.utc)
                .strftime("%Y-%m-%d-%H%M%S"),
                streamtrack_version=__version__, source=getattr(frames, "filename", None),
                diameter=diameter, **kwargs)
    return partial(_write_meta, info, meta)


def _recorder(output, record, meta=None):
    """What is written once the first frame is located: the store's record of
    the locate options and the ``meta`` file. Not before: an option that the
    first frame shows to be wrong (an RGB frame) then leaves nothing behind."""
    def write():
        if resumable(output):
            output.save_metadata(RECORD, record)
        if meta is not None:
            meta()
    return write


def _batch_iter(frames, output, n_workers, after_locate, curried, client=None,
                first_write=None):
    if client is None:
        results = _located(frames, curried, n_workers)
    else:
        from . import _distributed  # imports dask: only when a client is given

        results = _distributed.located(frames, curried, client)
    # the same in-order loop either way: the store is fed on this thread only
    mark = processed_marker(output)
    try:
        for frame_no, features in results:
            if first_write is not None:
                first_write()
                first_write = None
            if "frame" not in features.columns:
                features["frame"] = np.int64(frame_no)
            if after_locate is not None:
                features = after_locate(frame_no, features)
            logger.info("Frame %d: %d features", frame_no, len(features))
            if output is not None:
                if len(features):
                    output.put(features)
                if mark is not None:  # empty frames too: resume must not redo them
                    mark(frame_no)
            yield frame_no, features
        if first_write is not None:  # no frames at all: still record the run
            first_write()
    finally:
        # stops the locating threads here, on this thread, also when the loop
        # ends early (an error, a closed generator): left to the garbage
        # collector, a worker thread could end up joining itself
        results.close()


def batch(frames, diameter, output=None, meta=None, processes='auto',
          after_locate=None, *, client=None, resume=False, **kwargs):
    """Locate features in every frame of a movie, streaming the results.

    Signature and behaviour follow trackpy 0.7's ``batch``, except that any
    iterable works (generators too) and ``meta`` works on current pandas.

    Parameters
    ----------
    frames : iterable of 2-D (or 3-D) arrays
        A :func:`streamtrack.open` sequence, a list, a generator, ... Frame
        numbers come from each frame's ``frame_no`` when it has one, else from
        the position in the iteration.
    diameter : odd int or tuple of odd ints
        Feature size in pixels, passed to :func:`streamtrack.locate`.
    output : store, optional
        Any object with a ``put(DataFrame)`` method, e.g. a
        :class:`streamtrack.PandasHDFStore`. Each frame is put as soon as it
        is located (frames without features are not put), so memory does not
        grow with the movie. Default: collect everything into one DataFrame.
    meta : str or file, optional
        Write the parameters, version, source and a timestamp there as YAML,
        once the first frame is located (a run refused before that writes
        nothing). A path in a missing folder is refused at once.
    processes : int or 'auto', optional
        Number of worker threads locating frames in parallel (results are
        still delivered in frame order); 'auto' uses every core, 1 or less
        runs in the calling thread. Default 'auto' (one more with an
        ``output``, which this thread feeds).
    after_locate : callable, optional
        ``after_locate(frame_no, features) -> features``, run on each frame's
        features before they are stored.
    client : dask.distributed.Client or str, optional
        Locate on the workers of a Dask cluster: a ``Client``, or a scheduler
        address (``'tcp://host:8786'``; connected for this call, then
        closed). ``processes`` is then not used. The workers read the frames
        of a lazy ``streamtrack.open`` sequence themselves (they need the
        same file paths); for in-memory frames the driver sends the pixels.
        A task locates a run of frames worth about 0.25 s; at most 2 tasks per
        worker thread are in flight, and ``after_locate`` and ``output.put``
        run here, in frame order. Keyword only.
    resume : bool, optional
        Continue an interrupted run: skip the frames up to the last one
        ``output`` recorded as processed (streamtrack's stores record every
        frame batch finishes, empty ones included, so nothing is located
        twice or lost). The locate options must be those the store
        recorded for the run it continues (streamtrack's stores keep them
        as the ``'locate_options'`` metadata record). Keyword only. Default
        False.
    **kwargs
        Passed to :func:`streamtrack.locate` (minmass, invert, ...); checked
        before the first frame is read.

    Returns
    -------
    DataFrame or output
        ``output`` if given, else all features with a ``frame`` column.

    Raises
    ------
    TypeError
        ``processes`` neither an int nor 'auto'; ``raw_image`` among kwargs;
        ``output`` without a ``put`` method; ``frames`` not iterable;
        ``client`` neither a ``Client`` nor an address; ``resume`` with an
        output that does not record processed frames.
    ValueError
        A locate option out of its range (as :func:`streamtrack.locate`
        raises it, before anything is written); ``resume`` with locate
        options other than the recorded ones (naming those that differ).
    ImportError
        ``client`` given as an address but ``dask.distributed`` is missing
        (install ``napari-streamtrack[distributed]``).
    Exception
        Whatever reading or locating a frame raised, with its own type (e.g.
        ``UnreadableFrameError`` for a file that cannot be decoded, or a
        generator's own error), after every frame before it was stored; with
        a client, also whatever a worker raised.

    Examples
    --------
    >>> import streamtrack as tp
    >>> frames, truth = tp.synthetic.brownian_movie(n_particles=10, n_frames=3)
    >>> features = tp.batch(frames, 11, processes=1)
    >>> sorted(features['frame'].unique().tolist())
    [0, 1, 2]
    """
    _check_batch_args(frames, output, kwargs, client, diameter)
    n_workers = _n_workers(processes, output)
    record = _locate_record(diameter, kwargs)
    if resume:
        frames = _after_processed(frames, output)
        _check_resumed_record(output, record)
    write = _meta_writer(meta, frames, diameter, kwargs)
    collected = []
    columns = None
    kwargs["diameter"] = diameter
    for _, features in _batch_iter(frames, output, n_workers, after_locate,
                                   partial(locate, **kwargs), client,
                                   _recorder(output, record, write)):
        if columns is None:
            columns = list(features.columns)
        if output is None and len(features):
            collected.append(features)
    if output is not None:
        return output
    if collected:
        return pd.concat(collected, ignore_index=True)
    warnings.warn("No maxima found in any frame.", UserWarning, stacklevel=2)
    return empty_features(columns or feature_columns(2) + ["frame"])

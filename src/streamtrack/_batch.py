"""``batch``: locate features frame by frame, streaming into a store."""
import datetime
import itertools
import os
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pandas as pd

from . import __version__
from ._locate import _empty, feature_columns, locate
from ._logging import logger
from ._meta import write_meta


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


def _frame_number(image, index, trust_frame_no=True):
    frame_no = getattr(image, "frame_no", None) if trust_frame_no else None
    return index if frame_no is None else int(frame_no)


def _locate_item(frames, index, curried):
    # workers read their own frame: decoding runs in parallel with locating
    image = frames[index]
    # slices of one (T, Y, X) array inherit a single frame_no attribute
    # (trackpy issue #756): number them by position instead
    if isinstance(frames, np.ndarray):
        image = np.asarray(image)
        return index, curried(image)
    return _frame_number(image, index), curried(image)


def _located(frames, curried, n_workers):
    """Yield ``(frame_no, features)`` in input order, ``n_workers`` at a time."""
    indexable = hasattr(frames, "__getitem__") and hasattr(frames, "__len__")
    if n_workers <= 1:
        if indexable:
            for i in range(len(frames)):
                yield _locate_item(frames, i, curried)
        else:
            for i, image in enumerate(frames):
                yield _frame_number(image, i), curried(image)
        return
    # Threads, not processes: the compiled kernels release the GIL, and
    # threads need no pickling, no spawn start-up and no per-worker JIT.
    with ThreadPoolExecutor(n_workers, thread_name_prefix="streamtrack-batch") as pool:
        pending = deque()
        if indexable:
            jobs = (pool.submit(_locate_item, frames, i, curried) for i in range(len(frames)))
        else:
            jobs = (pool.submit(lambda i, im: (_frame_number(im, i), curried(im)), i, im)
                    for i, im in enumerate(frames))
        try:
            # keep a bounded number of frames in flight: memory stays flat
            for job in itertools.islice(jobs, 2 * n_workers):
                pending.append(job)
            while pending:
                result = pending.popleft().result()
                for job in itertools.islice(jobs, 1):
                    pending.append(job)
                yield result
        finally:
            for job in pending:
                job.cancel()


def _check_batch_args(frames, output, kwargs, client=None):
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


def _after_processed(frames, output):
    """The frames after the last one ``output`` recorded as processed."""
    done = getattr(output, "processed_frames", None)
    if done is None:
        raise TypeError("resume=True needs an output store that records the frames it "
                        "processed (any streamtrack HDF5 store); got "
                        f"{type(output).__name__}.")
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
            for i, image in enumerate(frames) if _frame_number(image, i) > through)


def batch_iter(frames, diameter, output=None, processes='auto', after_locate=None, *,
               client=None, resume=False, **kwargs):
    """Locate frame by frame, yielding each frame's features once it is stored.

    The generator behind :func:`batch`, for callers that report progress or
    stop early (the napari plugin's worker): each ``(frame_no, features)``
    is yielded after ``output.put`` returned, so stopping the iteration
    leaves ``output`` holding every yielded frame that had features.

    Parameters
    ----------
    frames, diameter, output, processes, after_locate, client, resume, **kwargs
        As in :func:`batch`.

    Yields
    ------
    frame_no : int
    features : DataFrame
        With a ``frame`` column; possibly empty (an empty frame is not put).

    Raises
    ------
    TypeError, ImportError
        As in :func:`batch`, when the generator is created.

    Examples
    --------
    >>> import streamtrack as tp
    >>> frames, truth = tp.synthetic.brownian_movie(n_particles=10, n_frames=3)
    >>> [(t, len(f) > 0) for t, f in tp.batch_iter(frames, 11, minmass=500, processes=1)]
    [(0, True), (1, True), (2, True)]
    """
    _check_batch_args(frames, output, kwargs, client)
    n_workers = _n_workers(processes, output)
    if resume:
        frames = _after_processed(frames, output)
    kwargs["diameter"] = diameter
    return _batch_iter(frames, output, n_workers, after_locate, partial(locate, **kwargs),
                       client)


def _batch_iter(frames, output, n_workers, after_locate, curried, client=None):
    if client is None:
        results = _located(frames, curried, n_workers)
    else:
        from . import _distributed  # imports dask: only when a client is given

        results = _distributed.located(frames, curried, client)
    # the same in-order loop either way: the store is fed on this thread only
    mark = getattr(output, "mark_processed", None)
    for frame_no, features in results:
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
        Write the parameters, version, source and a timestamp there as YAML.
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
        twice or lost). Keyword only. Default False.
    **kwargs
        Passed to :func:`streamtrack.locate` (minmass, invert, ...).

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
    ImportError
        ``client`` given as an address but ``dask.distributed`` is missing
        (install ``napari-streamtrack[distributed]``).
    Exception
        With a client, whatever a worker raised, with its own type (e.g.
        ``UnreadableFrameError`` for a file that cannot be decoded).

    Examples
    --------
    >>> import streamtrack as tp
    >>> frames, truth = tp.synthetic.brownian_movie(n_particles=10, n_frames=3)
    >>> features = tp.batch(frames, 11, processes=1)
    >>> sorted(features['frame'].unique().tolist())
    [0, 1, 2]
    """
    _check_batch_args(frames, output, kwargs, client)
    n_workers = _n_workers(processes, output)
    if resume:
        frames = _after_processed(frames, output)
    if meta:
        source = getattr(frames, "filename", None)
        info = dict(timestamp=datetime.datetime.now(datetime.timezone.utc)
                    .strftime("%Y-%m-%d-%H%M%S"),
                    streamtrack_version=__version__, source=source, diameter=diameter,
                    **kwargs)
        write_meta(info, meta)
    collected = []
    columns = None
    kwargs["diameter"] = diameter
    for _, features in _batch_iter(frames, output, n_workers, after_locate,
                                   partial(locate, **kwargs), client):
        if columns is None:
            columns = list(features.columns)
        if output is None and len(features):
            collected.append(features)
    if output is not None:
        return output
    if collected:
        return pd.concat(collected, ignore_index=True)
    warnings.warn("No maxima found in any frame.", UserWarning, stacklevel=2)
    return _empty(columns or feature_columns(2) + ["frame"])

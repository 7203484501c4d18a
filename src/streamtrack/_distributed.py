"""``batch(..., client=...)``: locate on the workers of a Dask distributed cluster.

What runs where
---------------
- On the workers, one task per run of consecutive frames: read (decode)
  each frame and locate it.
- On the driver, in frame order: ``after_locate``, ``output.put`` and the
  logging, exactly as without a client (``_batch._batch_iter``).

What is shipped
---------------
A lazy :class:`~streamtrack.FrameSequence` (``streamtrack.open`` over files,
a ``pipeline`` on it, a synthetic movie) is pickled once and scattered to
every worker; each task then carries only frame indices and the ``locate``
settings, and the worker reads those frames itself. This needs the workers to
see the same file paths. Everything else has no lazy reader to ship, so the
driver reads each frame and sends its pixels with the task: an in-memory
numpy array or list, a generator, a sequence that cannot be pickled (a
multi-page TIFF keeps an open file) or whose pickle exceeds
``MAX_SHIPPED_SEQUENCE`` bytes (``open`` of an in-memory movie).

Each task locates a run of consecutive frames, about ``TASK_SECONDS`` of
work: one task costs some 5 ms of CPU between driver, scheduler and worker,
a third of a small frame's time (bulk_water: 15 ms to decode and locate).
Runs shorten towards the end of a movie of known length, so that the
workers finish together. At most ``2 x`` the
cluster's worker threads tasks are in flight, so the driver's memory stays
flat and the store is fed while the cluster works.

``dask`` is imported here only, and this module only when a client is given:
``import streamtrack`` never imports dask.
"""
import io
import itertools
import pickle
import time
import uuid
from collections import deque

import numpy as np

from ._logging import logger
from ._numbering import numbered, process_frame
from .frames import FrameSequence

EXTRA = "napari-streamtrack[distributed]"

#: Largest pickle of a FrameSequence that is scattered to the workers; a
#: bigger one holds pixels (an in-memory movie), so frames are sent instead.
MAX_SHIPPED_SEQUENCE = 4 * 2**20
#: A task locates consecutive frames for about this long (seconds) ...
TASK_SECONDS = 0.25
#: ... but at most this many frames ...
MAX_RUN = 32
#: ... and, when the driver sends pixels, at most this many bytes of them.
MAX_RUN_BYTES = 8 * 2**20


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(f"batch(..., client=...) needs dask.distributed; install it with "
                          f"pip install '{EXTRA}' (or pip install 'dask[distributed]')."
                          ) from exc
    return distributed


def check_client(client):
    """Validate ``client`` when ``batch``/``batch_iter`` is called (before any frame).

    Parameters
    ----------
    client : distributed.Client or str
        A connected client, or a scheduler address such as ``'tcp://host:8786'``.

    Raises
    ------
    ImportError
        An address is given but ``dask.distributed`` is not installed; the
        message names the ``napari-streamtrack[distributed]`` extra.
    TypeError
        Neither an address string nor a (synchronous) ``Client``.
    """
    if isinstance(client, str):
        _import_distributed()
        return
    if not all(callable(getattr(client, name, None)) for name in ("submit", "scatter",
                                                                   "nthreads", "cancel")):
        raise TypeError(f"client must be a dask.distributed.Client or a scheduler address "
                        f"such as 'tcp://host:8786', got {type(client).__name__}.")
    if getattr(client, "asynchronous", False):
        raise TypeError("client must be a synchronous dask.distributed.Client "
                        "(asynchronous=False): batch blocks on each frame's result.")


def window(client):
    """Tasks kept in flight: twice the cluster's worker threads (at least 2).

    Twice, so that every worker has its next frame queued while the driver
    is busy putting the previous result into the store.
    """
    return max(2, 2 * sum(client.nthreads().values()))


class _TooLarge(Exception):
    pass


class _LimitedSink(io.RawIOBase):
    """A write-only sink that stops the pickler once ``limit`` bytes are written."""

    def __init__(self, limit):
        self.size = 0
        self.limit = limit

    def writable(self):
        return True

    def write(self, data):
        self.size += len(memoryview(data).cast("B"))
        if self.size > self.limit:
            raise _TooLarge
        return len(data)


def shipped_sequence(frames, limit=None):
    """Whether ``frames`` is shipped to the workers as a lazy reader.

    Parameters
    ----------
    frames : iterable
        The ``frames`` given to ``batch``.
    limit : int, optional
        Largest pickle accepted, in bytes. Default ``MAX_SHIPPED_SEQUENCE``.

    Returns
    -------
    bool
        True for a :class:`FrameSequence` that pickles (with cloudpickle, as
        dask does: a ``pipeline``'s local function is pickled by value) into
        at most ``limit`` bytes; False when the driver must send pixels.
    """
    if not isinstance(frames, FrameSequence):
        return False
    import cloudpickle

    limit = MAX_SHIPPED_SEQUENCE if limit is None else limit
    try:
        # written to a counting sink that gives up early: an in-memory movie
        # is never copied in full just to find out that it is too large
        cloudpickle.dump(frames, _LimitedSink(limit), protocol=pickle.HIGHEST_PROTOCOL)
    except _TooLarge:
        logger.debug("batch: %r pickles to over %d bytes; the driver sends pixels",
                     frames, limit)
        return False
    except Exception as exc:  # noqa: BLE001 - whatever makes it unpicklable
        logger.debug("batch: %r cannot be pickled (%s); the driver sends pixels", frames, exc)
        return False
    return True


def _run(locate_one, items):
    """Locate ``items`` in order; returns (seconds taken, [(frame_no, features), ...]).

    A failure after the first item ends the run early with the results so
    far: the driver stores them, then submits the rest of the run again,
    where the failed item comes first and so raises, with the worker's
    traceback (or succeeds, if the failure was transient). A failure of the
    first item raises right away.
    """
    start = time.perf_counter()
    out = []
    for item in items:
        try:
            out.append(locate_one(item))
        except Exception:
            if not out:
                raise
            break
    return time.perf_counter() - start, out


def _locate_in_sequence(frames, indices, curried):
    """Worker task: read frames ``indices`` of the scattered sequence and locate them."""
    import dask

    # a dask-array-backed frame is computed right here, not submitted back
    # to the cluster, where it could wait forever for this busy thread
    with dask.config.set(scheduler="synchronous"):
        return _run(lambda i: process_frame(frames, i, curried), indices)


def _locate_frames(items, curried):
    """Worker task: locate ``(frame_no, pixels)`` sent by the driver."""
    return _run(lambda item: (item[0], curried(item[1])), items)


def _driver_frames(frames):
    """``(frame_no, pixels)`` read on the driver, numbered as every batch numbers
    frames (`_numbering`)."""
    for frame_no, image in numbered(frames):
        yield frame_no, np.asarray(image)


def located(frames, curried, client):
    """Yield ``(frame_no, features)`` in input order, located on a Dask cluster.

    Each task locates a run of consecutive frames, sized from the time the
    previous tasks took so that one takes about ``TASK_SECONDS`` (1 to
    ``MAX_RUN`` frames; pixel tasks at most ``MAX_RUN_BYTES``): a task costs
    the driver, the scheduler and a worker some 5 ms of CPU in all, as much
    as a third of a small frame's locate. At most :func:`window` tasks are
    in flight.

    Parameters
    ----------
    frames : iterable of images
        As in :func:`streamtrack.batch`.
    curried : callable
        ``locate`` with its keyword arguments bound; pickled with each task.
    client : distributed.Client or str
        A client, or a scheduler address (a client is connected for this
        run and closed at its end).

    Yields
    ------
    frame_no : int
    features : DataFrame

    Raises
    ------
    Exception
        Whatever a task raised on a worker, re-raised with its own type
        (e.g. :class:`streamtrack.frames.UnreadableFrameError`) after every
        earlier frame was yielded; the tasks still in flight are cancelled.
        Likewise whatever ``frames`` raised when the driver read from it (a
        generator's own error), after every frame it gave before.
    OSError
        The scheduler at an address cannot be reached.
    """
    own = isinstance(client, str)
    if own:
        distributed = _import_distributed()
        # not the default client: the caller's own dask code keeps its scheduler
        client = distributed.Client(client, set_as_default=False)
    pending = deque()  # (future, items), oldest first
    scattered = None
    try:
        run, tasks = uuid.uuid4().hex[:8], itertools.count()
        if shipped_sequence(frames):
            # one copy per worker up front; tasks then carry only frame indices
            [scattered] = client.scatter([frames], broadcast=True, hash=False)
            items, task, max_run = iter(range(len(frames))), _locate_in_sequence, MAX_RUN
            args = (scattered,)
        else:
            items, task, max_run = _driver_frames(frames), _locate_frames, 1
            args = ()

        def submit(batch):
            return client.submit(task, *args, batch, curried,
                                 key=f"streamtrack-locate-{run}-{next(tasks)}")

        def submit_next():
            nonlocal max_run, unsent, failed
            run_length = length
            if unsent is not None:
                # shorter runs towards the end, so that the workers finish
                # together instead of one idling while another ends a long run
                run_length = max(1, min(length, unsent // threads))
                unsent -= run_length
            batch = []
            if failed is None:
                # reading on the driver runs the caller's iterator (a
                # generator may raise): the frames it gave before are still
                # located and yielded, then its error propagates
                try:
                    for item in itertools.islice(items, run_length):
                        batch.append(item)
                except Exception as exc:  # noqa: BLE001 - re-raised after those frames
                    failed = exc
            if batch:
                if scattered is None:  # pixels travel with the task: cap the bytes
                    max_run = max(1, min(MAX_RUN, MAX_RUN_BYTES // max(batch[0][1].nbytes, 1)))
                pending.append((submit(batch), batch))
            return bool(batch)

        failed = None  # what reading a frame on the driver raised
        length, size = 1, window(client)
        threads = max(1, size // 2)
        unsent = len(frames) if hasattr(frames, "__len__") else None
        logger.debug("batch: %s on %s, %d tasks in flight",
                     "lazy sequence" if scattered is not None else "pixels", client, size)
        while len(pending) < size and submit_next():
            pass
        while pending:
            # the oldest task first: results leave in input order whatever
            # order the workers finish in. It leaves ``pending`` only once it
            # succeeded, so a failed one is cancelled below with the rest.
            future, batch = pending[0]
            seconds, results = future.result()
            pending.popleft()
            length = max(1, min(max_run, int(TASK_SECONDS * len(results) / max(seconds, 1e-6))))
            if len(results) < len(batch):
                # a frame failed after others of its task: retry from it (it
                # raises there with its traceback, after the frames before it)
                rest = batch[len(results):]
                pending.appendleft((submit(rest), rest))
            else:
                submit_next()
            yield from results
        if failed is not None:
            raise failed
    finally:
        if pending:
            client.cancel([future for future, _ in pending])
        if scattered is not None:
            client.cancel([scattered])
        if own:
            client.close()

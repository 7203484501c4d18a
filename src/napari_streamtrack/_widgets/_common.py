"""Pieces the Locate and Link widgets share: layer geometry, layer updates,
the compile notice, the runs' workers (progress bar, every error reported,
no pop-ups of their own)."""
from __future__ import annotations

import warnings

import numpy as np
from napari.layers import Points, Tracks

# the layer types put_layer adds or updates
LAYER_TYPES = {"points": Points, "tracks": Tracks}


def layer_geometry(layer, ndim: int | None = None) -> dict:
    """``scale``, ``translate``, ``axis_labels``, ``units`` of ``layer``'s last ``ndim`` axes.

    New Points and Tracks layers get these so that they sit exactly on the
    image they came from (RGB images: the channel axis is not a layer axis).
    """
    ndim = layer.ndim if ndim is None else ndim
    geometry = {
        "scale": tuple(np.asarray(layer.scale)[-ndim:]),
        "translate": tuple(np.asarray(layer.translate)[-ndim:]),
    }
    for key in ("axis_labels", "units"):
        value = getattr(layer, key, None)
        if value is not None:
            geometry[key] = tuple(value)[-ndim:]
    return geometry


def put_layer(viewer, name: str, data, kwargs: dict, layer_type: str):
    """Add a layer, or replace the data and features of the one called ``name``.

    Replacing keeps the user's display choices (colours, size, visibility)
    and the layer's place in the list. Setting a Tracks layer's ``data``
    resets its features, so features are always set after data.

    Parameters
    ----------
    layer_type : {'points', 'tracks'}
        A layer of that name but another type is not touched: a new layer
        is added (napari makes its name unique).
    """
    kwargs = dict(kwargs)
    features = kwargs.pop("features", None)
    if name in viewer.layers and isinstance(viewer.layers[name], LAYER_TYPES[layer_type]):
        layer = viewer.layers[name]
        color_by = getattr(layer, "color_by", None)  # Tracks: reset with the data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # transient colour fallback
            layer.data = data
        if features is not None:
            layer.features = features
        if color_by is not None and features is not None and color_by in features:
            layer.color_by = color_by
        for key in ("metadata", "scale", "translate"):
            if key in kwargs:
                setattr(layer, key, kwargs[key])
        return layer
    add = getattr(viewer, f"add_{layer_type}")
    if features is not None:
        kwargs["features"] = features
    return add(data, name=name, **kwargs)


class CompileNotice:
    """The core's "compiling kernels, first run only" notice, for a status line.

    The core announces from a background thread, so the message is only kept
    here; the widget adds ``suffix()`` to the text it shows on the GUI thread.
    """

    def __init__(self):
        from streamtrack import _fastpath

        self.message = None
        _fastpath.add_listener(self._set)

    def _set(self, message):
        self.message = message

    def suffix(self) -> str:
        return f" ({self.message})" if self.message else ""

    def close(self) -> None:
        from streamtrack import _fastpath

        _fastpath.remove_listener(self._set)



class WorkerError(Exception):
    """An error of a worker's generator, re-raised so that the worker reports it.

    napari's generator worker (superqt's) takes a ``RuntimeError`` that the
    generator raises, or returns, for a sign that the worker was deleted: it
    only warns on the terminal and emits neither ``errored`` nor
    ``finished``, so a widget waiting for the end would wait forever (Run
    disabled, "Cancelling..." for good). ``StoreError`` (a locked or
    unopenable store) and PyTables' ``HDF5ExtError`` are RuntimeErrors.

    Parameters
    ----------
    error : Exception
        The original exception, also in ``error`` and ``__cause__``.
    """

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def reporting(gen):
    """Yield from generator ``gen`` in a worker so that every error reaches ``errored``.

    A generator function, to give to ``create_worker`` / ``thread_worker``.
    A ``RuntimeError`` that ``gen`` raises or returns is raised as a
    :class:`WorkerError` (see there why); everything else passes unchanged.

    Parameters
    ----------
    gen : generator
        The run; the widget keeps it to close it after a Cancel.

    Returns
    -------
    object
        What ``gen`` returns.
    """
    try:
        result = yield from gen
    except RuntimeError as exc:
        raise WorkerError(exc) from exc
    if isinstance(result, RuntimeError):
        raise WorkerError(result) from result
    return result


def worker_error(exc: BaseException) -> BaseException:
    """The original exception of what a worker's ``errored`` signal carries."""
    return exc.error if isinstance(exc, WorkerError) else exc


def progress_worker(gen, *, total: int, desc: str):
    """A worker for a widget's run: generator ``gen`` in a thread, with a progress bar.

    The worker is superqt's ``GeneratorWorker`` (``superqt.utils.create_worker``),
    not napari's: napari's turns every warning and error of the thread into a
    napari notification, and a run warns once per frame (locate's "no
    maxima") while the widget reports an error itself, once, in its status
    line and a notification. Here a warning stays in the worker's ``warned``
    signal (nothing listens) and an error in ``errored``.

    The progress bar is napari's public ``napari.utils.progress``, shown in
    the activity dock: one step per item ``gen`` yields, closed when the
    worker finishes. It is driven from the worker's signals, so on the main
    thread.

    Parameters
    ----------
    gen : generator
        The run, one yield per frame done; run through :func:`reporting`, so
        every error reaches ``errored``. The widget keeps it to close it
        after a Cancel (``worker.quit()`` stops at the next yield).
    total : int
        Frames the run will yield.
    desc : str
        The progress bar's label.

    Returns
    -------
    superqt.utils.GeneratorWorker
        Not started yet: connect to its signals, then call ``start()``. Its
        ``pbar`` attribute is the progress bar.
    """
    from napari.utils import progress
    from superqt.utils import create_worker

    worker = create_worker(reporting, gen, _start_thread=False, _ignore_errors=True)
    pbar = progress(total=total, desc=desc)
    # past the total (a run that yields more than announced) the bar turns indeterminate
    worker.yielded.connect(lambda _item: pbar.increment_with_overflow())
    worker.finished.connect(pbar.close)
    worker.pbar = pbar
    return worker


def one_line(text) -> str:
    """``text`` (or an exception's message) on one line, for a status line.

    The core's :func:`streamtrack.stores.errors.short_reason`: an HDF5 back
    trace shrinks to its innermost cause (e.g. "file signature not found").
    """
    from streamtrack.stores.errors import short_reason

    return short_reason(text) if isinstance(text, BaseException) or text else ""


def describe(exc: BaseException) -> str:
    """One line saying what went wrong: the message, with the kind when it helps.

    The project's own errors, ``ValueError`` and ``OSError`` carry messages
    written for users; for anything else (a bug, a reader's error) the
    exception's type is part of what the user needs to know.
    """
    from streamtrack.exceptions import StoreError

    exc = worker_error(exc)
    message = one_line(exc)
    if message and isinstance(exc, (StoreError, ValueError, OSError)):
        return message
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__

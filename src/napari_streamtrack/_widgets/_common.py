"""Pieces the Locate and Link widgets share: layer geometry, layer updates,
the compile notice, workers whose every error is reported."""
from __future__ import annotations

import re
import warnings

import numpy as np


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
    """
    kwargs = dict(kwargs)
    features = kwargs.pop("features", None)
    if name in viewer.layers and viewer.layers[name]._type_string == layer_type:
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


# PyTables puts HDF5's whole call stack into its messages: ten lines of C
# function names around the one line that says what went wrong
_HDF5_TRACE = re.compile(r"HDF5 error back trace(.*?)End of HDF5 error back trace", re.S)


def _innermost(match) -> str:
    lines = [line.strip() for line in match.group(1).splitlines()]
    causes = [line for line in lines if line and not line.startswith('File "')]
    return f"{causes[-1]};" if causes else ""


def one_line(text) -> str:
    """``text`` (or an exception's message) on one line, for a status line.

    An HDF5 back trace shrinks to its innermost cause (e.g. "file signature
    not found"); line breaks and runs of spaces become single spaces.
    """
    return " ".join(_HDF5_TRACE.sub(_innermost, str(text)).split())


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

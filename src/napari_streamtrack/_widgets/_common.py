"""Pieces the Locate and Link widgets share: layer geometry, layer updates,
the compile notice, the runs' workers (progress bar, every error reported,
no pop-ups of their own), updates at most ~10 times a second (:class:`Throttle`),
the one-line status (:class:`StatusLine`) and the scrolling body of a dock."""
from __future__ import annotations

import atexit
import gc
import time
import warnings

import numpy as np
from napari.layers import Points, Tracks

# the layer types put_layer adds or updates
LAYER_TYPES = {"points": Points, "tracks": Tracks}
# a run's status line and progress bar change at most this often (seconds): redrawing
# them for every frame of a fast run costs more than the run itself
UPDATE_INTERVAL = 0.1


def _stop_workers_at_exit() -> None:
    """Ask the widgets' running workers to stop and wait for them (at most 10 s).

    A worker still running when Python exits (napari's window closed during a
    run) would emit its last signals into Qt objects already deleted, and Qt
    aborts the process; every run stops within one frame or one block of
    frames when asked.
    """
    from superqt.utils import WorkerBase

    WorkerBase.await_workers(msecs=10_000)
    # superqt points warnings.showwarning at a worker's signal while it runs;
    # two workers overlapping can leave that in place after both end, and a
    # warning at exit would then reach a deleted signal
    if getattr(warnings.showwarning, "__module__", "") == "superqt.utils._qthreading":
        warnings.showwarning = _SHOWWARNING


_SHOWWARNING = warnings.showwarning
atexit.register(_stop_workers_at_exit)


def spare_the_collector() -> None:
    """Leave the objects alive now out of Python's full garbage collections (once).

    A full (generation 2) collection stops every thread while it walks all
    tracked objects: in a napari window holding a linked bulk_water (about
    350,000 objects) that is 0.22-0.34 s, and a run's worker allocating
    steadily triggers one every few seconds, each a pause of the window.
    ``gc.freeze()`` moves the objects alive when the first run starts
    (napari's, the layers', this plugin's: nearly all long-lived) to the
    permanent generation, which collections skip; measured, full collections
    during an analysis then take 12-69 ms. Done once per session, after a
    collection of the young generations, so the few cycles frozen are those
    already old at that moment (a one-time cost, not a growing leak).
    """
    global _FROZEN
    if not _FROZEN:
        _FROZEN = True
        gc.collect(1)
        gc.freeze()


_FROZEN = False
# a new layer of more rows than this is added hidden and shown STAGGER_MS later:
# adding it and slicing + drawing it for the first time are then two shorter
# pauses of the GUI (~0.1 s each for 180,000 points) instead of one
STAGGER_ROWS = 20_000
STAGGER_MS = 20


class Throttle:
    """Call ``fn`` with the latest arguments at most once per ``interval`` seconds.

    The first call goes through at once; later calls within ``interval``
    only keep their arguments, and a single-shot timer calls ``fn`` with the
    newest of them when the interval is over, so the last value is never
    lost. Create and call it on the GUI thread (it uses a ``QTimer``).

    Parameters
    ----------
    fn : callable
    interval : float, optional
        Seconds. Default :data:`UPDATE_INTERVAL`.
    """

    def __init__(self, fn, interval: float = UPDATE_INTERVAL):
        from qtpy.QtCore import QTimer

        self._fn, self.interval = fn, interval
        self._last = -float("inf")
        self._pending = None
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)

    def __call__(self, *args) -> None:
        self._pending = args
        wait = self._last + self.interval - time.monotonic()
        if wait <= 0:
            self.flush()
        elif not self._timer.isActive():
            self._timer.start(max(1, int(wait * 1000)))

    def flush(self) -> None:
        """Call ``fn`` now with the pending arguments, if any."""
        try:
            self._timer.stop()
        except RuntimeError:  # Qt deleted the timer: the viewer is closing
            self._pending = None
        if self._pending is None:
            return
        args, self._pending = self._pending, None
        self._last = time.monotonic()
        self._fn(*args)

    def cancel(self) -> None:
        """Drop the pending call (e.g. before the final message of a run)."""
        self._pending = None
        try:
            self._timer.stop()
        except RuntimeError:  # Qt deleted the timer: the viewer is closing
            pass


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
    and the layer's place in the list. A new layer of more than
    :data:`STAGGER_ROWS` rows is shown :data:`STAGGER_MS` ms after it is
    added. Setting a Tracks layer's ``data``
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
    stagger = len(data) > STAGGER_ROWS and kwargs.get("visible", True)
    if stagger:
        kwargs["visible"] = False
    layer = add(data, name=name, **kwargs)
    if stagger:
        from qtpy.QtCore import QTimer

        QTimer.singleShot(STAGGER_MS, lambda: setattr(layer, "visible", True))
    return layer


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
    the activity dock: one step per item ``gen`` yields, drawn at most every
    :data:`UPDATE_INTERVAL` seconds (:class:`Throttle`), brought up to date
    and closed when the worker finishes. It is driven from the worker's
    signals, so on the main thread.

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

    spare_the_collector()
    worker = create_worker(reporting, gen, _start_thread=False, _ignore_errors=True)
    pbar = progress(total=total, desc=desc)
    counted = [0]  # yields not shown on the bar yet

    def advance():
        k, counted[0] = counted[0], 0
        room = max(pbar.total - pbar.n, 0) if pbar.total else 0
        if min(k, room):
            pbar.update(min(k, room))
        # past the total (a run that yields more than announced) the bar turns
        # indeterminate
        for _ in range(k - min(k, room)):
            pbar.increment_with_overflow()

    throttle = Throttle(advance)

    def yielded(_item):
        counted[0] += 1
        throttle()

    worker.yielded.connect(yielded)
    worker.finished.connect(throttle.flush)
    worker.finished.connect(pbar.close)
    worker.pbar = pbar
    return worker


class StatusLine:
    """A widget's status: one line, elided to the widget's width; all of it in the tooltip.

    Long messages (an error naming a path and the fix) never make the dock
    wider or taller: the line shows what fits, ending in "...", and hovering
    shows the whole message. ``value`` is the whole message on one line (as
    a magicgui ``Label``'s, which this replaces); add ``native`` to a layout.
    """

    def __init__(self):
        from qtpy.QtCore import Qt
        from qtpy.QtWidgets import QSizePolicy
        from superqt import QElidingLabel

        self.native = QElidingLabel()
        self.native.setElideMode(Qt.TextElideMode.ElideRight)
        # never asks for more width than the other fields
        self.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.native.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    @property
    def value(self) -> str:
        return self.native.text()

    @value.setter
    def value(self, text) -> None:
        text = " ".join(str(text or "").split())  # one line
        self.native.setText(text)
        self.native.setToolTip(text)


def scrolled_body(container):
    """A labelled Container for a dock widget's contents, inside a vertical scroll area.

    napari docks ``container.native``; a dock as tall as its contents would
    make the window taller than the screen (Locate with "more options" and
    the preview's histogram is ~800 px high). In a scroll area the dock
    takes the height the window gives it, the contents scroll when they do
    not fit, and hiding fields gives the space back. A stretch below the
    contents keeps them at the top.

    Returns
    -------
    magicgui.widgets.Container
        Empty: add the widget's fields to it, then call :func:`fit_width`.
    """
    from magicgui.widgets import Container
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QFrame, QScrollArea

    body = Container(labels=True)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setWidget(body.native)
    container.native.layout().addWidget(scroll)
    container.margins = (0, 0, 0, 0)
    body.scroll_area = scroll
    return body


def fit_width(body) -> None:
    """Make ``body``'s scroll area as wide as its contents (with a scroll bar) need."""
    scroll = body.scroll_area
    body.native.layout().addStretch(1)
    width = body.native.minimumSizeHint().width()
    scroll.setMinimumWidth(width + scroll.verticalScrollBar().sizeHint().width())


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


def store_metadata(path) -> dict:
    """A store's metadata (its "locate" and "link" records), or {} if it cannot be read.

    For showing a data set's parameters: never raises (a missing, locked or
    damaged file just has no records to show).
    """
    import os

    try:
        if not path or not os.path.isfile(path):
            return {}
        from streamtrack.stores.detect import open_store

        with open_store(os.fspath(path), mode="r") as store:
            meta = store.metadata
        return meta if isinstance(meta, dict) else {}
    except Exception:  # noqa: BLE001 - no records to show, whatever the reason
        return {}


def layer_records(layer) -> dict:
    """A layer's ``metadata['streamtrack']`` (its runs' records), or {}."""
    info = layer.metadata.get("streamtrack") if layer is not None else None
    return info if isinstance(info, dict) else {}


def record_source(info: dict):
    """The movie (Image layer name) a layer's or store's records say it came from."""
    locate = info.get("locate") if isinstance(info.get("locate"), dict) else {}
    return info.get("source") or locate.get("source")


def suggested_parameters(viewer, source, key: str) -> dict | None:
    """The parameters the Image layer ``source`` suggests (``metadata[key]``: the
    plugin's sample says which locate and link parameters suit it), or None."""
    if not isinstance(source, str) or source not in viewer.layers:
        return None
    found = viewer.layers[source].metadata.get(key)
    return dict(found) if isinstance(found, dict) else None


def main_window(widget):
    """The main window a dock widget's pop-ups belong to (its window when undocked).

    A dialog parented to it opens over the viewer, never behind the dock
    (floating or not): docks are children of the main window even when they
    float.
    """
    from qtpy.QtWidgets import QMainWindow

    native = getattr(widget, "native", widget)
    found = native
    while found is not None:
        if isinstance(found, QMainWindow):
            return found
        found = found.parentWidget()
    return native.window()


def parent_file_dialog(file_edit, owner) -> None:
    """Open magicgui ``file_edit``'s file dialog on the main window of ``owner``.

    magicgui opens it without a parent, so it can come up behind the
    viewer's window. The choose button is rewired (public magicgui API:
    ``choose_btn``, ``mode``, ``filter``, ``value``) to a Qt dialog whose parent
    is looked up when it opens (the widget is docked after it is made).
    """
    import os

    from magicgui.types import FileDialogMode
    from qtpy.QtWidgets import QFileDialog

    def choose(*_):
        current = file_edit.value
        current = current[0] if isinstance(current, tuple) and current else current
        start = os.fspath(current) if current else ""
        parent = main_window(owner)
        mode = file_edit.mode
        name_filter = file_edit.filter or ""
        if mode is FileDialogMode.EXISTING_DIRECTORY:
            chosen = QFileDialog.getExistingDirectory(parent, "Choose directory", start)
        elif mode is FileDialogMode.OPTIONAL_FILE:
            chosen = QFileDialog.getSaveFileName(parent, "Select file", start, name_filter)[0]
        elif mode is FileDialogMode.EXISTING_FILES:
            chosen = QFileDialog.getOpenFileNames(parent, "Select files", start,
                                                  name_filter)[0]
        else:
            chosen = QFileDialog.getOpenFileName(parent, "Select file", start, name_filter)[0]
        if chosen:
            file_edit.value = chosen

    file_edit.choose_btn.changed.disconnect()
    file_edit.choose_btn.changed.connect(choose)

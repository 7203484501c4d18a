"""The "Locate features" dock widget: ``streamtrack.locate`` with a live preview,
``streamtrack.batch_iter`` into an HDF5 store.

The widget holds no algorithm. Its fields come from the core's parameter
specification (``streamtrack.params.LOCATE``); it builds the frame sequence
of an Image layer (``napari_streamtrack.frames_from_layer``: from the files
themselves when napari read the layer lazily from files, so that frames are
decoded in the threads that locate them), previews ``streamtrack.locate`` on
the current frame in a background thread, and runs
``streamtrack.workflow.locate_into`` (which writes the store's "locate"
record, as the command line does) in a worker that yields once per stored
frame (progress bar in napari's activity dock, Cancel; see
``_common.progress_worker``); the status line and the bar change at most
~10 times a second. The worker also prepares the Points layer's data at
the end; layers are touched only in main-thread callbacks. Run turns the
preview off (its layer goes).
"""
import os
import tempfile
from types import SimpleNamespace

import napari
import napari.layers
import napari.viewer
import numpy as np
import pandas as pd
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, PushButton, SpinBox
from napari.utils.notifications import show_error
from psygnal import Signal
from qtpy.QtCore import QTimer

import streamtrack
from streamtrack import workflow
from streamtrack.params import LOCATE
from streamtrack.stores.detect import is_hdf5

from .. import _settings, _window
from .._console import frames_from_layer
from .._layers import points_data, too_big_for_layers
from . import _fields
from ._common import (
    CompileNotice,
    StatusLine,
    Throttle,
    describe,
    fit_width,
    layer_geometry,
    layer_records,
    parent_file_dialog,
    progress_worker,
    put_layer,
    record_source,
    scrolled_body,
    store_metadata,
    suggested_parameters,
    worker_error,
)
from ._histogram import MassHistogram
from ._preview import LatestJob

SETTINGS = "locate"
# trackpy's layouts (the chunked one is for the command line's very long runs)
STORE_CLASSES = tuple(workflow.LAYOUTS[k] for k in ("frames", "big", "single"))
# always shown; the others behind "more options"
BASIC = tuple(p.name for p in LOCATE if p.basic)
# the preview draws squares, the run's features circles: both stay visible on
# top of each other, and one look tells which is which
PREVIEW_STYLE = dict(symbol="square", border_color="yellow")
FEATURES_STYLE = dict(symbol="disc", border_color="red")

LAYER_EVENTS = ("inserted", "removed", "reordered")
# metadata["streamtrack"] of the preview's layer
PREVIEW_MARK = {"preview": True}


class _Kept:
    """A run's features for the layer, collected in the worker thread.

    Stops collecting once the run has too many features to hold as a layer
    (memory must not grow with the movie): ``tables`` is then None and the
    store is shown windowed at the end.
    """

    def __init__(self):
        self.tables, self.n_features = [], 0

    def add(self, features) -> None:
        self.n_features += len(features)
        if too_big_for_layers(self.n_features):
            self.tables = None
        elif self.tables is not None and len(features):
            self.tables.append(features)

    def table(self):
        """Every kept feature in one table (None: nothing kept, or too many)."""
        return pd.concat(self.tables, ignore_index=True) if self.tables else None


def _locate_frames(frames, open_store, diameter, kwargs, about, processes, kept, to_layer):
    """The run's worker generator: ``(frame_no, n_features)`` per stored frame.

    Everything here runs in the worker thread. The options are checked by
    the core before the store is opened, so a bad combination creates no
    file. The store is closed in ``finally``: at the end, on an error, and
    when the widget closes this generator after a Cancel. Each frame's
    features go to ``kept``; at the end the Points layer's ``(data,
    features)`` are prepared here too (``to_layer``), so that the GUI thread
    only has to hand them to the layer.
    """
    LOCATE.check({**kwargs, "diameter": diameter})
    store = open_store()
    try:
        for frame_no, features in workflow.locate_into(frames, store, diameter,
                                                       processes=processes, **about,
                                                       **kwargs):
            kept.add(features)
            yield frame_no, len(features)
    finally:
        store.close()
    table = kept.table()
    return None if table is None else to_layer(table)


def check_store_path(path: str) -> None:
    """Refuse a store path a run could not write, before anything starts.

    Nothing is created: the folder is tested with an unnamed temporary file
    (``O_TMPFILE`` where the system has it), so the check also sees what
    permissions do not say, e.g. a read-only or pseudo file system, which
    stop even root.

    Parameters
    ----------
    path : str
        Absolute path of the store file.

    Raises
    ------
    ValueError
        One line naming the path and the fix: the path is a folder, its
        folder is missing or is a file, the folder cannot be written, or an
        existing file is not HDF5 (it is left alone, not overwritten).
    """
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder: give the store a file name in it, e.g. "
                         f"{os.path.join(path, 'features.h5')}.")
    folder = os.path.dirname(path)
    existing = folder
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{existing} is a file, not a folder: choose a store file in a "
                         f"folder (store {path}).")
    if existing != folder:
        raise ValueError(f"The folder {folder} does not exist: create it, or choose a store "
                         "file in an existing folder.")
    if os.path.exists(path):
        try:
            hdf5 = is_hdf5(path)
        except OSError as exc:
            raise ValueError(f"Cannot read {path} ({exc.strerror or exc}): choose another "
                             "store file.") from None
        if not hdf5:
            raise ValueError(f"{path} exists and is not an HDF5 file: choose another store "
                             "file (this one is left as it is).")
        return  # written in place: the folder itself need not be writable
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise ValueError(f"Cannot write in the folder {folder} ({exc.strerror or exc}): "
                         "choose a store file in a folder you can write to.") from None


class LocateWidget(Container):
    """Locate features in an Image layer: preview one frame, run all into a store.

    Parameters
    ----------
    viewer : napari.viewer.Viewer

    Attributes
    ----------
    worker : superqt GeneratorWorker or None
        The last run's worker (``yielded`` once per frame, then ``finished``;
        ``worker.pbar`` is its progress bar). ``locate`` warns for every
        empty frame and the widget reports errors in its status line, so
        neither becomes a napari notification of the worker's own.
    preview_job : LatestJob
        The preview's background job (``preview_job.worker`` is the latest).
    histogram : MassHistogram
        The preview's mass distribution.
    processes : int or 'auto'
        Threads ``batch_iter`` uses for a run.
    done : psygnal.Signal
        Emitted with ``'located'``, ``'cancelled'`` or ``'failed'`` once a run's
        layer and status line are updated.
    """

    done = Signal(str)

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=False)
        self._body = scrolled_body(self)  # the fields, in a scroll area
        self.viewer = viewer
        self.worker = None
        self.processes = "auto"
        self._run = None  # state of the running job
        self._preview_name = None
        saved = _settings.load(SETTINGS, self.defaults())

        self.layer = ComboBox(label="image", choices=self._image_layers,
                              tooltip="The Image layer to locate features in: (T, Y, X), "
                                      "one 2-D image, or RGB(A) frames.")
        self.channel = SpinBox(label="channel", min=0, max=3, value=saved["channel"],
                               tooltip="Colour channel of RGB(A) images: 0 red, 1 green "
                                       "(default: the brightest channel of most colour "
                                       "cameras), 2 blue, 3 alpha.")
        self.params = _fields.make_fields(LOCATE, saved, names=LOCATE.names)
        self._keep_odd = _fields.KeepOdd(LOCATE, self.params)
        self.more = CheckBox(text="more options", value=False,
                             tooltip="Show every parameter of streamtrack.locate.")
        self.preview = CheckBox(text="preview current frame", value=False,
                                tooltip="Locate the frame on screen whenever a parameter "
                                        "or the frame changes (a Points layer and the mass "
                                        "histogram).")
        self.all_frames = CheckBox(text="all frames", value=True,
                                   tooltip="Locate every frame; off: frames start to stop.")
        self.start = SpinBox(label="start", min=0, max=0, tooltip="First frame to locate.")
        self.stop = SpinBox(label="stop", min=1, max=1,
                            tooltip="Locate up to this frame, not including it.")
        self.store_path = FileEdit(label="store", mode="w", filter="*.h5 *.hdf5",
                                   tooltip="HDF5 file the features go to, frame by frame. "
                                           "An existing file is opened for appending: the "
                                           "frames located now are replaced, the others "
                                           "are kept.")
        parent_file_dialog(self.store_path, self)  # over the viewer, not behind the dock
        self.store_class = ComboBox(label="layout", choices=STORE_CLASSES,
                                    value=saved["store_class"],
                                    tooltip="trackpy store layout: one node per frame "
                                            "(PandasHDFStore), the same with a frame list "
                                            "cache for 10^4+ frames (Big), or one table "
                                            "(SingleNode).")
        self.run_button = PushButton(text="Run", tooltip="Locate the frames into the store.")
        self.cancel_button = PushButton(text="Cancel", enabled=False,
                                        tooltip="Stop after the current frame; the store "
                                                "keeps every finished frame.")
        self.status = StatusLine()
        self._progress_text = Throttle(self._say)
        basic = [w for n, w in self.params.items() if n in BASIC]
        advanced = [w for n, w in self.params.items() if n not in BASIC]
        self._body.extend([self.layer, self.channel, *basic, self.more, *advanced,
                           self.preview, self.all_frames, self.start, self.stop,
                           self.store_path, self.store_class,
                           Container(widgets=[self.run_button, self.cancel_button],
                                     layout="horizontal", labels=False, label="")])
        self._body.native.layout().addWidget(self.status.native)
        self.histogram = MassHistogram(self._theme_colors())
        # right under the preview check box
        self._body.native.layout().insertWidget(self._body.index(self.preview) + 1,
                                                self.histogram)
        fit_width(self._body)
        self.preview_job = LatestJob(self._preview_job, self._show_preview,
                                     self._preview_failed)

        self.layer.changed.connect(self._layer_changed)
        self.channel.changed.connect(self._parameter_changed)
        for widget in self.params.values():
            widget.changed.connect(self._parameter_changed)
        self.params["minmass"].changed.connect(self.histogram.set_minmass)
        self.store_class.changed.connect(self.save_settings)
        self.more.changed.connect(self._show_options)
        self.preview.changed.connect(self._preview_toggled)
        self.all_frames.changed.connect(self._show_range)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        # an existing store appended to: show the parameters it was located with
        self.store_path.changed.connect(self._store_chosen)
        for event in LAYER_EVENTS:
            getattr(viewer.layers.events, event).connect(self._refresh_layers)
        viewer.dims.events.current_step.connect(self._frame_changed)
        self._closed = False
        self.native.destroyed.connect(self._detach)
        self._show_options()
        self._show_range()
        self._preview_toggled(False)
        self._layer_changed()

    def _detach(self, *_) -> None:
        # the dock widget is gone (viewer closed): no more viewer events, timers
        # or layer updates; a run in progress stops after its current frame
        self._closed = True
        for event in LAYER_EVENTS:
            getattr(self.viewer.layers.events, event).disconnect(self._refresh_layers)
        self.viewer.dims.events.current_step.disconnect(self._frame_changed)
        if self.running:
            self.worker.quit()
        self._progress_text.cancel()
        try:
            self.preview_job.cancel()
        except RuntimeError:  # at interpreter exit Qt may have deleted the timer first
            pass

    # ----------------------------------------------------------- parameters
    @staticmethod
    def defaults() -> dict:
        """The remembered values and their defaults."""
        return {**_fields.defaults(LOCATE), "channel": 1, "store_class": STORE_CLASSES[0]}

    def settings(self) -> dict:
        """The current values of what is remembered between sessions."""
        values = {name: w.value for name, w in self.params.items()}
        return {**values, "channel": self.channel.value, "store_class": self.store_class.value}

    def save_settings(self, *_) -> None:
        """Remember the current values for the next session."""
        _settings.save(SETTINGS, self.settings())

    def locate_kwargs(self) -> dict:
        """Keyword arguments for ``streamtrack.locate`` / ``batch_iter``."""
        return _fields.kwargs_from(LOCATE, self.params)

    def _parameter_changed(self, *_) -> None:
        self.save_settings()
        self.request_preview()

    def _show_options(self, *_) -> None:
        for name, widget in self.params.items():
            widget.visible = self.more.value or name in BASIC

    def _show_range(self, *_) -> None:
        self.start.visible = self.stop.visible = not self.all_frames.value

    def _theme_colors(self) -> dict:
        try:
            from napari.utils.theme import get_theme

            theme = get_theme(self.viewer.theme)
            return {"background": theme.background.as_hex(), "text": theme.text.as_hex(),
                    "kept": theme.current.as_hex(), "all": theme.highlight.as_hex(),
                    "line": theme.warning.as_hex()}
        except Exception:  # noqa: BLE001 - an unknown theme: matplotlib's colours
            return {}

    # ---------------------------------------------------------------- input
    def _image_layers(self, _widget=None):
        return [(layer.name, layer) for layer in self.viewer.layers
                if isinstance(layer, napari.layers.Image)]

    def _refresh_layers(self, *_) -> None:
        self.layer.reset_choices()

    def data_set_parameters(self, layer=None):
        """An Image layer's own locate parameters: ``(values, what)`` or ``(None, None)``.

        The "locate" record of the latest features located in it (a Points
        layer whose records name it as their source), else the parameters it
        suggests (the plugin's sample: diameter 11, minmass 500).
        """
        layer = self.layer.value if layer is None else layer
        if layer is None:
            return None, None
        for points in reversed(list(self.viewer.layers)):
            info = layer_records(points)
            if (isinstance(points, napari.layers.Points) and not info.get("preview")
                    and isinstance(info.get("locate"), dict)
                    and record_source(info) == layer.name):
                return {**info["locate"], "channel": info.get("channel")}, \
                    f"the locate record of {points.name!r}"
        suggestion = suggested_parameters(self.viewer, layer.name, "suggested_locate")
        if suggestion:
            return suggestion, f"suggested for {layer.name!r}"
        return None, None

    def show_parameters(self, record, what) -> None:
        """Show a record's (or a suggestion's) locate parameters in the fields."""
        values = _fields.record_form(LOCATE, record)
        done = _fields.set_values(self.params, values) if values else []
        channel = (record or {}).get("channel")
        if isinstance(channel, int) and not isinstance(channel, bool) and \
                self.channel.min <= channel <= self.channel.max:
            self.channel.value = channel
        if done:
            self._say(f"Parameters of {what}.")

    def _store_chosen(self, *_) -> None:
        if self.running:
            return
        text = self.store_path.line_edit.value.strip()
        path = os.path.abspath(os.path.expanduser(text)) if text else ""
        record = store_metadata(path).get("locate") if os.path.isfile(path) else None
        if isinstance(record, dict):
            self.show_parameters(record, f"the locate record of {os.path.basename(path)}")

    def _layer_changed(self, *_) -> None:
        layer = self.layer.value
        if not self.running:
            self.show_parameters(*self.data_set_parameters(layer))
        self.channel.visible = bool(layer is not None and layer.rgb)
        try:
            n = len(self.frames())
        except ValueError:
            n = 1
        if layer is not None and layer.rgb:
            self.channel.max = (layer.data[0] if layer.multiscale else layer.data).shape[-1] - 1
        self.start.max = max(n - 1, 0)
        self.stop.max = n
        self.stop.value = n
        self.request_preview()

    def frames(self, channel=None):
        """The selected layer's frames as a lazy ``FrameSequence`` (one channel if RGB).

        Raises
        ------
        ValueError
            No image layer, an image that is not 2-D (+ time), a bad channel.
        """
        layer = self.layer.value
        if layer is None:
            raise ValueError("Choose an image layer (add one to the viewer first).")
        if layer.rgb and channel is None:
            channel = self.channel.value
        return frames_from_layer(layer, channel if layer.rgb else None)

    def _layer_kwargs(self, layer, features, style, metadata=None) -> dict:
        has_time = layer.ndim == 3
        kwargs = dict(features=features, size=self.params["diameter"].value,
                      face_color="transparent", border_width=0.12, **style,
                      **layer_geometry(layer, 3 if has_time else 2))
        if metadata is not None:
            kwargs["metadata"] = metadata
        return kwargs

    @staticmethod
    def _points(ndim, table: pd.DataFrame):
        """Points ``(data, features)`` of a feature table for an image of ``ndim`` axes."""
        data, features = points_data(table)
        if ndim == 2:  # a plain image: 2-D points, the frame (0) kept as a feature
            data = data[:, 1:]
            features["frame"] = table["frame"].to_numpy()
        return data, features

    def _put_points(self, name, layer, table, style, metadata=None, prepared=None):
        data, features = prepared if prepared is not None else self._points(layer.ndim,
                                                                            table)
        points = put_layer(self.viewer, name, data,
                           self._layer_kwargs(layer, features, style, metadata), "points")
        points.size = self.params["diameter"].value  # a re-run may use another diameter
        return points

    # -------------------------------------------------------------- preview
    def current_frame(self, n_frames: int) -> int:
        """Index of the frame on screen in the selected layer's frames."""
        layer = self.layer.value
        if layer is None or layer.ndim == 2:
            return 0
        t = layer.world_to_data(self.viewer.dims.point)[0]
        return int(np.clip(np.round(t), 0, n_frames - 1))

    def request_preview(self) -> None:
        """Re-locate the preview frame after a short delay (if the preview is on)."""
        if self.preview.value:
            self.preview_job.request()

    def _frame_changed(self, *_) -> None:
        self.request_preview()

    def _preview_toggled(self, on) -> None:
        self.histogram.setVisible(bool(on))
        if on:
            self.preview_job.request(now=True)
            return
        self.preview_job.cancel()
        self.histogram.clear()
        if self._preview_name and self._preview_name in self.viewer.layers:
            self.viewer.layers.remove(self._preview_name)
        self._preview_name = None

    def _preview_job(self):
        if self._closed or not self.preview.value:
            return None
        try:
            frames = self.frames()
        except ValueError as exc:
            self._say(f"Preview: {exc}")
            return None
        layer, kwargs = self.layer.value, self.locate_kwargs()
        index = self.current_frame(len(frames))

        def job():
            image = frames[index]  # read in this thread too (dask, files)
            features = streamtrack.locate(image, **kwargs)
            # every candidate, for the histogram: where minmass should cut
            every = streamtrack.locate(image, **{**kwargs, "minmass": None, "topn": None})
            if "frame" not in features.columns:
                features["frame"] = np.int64(image.frame_no)
            return layer, image.frame_no, kwargs, features, every["mass"].to_numpy()

        return job

    def _show_preview(self, result) -> None:
        layer, frame_no, kwargs, features, every = result
        if self._closed or not self.preview.value or layer is not self.layer.value:
            return
        name = f"{layer.name} preview"
        if self._preview_name not in (None, name) and self._preview_name in self.viewer.layers:
            self.viewer.layers.remove(self._preview_name)
        self._preview_name = name
        active = self.viewer.layers.selection.active
        # marked, so that Link never offers a preview as the features to link
        self._put_points(name, layer, features, PREVIEW_STYLE, {"streamtrack": PREVIEW_MARK})
        if active is not None and active in self.viewer.layers:
            # adding a layer selects it; the user was working on another one
            self.viewer.layers.selection.active = active
        self.histogram.set_data(every, features["mass"].to_numpy(), kwargs["minmass"],
                                title=f"frame {frame_no}: {len(features):,} features "
                                      f"of {len(every):,} candidates")
        if self.status.value.startswith("Preview:"):
            self._say("")  # the preview's last error is fixed

    def _preview_failed(self, exc: Exception) -> None:
        if not self._closed:
            self._say(f"Preview: {exc}")

    # ------------------------------------------------------------------ run
    @property
    def running(self) -> bool:
        """A run is in progress."""
        return self._run is not None

    def run(self, *_):
        """Locate the chosen frames into the store in a worker; returns the worker.

        Returns None, with a message in the status line, when no run starts
        (no image, no store path or one that cannot be written, an empty
        frame range, a run in progress): then nothing is created.
        """
        if self.running:
            self._say("A run is in progress: wait for it or cancel it.")
            return None
        try:
            frames = self.frames()
            selected, first, stop = self._selection(frames)
            path = self._store_path()
        except ValueError as exc:
            self._error(str(exc))
            return None
        self.save_settings()
        # the run's layer replaces the preview (whose squares would hide it), and a
        # preview would compete with the run for the processor
        self.preview.value = False
        _window.release(path)  # a window's read handle would block writing the store
        layer, kwargs = self.layer.value, self.locate_kwargs()
        store_class = self.store_class.value
        about = {"source": layer.name, "channel": self.channel.value if layer.rgb else None,
                 "frame_range": [first, stop]}
        diameter = kwargs.pop("diameter")
        kept, ndim = _Kept(), layer.ndim
        job = _locate_frames(selected, lambda: workflow.new_store(path, store_class),
                             diameter, kwargs, about, self.processes, kept,
                             lambda table: self._points(ndim, table))
        kwargs = {"diameter": diameter, **kwargs}
        worker = progress_worker(job, total=len(selected), desc=f"Locating {layer.name}")
        self._run = SimpleNamespace(layer=layer, path=path, job=job, kept=kept, done=0,
                                    compile_notice=CompileNotice(), prepared=None,
                                    total=len(selected), cancelled=False, error=None,
                                    metadata={"store": path, "store_class": store_class,
                                              "locate": kwargs,
                                              "version": streamtrack.__version__,
                                              "source": about["source"],
                                              "channel": about["channel"],
                                              "frames": [first, stop]})
        worker.yielded.connect(self._frame_done)
        worker.returned.connect(self._run_returned)
        worker.errored.connect(self._run_failed)
        worker.finished.connect(self._run_finished)
        self.worker = worker
        self.run_button.enabled, self.cancel_button.enabled = False, True
        self._say(f"Locating {len(selected):,} frames of {layer.name!r} -> {path}")
        # started from the event loop, so callers can connect to (and wait on)
        # its signals before any is emitted
        QTimer.singleShot(0, worker.start)
        return worker

    def cancel(self, *_) -> None:
        """Stop the run after the frame in progress; finished frames stay stored."""
        if self.running:
            self._run.cancelled = True
            self.worker.quit()
            self._progress_text.cancel()
            self._say("Cancelling...")

    def _selection(self, frames):
        if self.all_frames.value:
            return frames, 0, len(frames)
        first, stop = self.start.value, min(self.stop.value, len(frames))
        if first >= stop:
            raise ValueError(f"Empty frame range: start {first} must be below stop {stop}.")
        return frames[first:stop], first, stop

    def _store_path(self) -> str:
        text = self.store_path.line_edit.value.strip()
        if not text:
            raise ValueError("Choose a store file (an .h5 file the features are saved to).")
        path = os.path.abspath(os.path.expanduser(text))
        if not os.path.splitext(path)[1] and not os.path.isdir(path):
            path += ".h5"  # a folder stays as it is, to be refused as one
        check_store_path(path)
        return path

    def _frame_done(self, item) -> None:
        frame_no, _n_features = item
        run = self._run
        run.done += 1
        if not self._closed and not run.cancelled:  # at most every UPDATE_INTERVAL seconds
            self._progress_text(f"Located frame {frame_no} ({run.done:,}/{run.total:,})"
                                + run.compile_notice.suffix())

    def _run_returned(self, prepared) -> None:
        self._run.prepared = prepared

    def _run_failed(self, exc: Exception) -> None:
        self._run.error = worker_error(exc)

    def _run_finished(self) -> None:
        run, self._run = self._run, None
        self._progress_text.cancel()
        run.compile_notice.close()
        # after Cancel or an error the generator is suspended or dead: closing
        # it here runs its ``finally`` (closes the store) now, not at some GC
        run.job.close()
        if self._closed:
            return
        self.run_button.enabled, self.cancel_button.enabled = True, False
        n_features = run.kept.n_features
        if run.kept.tables is None:
            self._show_windowed(run)
        elif run.prepared is not None or run.kept.tables:
            # a complete run's layer data were prepared in the worker; after a
            # Cancel or an error, the frames kept so far are converted here
            self._put_points(f"{run.layer.name} features", run.layer, run.kept.table()
                             if run.prepared is None else None, FEATURES_STYLE,
                             {"streamtrack": run.metadata}, prepared=run.prepared)
        name = os.path.basename(run.path)
        if run.error is not None:
            stored = f" after {run.done:,} frames; the store holds them" if run.done else ""
            self._error(f"Locate stopped{stored}: {describe(run.error)}")
        elif run.cancelled:
            self._say(f"Cancelled after {run.done:,} frames; the store holds them "
                      f"({n_features:,} features -> {name}).")
        else:
            self._say(f"Located {run.done:,} frames, {n_features:,} features -> {name}")
        self.done.emit("failed" if run.error is not None else
                       "cancelled" if run.cancelled else "located")

    def _show_windowed(self, run) -> None:
        """Open the store the plugin's reader way: a window that follows the slider."""
        name = f"{run.layer.name} features"
        if name in self.viewer.layers:
            self.viewer.layers.remove(name)
        for layer in self.viewer.open(run.path, plugin="napari-streamtrack"):
            layer.name = name
            layer.metadata["streamtrack"].update(run.metadata)
            for key, value in layer_geometry(run.layer, 3).items():
                setattr(layer, key, value)

    # --------------------------------------------------------------- status
    def _say(self, text: str) -> None:
        self.status.value = text

    def _error(self, text: str) -> None:
        self._say(text)
        show_error(text)

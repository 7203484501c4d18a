"""The "Analyse trajectories" dock widget: drift, MSDs and D of linked trajectories.

A thin Qt shell over :func:`streamtrack.analysis.analyse` (trackpy's
walkthrough analysis, streamed): it holds no algorithm. The input is a linked
Points or Tracks layer or a store file:

- a layer whose metadata names its store (Locate/Link widgets, the reader,
  windowed stores too big for layers) and a chosen store file are streamed
  from the file, never loaded whole;
- a layer linked in memory (no store) is analysed from its table
  (``analyse`` wraps it in a :class:`~streamtrack.stores._memory.TableStore`).

Each analysis runs in a superqt worker thread with napari's progress bar in
the activity dock; the core's ``progress`` callback reports the frames read
and ends the run on Cancel (``worker.quit()``; the core notices it after its
current block of frames). Layers and plots change only on the main thread;
the status line and the progress bar change at most ten times a second
(``_common.Throttle``).

Parameters that change the analysis (units, minimum length, drift, max lag)
start a new one 300 ms after the last change, once the input has been
analysed; the fitted lag range refits the MSD already measured
(:meth:`~streamtrack.analysis.Analysis.refit`), nothing is read again.

The minimum length hides shorter trajectories at once in every Points and
Tracks layer of the input, no layer replaced (:mod:`._hiding`).

Plots are drawn in a worker thread (:mod:`._plots`); the GUI thread only
shows their pixels. The jobs the workers run are in :mod:`._analyse_jobs`.

Units (µm per pixel, frames per second) come from the store's units record,
else the layer's ``scale`` (and ``units``), else what is typed in; the units
an analysis used are recorded in the store (``streamtrack.workflow.save_units``)
or, when the store cannot be written (read-only, held open by a windowed
layer) or there is none, in the layers' metadata.
"""
from __future__ import annotations

import functools
import os

import napari.viewer
import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    FileEdit,
    FloatSpinBox,
    PushButton,
    RadioButtons,
    SpinBox,
)
from napari.layers import Image, Points, Tracks
from napari.utils.notifications import show_error
from qtpy.QtCore import Qt, QTimer, Signal
from qtpy.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from streamtrack import analysis as core
from streamtrack.exceptions import StoreError

from .. import _settings
from .._units import units_from_scale
from .._window import all_tracks
from ._analyse_jobs import (
    CSV_FILES,
    Cancelled,
    Source,
    base_name,
    is_linked,
    probe,
    run_analysis,
    store_of,
    with_min_length,
    write_csv_tables,
    write_kept_store,
    write_plot_png,
)
from ._common import (
    Throttle,
    describe,
    main_window,
    one_line,
    parent_file_dialog,
    spare_the_collector,
)
from ._hiding import LengthHiding
from ._plots import PlotPanel

SETTINGS = "analyse"
DEFAULTS = {"mpp": 1.0, "fps": 1.0, "min_length": 25, "subtract_drift": True,
            "smoothing": 0, "max_lagtime": 100, "fit_first": 1, "fit_last": 10}
LAYER, FILE = "Layer", "Store file"
# a parameter change starts a new analysis (or redraws) this long after the last one
DEBOUNCE_MS = 300
# errors the user can fix: the message alone explains them
EXPECTED = (StoreError, ValueError, OSError, KeyError)
# plots: tab title, core function, file name of Analysis.write
PLOTS = (("Lengths", core.plot_track_lengths, "track_lengths.png"),
         ("Drift", core.plot_drift, "drift.png"),
         ("MSD", core.plot_msd, "msd.png"))
# individual MSD curves drawn on screen (each is a matplotlib line, drawn in a
# worker thread that shares the interpreter with the GUI); the exported PNG has 200
SCREEN_CURVES = 50


# ------------------------------------------------------------------ dialogs (tests replace)
def ask_save_file(parent, caption: str, start: str, filters: str) -> str:
    """A file to write (the Qt dialog; '' when cancelled)."""
    path, _ = QFileDialog.getSaveFileName(main_window(parent), caption, start, filters)
    return path


def ask_folder(parent, caption: str, start: str) -> str:
    """A folder to write into (the Qt dialog; '' when cancelled)."""
    return QFileDialog.getExistingDirectory(main_window(parent), caption, start)


# ------------------------------------------------------------------ units
def layer_units(layer) -> dict:
    """Microns per pixel and frames per second a layer's ``scale`` (and ``units``) give.

    See :func:`napari_streamtrack._units.units_from_scale`: either may be missing.
    """
    return units_from_scale(layer.scale, getattr(layer, "units", None))


# ------------------------------------------------------------------ the widget
class AnalyseWidget(QWidget):
    """Analyse linked trajectories: lengths, drift, MSD, D, on a layer or a store.

    Parameters
    ----------
    viewer : napari.viewer.Viewer

    Attributes
    ----------
    analysis : streamtrack.analysis.Analysis or None
        The latest result (its fit on the chosen lag range).
    worker : superqt worker or None
        The running analysis, if any (``worker.pbar``: its progress bar).
    job : superqt worker or None
        The running export or store write, if any.
    done : Signal(str)
        After an analysis ends (main thread, plots and labels updated):
        'analysed', 'cancelled' or 'failed'.
    written : Signal(str)
        After an export or a store write ends: 'csv', 'png', 'store' or 'failed'.
    probed : Signal()
        After the input's store was looked at (units record, frames).
    """

    done = Signal(str)
    written = Signal(str)
    probed = Signal()
    _progressed = Signal(str, int, int)  # from the worker thread, queued to the GUI

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__()
        self._viewer = viewer
        self.analysis = None
        self.worker = self.job = None
        self._source = None  # the Source of self.analysis / of the running worker
        self._stale = False  # parameters changed since the last analysis
        self._rerun = False  # start again when the running worker ends
        self._hiding = LengthHiding(viewer)  # short trajectories hidden in the layers
        self._units_origin = "typed in"
        self._probe_info = {}  # the input store's frames and units record
        self._outcome = "failed"
        values = _settings.load(SETTINGS, DEFAULTS)

        self.source = RadioButtons(choices=[LAYER, FILE], value=LAYER,
                                   orientation="horizontal",
                                   tooltip="Which input Analyse reads.")
        self.layer = ComboBox(choices=self._layer_choices,
                              tooltip="A linked Points or Tracks layer (Link widget, a store "
                                      "opened in napari). With a store it is read from the "
                                      "file; without one, from the layer.")
        self.store_file = FileEdit(mode="r", filter="*.h5 *.hdf5", nullable=True,
                                   tooltip="A linked framewise HDF5 store, streamed (never "
                                           "loaded whole).")
        parent_file_dialog(self.store_file, self)  # over the viewer, not behind the dock
        self.mpp = FloatSpinBox(value=values["mpp"], min=1e-6, max=1e6, step=0.01,
                                tooltip="Microns per pixel: from the store's units record or "
                                        "the layer's scale, or typed in.")
        self.fps = FloatSpinBox(value=values["fps"], min=1e-6, max=1e9, step=1.0,
                                tooltip="Frames per second.")
        for spin, suffix in ((self.mpp, " µm/px"), (self.fps, " frames/s")):
            spin.native.setDecimals(4)
            spin.native.setSuffix(suffix)
        self.units_button = PushButton(text="From layer scale",
                                       tooltip="Take the units from the input layer's scale "
                                               "(or the first image's): y/x scale in µm, "
                                               "time scale in s.")
        self.units_note = QLabel("")
        self.min_length = SpinBox(value=values["min_length"], min=0, max=10**9,
                                  tooltip="Keep trajectories with at least this many "
                                          "positions (filter_stubs); shorter ones are hidden "
                                          "in the layers.")
        self.kept_label = QLabel("kept: – (analyse first)")
        self.write_button = PushButton(text="Write kept trajectories to a new store…",
                                       enabled=False)
        self.subtract_drift = CheckBox(text="Subtract drift", value=values["subtract_drift"],
                                       tooltip="Subtract the ensemble drift of the kept "
                                               "trajectories before the MSDs.")
        self.smoothing = SpinBox(value=values["smoothing"], min=0, max=10**6,
                                 tooltip="Rolling mean of the drift (compute_drift's "
                                         "smoothing), frames.")
        self.smoothing_seconds = QLabel("")
        self.max_lagtime = SpinBox(value=values["max_lagtime"], min=2, max=10**6,
                                   tooltip="MSD lag times out to this many frames.")
        self.max_lag_seconds = QLabel("")
        self.fit_first = SpinBox(value=values["fit_first"], min=1, max=10**6,
                                 tooltip="First lag of the power-law fit, frames.")
        self.fit_last = SpinBox(value=values["fit_last"], min=2, max=10**6,
                                tooltip="Last lag of the power-law fit, frames.")
        self.fit_seconds = QLabel("")
        self.result_label = QLabel("D = – µm²/s, α = –")
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.result_label.font()
        font.setBold(True)
        self.result_label.setFont(font)
        self.fit_label = QLabel("")
        self.analyse_button = PushButton(text="Analyse")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.csv_button = PushButton(text="Export CSV tables…", enabled=False)
        self.status = QLabel("Choose a linked layer or a store file, then Analyse.")
        for label in (self.status, self.units_note, self.kept_label, self.fit_label):
            label.setWordWrap(True)
        self.panels = [PlotPanel(title, plot, filename, self.save_png)
                       for title, plot, filename in PLOTS]
        self.panels[2].screen_plot = functools.partial(core.plot_msd,
                                                       max_curves=SCREEN_CURVES)
        self.lengths_panel, self.drift_panel, self.msd_panel = self.panels
        self.tabs = QTabWidget()
        for panel in self.panels:
            self.tabs.addTab(panel, panel.title)
        self.tabs.setCurrentWidget(self.msd_panel)
        self._build_layout()

        self._status = Throttle(self.status.setText)
        self._progress = Throttle(self._show_progress)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._refresh)
        self._progressed.connect(self._on_progressed)
        self._probe_worker = None
        self._probing = self._run_after_probe = False

        self.source.changed.connect(self._input_changed)
        self.layer.changed.connect(self._input_changed)
        self.layer.native.activated.connect(lambda _: setattr(self.source, "value", LAYER))
        self.store_file.changed.connect(
            lambda value: setattr(self.source, "value", FILE if value else LAYER))
        self.store_file.changed.connect(self._input_changed)
        self.units_button.changed.connect(self.units_from_layer)
        for spin in (self.mpp, self.fps):
            spin.changed.connect(self._units_typed)
        self.min_length.changed.connect(self._min_length_changed)
        for control in (self.subtract_drift, self.smoothing):
            control.changed.connect(lambda *_: self._changed(self.drift_panel))
        self.max_lagtime.changed.connect(self._max_lag_changed)
        self.fit_first.changed.connect(self._fit_changed)
        self.fit_last.changed.connect(self._fit_changed)
        self.analyse_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.write_button.changed.connect(lambda: self.write_kept())
        self.csv_button.changed.connect(lambda: self.export_csv())
        self.tabs.currentChanged.connect(lambda i: self.panels[i].redraw())
        events = viewer.layers.events
        events.inserted.connect(self._on_inserted)
        events.removed.connect(self._on_removed)
        # the dock widget is gone (viewer closed): no more viewer events or layer
        # updates; a running analysis stops after its current block
        life = self._life = {"closed": False, "worker": None}
        handlers = ((events.inserted, self._on_inserted), (events.removed, self._on_removed))

        def detach(*_):
            life["closed"] = True
            for event, handler in handlers:
                try:
                    event.disconnect(handler)
                except (TypeError, ValueError, RuntimeError):
                    pass
            if life["worker"] is not None:
                life["worker"].quit()

        self.destroyed.connect(detach)
        self._clamp_fit()
        self._seconds_labels()
        self._input_changed()

    # ---- layout ---------------------------------------------------------------------
    def _build_layout(self):
        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(4, 4, 4, 4)
        column.setSpacing(4)

        def group(title):
            box = QGroupBox(title)
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setContentsMargins(6, 4, 6, 4)
            form.setVerticalSpacing(3)
            column.addWidget(box)
            return form

        def row(*widgets):
            holder = QWidget()
            line = QHBoxLayout(holder)
            line.setContentsMargins(0, 0, 0, 0)
            for w in widgets:
                line.addWidget(getattr(w, "native", w))
            return holder

        form = group("Input")
        form.addRow(row(self.source))
        form.addRow("Layer", self.layer.native)
        form.addRow("Store", self.store_file.native)
        form.addRow(row(self.analyse_button, self.cancel_button))
        form.addRow(self.status)

        form = group("Units")
        form.addRow("Pixel size", row(self.mpp, self.units_button))
        form.addRow("Frame rate", self.fps.native)
        form.addRow(self.units_note)

        form = group("Trajectories")
        form.addRow("Minimum length [positions]", self.min_length.native)
        form.addRow(self.kept_label)
        form.addRow(self.write_button.native)

        form = group("Drift and MSD")
        form.addRow(row(self.subtract_drift))
        form.addRow("Drift smoothing [frames]", row(self.smoothing, self.smoothing_seconds))
        form.addRow("MSD max lag [frames]", row(self.max_lagtime, self.max_lag_seconds))
        to = QLabel("to")
        to.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        form.addRow("Fit lags [frames]", row(self.fit_first, to, self.fit_last))
        form.addRow("Fit lag times", self.fit_seconds)
        form.addRow(self.result_label)
        form.addRow(self.fit_label)

        column.addWidget(self.tabs)
        column.addWidget(self.csv_button.native)
        column.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.scroll = scroll
        content.setMinimumWidth(360)
        # the dock takes the width of its widget's minimum: without this the
        # scroll area reports a narrow one and the fields are cut on the right
        scroll.setMinimumWidth(max(360, content.sizeHint().width())
                               + scroll.verticalScrollBar().sizeHint().width())
        # never taller than a small screen (sizeHint): the rest scrolls
        self.setMinimumHeight(300)

    def sizeHint(self):  # noqa: N802 - Qt's name
        hint = super().sizeHint()
        content = self.scroll.widget().sizeHint()
        hint.setWidth(content.width() + 20)
        hint.setHeight(min(content.height(), 700))
        return hint

    @property
    def _closed(self) -> bool:
        return self._life["closed"]

    def closeEvent(self, event):  # noqa: N802 - Qt's name
        self._restore_layers()
        super().closeEvent(event)

    # ---- inputs ---------------------------------------------------------------------
    def _layer_choices(self, _widget=None):
        layers = [lyr for lyr in self._viewer.layers if is_linked(lyr)]
        # layers with a store first, Points before Tracks of the same data
        layers.sort(key=lambda lyr: (store_of(lyr) is None, isinstance(lyr, Tracks)))
        return [(lyr.name, lyr) for lyr in layers]

    def _on_inserted(self, event):
        if self._closed:
            return
        self.layer.reset_choices()
        layer = event.value
        if is_linked(layer) and self.analysis is None and self.worker is None:
            # the Link widget (or the reader) just made it: analyse that
            if self.layer.value is None or not isinstance(layer, Tracks):
                self.layer.value = layer

    def _on_removed(self, event):
        if self._closed:
            return
        self._hiding.forget(event.value)
        self.layer.reset_choices()

    def current_source(self, copy: bool = False) -> Source:
        """The chosen input as a :class:`Source` (raises ValueError to explain).

        ``copy``: a layer without a store gives a copy of its data and features
        (what a run reads in its worker).
        """
        if self.source.value == FILE:
            path = self.store_file.value
            if not path or not self.store_file.line_edit.value.strip():
                raise ValueError(f"No store file chosen: pick one, or set the input to "
                                 f"'{LAYER}'.")
            path = os.path.abspath(os.fspath(path))
            if os.path.isdir(path):
                raise ValueError(f"{path} is a folder: choose the store file (.h5) in it.")
            if not os.path.exists(path) and not os.path.isdir(path + ".chunks"):
                raise FileNotFoundError(f"The store {path} is missing.")
            layers = [lyr for lyr in self._viewer.layers
                      if isinstance(lyr, (Points, Tracks)) and store_of(lyr)
                      and os.path.abspath(store_of(lyr)) == path]
            name = os.path.splitext(os.path.basename(path))[0]
            return Source(("store", path), name, path=path, layers=layers,
                          layer=layers[0] if layers else None)
        layer = self.layer.value
        if layer is None or layer not in self._viewer.layers:
            raise ValueError("No linked layer: link features first (Link trajectories), "
                             "open a linked store, or choose a store file.")
        path = store_of(layer)
        if path:
            path = os.path.abspath(path)
            layers = [lyr for lyr in self._viewer.layers
                      if isinstance(lyr, (Points, Tracks)) and store_of(lyr)
                      and os.path.abspath(store_of(lyr)) == path]
            return Source(("store", path), base_name(layer.name), path=path, layer=layer,
                          layers=layers)
        base = base_name(layer.name)
        layers = [layer] + [lyr for lyr in self._viewer.layers
                            if lyr is not layer and isinstance(lyr, (Points, Tracks))
                            and not store_of(lyr) and base_name(lyr.name) == base
                            and type(lyr) is not type(layer)]
        kind = "tracks" if isinstance(layer, Tracks) else "points"
        source = Source(("layer", id(layer)), base, layer=layer, layers=layers, kind=kind)
        if copy:  # every track, also those a window or the length filter leaves out
            data, features = all_tracks(layer) if kind == "tracks" else (layer.data,
                                                                         layer.features)
            source.data = np.array(data, copy=True)
            source.features = features.copy()
        return source

    def _input_changed(self, *_):
        """A new input: forget the last result, show its units."""
        if self.worker is not None:
            self._rerun = False
            self.worker.quit()
        self._timer.stop()
        self._restore_layers()
        self._probing = self._run_after_probe = False
        self.analysis, self._source, self._stale = None, None, False
        self._probe_info = {}
        for panel in self.panels:
            panel.show_analysis(None, now=panel is self.tabs.currentWidget())
        self.csv_button.enabled = self.write_button.enabled = False
        self.kept_label.setText("kept: – (analyse first)")
        self.result_label.setText("D = – µm²/s, α = –")
        self.fit_label.setText("")
        try:
            source = self.current_source()
        except EXPECTED as exc:
            self._say(one_line(exc))
            return
        self._probe(source)

    def _probe(self, source: Source):
        """Units of the input: the store's record (read in a worker), else the layer's."""
        from superqt.utils import create_worker

        layer_units = {}
        for layer in [source.layer, *source.layers]:
            if layer is not None:
                layer_units = (layer.metadata.get("streamtrack") or {}).get("units") or {}
                if layer_units:
                    break
        if not source.path:
            self._fill_units({}, layer_units, source)
            self._say(f"{source.name}: linked in memory (no store); Analyse reads the "
                      "layer.")
            self.probed.emit()
            return
        worker = create_worker(probe, source.path, _start_thread=False, _ignore_errors=True)

        def found(info):
            if self._closed or self._probe_worker is not worker:
                return
            self._probe_info = info
            self._fill_units(info["units"], layer_units, source)
            self._say(f"{source.name}: a {info['class']} of {info['frames']} frames; "
                      "Analyse streams it from the file.")

        def failed(exc):
            if not self._closed and self._probe_worker is worker:
                self._fill_units({}, layer_units, source)
                self._say(f"Cannot read the store {source.path}: {describe(exc)}")

        def finished():
            if self._probe_worker is not worker:
                return
            self._probing = False
            if self._closed:
                return
            self.probed.emit()
            if self._run_after_probe:
                self._run_after_probe = False
                self.run()

        worker.returned.connect(found)
        worker.errored.connect(failed)
        worker.finished.connect(finished)
        self._probe_worker = worker
        self._probing = True
        worker.start()

    def _fill_units(self, recorded: dict, kept: dict, source: Source):
        """Fill the units fields: store record, then layer metadata, then layer scale."""
        origins = {}
        scale = {}
        for layer in [source.layer, *source.layers, *self._images()]:
            if layer is not None:
                scale = layer_units(layer)
                if scale:
                    scale_name = layer.name
                    break
        for key, spin in (("mpp", self.mpp), ("fps", self.fps)):
            for origin, values in (("the store's units record", recorded or {}),
                                   ("the layer's metadata", kept or {}),
                                   (f"the scale of layer '{scale_name}'" if scale else "",
                                    scale)):
                if values.get(key):
                    self._set_quietly(spin, float(values[key]))
                    origins[key] = origin
                    break
            else:
                origins[key] = "typed in"
        self._units_origin = self._describe_origins(origins)
        self.units_note.setText(f"Units: {self._units_origin}.")
        self._seconds_labels()

    @staticmethod
    def _describe_origins(origins: dict) -> str:
        if origins["mpp"] == origins["fps"]:
            return f"both from {origins['mpp']}" if origins["mpp"] != "typed in" \
                else "typed in (check them)"
        return f"µm/px {_from(origins['mpp'])}, frames/s {_from(origins['fps'])}"

    def _images(self):
        return [lyr for lyr in self._viewer.layers if isinstance(lyr, Image)]

    def units_from_layer(self, *_):
        """Take µm/px and frames/s from the input layer's (else the first image's) scale."""
        try:
            source = self.current_source()
        except EXPECTED:
            source = Source((), "")
        candidates = [source.layer, *source.layers, *self._images()]
        for layer in candidates:
            if layer is None:
                continue
            found = layer_units(layer)
            if found:
                for key, spin in (("mpp", self.mpp), ("fps", self.fps)):
                    if key in found:
                        self._set_quietly(spin, found[key])
                which = " and ".join({"mpp": "µm/px", "fps": "frames/s"}[k] for k in found)
                self._units_origin = f"{which} from the scale of layer '{layer.name}'"
                self.units_note.setText(f"Units: {self._units_origin}.")
                self._seconds_labels()
                self._changed(None)
                return found
        self.units_note.setText("Units: no layer has a scale or units to take them from "
                                "(scale 1, unit pixel): type them in.")
        return {}

    @staticmethod
    def _set_quietly(spin, value):
        with spin.changed.blocked():
            spin.value = value

    def _units_typed(self, *_):
        self._units_origin = "typed in"
        self.units_note.setText("Units: typed in.")
        self._seconds_labels()
        self._changed(None)

    # ---- parameters -----------------------------------------------------------------
    def _options(self) -> dict:
        first, last = self.fit_first.value, self.fit_last.value
        return {"mpp": float(self.mpp.value), "fps": float(self.fps.value),
                "min_length": int(self.min_length.value),
                "subtract_drift": bool(self.subtract_drift.value),
                "smoothing": int(self.smoothing.value),
                "max_lagtime": int(self.max_lagtime.value),
                "fit_lags": (int(first), int(last))}

    def _save_settings(self):
        options = self._options()
        first, last = options.pop("fit_lags")
        _settings.save(SETTINGS, {**options, "fit_first": first, "fit_last": last})

    def _seconds_labels(self):
        fps = float(self.fps.value)
        self.max_lag_seconds.setText(f"= {self.max_lagtime.value / fps:.3g} s")
        self.smoothing_seconds.setText(f"= {self.smoothing.value / fps:.3g} s")
        self.fit_seconds.setText(f"{self.fit_first.value / fps:.3g}–"
                                 f"{self.fit_last.value / fps:.3g} s")

    def _clamp_fit(self):
        top = int(self.max_lagtime.value)
        for spin, value in ((self.fit_first, min(self.fit_first.value, top - 1)),
                            (self.fit_last, min(self.fit_last.value, top))):
            self._set_quietly(spin, value)
        self.fit_first.native.setMaximum(top - 1)
        self.fit_last.native.setMaximum(top)
        if self.fit_last.value <= self.fit_first.value:
            self._set_quietly(self.fit_last, min(self.fit_first.value + 1, top))

    def _changed(self, panel):
        """A parameter that changes the analysis: a new one after the debounce delay."""
        self._seconds_labels()
        self._save_settings()
        if panel is not None:
            self.tabs.setCurrentWidget(panel)
        if self.analysis is None and self.worker is None:
            return
        self._stale = True
        self._timer.start()
        self._say("Parameters changed: updating…")

    def _min_length_changed(self, *_):
        """Hide shorter trajectories and redraw the histogram at once; re-analyse later."""
        n = int(self.min_length.value)
        if self.analysis is not None:
            shown = with_min_length(self.analysis, n)
            self._apply_hiding(shown)
            self._kept_text(shown)
            self.lengths_panel.show_analysis(shown, now=False)  # at the debounce
        self._changed(self.lengths_panel)

    def _max_lag_changed(self, *_):
        self._clamp_fit()
        self._changed(self.msd_panel)

    def _fit_changed(self, *_):
        """Refit the MSD already measured on the new lag range (nothing is read)."""
        if self.fit_last.value <= self.fit_first.value:
            self._set_quietly(self.fit_last, min(self.fit_first.value + 1,
                                                  int(self.max_lagtime.value)))
            if self.fit_last.value <= self.fit_first.value:
                self._set_quietly(self.fit_first, self.fit_last.value - 1)
        self._seconds_labels()
        self._save_settings()
        if self.analysis is not None:
            self.analysis = self.analysis.refit(self._options()["fit_lags"])
            self._show_result()
            self.msd_panel.show_analysis(self.analysis, now=False)
            if self.worker is None or not self._stale:
                self._timer.start()  # redraw after the debounce delay
        self.tabs.setCurrentWidget(self.msd_panel)

    def _refresh(self):
        """The debounce timer: a new analysis, or only the plots' redraw."""
        self.tabs.currentWidget().redraw()
        if self._stale:
            self.run()

    # ---- running --------------------------------------------------------------------
    def run(self):
        """Start an analysis of the chosen input; return the worker (None: bad input)."""
        from napari.utils import progress as napari_progress
        from superqt.utils import create_worker

        self._timer.stop()
        if self.worker is not None:  # a parameter changed meanwhile: start again after it
            self._rerun = True
            self.worker.quit()
            return self.worker
        if self._probing:  # the store is being looked at: start when that is done
            self._run_after_probe = True
            return None
        try:
            source = self.current_source(copy=True)
        except EXPECTED as exc:
            self._report(one_line(exc))
            return None
        options = self._options()
        self._save_settings()
        same = self._source is not None and self._source.key == source.key
        self._source, self._stale, self._rerun = source, False, False
        recorded = self._probe_info.get("units") or {}
        save = bool(source.path) and (recorded.get("mpp") != options["mpp"]
                                      or recorded.get("fps") != options["fps"])
        total = self._probe_info.get("frames") or 0
        self._pbar = napari_progress(total=2 * total if total else 0, desc="Analysing")
        self._pbar_n = 0
        holder = {}

        def progress(stage, done, total):  # worker thread
            if holder["worker"].abort_requested:
                raise Cancelled
            self._progressed.emit(stage, done, total)

        spare_the_collector()
        worker = create_worker(run_analysis, source, options, save, progress, _start_thread=False,
                               _ignore_errors=True)
        holder["worker"] = worker
        worker.pbar = self._pbar
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self.worker, self._outcome = worker, "cancelled"
        self._life["worker"] = worker
        self.analyse_button.enabled, self.cancel_button.enabled = False, True
        self._say(("Updating the analysis of " if same else "Analysing ") + f"{source.name}…")
        worker.start()
        return worker

    def cancel(self):
        """Stop the running analysis (after the core's current block of frames)."""
        self._timer.stop()
        self._stale = False
        if self.worker is not None:
            self._rerun = False
            self.worker.quit()
            self._progress.cancel()
            self._status.cancel()
            self.status.setText("Cancelling…")

    def _on_progressed(self, stage: str, done: int, total: int):
        if self._closed or self.worker is None or self.worker.abort_requested:
            return
        self._progress(stage, done, total)

    def _show_progress(self, stage, done, total):
        pbar = self._pbar
        if pbar.total != 2 * total:
            pbar.total = 2 * total
        n = done + (total if stage == "measure" else 0)
        if n > self._pbar_n:
            pbar.update(n - self._pbar_n)
            self._pbar_n = n
        what = "scanning" if stage == "scan" else "measuring drift and MSDs"
        self._say(f"Analysing {self._source.name}: {what}, {done}/{total} frames…")

    def _on_returned(self, returned):
        result, note = returned
        self._outcome = "analysed"
        if self._closed:
            return
        # the fit range may have changed during the run
        fit_lags = self._options()["fit_lags"]
        self.analysis = result if result.fit_lags == fit_lags else result.refit(fit_lags)
        self._record_units(note)
        self._show_all()

    def _on_errored(self, exc):
        self._outcome = "cancelled" if isinstance(exc, Cancelled) else "failed"
        if self._closed or isinstance(exc, Cancelled):
            return
        self._report(f"Analysis failed: {describe(exc)}")

    def _on_finished(self):
        self._pbar.close()
        self._progress.cancel()
        self.worker = self._life["worker"] = None
        if self._closed:
            return
        self.analyse_button.enabled, self.cancel_button.enabled = True, False
        if self._rerun or (self._stale and not self._timer.isActive()):
            self._rerun = False
            self.run()
            return
        if self._outcome == "cancelled":
            self._say("Cancelled: " + ("the plots show the previous analysis."
                                       if self.analysis is not None else
                                       "nothing was analysed."))
        self.done.emit(self._outcome)

    def _record_units(self, note):
        """Where the analysis' units are kept: the store, else the layers' metadata."""
        units = {"mpp": self.analysis.mpp, "fps": self.analysis.fps}
        source = self._source
        if source.path and note is None:
            self._probe_info["units"] = units
            where = f"recorded in the store {os.path.basename(source.path)}"
        else:
            for layer in source.layers:
                info = dict(layer.metadata.get("streamtrack") or {})
                info["units"] = units
                layer.metadata = {**layer.metadata, "streamtrack": info}
            where = ("kept in the layers' metadata (no store)" if not source.path else
                     f"kept in the layers' metadata: {note}")
            if source.path and note and not source.layers:
                where = f"not recorded: {note}"
            if source.path:
                self._probe_info["units"] = self._probe_info.get("units") or {}
        self.units_note.setText(f"Units: {self._units_origin}; {where}.")

    # ---- results (main thread) ------------------------------------------------------
    def _show_all(self):
        analysis = with_min_length(self.analysis, int(self.min_length.value))
        self._apply_hiding(analysis)
        self._kept_text(analysis)
        self._show_result()
        current = self.tabs.currentWidget()
        self.lengths_panel.show_analysis(analysis, now=current is self.lengths_panel)
        for panel in (self.drift_panel, self.msd_panel):
            panel.show_analysis(self.analysis, now=current is panel)
        self.csv_button.enabled = self.write_button.enabled = True
        a = self.analysis
        notes = "; ".join(a.notes)
        self._status.cancel()
        self.status.setText(f"Analysed {a.n_frames} frames of {self._source.name}: "
                            f"{a.trajectories_after} of {a.trajectories_before} trajectories "
                            f"kept" + (f". {notes}" if notes else "."))

    def _kept_text(self, analysis):
        self.kept_label.setText(f"kept {analysis.trajectories_after} of "
                                f"{analysis.trajectories_before} trajectories "
                                f"(≥ {analysis.min_length} positions = "
                                f"{analysis.min_length / analysis.fps:.3g} s)")

    def _show_result(self):
        a = self.analysis
        if np.isfinite(a.n):
            d = f"{a.D:.4g} µm²/s" if a.D is not None else "– µm²/s"
            self.result_label.setText(f"D = {d}, α = {a.n:.3f}")
            t = a.fitted_msd().index
            extra = ("" if a.D is not None else
                     f"; no D: α is not within {core.DIFFUSIVE_TOLERANCE:g} of 1, "
                     f"A = {a.A:.4g} µm²/s^α")
            self.fit_label.setText(f"MSD = A t^α fitted on lag times {t[0]:.3g}–{t[-1]:.3g} s "
                                   f"({len(t)} lags), A = {a.A:.4g} µm²/s^α{extra}.")
        else:
            self.result_label.setText("D = – µm²/s, α = –")
            self.fit_label.setText("No fit: the lag range holds fewer than two MSD values "
                                   "(widen it, or lower the minimum length).")

    # ---- hiding short trajectories ----------------------------------------------------
    def _apply_hiding(self, analysis):
        self._hiding.apply(self._source, analysis)

    def _restore_layers(self):
        self._hiding.restore()

    # ---- writing ----------------------------------------------------------------------
    def _start_job(self, fn, *args, kind: str, what: str):
        from superqt.utils import create_worker

        if self.job is not None:
            self._say("Wait for the current export to finish.")
            return None
        worker = create_worker(fn, *args, _start_thread=False, _ignore_errors=True)
        self._job_kind = kind

        def returned(result):
            if self._closed:
                return
            self._say(what.format(**result) if isinstance(result, dict) else
                      what.format(paths=", ".join(os.path.basename(p) for p in result),
                                  folder=os.path.dirname(result[0])))
            self._job_kind = kind

        def errored(exc):
            self._job_kind = "failed"
            if not self._closed:
                self._report(f"Writing failed: {describe(exc)}")

        def finished():
            self.job = None
            if not self._closed:
                self.written.emit(self._job_kind)

        worker.returned.connect(returned)
        worker.errored.connect(errored)
        worker.finished.connect(finished)
        self.job = worker
        worker.start()
        return worker

    def _start_folder(self) -> str:
        source = self._source
        return os.path.dirname(source.path) if source is not None and source.path else ""

    def write_kept(self, path: str | None = None):
        """Write the trajectories of at least the minimum length to a new store
        (``streamtrack.filter_stubs(store, n, output=new_store)``); asks for the file."""
        if self._source is None:
            self._report("Analyse an input first.")
            return None
        n = int(self.min_length.value)
        if path is None:
            start = os.path.join(self._start_folder(), f"{self._source.name} kept{n}.h5")
            path = ask_save_file(self, "Write the kept trajectories to a new store", start,
                                 "HDF5 store (*.h5 *.hdf5)")
            if not path:
                return None
        path = os.path.abspath(os.fspath(path))
        if os.path.exists(path) or os.path.exists(path + ".chunks"):
            self._report(f"{path} exists: the kept trajectories go to a new store; choose "
                         "another file name.")
            return None
        if self._source.path and path == self._source.path:
            self._report("Choose another file than the input store.")
            return None
        units = {"mpp": float(self.mpp.value), "fps": float(self.fps.value)}
        self._say(f"Writing the trajectories of {n} positions or more to {path}…")
        return self._start_job(write_kept_store, self._source, n, path, units, kind="store",
                               what=f"Wrote the trajectories of {n} positions or more to "
                                    "{path}: {rows} positions in {frames} frames.")

    def export_csv(self, folder: str | None = None):
        """Write the tables (emsd, imsd, drift, track lengths) as CSV into a folder."""
        if self.analysis is None:
            self._report("Analyse an input first.")
            return None
        if folder is None:
            folder = ask_folder(self, "Export the analysis tables (CSV) into",
                                self._start_folder())
            if not folder:
                return None
        folder = os.fspath(folder)
        existing = [name for name in CSV_FILES if os.path.exists(os.path.join(folder, name))]
        if existing:
            self._report(f"{folder} already holds {', '.join(existing)}: choose another "
                         "folder (nothing was written).")
            return None
        if not os.path.isdir(folder):
            self._report(f"{folder} is not a folder.")
            return None
        return self._start_job(write_csv_tables, self.analysis, folder, kind="csv",
                               what="Exported {paths} to {folder}.")

    def save_png(self, panel: PlotPanel, path: str | None = None):
        """Save one plot as a PNG (drawn again at 6.4 x 4.8 in, 100 dpi, in a worker)."""
        analysis = panel.analysis
        if analysis is None:
            self._report("Analyse an input first.")
            return None
        if path is None:
            start = os.path.join(self._start_folder(), panel.filename)
            path = ask_save_file(self, f"Save the {panel.title.lower()} plot", start,
                                 "PNG image (*.png)")
            if not path:
                return None
        path = os.fspath(path)
        if not path.lower().endswith(".png"):
            path += ".png"
        return self._start_job(write_plot_png, analysis, panel.plot, path, kind="png",
                               what="Saved {paths} in {folder}.")

    # ---- messages -----------------------------------------------------------------------
    def _say(self, text: str):
        self._status(text)

    def _report(self, message: str):
        message = one_line(message)
        self._status.cancel()
        self.status.setText(message)
        show_error(message)


def _from(origin: str) -> str:
    return origin if origin == "typed in" else f"from {origin}"

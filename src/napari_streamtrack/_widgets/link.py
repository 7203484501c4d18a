"""The "Link trajectories" dock widget: streamtrack's streaming linker on a store or a layer.

The widget's fields come from the core's parameter specification
(``streamtrack.params.LINK``); it calls the core's workflow in a worker
thread, one frame at a time (progress bar in napari's activity dock; see
``_common.progress_worker``): a store is linked in place by
``streamtrack.workflow.link_in_place`` (checkpointed, or through a
predictor; it writes the store's "link" record, as the command line does); a
Points layer whose points were edited (deleted, added, moved) is linked as
it shows them, and its table replaces the store's features
(``streamtrack.workflow.relink_edited``: all or nothing); a Points layer
without a store is linked in memory by ``streamtrack.workflow.link_table``.
Choosing an input shows its own parameters: its "link" record, else what its
movie suggests (the plugin's sample). The status line and the progress bar
change at most ~10 times a second; the layers' data and colours are prepared
in the worker, and the GUI thread adds the Points and the Tracks layers in two
turns of its event loop. A big result's Tracks layer holds only the frames
around the time slider (``_window.TracksWindow``). Layers are only touched in
main-thread callbacks.
"""
import os
from dataclasses import dataclass

import napari.viewer
import numpy as np
import pandas as pd
from magicgui.widgets import ComboBox, Container, FileEdit, PushButton, RadioButtons
from napari.layers import Points, Tracks
from napari.utils.notifications import show_error
from psygnal import Signal
from qtpy.QtCore import QTimer

from streamtrack import workflow
from streamtrack.exceptions import StoreError, SubnetOversizeException
from streamtrack.params import LINK
from streamtrack.stores.detect import open_store

from .. import _colors, _settings, _window
from .._colors import PALETTE, PALETTE_RGBA, particle_colors  # noqa: F401 - this module's API
from .._layers import (
    features_from_points,
    points_data,
    store_base_name,
    store_diameter,
    too_big_for_layers,
    tracks_data,
)
from . import _fields
from ._common import (
    CompileNotice,
    StatusLine,
    Throttle,
    describe,
    fit_width,
    layer_geometry,
    layer_records,
    one_line,
    parent_file_dialog,
    progress_worker,
    put_layer,
    record_source,
    scrolled_body,
    store_metadata,
    suggested_parameters,
    worker_error,
)

SETTINGS = "link"
# the options the widget shows (max_subnet_size stays at the core's default)
FIELDS = ("search_range", "memory", "adaptive_stop", "adaptive_step", "predictor")
# a start value where the core has no default (search_range is required)
DEFAULTS = _fields.defaults(LINK, FIELDS, search_range=5.0)
LAYER, FILE = "Points layer", "Store file"
WINDOWED = "windowed"  # a run's result when the store is too big to hold as layers
# errors the user can fix (input, parameters, files): the message alone explains them.
# Anything else is a bug: before a run it reaches napari's traceback notification, during
# a run the status line and the one notification name its exception type
EXPECTED = (SubnetOversizeException, StoreError, ValueError, OSError)
# a longer tail hides the particles under a tangle of old positions (and costs a
# slider step more: see _window.TracksWindow)
MAX_TAIL = 30


def _base_name(layer_name: str) -> str:
    # Locate names its layer "<image> features"; the tracks become "<image> tracks"
    return layer_name[:-len(" features")] if layer_name.endswith(" features") else layer_name


def _store_of(layer) -> str | None:
    return (layer.metadata.get("streamtrack") or {}).get("store")


@dataclass
class _Job:
    """What one run links and where its results go."""

    name: str  # layers are called "<name> features" / "<name> tracks"
    record: dict  # link parameters + version, for the store and the layers
    options: dict  # the core's keyword arguments (search_range, predictor, ...)
    layer: Points | None = None  # the Points layer to update (None: add one)
    store: str | None = None  # None: link the layer's points in memory
    frames: tuple = ()  # the store's frame numbers
    table: pd.DataFrame | None = None  # the in-memory features (with a store: the layer's)
    size: float = 10.0  # point size for a new Points layer
    edited: bool = False  # the layer's table differed from its store: it was linked


@dataclass
class _Linked:
    """A run's result, made ready for the layers in the worker thread."""

    points: tuple  # Points (data, features)
    tracks: tuple  # Tracks (data, features), sorted by (particle, frame)
    n_particles: int
    colors: np.ndarray  # RGBA per point
    track_colors: np.ndarray  # RGBA per track vertex


def _prepare(linked: pd.DataFrame) -> _Linked:
    """The layers' data of a linked table (worker thread: the GUI only hands them on).

    Colours are computed here as plain RGBA arrays: napari's colour cycle
    over 10^4 particle ids takes most of a second on the GUI thread.
    """
    points, tracks = points_data(linked), tracks_data(linked)
    return _Linked(points, tracks, int(linked["particle"].nunique()),
                   particle_colors(points[1]["particle"]), particle_colors(tracks[0][:, 0]))


def _link_store(job: "_Job"):
    """Link a store in place; yield the number of frames done; return the linked table.

    ``workflow.link_in_place`` writes the "link" record, also when the run is
    cancelled or stopped by an error. When the job carries the Points layer's
    table and it differs from the store (points deleted, added or moved),
    what the layer shows is linked instead and replaces the store's features
    (``workflow.relink_edited``; ``job.edited`` is then True). Expected errors
    are returned, not raised, so the widget explains them once.
    """
    path, options = job.store, job.options
    try:
        if job.table is not None:
            with open_store(path, mode="r") as store:
                job.edited = not workflow.same_features(store, job.table)
        if job.edited:
            return (yield from _link_edited(job))
        store = open_store(path, mode="a")
    except EXPECTED as exc:
        return exc
    done, n_done, n_rows = [], 0, 0
    run = workflow.link_in_place(store, **options)
    try:
        for linked in run:
            n_done += 1
            n_rows += len(linked)
            if done is not None and too_big_for_layers(n_rows):
                done = None  # too big for layers: the store is shown windowed instead
            if done is not None:
                done.append(linked)
            yield n_done
        return WINDOWED if done is None else _prepare(pd.concat(done))
    except EXPECTED as exc:
        return exc
    finally:
        run.close()  # after a Cancel: the record says how far it got
        store.close()


def _link_edited(job: "_Job"):
    """Link the layer's table and make it the store's features (all or nothing)."""
    done = []
    run = workflow.relink_edited(job.store, job.table, **job.options)
    try:
        for linked in run:
            done.append(linked)
            yield len(done)
        return _prepare(pd.concat(done))
    except EXPECTED as exc:
        return exc
    finally:
        run.close()  # after a Cancel: the store is left as it was


def _link_table(table: pd.DataFrame, options: dict):
    """Link an in-memory feature table frame by frame (no file written)."""
    done = []
    try:
        for linked in workflow.link_table(table, **options):
            done.append(linked)
            yield len(done)
        return _prepare(pd.concat(done))
    except EXPECTED as exc:
        return exc


class LinkWidget(Container):
    """Link located features into trajectories (Points -> Points by particle + Tracks).

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose Points layers can be linked and which shows the results.

    Attributes
    ----------
    worker : superqt GeneratorWorker or None
        The running link, if any (``worker.pbar`` is its progress bar).
    done : psygnal.Signal
        Emitted (main thread) with 'linked', 'cancelled' or 'failed' when a run ends,
        after the layers are updated.
    """

    done = Signal(str)

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=False)
        self._body = scrolled_body(self)  # the fields, in a scroll area
        self._viewer = viewer
        self.worker = None
        self._job = self._gen = None
        self._then, self._finishing = None, False  # the end of a run, in two steps
        self._n_done, self._total, self._outcome = 0, 0, "failed"
        values = _settings.load(SETTINGS, DEFAULTS)
        if values["predictor"] not in LINK["predictor"].choices:
            values["predictor"] = DEFAULTS["predictor"]  # a name of an earlier version

        self.source = RadioButtons(label="Link", choices=[LAYER, FILE], value=LAYER,
                                   orientation="horizontal",
                                   tooltip="Which input the Link button uses.")
        self.points = ComboBox(label="Points layer", choices=self._points_choices,
                               tooltip="Features from Locate (linked in their store) or any "
                                       "Points layer with a time axis (linked in memory).")
        self.store_file = FileEdit(label="Store file", mode="r", filter="*.h5 *.hdf5",
                                   nullable=True,
                                   tooltip="A framewise HDF5 store (any trackpy layout), "
                                           "linked in place.")
        parent_file_dialog(self.store_file, self)  # over the viewer, not behind the dock
        self.params = _fields.make_fields(LINK, values, names=FIELDS)
        (self.search_range, self.memory, self.adaptive_stop, self.adaptive_step,
         self.predictor) = (self.params[name] for name in FIELDS)
        self.run_button = PushButton(text="Link")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.status = StatusLine()
        self._progress_text = Throttle(self._set_status)
        self._body.extend([self.source, self.points, self.store_file,
                           *self.params.values(),
                           Container(widgets=[self.run_button, self.cancel_button],
                                     layout="horizontal", labels=False)])
        self._body.native.layout().addWidget(self.status.native)
        fit_width(self._body)

        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        # picking a file or a layer by hand makes it the input: no hidden precedence
        self.store_file.changed.connect(
            lambda value: setattr(self.source, "value", FILE if value else LAYER))
        self.points.native.activated.connect(lambda _: setattr(self.source, "value", LAYER))
        # a data set's parameters: its link record, or what the sample suggests
        for field in (self.source, self.points, self.store_file):
            field.changed.connect(self.show_data_set_parameters)
        events = viewer.layers.events
        events.inserted.connect(self._on_inserted)
        events.removed.connect(self._on_removed)
        self._closed = False
        self.native.destroyed.connect(self._detach)
        self.show_data_set_parameters()

    def _detach(self, *_):
        # the dock widget is gone (viewer closed): no more viewer events or layer
        # updates; a run in progress stops after its current frame, and its store is
        # closed as after a Cancel
        self._closed = True
        events = self._viewer.layers.events
        events.inserted.disconnect(self._on_inserted)
        events.removed.disconnect(self._on_removed)
        self._progress_text.cancel()
        if self.worker is not None:
            self.worker.quit()

    # ---- inputs ---------------------------------------------------------------------
    def _points_choices(self, _widget=None):
        # never the Locate widget's preview (one frame, replaced at every change)
        layers = [lyr for lyr in self._viewer.layers if isinstance(lyr, Points)
                  and not (lyr.metadata.get("streamtrack") or {}).get("preview")]
        # layers with a store (from Locate) first: they are what Link is for
        layers.sort(key=lambda lyr: _store_of(lyr) is None)
        return [(lyr.name, lyr) for lyr in layers]

    def _on_inserted(self, event):
        self.points.reset_choices()
        if isinstance(event.value, Points) and _store_of(event.value):
            self.points.value = event.value  # Locate just finished: link that

    def _on_removed(self, _event):
        self.points.reset_choices()

    def data_set_parameters(self):
        """The chosen input's own link parameters: ``(values, what)`` or ``(None, None)``.

        Its "link" record (the layer's ``metadata['streamtrack']``, else its
        store's), else the parameters its movie suggests (the plugin's sample).
        """
        if self.source.value == FILE:
            path = self.store_file.value
            if not path or not self.store_file.line_edit.value.strip():
                return None, None
            info, name = store_metadata(path), os.path.basename(path)
        else:
            layer = self.points.value
            if layer is None:
                return None, None
            info, name = layer_records(layer), repr(layer.name)
            if not isinstance(info.get("link"), dict) and info.get("store"):
                info = {**store_metadata(info["store"]), **info}
        record = info.get("link")
        if isinstance(record, dict) and record:
            return record, f"the link record of {name}"
        source = record_source(info)
        suggestion = suggested_parameters(self._viewer, source, "suggested_link")
        if suggestion:
            return suggestion, f"suggested for {source!r}"
        return None, None

    def show_data_set_parameters(self, *_) -> None:
        """Show the chosen input's link parameters (see :meth:`data_set_parameters`);
        an input without any keeps the fields as they are (the last values)."""
        if self.worker is not None:
            return  # the fields describe the run in progress
        record, what = self.data_set_parameters()
        values = _fields.record_form(LINK, record, FIELDS)
        if values and _fields.set_values(self.params, values):
            self.status.value = f"Parameters of {what}."

    def _parameters(self) -> dict:
        return _fields.form_values(self.params)

    def _make_job(self, params: dict) -> _Job:
        """Check the input and describe the run (raises ValueError/OSError to explain)."""
        options = LINK.from_form(params)
        LINK.check(options)  # the core's one-line errors, before anything starts
        record = workflow.link_record(**options)
        if self.source.value == FILE:
            path = self.store_file.value
            # an empty line reads as the current folder: look at the text
            if not path or not self.store_file.line_edit.value.strip():
                raise ValueError("No store file chosen: pick one, or set Link to "
                                 f"'{LAYER}'.")
            # the Points layer of that store, if Locate (or the reader) made one
            layer = next((lyr for lyr in self._points_choices() if _store_of(lyr[1])
                          and os.path.abspath(_store_of(lyr[1])) == os.path.abspath(path)),
                         (None, None))[1]
            name = _base_name(layer.name) if layer else None  # None: the store's
            return self._store_job(str(path), name, record, options, layer)
        layer = self.points.value
        if layer is None:
            raise ValueError("No input: locate features first (Locate widget), add a "
                             "Points layer, or choose a store file.")
        if _store_of(layer):
            # the layer's table, to link what it shows if its points were edited (a
            # windowed layer holds only frames around the slider: its store is linked)
            info = layer.metadata.get("streamtrack") or {}
            table = None
            if not info.get("windowed") and layer.ndim in (3, 4):
                try:
                    table = features_from_points(layer.data, layer.features)
                except ValueError:  # not a movie's points (e.g. one image's): the store
                    table = None
            return self._store_job(_store_of(layer), _base_name(layer.name), record, options,
                                   layer, table)
        table = features_from_points(layer.data, layer.features)
        if not len(table):
            raise ValueError(f"The layer {layer.name!r} has no points to link.")
        return _Job(_base_name(layer.name), record, options, layer=layer, table=table)

    def _store_job(self, path, name, record, options, layer, table=None) -> _Job:
        if os.path.isdir(path):
            raise ValueError(f"{path} is a folder: choose the store file (.h5) in it.")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"The store {path} is missing: locate the features "
                                    "again, or choose the file where it is now.")
        try:
            # the core says what is wrong with a file it cannot open: locked by a writer,
            # damaged or truncated, not HDF5, not a framewise store (nothing is written)
            with open_store(path, mode="r") as store:
                frames, meta = tuple(store.frames), store.metadata
        except StoreError:
            raise  # the core's messages name the store
        except Exception as exc:  # noqa: BLE001 - a damaged file: say which, keep the cause
            raise StoreError(f"Cannot read the store {path}: {describe(exc)}") from exc
        if not frames:
            raise ValueError(f"The store {path} holds no frames.")
        if name is None:  # the names the reader gives the store's layers
            name = store_base_name(path, meta)
        return _Job(name, record, options, layer=layer, store=path, frames=frames,
                    size=store_diameter(meta), table=table)

    # ---- running --------------------------------------------------------------------
    def run(self):
        """Start linking the chosen input; return the worker (None if the input is bad)."""
        if self.worker is not None:
            return self.worker
        if self._finishing:  # the last run's layers are being added
            return None
        params = self._parameters()
        try:
            job = self._make_job(params)
        except EXPECTED as exc:
            self._report(str(exc))
            return None
        _settings.save(SETTINGS, params)
        self._job, self._n_done, self._outcome = job, 0, "failed"
        if job.store:
            _window.release(job.store)  # a window's read handle would block writing
            self._gen, total = _link_store(job), len(job.frames)
        else:
            self._gen, total = _link_table(job.table, job.options), job.table["frame"].nunique()
        self._total = total
        # the widget keeps ``gen`` to close it (and so the store) when the worker is
        # cancelled
        worker = progress_worker(self._gen, total=total, desc="Linking")
        worker.yielded.connect(self._on_yielded)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self._compile_notice = CompileNotice()
        self.run_button.enabled, self.cancel_button.enabled = False, True
        self.status.value = f"Linking {total} frames…"
        worker.start()
        return worker

    def cancel(self):
        """Stop the running link after the current frame."""
        if self.worker is not None:
            self.worker.quit()
            self._progress_text.cancel()
            self.status.value = "Cancelling…"

    def _set_status(self, text: str) -> None:
        self.status.value = text

    def _on_yielded(self, n_done: int):
        self._n_done = n_done
        if self._closed or self.worker is None or self.worker.abort_requested:
            return
        # at most every UPDATE_INTERVAL seconds
        self._progress_text(f"Linking… {n_done}/{self._total} frames"
                            + self._compile_notice.suffix())

    def _on_returned(self, result):
        self._progress_text.cancel()
        if self._closed:
            return
        if isinstance(result, Exception):
            self._report(self._explain(result))
            return
        self._outcome = "linked"
        if isinstance(result, str) and result == WINDOWED:
            self._show_windowed()
            self.status.value = (f"Linked {self._total} frames; 'particle' saved in "
                                 f"{self._job.store} (shown windowed: too many features "
                                 "to hold as layers).")
            return
        self._then = self._show(result)
        n = result.n_particles
        where = f"; 'particle' saved in {self._job.store}" if self._job.store else ""
        if self._job.edited:
            self.status.value = (f"Linked the layer's {len(self._job.table):,} points "
                                 f"(edited): {n} trajectories; {self._job.store} now holds "
                                 "them, with 'particle'.")
            return
        self.status.value = f"Linked {self._total} frames: {n} trajectories{where}."

    def _on_errored(self, exc):
        self._progress_text.cancel()
        if self._closed:
            return
        self._report(self._explain(worker_error(exc)))

    def _on_aborted(self):
        self._progress_text.cancel()
        self._gen.close()  # the worker stopped at a yield: finish the store here
        self._outcome = "cancelled"
        if self._closed:
            return
        job, k = self._job, self._n_done
        if job.store and k and not job.edited:
            self.status.value = (
                f"Cancelled after {k} of {self._total} frames: frames {job.frames[0]}–"
                f"{job.frames[k - 1]} of {job.store} now have 'particle'; later frames "
                "were not linked by this run. Link again to link them all.")
        else:
            self.status.value = (f"Cancelled after {k} of {self._total} frames: nothing "
                                 "was changed.")

    def _on_finished(self):
        self._progress_text.cancel()
        self.worker = self._gen = None
        self._compile_notice.close()
        then, self._then = self._then, None
        if self._closed:
            return

        def finish():
            self._finishing = False
            if self._closed:
                return
            if then is not None:
                then()
            self.run_button.enabled, self.cancel_button.enabled = True, False
            self.done.emit(self._outcome)

        if then is None:
            finish()
        else:
            # the Tracks layer in the next turn of the event loop: the GUI never
            # waits for the Points and the Tracks layers at once (each ~0.1 s for
            # 10^5 features)
            self._finishing = True
            QTimer.singleShot(0, finish)

    def _explain(self, exc) -> str:
        if isinstance(exc, SubnetOversizeException):
            text = (f"Too many features within search range "
                    f"{self._job.record['search_range']:g} of each other ({exc}). Lower "
                    "search range, or turn on adaptive search (adaptive stop, e.g. 1).")
        else:
            text = f"Linking failed: {describe(exc)}"
        if self._job.edited:
            text += f" The store {self._job.store} is as it was."
        elif self._job.store and self._n_done:
            text += (f" The store is intact: its first {self._n_done} frames have "
                     "'particle'; later frames were not linked by this run.")
        return text

    def _report(self, message: str):
        message = one_line(message)
        self.status.value = message
        show_error(message)

    # ---- results (main thread) ------------------------------------------------------
    def _show_windowed(self):
        """Show a store too big for layers the reader's way: a window on the slider."""
        job, viewer = self._job, self._viewer
        geometry = {}
        if job.layer is not None and job.layer in viewer.layers:
            geometry = layer_geometry(job.layer)
            viewer.layers.remove(job.layer)
        for layer in viewer.open(job.store, plugin="napari-streamtrack"):
            kind = "tracks" if isinstance(layer, Tracks) else "features"
            layer.name = f"{job.name} {kind}"
            layer.metadata["streamtrack"]["link"] = job.record
            for key, value in geometry.items():
                setattr(layer, key, value)

    def _show(self, linked: _Linked):
        """Points coloured by particle and a Tracks layer, both recording the link.

        Updates the Points layer now; returns the function that adds the
        Tracks layer (the widget calls it in the next turn of the event loop).
        """
        job, viewer = self._job, self._viewer
        points = job.layer if job.layer in viewer.layers else None
        info = dict((points.metadata.get("streamtrack") or {}) if points else {})
        info["link"] = job.record
        if job.store:
            info["store"] = job.store
        data, features = linked.points
        if points is None:
            points = viewer.add_points(data, features=features, name=f"{job.name} features",
                                       size=job.size, face_color="transparent",
                                       border_width=0.15)
        else:
            # the store (or the linked table) is in the layer's row order: rebuild both
            points.data, points.features = data, features
        points.metadata = {**points.metadata, "streamtrack": info}
        # one colour per particle, the same on its track (direct colours: see _prepare)
        points.border_color = linked.colors
        if np.any(points.face_color[:, 3] > 0):  # a filled point would hide its colour
            points.face_color = linked.colors

        return lambda: self._show_tracks(linked, points, info)

    def _show_tracks(self, linked: _Linked, points, info: dict):
        """The Tracks layer of a run, coloured as its points, on their geometry."""
        job, viewer = self._job, self._viewer
        tdata, tfeatures = linked.tracks
        frames = tdata[:, 1]
        span = int(frames.max() - frames.min()) + 1
        tail = min(span, MAX_TAIL)
        name = f"{job.name} tracks"
        if name in viewer.layers:
            _window.unwindow_tracks(viewer.layers[name])
        rows, shown = slice(None), None
        if len(tdata) > _window.TRACKS_WINDOW_VERTICES:
            # a big result: the layer holds the frames around the current one, and
            # follows the slider (napari draws every vertex a Tracks layer holds)
            t = int(round(points.world_to_data(viewer.dims.point)[0]))
            margin = _window.TRACKS_WINDOW_MARGIN
            shown = (t - tail - margin, t + margin)
            rows = (frames >= shown[0]) & (frames <= shown[1])
            if not rows.any():
                rows, shown = slice(None), None
        tracks = put_layer(viewer, name, tdata[rows],
                           {"features": tfeatures[rows].reset_index(drop=True),
                            "metadata": {"streamtrack": info},
                            "tail_length": tail, "head_length": 0,
                            **_colors.tracks_color_kwargs(),
                            **layer_geometry(points, points.ndim)}, "tracks")
        # by particle with the palette, as the points: in the layer's colour controls too
        _colors.color_tracks(tracks)
        tracks.track_colors = linked.track_colors[rows]
        if shown is not None:
            _window.window_tracks(viewer, tracks, tdata, tfeatures, linked.track_colors,
                                  shown=shown)

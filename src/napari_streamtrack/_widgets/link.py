"""The "Link trajectories" dock widget: streamtrack's streaming linker on a store or a layer.

The widget collects parameters and calls the core: ``streamtrack.link_df_iter``
(or a predictor's own ``link_df_iter``) runs in a napari ``thread_worker``, one
frame at a time. A store is linked in place (each frame is ``put`` back with
its ``particle`` column as soon as it is linked); a Points layer without a
store is linked in memory. Layers are only touched in main-thread callbacks.
"""
import os
from dataclasses import dataclass
from pathlib import Path

import docstring_parser
import napari.viewer
import numpy as np
import pandas as pd
from magicgui.widgets import (ComboBox, Container, FileEdit, FloatSpinBox, Label, PushButton,
                              RadioButtons, SpinBox)
from napari.layers import Points
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error
from psygnal import Signal

import streamtrack
from streamtrack.exceptions import StoreError, SubnetOversizeException
from streamtrack.predict import DriftPredict, NearestVelocityPredict
from streamtrack.stores.detect import open_store

from .. import _reader, _settings, _window
from .._layers import T_COLUMN, features_from_points, points_data, split_frames, tracks_data
from ._common import (CompileNotice, describe, layer_geometry, one_line, put_layer, reporting,
                      worker_error)

SETTINGS = "link"
DEFAULTS = {"search_range": 5.0, "memory": 0, "adaptive_stop": 0.0, "adaptive_step": 0.95,
            "predictor": "none"}
PREDICTORS = {"none": None, "nearest velocity": NearestVelocityPredict, "drift": DriftPredict}
LAYER, FILE = "Points layer", "Store file"
WINDOWED = "windowed"  # a run's result when the store is too big to hold as layers
# errors the user can fix (input, parameters, files); anything else is a bug and keeps
# napari's traceback notification
EXPECTED = (SubnetOversizeException, StoreError, ValueError, OSError)
# saturated, so distinct on dark and on light grey images; ids cycle through them
PALETTE = ["#ff4b4b", "#4bff6e", "#4b9bff", "#ffd84b", "#ff4bf0", "#4bffef", "#ff9b4b",
           "#b04bff", "#c8ff4b", "#ff4b9b", "#2f6bff"]
# a longer tail hides the particles under a tangle of old positions
MAX_TAIL = 100


def _core_doc(obj, name: str) -> str:
    """The description of parameter ``name`` in ``obj``'s numpydoc docstring."""
    for param in docstring_parser.parse(obj.__doc__ or "").params:
        if name in [n.strip() for n in param.arg_name.split(",")]:
            return " ".join(param.description.replace("``", "").split())
    return ""


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
    layer: Points | None = None  # the Points layer to update (None: add one)
    store: str | None = None  # None: link the layer's points in memory
    frames: tuple = ()  # the store's frame numbers
    table: pd.DataFrame | None = None  # the in-memory features
    size: float = 10.0  # point size for a new Points layer


def _linking(record: dict):
    """``frames -> linked frames`` with the run's parameters (the core's functions)."""
    kwargs = {"memory": record["memory"], "adaptive_stop": record["adaptive_stop"],
              "adaptive_step": record["adaptive_step"]}
    predictor = {cls.__name__: cls for cls in PREDICTORS.values() if cls}.get(
        record["predictor"])
    # a predictor links through its own wrapper, which lets it observe every frame
    link = predictor().link_df_iter if predictor else streamtrack.link_df_iter
    return lambda frames: link(frames, record["search_range"], **kwargs)


def _link_store(path: str, record: dict):
    """Link a store in place; yield the number of frames done; return the linked table.

    Expected errors are returned, not raised, so the widget explains them once.
    """
    try:
        store = open_store(path, mode="a")
    except EXPECTED as exc:
        return exc
    done, n_done, n_rows, complete = [], 0, 0, False
    try:
        for linked in _store_linking(store, record):
            n_done += 1
            n_rows += len(linked)
            if done is not None and n_rows > _reader.WINDOW_FEATURES:
                done = None  # too big for layers: the store is shown windowed instead
            if done is not None:
                done.append(linked)
            yield n_done
        complete = True
        return WINDOWED if done is None else pd.concat(done)
    except EXPECTED as exc:
        return exc
    finally:
        # also when cancelled or stopped by an error: the file says which frames are linked
        try:
            if n_done:
                store.save_metadata("link", {**record, "frames_linked": n_done,
                                             "complete": complete})
        except Exception:  # noqa: BLE001 - a missing note must not hide why linking stopped
            pass
        finally:
            store.close()


def _store_linking(store, record: dict):
    """Link ``store`` in place; yield each linked frame once it is saved.

    Without a predictor the core's checkpointed ``link_store_iter`` runs, so
    ``streamtrack link --resume`` can later continue from where this run
    stopped, or link frames appended since; a predictor's state cannot be
    checkpointed, so it links through ``link_df_iter`` and ``put``.
    """
    if record["predictor"] is None:
        kwargs = {"memory": record["memory"], "adaptive_stop": record["adaptive_stop"],
                  "adaptive_step": record["adaptive_step"]}
        yield from streamtrack.link_store_iter(store, record["search_range"], **kwargs)
        return
    for linked in _linking(record)(store):
        if len(linked):  # an empty frame is not stored (put would warn)
            store.put(linked)
        yield linked


def _with_missing_frames(frames, memory: int):
    """``frames`` with an empty frame for each missing frame number in between.

    The streaming linker counts the frames it is given; a table is a whole
    movie, so, as in ``link_df``, a missing frame number is an empty frame.
    Beyond ``memory + 1`` empty frames every particle is forgotten anyway, so
    no more are delivered (a sparse table does not cost one step per number).
    """
    previous = None
    for frame in frames:
        t = int(frame[T_COLUMN].iloc[0])
        if previous is not None:
            for _ in range(min(t - previous - 1, memory + 1)):
                yield frame.iloc[:0]
        previous = t
        yield frame


def _link_table(table: pd.DataFrame, record: dict):
    """Link an in-memory feature table frame by frame (no file written).

    Without a predictor the result is ``link_df`` of the table; with one, the
    predictor's ``link_df`` (whose memory counts the frames present, as trackpy's).
    """
    done = []
    frames = split_frames(table)
    if record["predictor"] is None:
        frames = _with_missing_frames(frames, record["memory"])
    try:
        for linked in _linking(record)(frames):
            if len(linked):  # not the empty frames filled in
                done.append(linked)
                yield len(done)
        return pd.concat(done)
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
    worker : GeneratorWorker or None
        The running link, if any.
    done : psygnal.Signal
        Emitted (main thread) with 'linked', 'cancelled' or 'failed' when a run ends,
        after the layers are updated.
    """

    done = Signal(str)

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        self._viewer = viewer
        self.worker = None
        self._job = self._gen = None
        self._n_done, self._total, self._outcome = 0, 0, "failed"
        values = _settings.load(SETTINGS, DEFAULTS)
        if values["predictor"] not in PREDICTORS:
            values["predictor"] = DEFAULTS["predictor"]

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
        self.search_range = FloatSpinBox(
            label="search range", value=values["search_range"], min=0.1, max=1e4, step=0.5,
            tooltip=_core_doc(streamtrack.link_df_iter, "search_range"))
        self.memory = SpinBox(label="memory", value=values["memory"], min=0, max=100000,
                              tooltip=_core_doc(streamtrack.Linker, "memory"))
        adaptive = _core_doc(streamtrack.Linker, "adaptive_stop")
        self.adaptive_stop = FloatSpinBox(
            label="adaptive stop", value=values["adaptive_stop"], min=0.0, max=1e4, step=0.5,
            tooltip="0 = off. Smallest search range of adaptive search. " + adaptive)
        self.adaptive_step = FloatSpinBox(
            label="adaptive step", value=values["adaptive_step"], min=0.01, max=0.99,
            step=0.01, tooltip="Factor of each shrink. " + adaptive)
        self.predictor = ComboBox(
            label="predictor", choices=list(PREDICTORS), value=values["predictor"],
            tooltip="\n".join(["none: particles are expected where they were."] + [
                f"{key}: {cls.__doc__.strip().splitlines()[0]}"
                for key, cls in PREDICTORS.items() if cls]))
        self.run_button = PushButton(text="Link")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.status = Label(value="")
        self.status.native.setWordWrap(True)
        self.extend([self.source, self.points, self.store_file, self.search_range,
                     self.memory, self.adaptive_stop, self.adaptive_step, self.predictor,
                     Container(widgets=[self.run_button, self.cancel_button],
                               layout="horizontal", labels=False),
                     self.status])

        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        # picking a file or a layer by hand makes it the input: no hidden precedence
        self.store_file.changed.connect(
            lambda value: setattr(self.source, "value", FILE if value else LAYER))
        self.points.native.activated.connect(lambda _: setattr(self.source, "value", LAYER))
        events = viewer.layers.events
        events.inserted.connect(self._on_inserted)
        events.removed.connect(self._on_removed)
        # a closed widget must not answer the viewer's later layer events
        self.native.destroyed.connect(lambda *_: (events.inserted.disconnect(self._on_inserted),
                                                  events.removed.disconnect(self._on_removed)))

    # ---- inputs ---------------------------------------------------------------------
    def _points_choices(self, _widget=None):
        layers = [lyr for lyr in self._viewer.layers if isinstance(lyr, Points)]
        # layers with a store (from Locate) first: they are what Link is for
        layers.sort(key=lambda lyr: _store_of(lyr) is None)
        return [(lyr.name, lyr) for lyr in layers]

    def _on_inserted(self, event):
        self.points.reset_choices()
        if isinstance(event.value, Points) and _store_of(event.value):
            self.points.value = event.value  # Locate just finished: link that

    def _on_removed(self, _event):
        self.points.reset_choices()

    def _parameters(self) -> dict:
        return {"search_range": float(self.search_range.value),
                "memory": int(self.memory.value),
                "adaptive_stop": float(self.adaptive_stop.value),
                "adaptive_step": float(self.adaptive_step.value),
                "predictor": self.predictor.value}

    def _make_job(self, params: dict) -> _Job:
        """Check the input and describe the run (raises ValueError/OSError to explain)."""
        predictor = PREDICTORS[params["predictor"]]
        record = {**params, "adaptive_stop": params["adaptive_stop"] or None,
                  "predictor": predictor.__name__ if predictor else None,
                  "version": streamtrack.__version__}
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
            name = _base_name(layer.name) if layer else Path(path).stem
            return self._store_job(str(path), name, record, layer)
        layer = self.points.value
        if layer is None:
            raise ValueError("No input: locate features first (Locate widget), add a "
                             "Points layer, or choose a store file.")
        if _store_of(layer):
            return self._store_job(_store_of(layer), _base_name(layer.name), record, layer)
        table = features_from_points(layer.data, layer.features)
        if not len(table):
            raise ValueError(f"The layer {layer.name!r} has no points to link.")
        return _Job(_base_name(layer.name), record, layer=layer, table=table)

    def _store_job(self, path, name, record, layer) -> _Job:
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
        diameter = (meta.get("locate") or {}).get("diameter")
        size = float(np.max(diameter)) if diameter else 10.0
        return _Job(name, record, layer=layer, store=path, frames=frames, size=size)

    # ---- running --------------------------------------------------------------------
    def run(self):
        """Start linking the chosen input; return the worker (None if the input is bad)."""
        if self.worker is not None:
            return self.worker
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
            self._gen, total = _link_store(job.store, job.record), len(job.frames)
        else:
            self._gen, total = _link_table(job.table, job.record), job.table["frame"].nunique()
        self._total = total
        # ``reporting`` is the generator function thread_worker needs; the widget keeps
        # ``gen`` to close it (and so the store) when the worker is cancelled
        worker = thread_worker(reporting, progress={"total": total, "desc": "Linking"},
                               ignore_errors=True)(self._gen)
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
            self.status.value = "Cancelling…"

    def _on_yielded(self, n_done: int):
        self._n_done = n_done
        self.status.value = (f"Linking… {n_done}/{self._total} frames"
                             + self._compile_notice.suffix())

    def _on_returned(self, result):
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
        self._show(result)
        n = result["particle"].nunique()
        where = f"; 'particle' saved in {self._job.store}" if self._job.store else ""
        self.status.value = f"Linked {self._total} frames: {n} trajectories{where}."

    def _on_errored(self, exc):
        self._report(self._explain(worker_error(exc)))

    def _on_aborted(self):
        self._gen.close()  # the worker stopped at a yield: finish the store here
        self._outcome = "cancelled"
        job, k = self._job, self._n_done
        if job.store and k:
            self.status.value = (
                f"Cancelled after {k} of {self._total} frames: frames {job.frames[0]}–"
                f"{job.frames[k - 1]} of {job.store} now have 'particle'; later frames "
                "were not linked by this run. Link again to link them all.")
        else:
            self.status.value = (f"Cancelled after {k} of {self._total} frames: nothing "
                                 "was changed.")

    def _on_finished(self):
        self.worker = self._gen = None
        self._compile_notice.close()
        self.run_button.enabled, self.cancel_button.enabled = True, False
        self.done.emit(self._outcome)

    def _explain(self, exc) -> str:
        if isinstance(exc, SubnetOversizeException):
            text = (f"Too many features within search range "
                    f"{self._job.record['search_range']:g} of each other ({exc}). Lower "
                    "search range, or turn on adaptive search (adaptive stop, e.g. 1).")
        else:
            text = f"Linking failed: {describe(exc)}"
        if self._job.store and self._n_done:
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
            kind = "tracks" if layer._type_string == "tracks" else "features"
            layer.name = f"{job.name} {kind}"
            layer.metadata["streamtrack"]["link"] = job.record
            for key, value in geometry.items():
                setattr(layer, key, value)

    def _show(self, linked: pd.DataFrame):
        """Points coloured by particle and a Tracks layer, both recording the link."""
        job, viewer = self._job, self._viewer
        points = job.layer if job.layer in viewer.layers else None
        info = dict((points.metadata.get("streamtrack") or {}) if points else {})
        info["link"] = job.record
        if job.store:
            info["store"] = job.store
        data, features = points_data(linked)
        if points is None:
            points = viewer.add_points(data, features=features, name=f"{job.name} features",
                                       size=job.size, face_color="transparent",
                                       border_width=0.15)
        else:
            # the store (or the linked table) is in the layer's row order: rebuild both
            points.data, points.features = data, features
        points.metadata = {**points.metadata, "streamtrack": info}
        points.border_color_cycle = PALETTE
        points.border_color = "particle"
        points.border_color_mode = "cycle"  # napari guesses a colormap for many ids
        if np.any(points.face_color[:, 3] > 0):  # a filled point would hide its colour
            points.face_color_cycle = PALETTE
            points.face_color = "particle"
            points.face_color_mode = "cycle"

        tdata, tfeatures = tracks_data(linked)
        span = int(tdata[:, 1].max() - tdata[:, 1].min()) + 1
        tracks = put_layer(viewer, f"{job.name} tracks", tdata,
                           {"features": tfeatures, "metadata": {"streamtrack": info},
                            "tail_length": min(span, MAX_TAIL), "head_length": 0,
                            **layer_geometry(points, points.ndim)}, "tracks")
        # the same colour per particle as the points
        ids, first = np.unique(points.features["particle"].to_numpy(), return_index=True)
        tracks.track_colors = np.asarray(points.border_color)[first][
            np.searchsorted(ids, tracks.data[:, 0])]

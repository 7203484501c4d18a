"""Stores bigger than memory as layers: a window of frames that follows the slider.

A Points layer holds the frames around the current step, a Tracks layer the
last ``tail_length`` frames before it (and ``head_length`` after). When the
step changes, a worker thread reads the missing frames from the store and the
layers are refilled on the main thread, so the GUI never waits on the disk.
Frames read recently are kept in a small cache, so stepping back and forth
costs nothing; memory is bounded by the window and the cache, not the store.

The Points layer also holds two hidden points at the first and the last
frame: napari sizes the time slider from the layers' extent, and without
them the slider would only span the window.

Tracks that fit in memory get a window too (:class:`TracksWindow`): napari
draws every vertex of a Tracks layer at every step, so a big Tracks layer
(the Link widget's result, a linked store opened by the reader) holds only
the frames around the current one, refilled from memory as the slider moves.

Imports go one way: ``_reader -> _window -> _layers``.
"""
from __future__ import annotations

import threading
import uuid
import warnings
from collections import OrderedDict

import numpy as np
import pandas as pd

from . import _layers

# live windows by id of their Points layer (not in layer.metadata: that is
# copied and saved by napari, a window with an open file must not be)
_WINDOWS: dict[int, StoreWindow] = {}
# live in-memory track windows by id of their Tracks layer
_TRACK_WINDOWS: dict[int, TracksWindow] = {}
# a Tracks layer with more vertices than this holds only the frames around the
# current one: napari draws every vertex it holds at every step (its shader
# fades the tail), ~0.4 s for 180,000 vertices without a graphics card
TRACKS_WINDOW_VERTICES = 20_000
# frames the window reaches beyond the tail and head, so that it is refilled
# only every MARGIN steps of the slider
TRACKS_WINDOW_MARGIN = 15


class StoreWindow:
    """Keep ``points`` (and ``tracks``) filled from the store around the current step.

    Parameters
    ----------
    viewer : napari.Viewer
    path : str
        A framewise store.
    points : napari.layers.Points
    tracks : napari.layers.Tracks, optional
    points_reach : int, optional
        Frames on each side of the current one held by the Points layer.
        Default 2.
    cache_frames : int, optional
        Frames kept in memory after they leave the window. Default 256.
    """

    def __init__(self, viewer, path, points, tracks=None, *, points_reach=2,
                 cache_frames=256):
        from streamtrack.stores.detect import open_store

        self.viewer, self.path = viewer, path
        self.points, self.tracks = points, tracks
        self.points_reach, self.cache_frames = points_reach, cache_frames
        # one handle for the window's life, used by one worker at a time
        # (opening a store of 10^5 frames lists its nodes: not per step)
        self._store = open_store(path, mode="r")
        self.frames = np.asarray(sorted(self._store.frames), dtype=np.int64)
        self._cache: OrderedDict[int, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()
        self._worker = None
        self._wanted = None  # the step to show once the running refill ends
        self._closed = False
        self.shown_step = None
        self.refills = 0
        viewer.dims.events.current_step.connect(self._on_step)
        self.refresh()

    # -- which frames ----------------------------------------------------
    def current_frame(self) -> int:
        """The frame number under the time slider, in the layers' data coordinates."""
        world = self.viewer.dims.point[0]
        scale, translate = self.points.scale[0], self.points.translate[0]
        return int(round((world - translate) / scale))

    def _span(self, lo, hi):
        a, b = np.searchsorted(self.frames, [lo, hi + 1])
        return self.frames[a:b]

    def points_frames(self, t):
        return self._span(t - self.points_reach, t + self.points_reach)

    def tracks_frames(self, t):
        if self.tracks is None:
            return self.frames[:0]
        return self._span(t - int(self.tracks.tail_length), t + int(self.tracks.head_length))

    # -- reading (worker thread) -----------------------------------------
    def _read(self, t):
        wanted = np.union1d(self.points_frames(t), self.tracks_frames(t))
        with self._lock:
            missing = [int(f) for f in wanted if int(f) not in self._cache]
        read = {f: self._store.get(f) for f in missing}
        return t, wanted, read

    # -- refilling (main thread) ------------------------------------------
    def refresh(self, t=None):
        """Refill for step ``t`` (default: the current one) in a worker."""
        from napari.qt.threading import create_worker

        t = self.current_frame() if t is None else t
        if self._closed:
            return
        if self._worker is not None:
            self._wanted = t  # the newest step wins; older requests are dropped
            return
        self._worker = create_worker(self._read, t, _start_thread=False)
        self._worker.returned.connect(self._fill)
        self._worker.errored.connect(self._failed)
        self._worker.start()

    def wait(self, timeout=10.0):
        """Block until no refill is running (scripts and tests)."""
        from qtpy.QtCore import QCoreApplication, QElapsedTimer

        clock = QElapsedTimer()
        clock.start()
        while self._worker is not None or (self.shown_step != self.current_frame()):
            QCoreApplication.processEvents()
            if clock.elapsed() > timeout * 1000:
                raise TimeoutError("the store window did not refill in time")

    def _on_step(self, event=None):
        self.refresh()

    def _failed(self, exc):
        self._worker = None
        if self._closed:
            self._store.close()
            return
        from napari.utils.notifications import show_error

        show_error(f"Could not read {self.path}: {exc}")

    def _fill(self, result):
        t, wanted, read = result
        self._worker = None
        if self._closed:  # closed while reading: finish closing now
            self._store.close()
            return
        with self._lock:
            self._cache.update(read)
            for f in wanted:
                self._cache.move_to_end(int(f))
            while len(self._cache) > max(self.cache_frames, len(wanted)):
                self._cache.popitem(last=False)
        self._set_points(self.points_frames(t))
        if self.tracks is not None:
            self._set_tracks(self.tracks_frames(t))
        self.shown_step, self.refills = t, self.refills + 1
        if self._wanted is not None:
            pending, self._wanted = self._wanted, None
            if pending != t:
                self.refresh(pending)

    def _table(self, frames):
        parts = [self._cache[int(f)] for f in frames if len(self._cache[int(f)])]
        return pd.concat(parts, ignore_index=True) if parts else None

    def _set_points(self, frames):
        table = self._table(frames)
        ends = _range_markers(self.frames, self.points.data.shape[1])
        if table is None:
            data, features = ends, _blank_rows(self.points.features.columns, len(ends))
        else:
            data, features = _layers.points_data(table)
            data = np.concatenate([ends, data])
            features = pd.concat([_blank_rows(features.columns, len(ends)), features],
                                 ignore_index=True)
        self.points.data = data
        self.points.features = features
        self.points.shown = np.arange(len(data)) >= len(ends)
        if table is not None and _layers.ID_COLUMN in table.columns:
            colors = _layers.point_colors(table)  # by particle, as the Link widget's
            if not isinstance(colors, str):
                self.points.border_color = np.concatenate([colors[:1].repeat(len(ends), 0),
                                                           colors])

    def _set_tracks(self, frames):
        table = self._table(frames)
        if table is None or _layers.ID_COLUMN not in table.columns:
            return  # keep the old tracks rather than an empty layer napari rejects
        data, features = _layers.tracks_data(table)
        color_by = self.tracks.color_by
        with warnings.catch_warnings():
            # between data and features napari falls back to track_id colours
            warnings.simplefilter("ignore", UserWarning)
            self.tracks.data = data
        self.tracks.features = features  # after data: setting data resets features
        self.tracks.color_by = color_by

    def close(self):
        """Stop following the slider and close the store (after a running read)."""
        self.viewer.dims.events.current_step.disconnect(self._on_step)
        self._closed = True
        if self._worker is None:
            self._store.close()


class TracksWindow:
    """Keep a Tracks layer filled with the in-memory tracks around the current step.

    napari's Tracks layer draws all its vertices at every step and hides
    those outside ``[t - tail_length, t + head_length]`` in its shader; with
    a whole movie's tracks that is most of a slider step's time. Here the
    layer holds only the vertices of frames ``[t - tail_length - margin,
    t + head_length + margin]``, refilled (on the GUI thread: the data are in
    memory, a refill is a selection) when the slider leaves that range.

    Parameters
    ----------
    viewer : napari.Viewer
    tracks : napari.layers.Tracks
        Its data are replaced by the window's at once.
    data : ndarray
        All the tracks, ``[particle, frame, (z), y, x]`` sorted by (particle, frame).
    features : DataFrame
        In ``data``'s row order.
    colors : ndarray, optional
        RGBA per row of ``data``: ``track_colors`` of the window.
    margin : int, optional
        Default :data:`TRACKS_WINDOW_MARGIN` (its value when the window is made).
    shown : (int, int), optional
        The frames the layer holds already (its data are then kept as they
        are); default: fill the layer now.

    Notes
    -----
    ``keep`` (see :meth:`set_keep`) leaves whole tracks out of the layer:
    hidden that way, a track draws no line, no graph edge and no id label,
    which an alpha of 0 in ``track_colors`` does not achieve. When no kept
    vertex is in the window, the layer holds one vertex of a left-out track
    (napari's Tracks layer cannot be empty), transparent.
    """

    def __init__(self, viewer, tracks, data, features, colors=None, *,
                 margin=None, shown=None):
        self.viewer, self.tracks = viewer, tracks
        self.data, self.features, self.colors = data, features, colors
        self.margin = TRACKS_WINDOW_MARGIN if margin is None else margin
        self.span = None  # frames [lo, hi] the layer holds
        self.keep = None  # bool per row of data: the rows the layer may show
        self.whole = False  # holds every frame: made only to leave tracks out
        self.refills = 0
        self._order = np.argsort(data[:, 1], kind="stable")  # rows by frame
        self._frames = data[self._order, 1]
        self._closed = False
        viewer.dims.events.current_step.connect(self._on_step)
        tracks.events.tail_length.connect(self._on_step)
        tracks.events.head_length.connect(self._on_step)
        self.span = shown
        if shown is None:
            self.refresh(force=True)

    def current_frame(self) -> int:
        """The frame under the time slider, in the layer's data coordinates."""
        world = self.viewer.dims.point[0]
        scale, translate = self.tracks.scale[0], self.tracks.translate[0]
        return int(round((world - translate) / scale))

    def needed(self, t):
        return t - int(self.tracks.tail_length), t + int(self.tracks.head_length)

    def _on_step(self, event=None):
        self.refresh()

    def refresh(self, force=False) -> bool:
        """Refill if the current step's tail or head leaves the window; True if it did."""
        if self._closed:
            return False
        t = self.current_frame()
        lo, hi = self.needed(t)
        if not force and self.span is not None and self.span[0] <= lo and hi <= self.span[1]:
            return False
        lo, hi = lo - self.margin, hi + self.margin
        a, b = np.searchsorted(self._frames, [lo, hi + 1])
        if b <= a:  # nothing here: keep the old tracks rather than an empty layer
            return False
        rows = np.sort(self._order[a:b])  # back in (particle, frame) order
        blank = False
        if self.keep is not None:
            kept = rows[self.keep[rows]]
            blank = not len(kept)
            rows = kept if len(kept) else rows[:1]
        color_by = self.tracks.color_by
        with warnings.catch_warnings():
            # between data and features napari falls back to track_id colours
            warnings.simplefilter("ignore", UserWarning)
            self.tracks.data = self.data[rows]
        self.tracks.features = self.features.iloc[rows].reset_index(drop=True)
        if color_by in self.tracks.features:
            self.tracks.color_by = color_by
        if self.colors is not None or blank:
            colors = (np.array(self.colors[rows], dtype=np.float32) if self.colors is not None
                      else np.array(self.tracks.track_colors, dtype=np.float32))
            if blank:
                colors[:, 3] = 0.0
            self.tracks.track_colors = colors
        self.span = (lo, hi)
        self.refills += 1
        return True

    def set_keep(self, keep) -> None:
        """Show only the rows of ``data`` where ``keep`` is true (None: all); refill now."""
        self.keep = None if keep is None else np.asarray(keep, dtype=bool)
        self.refresh(force=True)

    def close(self):
        """Stop following the slider (the layer keeps the tracks it holds)."""
        if self._closed:
            return
        self._closed = True
        self.viewer.dims.events.current_step.disconnect(self._on_step)
        self.tracks.events.tail_length.disconnect(self._on_step)
        self.tracks.events.head_length.disconnect(self._on_step)


def window_tracks(viewer, tracks, data, features, colors=None, shown=None, margin=None):
    """Make ``tracks`` show ``data`` windowed around the slider (:class:`TracksWindow`).

    Replaces a window the layer already had; the window closes when the
    layer leaves the viewer. Returns the window.
    """
    unwindow_tracks(tracks)
    window = TracksWindow(viewer, tracks, data, features, colors, shown=shown,
                          margin=margin)
    _TRACK_WINDOWS[id(tracks)] = window

    def on_removed(event):
        if event.value is tracks:
            viewer.layers.events.removed.disconnect(on_removed)
            if _TRACK_WINDOWS.get(id(tracks)) is window:
                del _TRACK_WINDOWS[id(tracks)]
            window.close()

    viewer.layers.events.removed.connect(on_removed)
    return window


def unwindow_tracks(tracks) -> None:
    """Stop the :class:`TracksWindow` feeding ``tracks``, if any."""
    window = _TRACK_WINDOWS.get(id(tracks))
    if window is not None and window.tracks is tracks:
        del _TRACK_WINDOWS[id(tracks)]
        window.close()


def tracks_window(tracks):
    """The :class:`TracksWindow` feeding the Tracks layer ``tracks``, or None."""
    window = _TRACK_WINDOWS.get(id(tracks))
    return window if window is not None and window.tracks is tracks else None


def all_tracks(tracks):
    """``(data, features)`` of every track of a Tracks layer, windowed or not."""
    window = tracks_window(tracks)
    if window is not None:
        return window.data, window.features
    return tracks.data, tracks.features


def keep_tracks(viewer, tracks, keep) -> None:
    """Show only the tracks ``keep(ids)`` is true for in ``tracks``; ``keep`` None: all.

    ``keep`` maps the ids of a whole column of track ids to booleans. A
    windowed layer (:class:`TracksWindow`) leaves the others out of its
    window; any other layer gets a window holding all its frames for the
    purpose, closed again (the layer holding every track) when ``keep`` is
    None. Hidden that way, a track draws no line and no id label.
    """
    window = tracks_window(tracks)
    if keep is None:
        if window is not None:
            window.set_keep(None)
            if window.whole:
                unwindow_tracks(tracks)
        return
    if window is None:
        data = np.array(tracks.data, copy=True)
        frames = data[:, 1]
        window = window_tracks(viewer, tracks, data, tracks.features.copy(),
                               shown=(frames.min(), frames.max()),
                               margin=int(frames.max() - frames.min()) + 1)
        window.whole = True
    window.set_keep(keep(window.data[:, 0]))


def tracks_layer_data(t_data, t_features, tracks_kw):
    """LayerData of a store's Tracks layer, windowed once added when it is big.

    A Tracks layer of more than :data:`TRACKS_WINDOW_VERTICES` vertices
    opened while a viewer is open holds the first frames only; as soon as
    the viewer adds it, a :class:`TracksWindow` with all the tracks takes
    over (and fills it for the current step). Without a viewer (scripts,
    the console's ``layers_from_store``) the layer holds every track.
    """
    kwargs = {**tracks_kw, "features": t_features}
    if len(t_data) <= TRACKS_WINDOW_VERTICES:
        return t_data, kwargs, "tracks"
    try:
        import napari

        viewer = napari.current_viewer()
    except Exception:  # noqa: BLE001 - no Qt / no viewer: all the tracks
        viewer = None
    if viewer is None:
        return t_data, kwargs, "tracks"
    token = uuid.uuid4().hex
    frames = t_data[:, 1]
    first = (frames <= frames.min() + TRACKS_WINDOW_MARGIN)
    kwargs["features"] = t_features[first].reset_index(drop=True)
    metadata = kwargs.get("metadata") or {}
    kwargs["metadata"] = {**metadata, "streamtrack": {**metadata.get("streamtrack", {}),
                                                      "tracks_window_token": token}}

    def on_inserted(event):
        layer = event.value
        if layer.metadata.get("streamtrack", {}).get("tracks_window_token") != token:
            return
        viewer.layers.events.inserted.disconnect(on_inserted)
        window_tracks(viewer, layer, t_data, t_features)

    viewer.layers.events.inserted.connect(on_inserted)
    return t_data[first], kwargs, "tracks"


def _blank_rows(columns, n):
    # float NaN, not object: napari's colour mapping runs isnan on features
    return pd.DataFrame({c: np.full(n, np.nan) for c in columns})


def _range_markers(frames, width):
    """Two hidden points at the first and last frame: they keep the slider's range."""
    ends = np.zeros((2, width))
    ends[:, 0] = [frames[0], frames[-1]] if len(frames) else [0, 0]
    return ends


def windowed_layers(store, path, name, meta):
    """LayerData for a big store: the first frames now, the rest as the slider moves.

    When a viewer is open, a :class:`StoreWindow` attaches to the layers as
    soon as they are added (the reader cannot see the viewer itself).
    """
    token = uuid.uuid4().hex
    frames = sorted(store.frames)
    first = store.get(frames[0]) if frames else pd.DataFrame(columns=["frame", "y", "x"])
    pos = _layers.position_columns(first.columns)
    metadata = {"streamtrack": {"store": path, "store_class": type(store).__name__,
                                "windowed": True, "window_token": token, **meta}}
    points_kw, tracks_kw = _layers.store_layer_kwargs(name, meta, metadata)
    data, features = _layers.points_data(first) if len(first) else (
        np.empty((0, 1 + len(pos))), None)
    ends = _range_markers(np.asarray(frames), 1 + len(pos))
    points_kw["features"] = None if features is None else pd.concat(
        [_blank_rows(features.columns, 2), features], ignore_index=True)
    points_kw["shown"] = np.arange(len(data) + 2) >= 2
    layers = [(np.concatenate([ends, data]), points_kw, "points")]
    if _layers.ID_COLUMN in first.columns and len(first):
        t_data, t_features = _layers.tracks_data(first)
        layers.append((t_data, {**tracks_kw, "features": t_features}, "tracks"))
    _attach_when_added(token, path, len(layers))
    return layers


def _attach_when_added(token, path, n_layers):
    try:
        import napari
        from napari.layers import Tracks

        viewer = napari.current_viewer()
    except Exception:  # noqa: BLE001 - no Qt / no viewer: static layers are fine
        viewer = None
    if viewer is None:
        return
    found = {}

    def on_inserted(event):
        layer = event.value
        if layer.metadata.get("streamtrack", {}).get("window_token") != token:
            return
        found["tracks" if isinstance(layer, Tracks) else "points"] = layer
        if len(found) == n_layers:
            viewer.layers.events.inserted.disconnect(on_inserted)
            points = found["points"]
            _WINDOWS[id(points)] = StoreWindow(viewer, path, points, found.get("tracks"))
            viewer.layers.events.removed.connect(on_removed)

    def on_removed(event):
        window = _WINDOWS.get(id(event.value))
        if window is not None and window.points is event.value:
            del _WINDOWS[id(event.value)]
            window.close()
            viewer.layers.events.removed.disconnect(on_removed)

    viewer.layers.events.inserted.connect(on_inserted)


def attached_window(layer):
    """The :class:`StoreWindow` feeding the Points ``layer``, or None."""
    window = _WINDOWS.get(id(layer))
    return window if window is not None and window.points is layer else None


def release(path) -> int:
    """Close every window reading the store at ``path``; return how many.

    A window holds its store open read-only, and HDF5 will not let this
    process open the same file for writing meanwhile: the widgets call this
    before they write into a store a window shows. The layers keep the frames
    they hold and stop following the slider.
    """
    import os

    target = os.path.abspath(os.fspath(path))
    closed = 0
    for key, window in list(_WINDOWS.items()):
        if os.path.abspath(window.path) == target:
            del _WINDOWS[key]
            window.close()
            closed += 1
    return closed

"""npe2 reader: framewise HDF5 stores (trackpy's three layouts) as Points and Tracks.

napari offers ``*.h5`` files to every reader that claims the pattern (its own
imageio reader, btrack, ...), so :func:`get_reader` looks inside first and
answers None -- never raises -- for anything that is not a framewise store.

A store becomes a Points layer (``frame, (z), y, x`` + features) and, when it
is linked, a Tracks layer (``particle, frame, (z), y, x``), named and coloured
as the widgets show them (``'<movie> features'``, ``'<movie> tracks'``: see
:func:`._layers.store_base_name`; linked points and tracks in the fixed colour
of their particle, :mod:`._colors`). A store too big to
hold as layers (:func:`._layers.too_big_for_layers`) opens windowed: the
layers hold only the frames around the current step and are refilled from
the store as the slider moves (:mod:`._window`).

Imports go one way: ``_reader -> _window -> _layers``.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from . import _layers, _window

SUFFIXES = (".h5", ".hdf5", ".hdf")
# frames sampled to estimate a store's size without reading it all
_SAMPLE_FRAMES = 64


def get_reader(path):
    """Return :func:`read_store` if ``path`` is one framewise store, else None.

    Cheap and never raises: it checks the suffix, then the root nodes
    (``Frame_<n>``, ``_Frames_Cache`` or a ``FrameData`` table).
    """
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    try:
        path = os.fspath(path)
        if not path.lower().endswith(SUFFIXES) or not os.path.isfile(path):
            return None
        from streamtrack.stores.detect import store_layout

        return read_store if store_layout(path) is not None else None
    except Exception:  # noqa: BLE001 - napari's contract: a reader that cannot read says None
        return None


def estimate_features(store) -> int:
    """About how many features ``store`` holds, reading at most a few frames."""
    frames = list(store.frames)
    if not frames:
        return 0
    if len(frames) <= _SAMPLE_FRAMES:
        return sum(len(store.get(t)) for t in frames)
    picks = np.linspace(0, len(frames) - 1, _SAMPLE_FRAMES).astype(int)
    mean = np.mean([len(store.get(frames[i])) for i in picks])
    return int(round(mean * len(frames)))


def read_store(path, *, window_features: int | None = None) -> list:
    """Layers of a framewise store: Points, plus Tracks when it is linked.

    Parameters
    ----------
    path : str
        A file :func:`get_reader` accepted.
    window_features : int, optional
        Open windowed above this many features. Default
        :data:`._layers.WINDOW_FEATURES`.

    Returns
    -------
    list of LayerData
        ``(data, kwargs, 'points')`` and maybe ``(data, kwargs, 'tracks')``.
    """
    from streamtrack.stores.detect import open_store

    if isinstance(path, (list, tuple)):
        path = path[0]
    path = os.fspath(path)
    with open_store(path, mode="r") as store:
        meta = store.metadata
        # the names the widgets gave: '<image> features', '<image> tracks'
        name = _layers.store_base_name(path, meta)
        store_class = type(store).__name__
        if _layers.too_big_for_layers(estimate_features(store), window_features):
            return _window.windowed_layers(store, path, name, meta)
        frames = [store.get(t) for t in store.frames]
    table = pd.concat(frames, ignore_index=True) if frames else None
    metadata = {"streamtrack": {"store": path, "store_class": store_class, **meta}}
    points_kw, tracks_kw = _layers.store_layer_kwargs(name, meta, metadata)
    if table is None or table.empty:
        return [(np.empty((0, 3)), points_kw, "points")]
    data, features = _layers.points_data(table)
    # linked: a colour per particle, the Link widget's (the palette of _colors)
    layers = [(data, {**points_kw, "features": features,
                      "border_color": _layers.point_colors(features)}, "points")]
    if _layers.ID_COLUMN in table.columns and table[_layers.ID_COLUMN].notna().all():
        t_data, t_features = _layers.tracks_data(table)
        # a big one follows the slider (napari draws every vertex it holds at each step)
        layers.append(_window.tracks_layer_data(t_data, t_features, tracks_kw))
    return layers

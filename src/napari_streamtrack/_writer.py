"""npe2 writers: Points and Tracks layers to a framewise HDF5 store.

Files are written in trackpy's ``Frame_<n>`` layout (:class:`PandasHDFStore`),
which trackpy, streamtrack and this plugin's reader all open. A Tracks
layer's id becomes ``particle``. Points and Tracks saved together are joined
on frame and position, so the store holds each feature once, linked.

The file is written under a temporary name beside the target and moved into
place when complete: a failed save never leaves a half-written store, and
never damages the file it was meant to replace.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import _layers

# layer geometry kept in the store, so the reader puts layers back in place
_GEOMETRY = ("scale", "translate", "axis_labels", "units")


def _geometry(meta: dict) -> dict:
    out = {}
    for key in _GEOMETRY:
        value = meta.get(key)
        if value is not None:
            out[key] = [v if isinstance(v, str) else
                        (str(v) if not isinstance(v, (int, float, np.number)) else float(v))
                        for v in value]
    return out


def _no_splits_or_merges(meta: dict) -> None:
    graph = meta.get("graph") or {}
    if any(len(parents) for parents in graph.values()):
        raise ValueError("this Tracks layer has splits or merges (a non-empty graph); a "
                         "framewise store holds one particle id per feature and cannot "
                         "represent them. Remove the graph or save the tracks another way.")


def _write_store(path: str, table, meta: dict, layer_names: list[str]) -> list[str]:
    from streamtrack import PandasHDFStore, __version__

    target = Path(path)
    if target.suffix.lower() not in (".h5", ".hdf5", ".hdf"):
        target = target.with_suffix(".h5")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with PandasHDFStore(tmp, mode="w") as store:
            for frame in _layers.split_frames(table):
                store.put(frame)
            store.save_metadata("napari", {"layers": layer_names, "version": __version__,
                                           **_geometry(meta)})
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return [str(target)]


def write_points(path: str, data, meta: dict) -> list[str]:
    """Save a Points layer ``[frame, (z), y, x]`` and its features to ``path``.

    Raises
    ------
    ValueError
        The points have no time axis or non-integer frames.
    """
    table = _layers.features_from_points(data, meta.get("features"))
    return _write_store(path, table, meta, [meta.get("name", "points")])


def write_tracks(path: str, data, meta: dict) -> list[str]:
    """Save a Tracks layer ``[id, frame, (z), y, x]`` to ``path``, id as ``particle``.

    Raises
    ------
    ValueError
        The layer's graph has splits or merges.
    """
    _no_splits_or_merges(meta)
    table = _layers.features_from_tracks(data, meta.get("features"))
    return _write_store(path, table, meta, [meta.get("name", "tracks")])


def write_points_tracks(path: str, layer_data: list) -> list[str]:
    """Save a Points and a Tracks layer of the same features as one linked store.

    Each point gets the id of the track vertex at its frame and position; the
    point features are kept (the tracks' features add nothing new).

    Raises
    ------
    ValueError
        Not exactly one Points and one Tracks layer, layers that do not
        describe the same features, or a Tracks graph with splits or merges.
    """
    by_type: dict[str, tuple] = {}
    for data, meta, layer_type in layer_data:
        if layer_type in by_type:
            raise ValueError(f"select one {layer_type} layer, not several.")
        by_type[layer_type] = (data, meta)
    if set(by_type) == {"points"}:
        return write_points(path, *by_type["points"])
    if set(by_type) == {"tracks"}:
        return write_tracks(path, *by_type["tracks"])
    if set(by_type) != {"points", "tracks"}:
        raise ValueError(f"a framewise store holds Points and/or Tracks, not {sorted(by_type)}.")
    (p_data, p_meta), (t_data, t_meta) = by_type["points"], by_type["tracks"]
    _no_splits_or_merges(t_meta)
    points = _layers.features_from_points(p_data, p_meta.get("features"))
    tracks = _layers.features_from_tracks(t_data, t_meta.get("features"))
    joined = _layers.join_points_tracks(points, tracks)
    names = [p_meta.get("name", "points"), t_meta.get("name", "tracks")]
    return _write_store(path, joined, p_meta, names)

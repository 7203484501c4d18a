"""npe2 writers: Points and Tracks layers to GEFF (``.geff``) and to CSV with trackpy's columns.

The layers become the feature table trackpy and streamtrack use (``y, x,
(z), <features>, frame, particle``: :func:`._layers.features_from_points`,
:func:`._layers.features_from_tracks`; a Tracks layer's id is ``particle``,
frames and ids are integers), which the core exports write:
:func:`streamtrack.exchange.to_geff` and :func:`streamtrack.exchange.to_csv`.
Points and Tracks saved together are joined on frame and position
(:func:`._layers.join_points_tracks`): one row per point, with the point's
features and the id of its track.

Units: the layer's units record (``metadata['streamtrack']['units']``, what
the reader copies from a store), else its ``scale`` and ``units`` (the first
axis time, the others space; a physical unit is converted to µm / s, a
scale other than 1 without one is read as µm / s), recorded as the core
records them (``table.attrs['units'] = {'mpp': ..., 'fps': ...}``): the GEFF
axes' ``scale`` and ``scaled_unit``, the CSV's first comment line.

A Tracks layer's ``graph`` (splits and merges) is written to a GEFF as one
more edge per parent -> child (the parent's last vertex to the child's
first); a CSV of trackpy columns cannot hold it, so the CSV writers refuse
it. Bad input raises a one-line ValueError before anything is written; an
existing file is replaced only once the new one is complete (the core
writes under a temporary name).
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from . import _layers
from ._units import units_from_scale

GEFF_SUFFIXES = (".geff", ".zarr")
CSV_SUFFIXES = (".csv",)
PARTICLE, FRAME = _layers.ID_COLUMN, _layers.T_COLUMN


# ------------------------------------------------------------------ units
def layer_units(meta: dict) -> dict:
    """``{'mpp': ..., 'fps': ...}`` a layer's metadata tells (values None when unknown).

    The units record the layer holds (``metadata['streamtrack']['units']``)
    first, else the layer's ``scale`` and ``units``: axis 0 is time (seconds
    per frame -> ``fps``), the others space (µm per pixel -> ``mpp``; left out,
    with a warning, when the spatial axes have different pixel sizes).

    Examples
    --------
    >>> layer_units({'scale': [0.5, 0.2, 0.2]})
    {'mpp': 0.2, 'fps': 2.0}
    >>> layer_units({'metadata': {'streamtrack': {'units': {'mpp': 0.35, 'fps': None}}}})
    {'mpp': 0.35, 'fps': None}
    """
    record = ((meta.get("metadata") or {}).get("streamtrack") or {}).get("units") or {}
    found = {key: record.get(key) for key in ("mpp", "fps")}
    if meta.get("scale") is not None and len(meta["scale"]) >= 3 \
            and None in found.values():
        from_scale = units_from_scale(meta["scale"], meta.get("units"))
        for key, value in found.items():
            if value is None:
                found[key] = from_scale.get(key)
    return found


def _with_units(table: pd.DataFrame, *metas: dict) -> pd.DataFrame:
    units = {"mpp": None, "fps": None}
    for meta in metas:
        for key, value in layer_units(meta).items():
            if units[key] is None and value is not None:
                units[key] = float(value)
    if any(v is not None for v in units.values()):
        table.attrs["units"] = units
    return table


# ------------------------------------------------------------------ tables
def _integer_ids(table: pd.DataFrame) -> pd.DataFrame:
    """A Points layer's ``particle`` feature as int64 when every point has one."""
    if PARTICLE in table.columns and table[PARTICLE].dtype.kind != "i":
        ids = pd.to_numeric(table[PARTICLE], errors="coerce").to_numpy(dtype=float)
        if np.all(np.isfinite(ids) & (ids == np.round(ids))):
            table[PARTICLE] = ids.astype(np.int64)
    return table


def _by_type(layer_data: list, what: str) -> dict:
    by_type: dict[str, tuple] = {}
    for data, meta, layer_type in layer_data:
        if layer_type in by_type:
            raise ValueError(f"select one {layer_type} layer, not several, to save as {what}.")
        by_type[layer_type] = (data, meta)
    if not set(by_type) <= {"points", "tracks"} or not by_type:
        raise ValueError(f"{what} holds a Points and/or a Tracks layer, not {sorted(by_type)}; "
                         "select only those.")
    return by_type


def _table(layer_data: list, what: str) -> tuple[pd.DataFrame, dict | None]:
    """The feature table of one Points and/or one Tracks layer, and the Tracks meta."""
    by_type = _by_type(layer_data, what)
    points = tracks = None
    if "points" in by_type:
        data, meta = by_type["points"]
        points = _integer_ids(_layers.features_from_points(data, meta.get("features")))
    if "tracks" in by_type:
        data, meta = by_type["tracks"]
        tracks = _layers.features_from_tracks(data, meta.get("features"))
    if points is not None and tracks is not None:
        table = _layers.join_points_tracks(points, tracks)
    else:
        table = points if points is not None else tracks
    if not len(table):
        raise ValueError(f"the layer has no {'points' if tracks is None else 'vertices'}: "
                         "nothing to save; add some first.")
    table = table.sort_values(FRAME, kind="stable").reset_index(drop=True)
    metas = [by_type[k][1] for k in ("points", "tracks") if k in by_type]
    return _with_units(table, *metas), by_type.get("tracks", (None, None))[1]


def _target(path: str, suffixes: tuple[str, ...]) -> str:
    path = os.fspath(path).rstrip("/\\")
    return path if path.lower().endswith(suffixes) else path + suffixes[0]


# ------------------------------------------------------------------ GEFF
def _graph_edges(table: pd.DataFrame, graph: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """Node-id pairs ``(parent's last vertex, child's first)`` and their frame gaps.

    Node ids are the rows' positions in frame order (the rule of
    :func:`streamtrack.exchange.to_geff`); ``table`` is in frame order.
    """
    pairs = sorted({(int(p), int(c)) for c, parents in (graph or {}).items()
                    for p in parents})
    if not pairs:
        return np.zeros((0, 2), np.int64), np.zeros(0, np.int64)
    ids = table[PARTICLE].to_numpy()
    rows = np.arange(len(table))
    first = pd.Series(rows).groupby(ids).first()   # frame order: first row = first vertex
    last = pd.Series(rows).groupby(ids).last()
    frames = table[FRAME].to_numpy()
    children = pd.Series([c for _, c in pairs]).value_counts()
    parents = pd.Series([p for p, _ in pairs]).value_counts()
    edges, gaps = [], []
    for parent, child in pairs:
        if parent not in first.index or child not in first.index:
            raise ValueError(f"the Tracks graph links track {parent} to {child}, but "
                             f"track {parent if parent not in first.index else child} has "
                             "no vertices; fix the layer's graph.")
        if parent == child:
            raise ValueError(f"the Tracks graph links track {child} to itself; fix the "
                             "layer's graph.")
        if children[child] == 1 and parents[parent] == 1:
            raise ValueError(f"the Tracks graph continues track {parent} as track {child} "
                             "(no split or merge): GEFF tracklets are whole paths; give "
                             "them one id, or remove the link from the graph.")
        src, dst = int(last[parent]), int(first[child])
        gap = int(frames[dst] - frames[src])
        if gap < 1:
            raise ValueError(f"the Tracks graph links track {parent} (ending at frame "
                             f"{frames[src]}) to track {child} starting at frame "
                             f"{frames[dst]}, not later; fix the layer's graph.")
        edges.append((src, dst))
        gaps.append(gap)
    return np.asarray(edges, np.int64), np.asarray(gaps, np.int64)


def _append_edges(folder: str, edges: np.ndarray, gaps: np.ndarray, table: pd.DataFrame):
    """Add the graph's edges to the GEFF at ``folder`` (every edge property extended)."""
    import zarr

    from streamtrack.exchange._geff import GAP

    root = zarr.open_group(folder, mode="r+")
    nodes = np.asarray(root["nodes/ids"][:])
    particle = np.asarray(root[f"nodes/props/{PARTICLE}/values"][:])
    # the node-id rule the edges rely on: id = position in frame order
    if not (np.array_equal(nodes, np.arange(len(table)))
            and np.array_equal(particle, table[PARTICLE].to_numpy())):
        raise RuntimeError("to_geff no longer numbers nodes by their position in frame "
                           "order; the Tracks graph cannot be added")

    def extend(array, values):
        n = array.shape[0]
        array.resize((n + len(values),) + array.shape[1:])
        array[n:] = values

    extend(root["edges/ids"], edges.astype(root["edges/ids"].dtype))
    props = root["edges/props"] if "edges/props" in root else None
    for name in list(props.group_keys()) if props is not None else []:
        prop = props[name]
        values = prop["values"]
        if name == GAP:
            extend(values, gaps.astype(values.dtype))
            continue
        extend(values, np.zeros((len(edges),) + values.shape[1:], values.dtype))
        if "missing" not in prop:
            old = values.shape[0] - len(edges)
            missing = prop.create_array("missing", shape=(old,), dtype=bool) \
                if hasattr(prop, "create_array") else \
                prop.create_dataset("missing", shape=(old,), dtype=bool)
            missing[:] = False
        extend(prop["missing"], np.ones(len(edges), bool))


def _write_geff(path: str, layer_data: list) -> list[str]:
    from streamtrack.exchange import to_geff
    from streamtrack.exchange._source import check_output, finish, partial_path, remove

    table, tracks_meta = _table(layer_data, "a GEFF")
    if "t" in table.columns:
        raise ValueError("the layer has a feature 't', the name GEFF's time axis takes; "
                         "rename the feature.")
    edges, gaps = _graph_edges(table, (tracks_meta or {}).get("graph"))
    target = check_output(_target(path, GEFF_SUFFIXES), True, "", directory=True)
    if not len(edges):
        to_geff(table, target, overwrite=True)
        return [target]
    import geff

    partial = partial_path(target) + ".graph"
    try:
        to_geff(table, partial, overwrite=True)
        _append_edges(partial, edges, gaps, table)
        geff.validate_structure(partial)
        finish(partial, target)
    finally:
        remove(partial)
    return [target]


def write_geff_points(path: str, data, meta: dict) -> list[str]:
    """Save a Points layer ``[frame, (z), y, x]`` and its features as a GEFF.

    A ``particle`` feature links the points into trajectories; without one
    the GEFF has nodes and no edges.

    Raises
    ------
    ValueError
        The points have no time axis, non-integer frames, or none at all.
    """
    return _write_geff(path, [(data, meta, "points")])


def write_geff_tracks(path: str, data, meta: dict) -> list[str]:
    """Save a Tracks layer ``[id, frame, (z), y, x]`` as a GEFF, the id as ``particle``.

    The layer's graph (splits and merges) becomes edges from each parent's
    last vertex to its child's first.

    Raises
    ------
    ValueError
        Non-integer ids or frames, or a graph that names missing tracks, goes
        back in time or continues one track as another.
    """
    return _write_geff(path, [(data, meta, "tracks")])


def write_geff_points_tracks(path: str, layer_data: list) -> list[str]:
    """Save a Points and a Tracks layer of the same features as one GEFF.

    One node per point with the point's features, the id of the track vertex
    at its frame and position as ``particle``; the Tracks graph as edges.

    Raises
    ------
    ValueError
        Not one Points and one Tracks layer, layers that do not describe the
        same features, or a graph the Tracks writer refuses.
    """
    return _write_geff(path, layer_data)


# ------------------------------------------------------------------ CSV
def _write_csv(path: str, layer_data: list) -> list[str]:
    from streamtrack.exchange import to_csv

    table, tracks_meta = _table(layer_data, "a CSV")
    graph = (tracks_meta or {}).get("graph") or {}
    if any(len(parents) for parents in graph.values()):
        raise ValueError("this Tracks layer has splits or merges (a non-empty graph), which "
                         "a CSV of trackpy columns cannot hold; save it as .geff to keep "
                         "them, or remove the graph.")
    target = _target(path, CSV_SUFFIXES)
    to_csv(table, target, overwrite=True)
    return [target]


def write_csv_points(path: str, data, meta: dict) -> list[str]:
    """Save a Points layer as CSV with trackpy's columns (``y, x, mass, ..., frame``).

    ``particle`` only when the layer has that feature (integers when every
    point has one).
    """
    return _write_csv(path, [(data, meta, "points")])


def write_csv_tracks(path: str, data, meta: dict) -> list[str]:
    """Save a Tracks layer as CSV with trackpy's columns, the id as ``particle``.

    Raises
    ------
    ValueError
        The layer's graph has splits or merges (save as ``.geff``).
    """
    return _write_csv(path, [(data, meta, "tracks")])


def write_csv_points_tracks(path: str, layer_data: list) -> list[str]:
    """Save a Points and a Tracks layer of the same features as one linked CSV."""
    return _write_csv(path, layer_data)

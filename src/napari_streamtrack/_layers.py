"""Feature tables <-> napari Points / Tracks layer data, in one place.

A framewise feature table has a frame column (``frame``), positions (``y x``
or ``z y x``) and feature columns (``mass size ...``, ``particle`` once
linked). napari wants:

- Points: ``data`` rows ``[frame, (z), y, x]`` and the other columns as
  ``features``;
- Tracks: ``data`` rows ``[particle, frame, (z), y, x]`` sorted by
  (particle, frame) -- the order the layer keeps -- with the features in the
  same order.

Both keep absolute frame numbers, so layers line up with the image's time
axis however the frames were selected.

Also here, for every store shown as layers (the reader's, the windowed
ones of :mod:`._window`): the layers' keyword arguments and geometry from a
store's metadata, and the one rule for a store too big to hold as layers
(:func:`too_big_for_layers`).

No Qt and no napari imports here (the Tracks layers' palette colormap is
made by :mod:`._colors` when asked for): the reader, the window, the writers
and the widgets share these functions, and tests call them directly.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from . import _colors

T_COLUMN = "frame"
ID_COLUMN = "particle"
# napari adds this column to a Tracks layer's features; it is not ours to store
_TRACKS_OWN = ("track_id",)
# above this many features a store is shown windowed (about 100 MB of layer data)
WINDOW_FEATURES = 2_000_000
# the point size when a store does not say its locate diameter
DEFAULT_DIAMETER = 11.0
# the border of points without a particle id (linked ones: _colors.particle_colors)
UNLINKED_COLOR = "yellow"
# a "locate" record's source ending so names a movie file, not a layer
MOVIE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".avi", ".mp4",
                  ".mov", ".npy", ".nd2", ".czi", ".lif", ".cine", ".zarr", ".h5", ".hdf5")


def point_colors(features) -> np.ndarray | str:
    """Points' border colours: by particle (the palette) when every point has an id."""
    ids = None if features is None or ID_COLUMN not in features else features[ID_COLUMN]
    if ids is None or not len(ids) or not np.all(np.isfinite(ids.to_numpy(dtype=float))):
        return UNLINKED_COLOR
    return _colors.particle_colors(ids)


def too_big_for_layers(n_features: int, limit: int | None = None) -> bool:
    """Whether ``n_features`` features are too many to hold as layers.

    Such a store is shown windowed (:mod:`._window`): the reader opens it
    so, and the widgets stop collecting a run's features once it is.

    Parameters
    ----------
    n_features : int
        Features a store holds (or a run has produced so far).
    limit : int, optional
        The most features held as layers. Default :data:`WINDOW_FEATURES`.
    """
    return n_features > (WINDOW_FEATURES if limit is None else limit)


def store_geometry(meta: dict) -> dict:
    """Scale, translate, axis labels and units a store's metadata saved, if any.

    The writer saves them under ``'napari'``, so layers read back sit where
    they were.
    """
    saved = meta.get("napari", {})
    return {key: tuple(saved[key]) for key in ("scale", "translate", "axis_labels", "units")
            if saved.get(key)}


def store_diameter(meta: dict) -> float:
    """The locate diameter a store's metadata records (the largest of several), or 11.

    The "locate" record of ``streamtrack.workflow`` (command line, widgets,
    console), else the options ``streamtrack.batch`` records by itself.
    """
    record = meta.get("locate") or meta.get("locate_options") or {}
    diameter = record.get("diameter", DEFAULT_DIAMETER)
    return float(np.max(diameter)) if diameter is not None else DEFAULT_DIAMETER


def store_base_name(path, meta: dict) -> str:
    """What a store's layers are named after: ``'<name> features'``, ``'<name> tracks'``.

    The movie the store's "locate" record names (the Image layer's name when
    the Locate widget or the console made it), so a store opened again shows
    the layer names of the session that made it; the store's file name when
    the record names none, or names files (the command line's ``source``).
    """
    source = (meta.get("locate") or {}).get("source")
    if isinstance(source, str) and source.strip() and not any(
            sep in source for sep in ("/", "\\", "*", "?")) and os.path.splitext(
            source)[1].lower() not in MOVIE_SUFFIXES:
        return source
    return os.path.splitext(os.path.basename(os.fspath(path)))[0]


def store_layer_kwargs(name: str, meta: dict, layer_metadata: dict) -> tuple[dict, dict]:
    """``add_points`` and ``add_tracks`` keyword arguments for the layers of a store.

    The Tracks layer is coloured by particle with the palette of
    :mod:`._colors` (what the Link widget shows), and says so in its colour
    controls.

    Parameters
    ----------
    name : str
        What the layers are named after (:func:`store_base_name`): the Points
        layer is ``'<name> features'``, the Tracks layer ``'<name> tracks'``.
    meta : dict
        The store's metadata (geometry, locate diameter).
    layer_metadata : dict
        What both layers hold as ``metadata``.

    Returns
    -------
    points, tracks : dict
        Without ``data`` and ``features``.
    """
    geometry = store_geometry(meta)
    points = dict(name=f"{name} features", metadata=layer_metadata,
                  size=store_diameter(meta), face_color="transparent",
                  border_color=UNLINKED_COLOR, border_width=0.1, **geometry)
    tracks = dict(name=f"{name} tracks", metadata=layer_metadata, tail_length=30,
                  **_colors.tracks_color_kwargs(), **geometry)
    return points, tracks


def position_columns(columns) -> list[str]:
    """``['z', 'y', 'x']`` or ``['y', 'x']``: the positions a table holds.

    Raises
    ------
    ValueError
        The table has no ``y`` and ``x`` columns.
    """
    columns = list(columns)
    if "y" not in columns or "x" not in columns:
        raise ValueError(f"a feature table needs 'y' and 'x' columns; it has {columns}.")
    return ["z", "y", "x"] if "z" in columns else ["y", "x"]


def _require_frame(df: pd.DataFrame, t_column: str) -> None:
    if t_column not in df.columns:
        raise ValueError(f"a feature table needs a {t_column!r} column (frame numbers); "
                         f"it has {list(df.columns)}.")


def points_data(df: pd.DataFrame, *, t_column: str = T_COLUMN):
    """Points layer ``(data, features)`` from a feature table.

    Parameters
    ----------
    df : DataFrame
        Features with a frame column and ``y x`` (or ``z y x``).
    t_column : str, optional
        Name of the frame column. Default ``'frame'``.

    Returns
    -------
    data : ndarray, shape (N, 3) or (N, 4)
        ``[frame, (z), y, x]`` as float.
    features : DataFrame
        Every other column, in the same row order, with a fresh index.

    Raises
    ------
    ValueError
        No frame column, or no ``y``/``x`` columns.

    Examples
    --------
    >>> df = pd.DataFrame({'y': [1.0], 'x': [2.0], 'mass': [9.0], 'frame': [4]})
    >>> data, features = points_data(df)
    >>> data.tolist(), list(features.columns)
    ([[4.0, 1.0, 2.0]], ['mass'])
    """
    _require_frame(df, t_column)
    pos = position_columns(df.columns)
    data = df[[t_column, *pos]].to_numpy(dtype=float)
    features = df.drop(columns=[t_column, *pos]).reset_index(drop=True)
    return data, features


def tracks_data(df: pd.DataFrame, *, t_column: str = T_COLUMN):
    """Tracks layer ``(data, features)`` from a linked feature table.

    Rows come out sorted by (particle, frame), the order a Tracks layer keeps,
    so ``features`` line up with ``layer.data`` after it is set.

    Returns
    -------
    data : ndarray, shape (N, 4) or (N, 5)
        ``[particle, frame, (z), y, x]``.
    features : DataFrame
        Every other column, ``particle`` included (the default colouring).

    Raises
    ------
    ValueError
        No ``particle`` column (link first), no frame or position columns, or
        unlinked rows (particle -1 or NaN).
    """
    _require_frame(df, t_column)
    if ID_COLUMN not in df.columns:
        raise ValueError("the features are not linked: there is no 'particle' column. "
                         "Link them first (Link trajectories widget or streamtrack link).")
    ids = df[ID_COLUMN].to_numpy()
    if not np.all(np.isfinite(ids)) or (len(ids) and ids.min() < 0):
        raise ValueError("some features have no particle id (NaN or negative): link the "
                         "whole store before making tracks.")
    pos = position_columns(df.columns)
    order = np.lexsort((df[t_column].to_numpy(), ids))
    ordered = df.iloc[order]
    data = ordered[[ID_COLUMN, t_column, *pos]].to_numpy(dtype=float)
    features = ordered.drop(columns=[t_column, *pos]).reset_index(drop=True)
    return data, features


def _integer_valued(values: np.ndarray, what: str, fix: str) -> np.ndarray:
    if len(values) and not np.all(np.isfinite(values) & (values == np.round(values))):
        raise ValueError(f"{what} must be whole numbers; {fix}")
    return values.astype(np.int64)


def _layer_table(coords: np.ndarray, features: pd.DataFrame | None, names: list[str],
                 drop=()) -> pd.DataFrame:
    table = pd.DataFrame(coords, columns=names)
    if features is not None and len(features.columns):
        if len(features) != len(table):
            raise ValueError(f"the layer has {len(table)} rows but {len(features)} "
                             "feature rows.")
        extra = features.drop(columns=[c for c in features.columns
                                       if c in names or c in drop])
        table = pd.concat([table, extra.reset_index(drop=True)], axis=1)
    return table


def features_from_points(data, features=None, *, t_column: str = T_COLUMN) -> pd.DataFrame:
    """A feature table from Points layer data ``[frame, (z), y, x]`` and features.

    Raises
    ------
    ValueError
        Data that is not 3 or 4 columns wide (a time axis is needed), or
        frame values that are not whole numbers >= 0.
    """
    data = np.asarray(data, dtype=float)
    if data.ndim != 2 or data.shape[1] not in (3, 4):
        raise ValueError("Points must be [frame, y, x] or [frame, z, y, x] to become a "
                         f"framewise store; this layer has {data.shape[-1]}-D points. "
                         "Add a time axis first.")
    names = [t_column, *(["z"] if data.shape[1] == 4 else []), "y", "x"]
    table = _layer_table(data, features, names)
    frames = _integer_valued(table[t_column].to_numpy(), "Point frame coordinates",
                             "the first axis of the layer must be the frame number.")
    if len(frames) and frames.min() < 0:
        raise ValueError("Point frame coordinates must be >= 0.")
    table[t_column] = frames
    return _trackpy_order(table, names[1:], t_column)


def features_from_tracks(data, features=None, *, t_column: str = T_COLUMN) -> pd.DataFrame:
    """A linked feature table from Tracks data ``[id, frame, (z), y, x]``.

    The track id becomes ``particle``; napari's own ``track_id`` feature is
    dropped.
    """
    data = np.asarray(data, dtype=float)
    if data.ndim != 2 or data.shape[1] not in (4, 5):
        raise ValueError("Tracks must be [track_id, frame, y, x] or "
                         f"[track_id, frame, z, y, x]; got shape {data.shape}.")
    names = [ID_COLUMN, t_column, *(["z"] if data.shape[1] == 5 else []), "y", "x"]
    table = _layer_table(data, features, names, drop=_TRACKS_OWN)
    table[ID_COLUMN] = _integer_valued(table[ID_COLUMN].to_numpy(), "track ids",
                                       "napari requires integer ids.")
    table[t_column] = _integer_valued(table[t_column].to_numpy(), "track frames",
                                      "the time axis must be the frame number.")
    return _trackpy_order(table, names[2:], t_column)


def _trackpy_order(table: pd.DataFrame, pos: list[str], t_column: str) -> pd.DataFrame:
    # trackpy's column order: positions, features, frame last (particle after)
    rest = [c for c in table.columns if c not in (*pos, t_column, ID_COLUMN)]
    tail = [t_column] + ([ID_COLUMN] if ID_COLUMN in table.columns else [])
    ordered = table[[*pos, *rest, *tail]]
    return ordered.sort_values(t_column, kind="stable").reset_index(drop=True)


def join_points_tracks(points: pd.DataFrame, tracks: pd.DataFrame, *,
                       t_column: str = T_COLUMN) -> pd.DataFrame:
    """Give every point of ``points`` the particle id of the track vertex at its place.

    Points and tracks are matched on frame and position (to 1e-6 px); each
    point must match exactly one vertex and vice versa.

    Raises
    ------
    ValueError
        The layers do not describe the same features (counts differ, a point
        has no vertex, or positions repeat within a frame).
    """
    pos = position_columns(points.columns)
    if position_columns(tracks.columns) != pos:
        raise ValueError("the Points and Tracks layers have different dimensions.")
    if len(points) != len(tracks):
        raise ValueError(f"the Points layer has {len(points)} points but the Tracks layer "
                         f"{len(tracks)} vertices: they do not come from the same "
                         "features. Save them to separate stores.")
    keys = [t_column, *pos]

    def rounded(df):
        out = df[keys].copy()
        out[pos] = np.round(out[pos].to_numpy(dtype=float) * 1e6)
        return out

    left, right = rounded(points), rounded(tracks)
    if left.duplicated().any() or right.duplicated().any():
        raise ValueError("two features share a frame and a position: Points and Tracks "
                         "cannot be matched unambiguously.")
    right[ID_COLUMN] = tracks[ID_COLUMN].to_numpy()
    left = left.reset_index(drop=True)
    left["_row"] = np.arange(len(left))  # positions: the index may be anything
    merged = left.merge(right, on=keys, how="left", validate="one_to_one")
    if merged[ID_COLUMN].isna().any():
        missing = int(merged[ID_COLUMN].isna().sum())
        raise ValueError(f"{missing} points have no track vertex at the same frame and "
                         "position: the layers do not match.")
    joined = points.drop(columns=[ID_COLUMN], errors="ignore").copy()
    joined[ID_COLUMN] = merged.sort_values("_row")[ID_COLUMN].to_numpy().astype(np.int64)
    return joined


def split_frames(df: pd.DataFrame, *, t_column: str = T_COLUMN):
    """Yield one DataFrame per frame, in frame order (what a store ``put`` takes)."""
    for _, frame in df.groupby(t_column, sort=True):
        yield frame

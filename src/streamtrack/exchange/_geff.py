"""GEFF (graph exchange file format) export and import of trajectories.

The file is written chunk by chunk (a zarr format 2 folder: each chunk
compressed and written as its file as soon as it is full), so a movie of any
length is exported in flat memory: no graph is ever built, and what is held
is one chunk per array, one block of frames and the particles seen in the
last ``HORIZON`` frames (older ones wait on disk, in case they come back).
The metadata is the ``geff`` package's own model (:class:`geff.GeffMetadata`)
and the result is checked with :func:`geff.validate_structure` before it
takes its name.

Layout of what :func:`to_geff` writes (zarr format 2):

- one node per feature row. **Node ids are the rows' positions in frame
  order** (0, 1, ...: the rows of frame ``f`` after all rows of earlier
  frames, each frame's rows in the store's order); they are stable (the
  same store always gives the same ids);
- node properties: ``t`` (the frame number), ``z``/``y``/``x`` (pixels), every
  other numeric or boolean column under its own name (``mass``, ``size``,
  ``ecc``, ``signal``, ``raw_mass``, ``ep``, ...) and ``particle``, the
  tracklet id (``track_node_props = {'tracklet': 'particle'}``; a row
  without a particle, NaN or negative, has it *missing* (its value then is
  ``-1 - node id``: a tracklet of its own) and no edges);
- one directed edge per pair of consecutive observations of a particle
  (sorted by frame), with the edge property ``frame_gap`` (> 1 where linking
  memory bridged missing frames);
- axes ``t`` (time, unit ``frame``) and ``z``/``y``/``x`` (space, unit
  ``pixel``), with ``scale`` and ``scaled_unit`` (``second``, ``micrometer``)
  from the store's units record when known (1 / fps, mpp);
- ``extra['streamtrack']``: the version, the node-id rule, the units, the
  columns and dtypes of the table (so :func:`from_geff` gives it back
  exactly) and the store's records (``locate``, ``link``).
"""
from __future__ import annotations

import json
import os
import shutil
import warnings

import numpy as np
import pandas as pd

from .._version import __version__
from ._source import (
    FRAME,
    PARTICLE,
    POSITIONS,
    Source,
    check_output,
    finish,
    known_units,
    partial_path,
    remove,
)

TIME = "t"
GAP = "frame_gap"
#: rows per zarr chunk: 2 MiB of float64 (a buffer of this size per column is all
#: the memory an export needs, whatever the movie's length)
CHUNK = 1 << 18
#: frames after which a particle not seen again is retired from memory to disk (found
#: there if it comes back: linking memory is rarely this long)
HORIZON = 256
#: the folder, inside the GEFF being written, of the retired particles (removed
#: before the metadata is written)
SPILL = ".retired-particles"
NODE_ID_RULE = ("node id = the row's position in frame order (rows of a frame in the "
                "store's order)")


# ====================================================================== writing
class _Appender:
    """A zarr array that grows along its first axis, written in whole chunks.

    Values are copied into one preallocated chunk-sized buffer, written out
    whenever it is full: the same memory all along (no concatenations whose
    varying sizes fragment the heap over a long export). A full chunk is
    compressed here, in the calling thread, and written as the chunk's file
    of the zarr (format 2) folder; the array's shape is set once, at the end.
    (Through zarr, each chunk would be a resize and a write compressed in
    zarr's pool of threads, whose per-thread heaps grow, fragmented, over a
    long export: the resident memory crept up with the movie's length.)
    Arrays that are not plain folders, or have filters, are written through
    zarr.
    """

    def __init__(self, group, path, dtype, width=None, chunk=None):
        chunk = chunk or CHUNK
        shape = (0,) if width is None else (0, width)
        chunks = (chunk,) if width is None else (chunk, width)
        if hasattr(group, "create_array"):          # zarr 3
            self.array = group.create_array(name=path, shape=shape, chunks=chunks,
                                            dtype=dtype)
        else:                                        # zarr 2
            self.array = group.create_dataset(path, shape=shape, chunks=chunks, dtype=dtype)
        self.dtype, self.chunk = np.dtype(dtype), chunk
        self.buffer = None
        self.filled = self.written = 0
        self.tail = shape[1:]
        self.folder, self.codec, self.fill, self.key = _chunk_files(group, path, self.dtype,
                                                                    len(shape))

    def add(self, values):
        values = np.asarray(values)
        done = 0
        while done < len(values):
            if self.buffer is None:
                self.buffer = np.empty((self.chunk,) + self.tail, self.dtype)
            take = min(len(values) - done, self.chunk - self.filled)
            self.buffer[self.filled:self.filled + take] = values[done:done + take]
            self.filled += take
            done += take
            if self.filled == self.chunk:
                self._write()

    def _write(self):
        n = self.filled
        if n and self.folder is not None:
            if n < self.chunk:       # the last chunk: a file holds a whole chunk
                self.buffer[n:] = self.fill
            data = self.buffer if self.codec is None else self.codec.encode(self.buffer)
            name = os.path.join(self.folder, self.key.format(self.written // self.chunk))
            with open(name, "wb") as f:
                f.write(memoryview(data).cast("B"))
            del data
            self.written += n
        elif n:
            self.array.resize((self.written + n,) + self.tail)
            self.array[self.written:self.written + n] = self.buffer[:n]
            self.written += n
        self.filled = 0

    def close(self):
        self._write()
        self.buffer = None
        if self.folder is not None:
            self.array.resize((self.written,) + self.tail)
        return self.written


def _chunk_files(group, path, dtype, ndim):
    """``(folder, compressor, fill value, chunk file name)`` of a new, empty zarr
    format 2 array in a folder, to write its chunks' files; folder None: write
    through zarr (not a folder, or not a layout written here)."""
    none = None, None, None, None
    store = getattr(group, "store", None)
    base = getattr(store, "root", None) or getattr(store, "path", None)  # zarr 3 / 2
    if base is None or not isinstance(base, (str, os.PathLike)):
        return none
    folder = os.path.join(os.fspath(base), *(group.path or "").split("/"), *path.split("/"))
    try:
        with open(os.path.join(folder, ".zarray")) as f:
            meta = json.load(f)
        if (meta.get("zarr_format") != 2 or meta.get("filters") or meta.get("order") != "C"
                or np.dtype(meta["dtype"]) != dtype or len(meta["chunks"]) != ndim):
            return none
        codec = None
        if meta.get("compressor") is not None:
            import numcodecs

            codec = numcodecs.get_codec(meta["compressor"])
        fill = meta.get("fill_value")
        fill = dtype.type(0 if fill is None else fill)
    except (OSError, ValueError, TypeError, KeyError):
        return none
    sep = meta.get("dimension_separator") or "."
    key = "{}" + (sep + sep.join("0" * (ndim - 1)) if ndim > 1 else "")
    return folder, codec, fill, key


def _prop_dtype(dtype):
    """The GEFF dtype of a column (None: not written)."""
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return np.dtype(np.float32) if dtype == np.float16 else dtype
    return None


def _particle_values(table):
    """``(values as int64, present)`` of the particle column."""
    p = table[PARTICLE].to_numpy()
    if p.dtype.kind in "iu":
        present = p >= 0
        return p.astype(np.int64, copy=False), present
    p = pd.to_numeric(table[PARTICLE], errors="coerce").to_numpy(np.float64)
    present = ~np.isnan(p) & (p >= 0)
    values = np.where(present, p, -1)
    if np.any(values != np.floor(values)):
        raise ValueError("particle ids must be whole numbers to be GEFF tracklet ids; got "
                         f"{values[values != np.floor(values)][0]!r}")
    return values.astype(np.int64), present


class _Edges:
    """Edges between consecutive observations of each particle, across blocks.

    Keeps the last node id and frame of each *live* particle (seen in the last
    ``horizon`` frames; sorted by particle id): one block's rows are sorted by
    (particle, frame), linked to each other and to the carried node. A
    particle not seen for longer is retired to ``spill`` (a folder on disk, a
    temporary one if None; one file per retirement, sorted by id, the range
    of its ids in memory; removed by :meth:`close`) and
    found there if it ever comes back (linking memory longer than
    ``horizon``, or ids used again): the edges are exactly those of
    consecutive observations, and the memory depends on the live particles,
    not on the movie's length (a long movie of short trajectories has
    millions of particles, only a few hundred at a time).
    """

    def __init__(self, spill=None, horizon=None):
        self.ids = np.zeros(0, np.int64)
        self.node = np.zeros(0, np.int64)
        self.frame = np.zeros(0, np.int64)
        self.same_frame = 0
        self.horizon = HORIZON if horizon is None else horizon
        self.spill = spill
        self.runs = []            # (smallest id, largest id, file) of retired particles
        self.retired = self.revived = 0

    def add(self, particles, present, frames, nodes):
        p, f, n = particles[present], frames[present], nodes[present]
        if not len(p):
            return np.zeros((0, 2), np.int64), np.zeros(0, np.int64)
        order = np.lexsort((n, f, p))
        p, f, n = p[order], f[order], n[order]
        same = p[1:] == p[:-1]
        src, dst, gap = [n[:-1][same]], [n[1:][same]], [(f[1:] - f[:-1])[same]]
        first = np.r_[True, ~same]
        last = np.r_[~same, True]
        fp, fn, ff = p[first], n[first], f[first]
        at = np.searchsorted(self.ids, fp)
        found = at < len(self.ids)
        found[found] = self.ids[at[found]] == fp[found]
        src.insert(0, self.node[at[found]])
        dst.insert(0, fn[found])
        gap.insert(0, ff[found] - self.frame[at[found]])
        if self.runs and not found.all():      # a retired particle back?
            back, node, frame = self._revive(fp[~found])
            src.insert(0, node)
            dst.insert(0, fn[~found][back])
            gap.insert(0, ff[~found][back] - frame)
        # carry the last observation of each particle of this block
        lp, ln, lf = p[last], n[last], f[last]
        at = np.searchsorted(self.ids, lp)
        hit = at < len(self.ids)
        hit[hit] = self.ids[at[hit]] == lp[hit]
        self.node[at[hit]] = ln[hit]
        self.frame[at[hit]] = lf[hit]
        if (~hit).any():
            self.ids = np.insert(self.ids, at[~hit], lp[~hit])
            self.node = np.insert(self.node, at[~hit], ln[~hit])
            self.frame = np.insert(self.frame, at[~hit], lf[~hit])
        self._retire(int(f.max()) - self.horizon)
        edges = np.stack([np.concatenate(src), np.concatenate(dst)], axis=1)
        gaps = np.concatenate(gap)
        self.same_frame += int((gaps == 0).sum())
        by_target = np.argsort(edges[:, 1], kind="stable")
        return edges[by_target], gaps[by_target]

    def _retire(self, before):
        """Move the particles last seen before frame ``before`` to disk."""
        old = self.frame < before
        if not old.any():
            return
        if self.spill is None:
            import tempfile

            self.spill = tempfile.mkdtemp(prefix="streamtrack-retired-")
        os.makedirs(self.spill, exist_ok=True)
        name = os.path.join(self.spill, f"{len(self.runs):08d}.npy")
        run = np.stack([self.ids[old], self.node[old], self.frame[old]])  # sorted by id
        np.save(name, run)
        self.runs.append((int(run[0, 0]), int(run[0, -1]), name))
        self.retired += run.shape[1]
        keep = ~old
        self.ids, self.node, self.frame = self.ids[keep], self.node[keep], self.frame[keep]

    def _revive(self, wanted):
        """``(which of wanted, node, frame)`` of the retired particles among
        ``wanted`` (sorted ids), from their latest retirement."""
        where = np.full(len(wanted), -1, np.int64)
        node = np.zeros(len(wanted), np.int64)
        frame = np.zeros(len(wanted), np.int64)
        for lo, hi, name in reversed(self.runs):        # the latest retirement first
            todo = where < 0
            lo_at, hi_at = np.searchsorted(wanted, [lo, hi + 1])
            todo[:lo_at] = todo[hi_at:] = False          # outside this run's ids
            if not todo.any():
                continue
            run = np.load(name, mmap_mode="r")
            ids = run[0]
            at = np.searchsorted(ids, wanted[todo])
            ok = at < len(ids)
            ok[ok] = ids[at[ok]] == wanted[todo][ok]
            idx = np.flatnonzero(todo)[ok]
            where[idx] = at[ok]
            node[idx] = run[1][at[ok]]
            frame[idx] = run[2][at[ok]]
            del run, ids
        back = where >= 0
        self.revived += int(back.sum())
        return back, node[back], frame[back]

    def close(self):
        """Remove the retired particles' files."""
        if self.spill is not None and os.path.isdir(self.spill):
            shutil.rmtree(self.spill, ignore_errors=True)
        self.runs = []


def to_geff(source, path, *, overwrite=False, progress=None):
    """Write trajectories to a GEFF (a zarr folder), streaming, in flat memory.

    Parameters
    ----------
    source : FramewiseData or DataFrame
        A store (any layout; read in blocks of frames, never whole) or a
        feature table, with ``frame``, ``y``, ``x`` (``z``), the feature
        columns and, when linked, ``particle``.
    path : str or path
        The GEFF folder to write (e.g. ``tracks.geff`` or ``tracks.zarr``).
    overwrite : bool
        Replace an existing GEFF (or file) at ``path``; a folder that is not
        a zarr group is never replaced.
    progress : callable, optional
        ``progress(frames_done)`` after each block of frames.

    Returns
    -------
    dict
        ``{'nodes': ..., 'edges': ..., 'path': ...}``.

    Warns
    -----
    UserWarning
        The source has no ``particle`` column (nodes without edges).

    Notes
    -----
    The layout (node ids are the rows' positions in frame order, ``t`` is
    the frame, ``particle`` the tracklet id, ``frame_gap`` on each edge) is
    described in :mod:`streamtrack.exchange._geff`. An existing output is
    replaced only once the new one is complete and valid.
    """
    import zarr

    path = check_output(path, overwrite, "to_geff", directory=True)
    src = Source(source, "to_geff")
    partial = partial_path(path)
    remove(partial)
    try:
        if zarr.__version__.startswith("2"):
            root = zarr.open_group(partial, mode="w")
        else:
            root = zarr.open_group(partial, mode="w", zarr_format=2)
        edges_of = _Edges(spill=os.path.join(partial, SPILL))
        try:
            counts = _write_arrays(root, src, progress, edges_of)
        finally:
            edges_of.close()
        _write_metadata(partial, src, counts)
        import geff

        geff.validate_structure(partial)
        finish(partial, path)
    except BaseException:
        remove(partial)
        raise
    return {"nodes": counts["nodes"], "edges": counts["edges"], "path": path}


def _write_arrays(root, src, progress, edges_of):
    node_ids = edge_ids = gaps = None
    props, missing, ranges = {}, None, {}
    linked = None
    n_nodes = n_edges = 0
    for table in src.blocks(progress):
        if node_ids is None:
            linked = PARTICLE in table.columns
            if not linked:
                warnings.warn("to_geff: the source has no 'particle' column (not linked): "
                              "nodes without edges; link first (streamtrack link STORE) for "
                              "trajectories", UserWarning, stacklevel=3)
            if TIME in table.columns:
                raise ValueError("to_geff: the table has a column 't', the name GEFF's time "
                                 "axis takes here (the frame); rename it")
            node_ids = _Appender(root, "nodes/ids", np.uint64)
            edge_ids = _Appender(root, "edges/ids", np.uint64, width=2)
            gaps = _Appender(root, f"edges/props/{GAP}/values", np.int64)
            props[TIME] = _Appender(root, f"nodes/props/{TIME}/values", np.int64)
            skipped = []
            for name in table.columns:
                if name in (FRAME, PARTICLE):
                    continue
                dtype = _prop_dtype(table[name].dtype)
                if dtype is None:
                    skipped.append(name)
                    continue
                props[name] = _Appender(root, f"nodes/props/{name}/values", dtype)
            if skipped:
                warnings.warn(f"to_geff: column(s) {skipped} hold text or other values GEFF "
                              "properties here do not; left out", UserWarning, stacklevel=3)
            if linked:
                props[PARTICLE] = _Appender(root, f"nodes/props/{PARTICLE}/values", np.int64)
                missing = _Appender(root, f"nodes/props/{PARTICLE}/missing", bool)
        n = len(table)
        ids = np.arange(n_nodes, n_nodes + n, dtype=np.int64)
        frames = table[FRAME].to_numpy()
        if frames.dtype.kind == "f":
            if np.any(frames != np.floor(frames)):
                raise ValueError("to_geff: frame numbers must be whole numbers")
        frames = frames.astype(np.int64)
        node_ids.add(ids)
        props[TIME].add(frames)
        for name, appender in props.items():
            if name in (TIME, PARTICLE):
                continue
            values = table[name].to_numpy()
            appender.add(values)
            if name in POSITIONS:   # the axis' min and max
                finite = values[np.isfinite(values)]
                if len(finite):
                    lo, hi = ranges.get(name, (np.inf, -np.inf))
                    ranges[name] = (min(lo, finite.min()), max(hi, finite.max()))
        lo, hi = ranges.get(TIME, (np.inf, -np.inf))
        ranges[TIME] = (min(lo, frames.min()), max(hi, frames.max()))
        if linked:
            particles, present = _particle_values(table)
            # a row without a particle is its own one-node tracklet (missing, and a
            # value no other row has: GEFF's tracklet check passes)
            props[PARTICLE].add(np.where(present, particles, -1 - ids))
            missing.add(~present)
            edges, gap = edges_of.add(particles, present, frames, ids)
            edge_ids.add(edges)
            gaps.add(gap)
            n_edges += len(edges)
        n_nodes += n
    if node_ids is None:
        raise ValueError("to_geff: the source has no features (no frame has rows); "
                         "nothing to export")
    for appender in [node_ids, edge_ids, gaps, missing, *props.values()]:
        if appender is not None:
            appender.close()
    if edges_of.same_frame:
        warnings.warn(f"to_geff: {edges_of.same_frame} edge(s) join two rows of one particle "
                      "in the same frame (a frame stored twice?); kept, frame_gap 0",
                      UserWarning, stacklevel=3)
    dtypes = {name: a.dtype for name, a in props.items()}
    return {"nodes": n_nodes, "edges": n_edges, "linked": linked, "dtypes": dtypes,
            "ranges": ranges}


def _write_metadata(path, src, counts):
    from geff_spec import Axis, DisplayHint, GeffMetadata, PropMetadata

    units = known_units(src.units)
    spatial = [name for name in POSITIONS if name in counts["dtypes"]]
    axes = []
    for name in [TIME] + spatial:
        lo_hi = counts["ranges"].get(name)
        lo, hi = (float(lo_hi[0]), float(lo_hi[1])) if lo_hi else (None, None)
        if name == TIME:
            scale = 1.0 / units["fps"] if "fps" in units else None
            axes.append(Axis(name=name, type="time", unit="frame", min=lo, max=hi,
                             scale=scale, scaled_unit="second" if scale else None))
        else:
            scale = units.get("mpp")
            axes.append(Axis(name=name, type="space", unit="pixel", min=lo, max=hi,
                             scale=scale, scaled_unit="micrometer" if scale else None))
    describe = {TIME: "frame number", "particle": "trackpy's particle id: the tracklet"}
    node_props = {}
    for name, dtype in counts["dtypes"].items():
        node_props[name] = PropMetadata(
            identifier=name, dtype=dtype.name,
            unit="pixel" if name in POSITIONS else ("frame" if name == TIME else None),
            description=describe.get(name))
    edge_props = {GAP: PropMetadata(identifier=GAP, dtype="int64", unit="frame",
                                    description="frames between the two observations (> 1 "
                                                "where linking memory bridged missing frames)")}
    hints = None
    if {"y", "x"} <= set(spatial):
        hints = DisplayHint(display_horizontal="x", display_vertical="y",
                            display_depth="z" if "z" in spatial else None, display_time=TIME)
    columns = [name for name in src.columns if name == FRAME or name in counts["dtypes"]]
    extra = {"streamtrack": {
        "version": __version__,
        "node_ids": NODE_ID_RULE,
        "units": {"mpp": src.units.get("mpp"), "fps": src.units.get("fps")},
        "columns": columns,
        "dtypes": {name: src.dtypes[name] for name in columns},
        "records": _jsonable(src.records),
    }}
    meta = GeffMetadata(directed=True, axes=axes, node_props_metadata=node_props,
                        edge_props_metadata=edge_props,
                        track_node_props={"tracklet": PARTICLE} if counts["linked"] else None,
                        display_hints=hints, extra=extra)
    meta.write(path)


def _jsonable(records):
    try:
        return json.loads(json.dumps(records, default=str))
    except (TypeError, ValueError):
        return {}


# ====================================================================== reading
def from_geff(path):
    """The feature table of a GEFF: ``frame``, positions, properties, ``particle``.

    Reads a GEFF written by :func:`to_geff` back into the table it was
    written from (same columns, order and dtypes), or one written by another
    tool (a cell-lineage file too): ``frame`` from the time axis, the
    spatial axes (``z``, ``y``, ``x`` when so named) and every other scalar
    node property as columns, and ``particle``: the GEFF's tracklet
    property, else one id per tracklet (a path of nodes between divisions or
    merges), numbered in order of first appearance. Rows are in frame order
    (then node id). Units from the axes' scales, when given in micrometers
    and seconds, are in ``attrs['units']`` (``{'mpp': ..., 'fps': ...}``),
    as in a store's ``dump()``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        ``path`` is not a GEFF (no GEFF metadata, or its structure is
        invalid), or it has no time axis.

    Warns
    -----
    UserWarning
        The graph has divisions or merges: the lineage is flattened, one
        ``particle`` per tracklet.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"from_geff: {path} does not exist")
    meta = _read_metadata(path)
    from geff import GeffReader

    reader = GeffReader(path, validate=False)
    reader.read_node_props()
    graph = reader.build()
    nodes = np.asarray(graph["node_ids"])
    edges = np.asarray(graph["edge_ids"]).reshape(-1, 2)
    props = graph["node_props"]
    ours = (meta.extra or {}).get("streamtrack")

    time_name = next((ax.name for ax in meta.axes or [] if ax.type == "time"), None)
    if time_name is None:
        time_name = next((n for n in (TIME, FRAME) if n in props), None)
    if time_name is None or time_name not in props:
        raise ValueError(f"from_geff: {path} has no time axis (nor a 't' or 'frame' node "
                         "property): cannot number frames")
    space = [ax.name for ax in meta.axes or [] if ax.type == "space" and ax.name in props]
    if not space:
        space = [n for n in POSITIONS if n in props]
    space = [n for n in POSITIONS if n in space] + [n for n in space if n not in POSITIONS]

    t = _column(props[time_name], time_name)
    order = np.lexsort((nodes, t))
    tracklet = (meta.track_node_props or {}).get("tracklet")
    own_ids = tracklet is not None and tracklet in props
    particle = _tracklets(nodes, edges, t, meta.directed, path, number=not own_ids)
    columns = {FRAME: t}
    skipped = []
    for name, prop in props.items():
        if name == time_name:
            continue
        values = _column(prop, name)
        if values is None:
            skipped.append(name)
            continue
        columns[PARTICLE if name == tracklet else name] = values
    if skipped:
        warnings.warn(f"from_geff: node properties {skipped} are not one number per node; "
                      "left out", UserWarning, stacklevel=2)
    unlinked_export = ours is not None and PARTICLE not in ours.get("columns", [PARTICLE])
    if not own_ids and not unlinked_export:
        columns[PARTICLE] = particle
    table = pd.DataFrame({name: values[order] for name, values in columns.items()})
    if ours:
        table = _as_written(table, ours)
    else:
        first = [*space, *[c for c in table.columns if c not in (*space, FRAME, PARTICLE)]]
        if table[FRAME].dtype.kind == "f" and np.all(table[FRAME] == np.floor(table[FRAME])):
            table[FRAME] = table[FRAME].astype(np.int64)
        table = table[[*first, FRAME, PARTICLE]]
    units = _units(meta, ours)
    if units:
        table.attrs["units"] = units
    return table


def _read_metadata(path):
    """The GEFF metadata, or a one-line error saying why ``path`` is not a GEFF."""
    import geff
    from geff_spec import GeffMetadata

    try:
        meta = GeffMetadata.read(path)
    except Exception as exc:  # noqa: BLE001 - zarr/pydantic raise many kinds
        raise ValueError(f"from_geff: {path} is not a GEFF (no GEFF metadata: "
                         f"{' '.join(str(exc).split())[:200]})") from None
    try:
        geff.validate_structure(path)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"from_geff: {path} is not a valid GEFF: "
                         f"{' '.join(str(exc).split())[:300]}") from None
    return meta


def _column(prop, name):
    """A node property as one array (NaN where missing; None: not one scalar per node)."""
    values = prop["values"]
    if values.dtype == object or values.ndim != 1:
        return None
    missing = prop.get("missing")
    if missing is not None and np.any(missing):
        values = values.astype(np.float64 if values.dtype.kind in "biuf" else object)
        values[np.asarray(missing, bool)] = np.nan
    return values


def _tracklets(nodes, edges, t, directed, path, number=True):
    """One id per tracklet (maximal path without divisions or merges), 0, 1, ...
    in order of first node (by time, then id); warns when the lineage branches.
    ``number`` False: only the warning (the file has its tracklet ids)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(nodes)
    by_id = np.argsort(nodes, kind="stable")
    src = by_id[np.searchsorted(nodes, edges[:, 0], sorter=by_id)] if len(edges) else \
        np.zeros(0, np.int64)
    dst = by_id[np.searchsorted(nodes, edges[:, 1], sorter=by_id)] if len(edges) else \
        np.zeros(0, np.int64)
    if not directed:  # orient by time
        swap = t[src] > t[dst]
        src, dst = np.where(swap, dst, src), np.where(swap, src, dst)
    out_degree = np.bincount(src, minlength=n)
    in_degree = np.bincount(dst, minlength=n)
    divisions, merges = int((out_degree > 1).sum()), int((in_degree > 1).sum())
    if divisions or merges:
        warnings.warn(f"from_geff: {path} is a lineage with {divisions} division(s) and "
                      f"{merges} merge(s); flattened: one particle per tracklet (a path "
                      "between them)", UserWarning, stacklevel=3)
    if not number:
        return None
    keep = (out_degree[src] == 1) & (in_degree[dst] == 1)
    graph = coo_matrix((np.ones(int(keep.sum())), (src[keep], dst[keep])), shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection="weak")
    order = np.lexsort((nodes, t))
    first_seen = pd.unique(labels[order])
    number = np.empty(len(first_seen), np.int64)
    number[first_seen] = np.arange(len(first_seen))
    return number[labels]


def _as_written(table, ours):
    """The table as :func:`to_geff` read it: its columns, order and dtypes."""
    columns = [c for c in ours.get("columns", []) if c in table.columns]
    dtypes = ours.get("dtypes", {})
    table = table[columns + [c for c in table.columns if c not in columns]]
    for name in columns:
        dtype = dtypes.get(name)
        if dtype is None or str(table[name].dtype) == dtype:
            continue
        values = table[name]
        if name == PARTICLE and np.dtype(dtype).kind in "iu":
            values = values.fillna(-1)
        try:
            table[name] = values.astype(dtype)
        except (TypeError, ValueError):
            pass
    return table


def _units(meta, ours):
    if ours and ours.get("units") and any(v is not None for v in ours["units"].values()):
        return dict(ours["units"])
    mpp = fps = None
    for ax in meta.axes or []:
        if ax.scale is None:
            continue
        if ax.type == "space" and ax.unit in (None, "pixel") and ax.scaled_unit == "micrometer":
            mpp = ax.scale
        if ax.type == "time" and ax.unit in (None, "frame") and ax.scaled_unit == "second":
            fps = 1.0 / ax.scale
    return {"mpp": mpp, "fps": fps} if mpp is not None or fps is not None else {}

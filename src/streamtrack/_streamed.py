"""Trajectory analysis streamed from a store, in memory that does not grow with the movie.

The functions of :mod:`streamtrack.motion` and :mod:`streamtrack.filtering`
hand a :class:`~streamtrack.stores.FramewiseData` store to this module. It
reads the store in blocks of consecutive frames, at most twice:

1. a *scan* (:func:`scan`): each trajectory's first and last frame and its
   number of rows (what ``filter_stubs`` counts, what the MSD weights need,
   and when a trajectory is finished);
2. the work itself, which keeps only what the live trajectories need.

For the mean squared displacements a trajectory is *held* (its rows kept
until its last frame, then computed by the same code as a table in memory,
:mod:`._msd`, so the numbers are the same bits) when it spans at most
``HOLD_FACTOR * max_lagtime`` frames, and *summed* (:class:`._msd.RunningSums`,
a ring of the last ``max_lagtime`` frames) when it is longer. Memory is then
bounded by the live trajectories times ``HOLD_FACTOR * max_lagtime``.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from . import _msd
from .stores.base import FramewiseData

#: trajectories spanning up to this many times ``max_lagtime`` frames are held whole
HOLD_FACTOR = 10
#: frames per block: enough to amortise per-block work, few enough to stay small
MIN_BLOCK = 256


def is_store(obj) -> bool:
    """Whether ``obj`` is a store these functions stream from."""
    return isinstance(obj, FramewiseData)


# ---------------------------------------------------------------- reading
def blocks(store, span, progress=None):
    """``(start, stop, table)`` for consecutive windows of ``span`` frame numbers.

    ``table`` holds the frames ``start <= f < stop`` the store has (None when
    it has none). ``progress(frames_read)`` is called after each block.
    """
    frames = np.asarray(store.frames, dtype=np.int64)
    if len(frames) == 0:
        return
    start = int(frames[0])
    done = 0
    while done < len(frames):
        stop = start + span
        upto = int(np.searchsorted(frames, stop, side="left"))
        yield start, stop, store.read_frames(frames[done:upto]) if upto > done else None
        done = upto
        if progress is not None:
            progress(done)
        if done < len(frames):
            start = max(stop, int(frames[done]) // span * span)


class _Codes:
    """Particle ids -> dense codes 0, 1, ... in order of first appearance."""

    def __init__(self):
        self.lookup = np.full(0, -1, np.int64)   # id -> code, for ids 0..2**31
        self.by_value = None                     # {id: code}, for any other ids
        self.ids = []

    def codes(self, particles, add=True):
        """Codes of ``particles`` (-1 for NaN, and for ids not seen when not ``add``)."""
        values = np.asarray(particles)
        valid = ~pd.isna(values)
        out = np.full(len(values), -1, np.int64)
        if not valid.any():
            return out
        v = values[valid]
        if self.by_value is None:
            if v.dtype.kind in "iuf" and np.all(v == np.floor(v)) and v.min() >= 0 \
                    and v.max() < 2**31:
                ids = v.astype(np.int64)
                top = int(ids.max())
                if top >= len(self.lookup):
                    grown = np.full(max(top + 1, 2 * len(self.lookup)), -1, np.int64)
                    grown[:len(self.lookup)] = self.lookup
                    self.lookup = grown
                found = self.lookup[ids]
                if add and (found < 0).any():
                    new = pd.unique(ids[found < 0])
                    self.lookup[new] = np.arange(len(self.ids), len(self.ids) + len(new))
                    self.ids.extend(new.tolist())
                    found = self.lookup[ids]
                out[valid] = found
                return out
            self.by_value = {i: c for c, i in enumerate(self.ids)}
        mapped = pd.Series(v).map(self.by_value)
        if add and mapped.isna().any():
            for i in pd.unique(v[mapped.isna().to_numpy()]):
                self.by_value[i] = len(self.ids)
                self.ids.append(i)
            mapped = pd.Series(v).map(self.by_value)
        out[valid] = mapped.fillna(-1).to_numpy(np.int64)
        return out

    def __len__(self):
        return len(self.ids)


class Scan:
    """What one pass over a store tells: each trajectory's rows, first and last frame."""

    def __init__(self, store, function, single=False, sizes=False, progress=None):
        self.codes = _Codes()
        self.single = single
        self.size_histogram, self.n_sizes = None, 0
        self.columns = None
        self.id_dtype = np.dtype(np.int64)

        def grow(arrays, n, fill, dtype):
            for i, a in enumerate(arrays):
                if len(a) < n:
                    b = np.full(max(n, 2 * len(a)), fill, dtype)
                    b[:len(a)] = a
                    arrays[i] = b

        arrays = {"first": [np.zeros(0, np.int64)], "last": [np.zeros(0, np.int64)],
                  "count": [np.zeros(0, np.int64)], "size_sum": [np.zeros(0)],
                  "size_count": [np.zeros(0, np.int64)]}
        for _start, _stop, table in blocks(store, MIN_BLOCK, progress):
            if table is None:
                continue
            if self.columns is None:
                self.columns = list(table.columns)
                if "particle" in table.columns:
                    self.id_dtype = table["particle"].dtype
            if not single and "particle" not in table.columns:
                missing = table["frame"].iloc[0] if "frame" in table.columns else "?"
                raise ValueError(f"{function}: the store has no 'particle' column (frame "
                                 f"{missing}); link it first (streamtrack link STORE, or "
                                 "tp.link_store(store, search_range))")
            frames = _msd.frame_numbers(table["frame"].to_numpy())
            codes = (np.zeros(len(frames), np.int64) if single
                     else self.codes.codes(table["particle"].to_numpy()))
            if single and not len(self.codes):
                self.codes.ids.append(0)
            n = len(self.codes)
            for name, fill in (("first", np.iinfo(np.int64).max), ("last", -1), ("count", 0)):
                grow(arrays[name], n, fill, np.int64)
            ok = codes >= 0
            c, f = codes[ok], frames[ok]
            np.minimum.at(arrays["first"][0], c, f)
            np.maximum.at(arrays["last"][0], c, f)
            arrays["count"][0][:n] += np.bincount(c, minlength=n)
            if sizes:
                grow(arrays["size_sum"], n, 0.0, np.float64)
                grow(arrays["size_count"], n, 0, np.int64)
                size = table["size"].to_numpy(np.float64)
                have = ok & ~np.isnan(size)
                arrays["size_sum"][0][:n] += np.bincount(codes[have], size[have], minlength=n)
                arrays["size_count"][0][:n] += np.bincount(codes[have], minlength=n)
                keys = sort_keys(size[~np.isnan(size)])
                hist = np.bincount((keys >> np.uint64(48)).astype(np.int64), minlength=1 << 16)
                self.size_histogram = hist if self.size_histogram is None \
                    else self.size_histogram + hist
                self.n_sizes += int((~np.isnan(size)).sum())
        n = len(self.codes)
        self.first = arrays["first"][0][:n]
        self.last = arrays["last"][0][:n]
        self.count = arrays["count"][0][:n]
        if sizes:
            self.size_sum = arrays["size_sum"][0][:n]
            self.size_count = arrays["size_count"][0][:n]
        if self.columns is None:
            raise ValueError(f"{function}: the store has no features (no frame has rows); "
                             "locate into it first")

    @property
    def ids(self):
        """Particle ids by code, in the store's dtype."""
        ids = np.asarray(self.codes.ids)
        try:
            return ids.astype(self.id_dtype)
        except (TypeError, ValueError):
            return ids


def sort_keys(values):
    """float64 -> uint64 keys in the same order (for a streamed quantile)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    negative = (bits >> np.uint64(63)).astype(bool)
    return np.where(negative, ~bits, bits | np.uint64(1 << 63))



# ---------------------------------------------------------------- units
def units(traj, mpp, fps, function):
    """``(mpp, fps)``: the arguments, else the store's (or table's) units record.

    Raises a ValueError naming both ways to give them when either is unknown.
    """
    recorded = {}
    if is_store(traj):
        recorded = traj.metadata.get("units") or {}
    elif isinstance(traj, pd.DataFrame):
        recorded = traj.attrs.get("units") or {}
    mpp = recorded.get("mpp") if mpp is None else mpp
    fps = recorded.get("fps") if fps is None else fps
    missing = [name for name, value in (("mpp", mpp), ("fps", fps)) if value is None]
    if missing:
        raise ValueError(
            f"{function}: {' and '.join(missing)} unknown (microns per pixel, frames per "
            f"second): pass {', '.join(m + '=...' for m in missing)}, or record them in the "
            "store (streamtrack locate --mpp M --fps F, or "
            "streamtrack.workflow.save_units(store, mpp=M, fps=F))")
    for name, value in (("mpp", mpp), ("fps", fps)):
        try:
            ok = float(value) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"{function}: {name} must be a positive number, got {value!r}")
    return mpp, fps


# ---------------------------------------------------------------- MSD
def _positions(table, pos_columns, mpp, drift):
    r = table[pos_columns].to_numpy(dtype=np.float64)
    if isinstance(drift, RunningDrift):
        drift = drift.through(table)
    if drift is not None:
        # subtract_drift's order: pixels minus drift, then to microns
        shift = drift.reindex(table["frame"].to_numpy()).reindex(columns=pos_columns)
        r = r - shift.fillna(0).to_numpy(dtype=np.float64)
    return r * mpp


def msd_tables(store, scan, mpp, max_lagtime, pos_columns, detail, keep=None, drift=None,
               progress=None, hold_span=None):
    """Yield ``(codes, values, nlags)`` of finished trajectories, streaming ``store``.

    ``values``/``nlags`` are :func:`._msd.per_particle`'s, for the scan's
    particle ``codes``. ``keep`` (bool per code) leaves trajectories out;
    ``drift`` (a compute_drift table, or a :class:`RunningDrift` measuring it
    in the same pass) is subtracted on the way.
    """
    missing = [c for c in pos_columns if c not in scan.columns]
    if missing:
        raise ValueError(f"the store has no column(s) {missing}: pass pos_columns=[...] "
                         "naming its position columns")
    L = max_lagtime
    ndim = len(pos_columns)
    span = scan.last - scan.first + 1
    if hold_span is None:
        hold_span = HOLD_FACTOR * L
    summed = span > hold_span
    if keep is not None:
        summed &= keep
    running = _msd.RunningSums(ndim, L) if summed.any() else None
    slot_of = np.full(len(scan.codes), -1, np.int64)
    pending = []                                         # held rows: (frames, codes, r)
    for start, stop, table in blocks(store, max(MIN_BLOCK, 4 * L), progress):
        if table is None and isinstance(drift, RunningDrift):
            drift.gap()
        if table is not None:
            codes = (np.zeros(len(table), np.int64) if scan.single
                     else scan.codes.codes(table["particle"].to_numpy(), add=False))
            use = codes >= 0
            if keep is not None:
                use &= keep[np.maximum(codes, 0)]
            if not use.all():
                table, codes = table[use], codes[use]
            frames = _msd.frame_numbers(table["frame"].to_numpy())
            r = _positions(table, pos_columns, mpp, drift)
            long = summed[codes]
            if long.any():
                lc = codes[long]
                new = np.unique(lc[slot_of[lc] < 0])
                if len(new):
                    slot_of[new] = running.open(len(new))
                running.add(start, stop, frames[long], slot_of[lc], r[long])
            if (~long).any():
                pending.append((frames[~long], codes[~long], r[~long]))
        # trajectories whose last frame has gone by are finished
        if pending:
            f, c, r = (np.concatenate(a) for a in zip(*pending))
            done = scan.last[c] < stop
            pending = [(f[~done], c[~done], r[~done])] if (~done).any() else []
            if done.any():
                ids, local = np.unique(c[done], return_inverse=True)
                values, nlags = _msd.per_particle(f[done], local.astype(np.int64), r[done],
                                                  len(ids), L, detail)
                yield ids, values, nlags
        if running is not None:
            finished = np.flatnonzero((slot_of >= 0) & (scan.last < stop))
            if len(finished):
                values, nlags = running.close(slot_of[finished], detail)
                slot_of[finished] = -1
                yield finished, values, nlags


def emsd(store, mpp, fps, max_lagtime, detail, pos_columns, keep=None, drift=None,
         progress=None, scan=None):
    scan = scan or Scan(store, "emsd")
    ensemble = _msd.Ensemble(len(pos_columns), max_lagtime, fps)
    for _codes, values, nlags in msd_tables(store, scan, mpp, max_lagtime, pos_columns, True,
                                            keep, drift, progress):
        ensemble.add(values, nlags)
    if not ensemble.present.any():
        warn_too_short("emsd")
    return ensemble.result(pos_columns, detail)


def imsd(store, mpp, fps, max_lagtime, statistic, pos_columns, keep=None, drift=None,
         progress=None, scan=None):
    scan = scan or Scan(store, "imsd")
    allowed = ([f"<{p}>" for p in pos_columns] + [f"<{p}^2>" for p in pos_columns]
               + ["msd", "lagt"])
    individual = Individual(scan, fps, allowed.index(statistic), statistic == "lagt")
    for codes, values, nlags in msd_tables(store, scan, mpp, max_lagtime, pos_columns, False,
                                           keep, drift, progress):
        individual.add(codes, values, nlags)
    return individual.result()


class Individual:
    """trackpy's ``imsd`` table, collected from the finished trajectories.

    Each batch keeps a compact copy of its one column (a view would keep the
    batch's whole table alive), and the result is filled once, in id order.
    """

    def __init__(self, scan, fps, column, lagt=False):
        self.scan, self.fps, self.column, self.lagt = scan, float(fps), column, lagt
        self.codes, self.nlags, self.columns = [], [], []

    def add(self, codes, values, nlags):
        some = nlags > 0
        self.codes.append(codes[some])
        self.nlags.append(nlags[some])
        if not self.lagt:
            self.columns.append(np.array(values[some, :, self.column]))

    def result(self, warn=True):
        """The table; ``warn``: say so when it is empty."""
        codes = np.concatenate(self.codes) if self.codes else np.zeros(0, np.int64)
        nlags = np.concatenate(self.nlags) if self.nlags else np.zeros(0, np.int64)
        lmax = int(nlags.max()) if len(nlags) else 0
        lagtimes = np.arange(1, lmax + 1)
        ids = self.scan.ids[codes] if len(codes) else np.zeros(0)
        order = np.argsort(ids, kind="stable")
        if self.lagt:
            data = np.where(lagtimes[:, None] <= nlags[None, order],
                            lagtimes[:, None] / self.fps, np.nan)
        else:
            place = np.empty(len(codes), np.int64)
            place[order] = np.arange(len(codes))        # column of each collected row
            data = np.full((lmax, len(codes)), np.nan)
            done = 0
            for batch in self.columns:
                width = min(lmax, batch.shape[1])
                data[:width, place[done:done + len(batch)]] = batch[:, :width].T
                done += len(batch)
            self.columns = []
        if not len(codes) and warn:
            warn_too_short("imsd")
        index = pd.Index(lagtimes.astype("float64") / self.fps, name="lag time [s]")
        return pd.DataFrame(data, index=index, columns=pd.Index(ids[order]), copy=False)


def msd(store, mpp, fps, max_lagtime, detail, pos_columns, progress=None):
    scan = Scan(store, "msd", single=True)
    tables = list(msd_tables(store, scan, mpp, max_lagtime, pos_columns, detail,
                             progress=progress))
    values, nlags = tables[0][1], tables[0][2]
    return values, nlags


def warn_too_short(function):
    """The warning of an MSD without any trajectory of two frames or more."""
    warnings.warn(f"{function}: no trajectory spans two frames or more: the result is empty "
                  "(filter less, or link with a larger search_range or memory)",
                  UserWarning, stacklevel=5)


# ---------------------------------------------------------------- drift
def compute_drift(store, smoothing, pos_columns, keep=None, scan=None, progress=None):
    """trackpy's ``compute_drift`` of a store: per-frame mean steps, block by block."""
    drift = RunningDrift(smoothing, pos_columns)
    seen = False
    for _start, _stop, table in blocks(store, MIN_BLOCK, progress):
        if table is None:
            drift.gap()
            continue
        missing = [c for c in pos_columns + ["frame", "particle"] if c not in table.columns]
        if missing:
            raise ValueError(f"compute_drift: the store has no column(s) {missing}"
                             + ("; link it first (streamtrack link STORE)"
                                if "particle" in missing else "; pass pos_columns"))
        seen = True
        if keep is not None:
            codes = scan.codes.codes(table["particle"].to_numpy(), add=False)
            table = table[(codes >= 0) & keep[np.maximum(codes, 0)]]
        drift.add(table)
    if not seen:
        raise ValueError("compute_drift: the store has no features; locate into it first")
    return drift.current()


# ---------------------------------------------------------------- helpers for the API
def first_columns(store, function):
    """The columns of the store's first frame with rows."""
    for frame_no in store.frames:
        table = store.get(frame_no)
        if len(table.columns):
            return list(table.columns)
    raise ValueError(f"{function}: the store has no features; locate into it first")


class RunningDrift:
    """``compute_drift`` measured during the pass that uses it.

    The drift at frame ``t`` depends on frames up to ``t`` only (a cumulative
    sum of trailing rolling means), so a pass can measure it from each block
    and subtract it from the same block: ``subtract_drift(compute_drift(...))``
    in one pass instead of two, with the same numbers.
    """

    def __init__(self, smoothing, pos_columns, subtract=True):
        self.smoothing, self.pos_columns = smoothing, list(pos_columns)
        self.subtract = subtract  # False: measured in the pass, positions left as they are
        self.found, self.carry, self.frame_dtype = [], None, None
        self.table = None

    def through(self, table):
        """Add a block (its rows, kept trajectories only) and return the drift so far
        (None when it is only measured)."""
        self.add(table)
        return self.current() if self.subtract else None

    def add(self, table):
        """Add a block's rows (frames after the previous block's)."""
        from . import _drift

        if self.frame_dtype is None:
            self.frame_dtype = table["frame"].dtype
        frames = _msd.frame_numbers(table["frame"].to_numpy())
        particles = table["particle"].to_numpy()
        r = table[self.pos_columns].to_numpy(dtype=np.float64)
        last = frames == frames.max() if len(frames) else np.zeros(0, bool)
        if self.carry is not None:
            frames = np.concatenate([self.carry[0], frames])
            particles = np.concatenate([self.carry[1], particles])
            r = np.concatenate([self.carry[2], r])
            last = np.concatenate([np.zeros(len(self.carry[0]), bool), last])
        self.found.append(_drift.mean_steps(frames, particles, r))
        self.carry = (frames[last], particles[last], r[last])

    def current(self):
        """The drift table of the frames added so far."""
        from . import _drift

        found = self.found or [(np.zeros(0, np.int64), np.zeros((0, len(self.pos_columns))),
                                np.zeros(0, np.int64))]
        # counts are per frame, or per frame and column where a step had a NaN
        # coordinate: one shape for all blocks
        counts = [np.broadcast_to(c if c.ndim == 2 else c[:, None], s.shape)
                  for _, s, c in found]
        return _drift.drift_table(
            np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found]),
            np.concatenate(counts), self.smoothing, self.pos_columns,
            self.frame_dtype or np.dtype(np.int64))

    def gap(self):
        """A window of frames without rows: no step crosses it."""
        self.carry = None

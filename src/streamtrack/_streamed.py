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
from .stores.base import FramewiseData, processed_marker

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
                keys = _sort_keys(size[~np.isnan(size)])
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


# ---------------------------------------------------------------- filtering
def _write_or_collect(store, output, keep_rows, function, progress=None, transform=None):
    """Stream ``store``'s frames in blocks, keep rows, put each frame into
    ``output`` (returned) or collect the blocks (a list of DataFrames)."""
    mark = None
    if output is not None:
        if output is store:
            raise ValueError(f"{function}: output= is the store being read; pass another "
                             "store (the input is not modified)")
        if not hasattr(output, "put"):
            raise TypeError(f"{function}: output must be a store (with a put method), got "
                            f"{type(output).__name__}")
        mark = processed_marker(output)
        if is_store(output) and output.keeps_records:
            for name, record in (store.metadata or {}).items():
                output.save_metadata(name, record)
    kept = []
    frames = np.asarray(store.frames, dtype=np.int64)
    for start in range(0, len(frames), MIN_BLOCK):
        block = frames[start:start + MIN_BLOCK]
        table = store.read_frames(block)
        if table is not None:
            rows = keep_rows(table)
            part = table[rows] if rows is not None else table
            if transform is not None:
                part = transform(part)
            if output is None:
                kept.append(part)
            elif len(part):
                flat = part.reset_index(drop=True)
                for _frame_no, rows_of_frame in flat.groupby("frame", sort=True):
                    output.put(rows_of_frame.reset_index(drop=True))
        if mark is not None:
            for frame_no in block:
                mark(int(frame_no))
        if progress is not None:
            progress(start + len(block))
    return output if output is not None else kept


def filter_by_particle(store, keep, scan, function, output, progress=None):
    def keep_rows(table):
        codes = scan.codes.codes(table["particle"].to_numpy(), add=False)
        return keep[np.maximum(codes, 0)] & (codes >= 0)

    result = _write_or_collect(store, output, keep_rows, function, progress)
    if output is not None:
        return result
    columns = list(scan.columns)
    table = (pd.concat(result, ignore_index=True) if result
             else pd.DataFrame(columns=columns))
    return table.set_index("frame", drop=False)


def _sort_keys(values):
    """float64 -> uint64 keys in the same order (for a streamed quantile)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    negative = (bits >> np.uint64(63)).astype(bool)
    return np.where(negative, ~bits, bits | np.uint64(1 << 63))


def _from_keys(keys):
    negative = (keys >> np.uint64(63)) == 0
    bits = np.where(negative, ~keys, keys & ~np.uint64(1 << 63))
    return bits.view(np.float64)


#: values a streamed quantile may collect at once (8 bytes each)
QUANTILE_BUDGET = 2_000_000


def size_quantile(store, scan, quantile):
    """pandas' ``Series.quantile`` (linear) of the store's ``size`` column, streamed.

    The scan counted the sizes by their top 16 key bits; each further pass
    narrows the bin holding the wanted rank by 16 bits until it holds at most
    ``QUANTILE_BUDGET`` values, which are then read and sorted: exact, in
    memory bounded by the budget.
    """
    n = scan.n_sizes
    if n == 0:
        return np.nan
    # numpy's linear method as pandas calls it (percent, divided back by numpy)
    q = np.true_divide(np.asarray(quantile, dtype=np.float64) * 100.0, 100)
    virtual = (n - 1) * q
    lo = int(np.floor(virtual))
    a = _select(store, scan.size_histogram, lo)
    b = _select(store, scan.size_histogram, min(lo + 1, n - 1)) if lo + 1 < n else a
    gamma = virtual - lo
    diff = b - a
    return float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)


def _select(store, histogram, rank):
    """The value of the given rank (0-based) among the store's sizes."""
    shift = 48
    prefix = np.uint64(0)
    below = 0
    counts = histogram
    while True:
        cumulative = np.cumsum(counts)
        b = int(np.searchsorted(cumulative, rank - below, side="right"))
        below += int(cumulative[b - 1]) if b else 0
        prefix = prefix | (np.uint64(b) << np.uint64(shift))
        inside = int(counts[b])
        mask = ~np.uint64(0) << np.uint64(shift) if shift else ~np.uint64(0)
        if inside <= QUANTILE_BUDGET or shift == 0:
            chosen = []
            for table in store:
                keys = _sort_keys(_finite(table))
                chosen.append(keys[(keys & mask) == prefix])
            keys = np.sort(np.concatenate(chosen))
            return float(_from_keys(keys[rank - below:rank - below + 1])[0])
        shift -= 16
        counts = np.zeros(1 << 16, np.int64)
        for table in store:
            keys = _sort_keys(_finite(table))
            keys = keys[(keys & mask) == prefix]
            counts += np.bincount(((keys >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(
                np.int64), minlength=1 << 16)


def _finite(table):
    size = table["size"].to_numpy(np.float64) if "size" in table.columns else np.zeros(0)
    return size[~np.isnan(size)]


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


def rewrite(store, output, function, transform, progress=None):
    """Every frame of ``store`` through ``transform`` (a DataFrame function on one
    frame's rows), into ``output`` or, without one, one DataFrame."""
    first_columns(store, function)
    result = _write_or_collect(store, output, lambda table: None, function, progress,
                               transform)
    if output is not None:
        return result
    return pd.concat(result) if result else pd.DataFrame()


def put_frames(table, output, function):
    """A result table written into the store ``output`` frame by frame (returned)."""
    if not hasattr(output, "put"):
        raise TypeError(f"{function}: output must be a store (with a put method), got "
                        f"{type(output).__name__}")
    mark = processed_marker(output)
    flat = table.reset_index(drop=True)
    for frame_no, part in flat.groupby("frame", sort=True):
        output.put(part.reset_index(drop=True))
        if mark is not None:
            mark(int(frame_no))
    return output


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

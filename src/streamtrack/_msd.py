"""The numerics of mean squared displacements: trackpy's algorithms on arrays.

Private to :mod:`streamtrack.motion` (tables in memory) and
:mod:`streamtrack._streamed` (stores read frame by frame): both build the same
per-particle tables here, so a trajectory gives the same bits either way.
"""
import numpy as np


def msd_N(N, t):
    """trackpy's effective number of independent measurements (Qian et al. 1991, B4);
    ``N`` and ``t`` broadcast."""
    t = np.asarray(t, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(t > N/2,
                        1/(1+((N-t)**3+5*t-4*(N-t)**2*t-N)/(6*(N-t)*t**2)),
                        6*(N-t)**2*t/(2*N-t+4*N*t**2-5*t**3))


def frame_numbers(frames):
    """``frames`` as int64, refusing fractional or missing frame numbers."""
    frames = np.asarray(frames)
    if frames.dtype.kind == "f":
        if not np.all(np.isfinite(frames)) or np.any(frames != np.round(frames)):
            raise ValueError("traj['frame'] must hold whole frame numbers")
    return frames.astype(np.int64, copy=False)


def per_particle(frames, codes, r, nparticles, max_lagtime, detail):
    """The per-particle MSD tables of trajectories, as trackpy's ``msd`` gives them.

    ``frames`` (int64), ``codes`` (each row's particle number, 0..nparticles-1)
    and ``r`` (positions in microns, one column per dimension) are rows in
    any order. Returns ``(values, nlags)``: ``values`` has shape (particles,
    lags, 2*ndim + 1 [+ 1 with detail]) -- the columns ``<p>...``, ``<p^2>...``,
    ``msd`` [, ``N``] -- and ``nlags[i]`` is the number of lag times particle
    ``i`` has (its rows ``1..nlags[i]``; later rows are NaN).
    """
    ndim = r.shape[1]
    order = np.lexsort((frames, codes))
    codes, frames, r = codes[order], frames[order], r[order]
    same = (codes[1:] == codes[:-1]) & (frames[1:] == frames[:-1])
    if same.any():
        raise ValueError("traj has more than one row for one particle in one frame: "
                         "link first, or pass one trajectory per particle")
    counts = np.bincount(codes, minlength=nparticles)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    present = counts > 0
    span = np.zeros(nparticles, np.int64)
    span[present] = frames[starts[present] + counts[present] - 1] - frames[starts[present]] + 1
    nlags = np.minimum(max_lagtime, np.maximum(span - 1, 0))
    lmax = int(nlags.max()) if nparticles else 0
    ncols = 2 * ndim + 1 + bool(detail)
    values = np.full((nparticles, lmax, ncols), np.nan)

    gapfree = present & (span == counts)
    for n in np.unique(counts[gapfree]):
        idx = np.flatnonzero(gapfree & (counts == n))
        nl = min(max_lagtime, n - 1)
        if nl < 1:
            continue
        values[idx, :nl] = _fft_block(r[starts[idx, None] + np.arange(n)], nl, detail)

    gappy = np.flatnonzero(present & (span != counts))
    if len(gappy):
        values[gappy, :] = _gaps_block(r, frames, codes, starts, counts, span, gappy, lmax,
                                       nlags, detail)
    return values, nlags


def _fft_block(R, nl, detail):
    """trackpy's ``_msd_fft`` for k trajectories of one length n: ``R`` is (k, n, ndim).

    One trajectory at a time, with trackpy's own array layout and operations:
    ``S1 - 2 S2`` cancels most of the digits, so any other order of the sums
    or another FFT (batched, real) differs from trackpy's numbers by up to
    ~1e-8 relative at small lags. The pandas overhead trackpy pays per
    trajectory is what is saved.
    """
    k, n, ndim = R.shape
    lagtimes = np.arange(1, nl + 1)
    norm = (n - lagtimes)[:, np.newaxis]
    out = np.empty((k, nl, 2 * ndim + 1 + bool(detail)))
    if detail:
        out[:, :, -1] = msd_N(n, lagtimes)
    for i in range(k):
        # a DataFrame's .values of float columns is column-major: so is r
        r = np.asfortranarray(R[i])
        r_diff = r[:-nl-1:-1] - r[:nl]
        out[i, :, :ndim] = np.cumsum(r_diff, axis=0) / norm
        D = r**2
        D_sum = D[:nl] + D[:-nl-1:-1]
        S1 = 2*D.sum(axis=0) - np.cumsum(D_sum, axis=0)
        F = np.fft.fft(r, n=2*n, axis=0)
        PSD = F * F.conjugate()
        S2 = np.fft.ifft(PSD, axis=0)[1:nl+1].real
        squared_disp = S1 - 2 * S2
        squared_disp /= norm
        out[i, :, ndim:2 * ndim] = squared_disp
        out[i, :, 2 * ndim] = squared_disp.sum(axis=1)
    return out


def _gaps_block(r, frames, codes, starts, counts, span, idx, lmax, nlags, detail):
    """trackpy's ``_msd_gaps`` (frames reindexed to a contiguous range, NaN in the
    gaps, ``nanmean`` of the displacements) for the trajectories ``idx`` together:
    in chunks of similar span, one lag time at a time."""
    ndim = r.shape[1]
    ncols = 2 * ndim + 1 + bool(detail)
    out = np.full((len(idx), lmax, ncols), np.nan)
    by_span = np.argsort(span[idx], kind="stable")
    for chunk in np.array_split(by_span, max(1, -(-len(by_span) // _GAPS_CHUNK))):
        part = out[chunk]  # a copy (fancy indexing): filled, then put back
        _gaps_chunk(r, frames, starts, counts, span, idx[chunk], nlags, part)
        out[chunk] = part
    out[:, :, 2*ndim] = out[:, :, ndim:2*ndim].sum(axis=2)
    lagtimes = np.arange(1, lmax + 1)
    beyond = lagtimes[None, :] > nlags[idx][:, None]
    if detail:
        out[:, :, -1] = gaps_N(span[idx], counts[idx], beyond, np.isnan(out[:, :, 2*ndim]))
    out[beyond] = np.nan
    return out


def gaps_N(span, counts, beyond, unmeasured):
    """trackpy's ``N`` of trajectories with gaps: ``msd_N`` of the span, scaled by the
    fraction of frames present, 0 at lag times ``beyond`` the span and where gaps
    left the MSD ``unmeasured``, the rest rescaled to keep the total. Shapes:
    ``span``/``counts`` (k,), ``beyond``/``unmeasured`` (k, lags)."""
    lagtimes = np.arange(1, beyond.shape[1] + 1)
    n_pos = span[:, None]
    N = msd_N(n_pos, lagtimes[None, :]) * counts[:, None] / n_pos
    N[beyond] = 0.0
    desired = N.sum(axis=1)
    N[unmeasured] = 0.0
    current = N.sum(axis=1)
    rescale = current != desired
    with np.errstate(divide="ignore", invalid="ignore"):
        N[rescale] = N[rescale] * desired[rescale, None] / current[rescale, None]
    return N


_GAPS_CHUNK = 128  # trajectories per chunk: chunks of similar span waste little padding


def _gaps_chunk(r, frames, starts, counts, span, idx, nlags, out):
    """Fill ``out[:, :nlags, :2*ndim]`` (mean displacements and squared
    displacements) for the trajectories ``idx``."""
    k, ndim = len(idx), r.shape[1]
    width = int(span[idx].max())
    nl = int(nlags[idx].max())
    if nl < 1:
        return
    X = np.zeros((ndim, k, width))   # positions on the frame grid, 0 in the gaps
    M = np.zeros((k, width), bool)   # frame present
    rows = np.concatenate([np.arange(starts[i], starts[i] + counts[i]) for i in idx])
    which = np.repeat(np.arange(k), counts[idx])
    col = frames[rows] - frames[starts[idx]][which]
    X[:, which, col] = r[rows].T
    M[which, col] = True
    with np.errstate(divide="ignore", invalid="ignore"):
        for lag in range(1, nl + 1):
            valid = M[:, lag:] & M[:, :-lag]
            d = X[:, :, lag:] - X[:, :, :-lag]
            d *= valid
            c = valid.sum(axis=1)
            out[:, lag - 1, :ndim] = (d.sum(axis=2) / c).T
            d *= d
            out[:, lag - 1, ndim:2*ndim] = (d.sum(axis=2) / c).T


class Ensemble:
    """trackpy's ``emsd`` weighting, summed over batches of particles.

    trackpy weights each particle's MSD table by its ``N`` and averages over
    the particles that have a row at a lag time; every term of that average
    is a sum over particles, so batches (a whole table at once, or the
    trajectories a stream has finished) add up to the same result.
    """

    def __init__(self, ndim, max_lagtime, fps):
        self.ndim, self.fps = ndim, float(fps)
        ncols = 2 * ndim + 3                     # stats, msd, N, lagt
        self.weighted = np.zeros((max_lagtime, ncols))
        self.weighted_count = np.zeros((max_lagtime, ncols), np.int64)
        self.N_sum = np.zeros(max_lagtime)
        self.N_count = np.zeros(max_lagtime, np.int64)
        self.present = np.zeros(max_lagtime, bool)

    def add(self, values, nlags):
        """Add per-particle tables (``per_particle(..., detail=True)``)."""
        nparticles, lmax, _ = values.shape
        if nparticles == 0 or lmax == 0:
            return
        ndim = self.ndim
        lagtimes = np.arange(1, lmax + 1)
        rows = lagtimes[None, :] <= nlags[:, None]       # trackpy's rows (particle, lag)
        N = values[:, :, -1]
        stats = values[:, :, :-1].copy()
        msd_col = stats[:, :, 2*ndim]
        msd_col[np.isnan(msd_col)] = 0.0                 # trackpy sets NaN msd to 0
        lagt = np.broadcast_to(lagtimes / self.fps, (nparticles, lmax))
        table = np.concatenate([stats, N[:, :, None], lagt[:, :, None]], axis=2)
        weighted = table * N[:, :, None]
        ok = rows[:, :, None] & ~np.isnan(weighted)
        self.weighted[:lmax] += np.where(ok, weighted, 0).sum(axis=0)
        self.weighted_count[:lmax] += ok.sum(axis=0)
        n_ok = rows & ~np.isnan(N)
        self.N_sum[:lmax] += np.where(n_ok, N, 0).sum(axis=0)
        self.N_count[:lmax] += n_ok.sum(axis=0)
        self.present[:lmax] |= rows.any(axis=0)

    def result(self, pos_columns, detail):
        """trackpy's ``emsd`` output: a Series (or with detail a DataFrame)."""
        import pandas as pd

        with np.errstate(divide="ignore", invalid="ignore"):
            num = self.weighted / self.weighted_count
            den = self.N_sum / self.N_count
            results = num / den[:, None]
        lagtimes = np.flatnonzero(self.present) + 1
        results = results[self.present]
        # trackpy averages the lag time too, weighted like the MSDs: a third of
        # its labels come out an ulp off lag/fps, em.loc[1.0] can miss, and two
        # results whose particles were summed in another order do not align
        results[:, -1] = lagtimes / self.fps
        columns = ([f"<{p}>" for p in pos_columns] + [f"<{p}^2>" for p in pos_columns]
                   + ["msd", "N", "lagt"])
        if not detail:
            index = pd.Index(results[:, -1], name="lagt")
            return pd.Series(results[:, 2*self.ndim], index=index, name="msd")
        results[:, -2] = self.N_sum[self.present]
        index = pd.Index(lagtimes.astype(np.int64), name="frame")
        return pd.DataFrame(results, index=index, columns=columns)


class RunningSums:
    """Displacement sums of trajectories too long to hold, lag by lag, block by block.

    For each trajectory: the sums of the displacements and of their squares
    at lag times 1..max_lagtime and the number of pairs, from the positions
    of the last ``max_lagtime`` frames kept in a ring (frame ``f`` in slot
    ``f % max_lagtime``). Memory: trajectories x max_lagtime, however long
    the movie. The means are direct sums; trackpy's FFT algorithm (used for
    gap-free trajectories in memory) cancels digits instead, so the two agree
    to trackpy's own rounding error (~1e-10 relative for 3,000 frames).
    """

    def __init__(self, ndim, max_lagtime):
        self.ndim, self.L = ndim, max_lagtime
        self.capacity = 0
        self.free = []
        self._grow(64)

    #: per-slot arrays: (trailing shape, dtype, value of a fresh slot)
    _ARRAYS = {"ring": ("L,ndim", np.float64, np.nan),
               "ring_frame": ("L", np.int64, np.iinfo(np.int64).min),  # no frame
               "disp": ("L,ndim", np.float64, 0.0), "sq": ("L,ndim", np.float64, 0.0),
               "pairs": ("L", np.int64, 0), "count": ("", np.int64, 0),
               "first": ("", np.int64, -1), "last": ("", np.int64, -1)}

    def _grow(self, capacity):
        sizes = {"L": self.L, "ndim": self.ndim}
        for name, (shape, dtype, fill) in self._ARRAYS.items():
            trailing = tuple(sizes[d] for d in shape.split(",") if d)
            new = np.full((capacity,) + trailing, fill, dtype=dtype)
            if self.capacity:
                new[:self.capacity] = getattr(self, name)
            setattr(self, name, new)
        self.free.extend(range(capacity - 1, self.capacity - 1, -1))
        self.capacity = capacity

    def open(self, n):
        """``n`` fresh slots, for trajectories that start."""
        while len(self.free) < n:
            self._grow(2 * self.capacity)
        slots = np.array([self.free.pop() for _ in range(n)], np.int64)
        for name, (_shape, _dtype, fill) in self._ARRAYS.items():
            getattr(self, name)[slots] = fill
        return slots

    def add(self, start, stop, frames, slots, r):
        """Add the rows of frames ``start <= f < stop`` (a block, no frame twice per slot)."""
        if len(frames) == 0:
            return
        L, ndim = self.L, self.ndim
        used, which = np.unique(slots, return_inverse=True)
        width = stop - start
        # positions on a frame grid, one row per trajectory: the ring's last L
        # frames, then the block; 0 where absent, with a presence mask M
        X = np.zeros((ndim, len(used), L + width))
        M = np.zeros((len(used), L + width))
        before = start - L + np.arange(L)               # frame numbers of the ring part
        ring_cols = before % L
        held = self.ring_frame[used][:, ring_cols] == before[None, :]
        X[:, :, :L] = np.where(held[None], np.moveaxis(self.ring[used][:, ring_cols], 2, 0), 0)
        M[:, :L] = held
        if len(np.unique(which * width + (frames - start))) < len(frames):
            raise ValueError("traj has more than one row for one particle in one frame: "
                             "link first, or pass one trajectory per particle")
        col = L + (frames - start)
        X[:, which, col] = r.T
        M[which, col] = 1.0
        later, present_later = X[:, :, L:], M[:, L:]
        disp = np.empty((len(used), L, ndim))
        sq = np.empty((len(used), L, ndim))
        pairs = np.empty((len(used), L))
        for lag in range(1, L + 1):
            # contiguous last axis: the sums over frames stay fast
            valid = present_later * M[:, L - lag:L + width - lag]
            d = later - X[:, :, L - lag:L + width - lag]
            d *= valid
            disp[:, lag - 1] = d.sum(axis=2).T
            d *= d
            sq[:, lag - 1] = d.sum(axis=2).T
            pairs[:, lag - 1] = valid.sum(axis=1)
        self.disp[used] += disp
        self.sq[used] += sq
        self.pairs[used] += pairs.astype(np.int64)
        np.add.at(self.count, slots, 1)
        fresh = self.first[used] < 0
        firsts = np.full(len(used), np.iinfo(np.int64).max)
        np.minimum.at(firsts, which, frames)
        self.first[used[fresh]] = firsts[fresh]
        lasts = np.full(len(used), -1, np.int64)
        np.maximum.at(lasts, which, frames)
        self.last[used] = np.maximum(self.last[used], lasts)
        recent = frames >= stop - L                      # what the next block pairs with
        self.ring[slots[recent], frames[recent] % L] = r[recent]
        self.ring_frame[slots[recent], frames[recent] % L] = frames[recent]

    def close(self, slots, detail):
        """The finished trajectories' tables (as :func:`per_particle`), slots freed."""
        L, ndim = self.L, self.ndim
        count, span = self.count[slots], self.last[slots] - self.first[slots] + 1
        nlags = np.minimum(L, np.maximum(span - 1, 0))
        values = np.full((len(slots), L, 2 * ndim + 1 + bool(detail)), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            pairs = self.pairs[slots][:, :, None]
            values[:, :, :ndim] = np.where(pairs > 0, self.disp[slots] / pairs, np.nan)
            values[:, :, ndim:2*ndim] = np.where(pairs > 0, self.sq[slots] / pairs, np.nan)
        values[:, :, 2*ndim] = values[:, :, ndim:2*ndim].sum(axis=2)
        lagtimes = np.arange(1, L + 1)
        beyond = lagtimes[None, :] > nlags[:, None]
        if detail:
            gapfree = span == count
            N = gaps_N(span, count, beyond, np.isnan(values[:, :, 2*ndim]))
            N[gapfree] = np.where(beyond[gapfree], np.nan,
                                  msd_N(count[gapfree, None], lagtimes[None, :]))
            values[:, :, -1] = N
        values[beyond] = np.nan
        self.free.extend(int(s) for s in slots)
        return values, nlags

"""Mean squared displacements, drift and van Hove correlations of trajectories.

trackpy's ``motion`` functions with the same names, signatures, defaults,
return types and numbers, computed over the whole table at once: the table is
sorted by particle and frame once, trajectories without gaps of one length are
stacked and go through trackpy's FFT algorithm together, and trajectories with
gaps are placed on a frame grid (a missing frame is a hole, as in trackpy's
reindexing with NaN) and go through the direct algorithm one lag time at a
time for all of them together.

Input units are pixels and frames; output units are microns and seconds.
"""
import warnings

import numpy as np
import pandas as pd

__all__ = ["msd", "imsd", "emsd", "compute_drift", "subtract_drift", "vanhove"]


class _EmptyTrajectoryError(ValueError, IndexError):
    """An empty table given to `msd` (trackpy raises an IndexError there)."""


def _pos_columns(traj, pos_columns):
    if pos_columns is None:
        pos_columns = ["x", "y"]
    pos_columns = list(pos_columns)
    missing = [c for c in pos_columns + ["frame"] if c not in traj.columns]
    if missing:
        raise ValueError(f"traj has no column(s) {missing}: pass pos_columns=[...] naming the "
                         f"position columns, and a 'frame' column")
    return pos_columns


def _check_max_lagtime(max_lagtime):
    try:
        ok = max_lagtime >= 1 and int(max_lagtime) == max_lagtime
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"max_lagtime must be an integer >= 1 (frames), got {max_lagtime!r}")
    return int(max_lagtime)


def _check_particle(traj, function):
    if not isinstance(traj, pd.DataFrame):
        # stores are streamed by a later version; say what works today
        raise TypeError(f"{function}: traj must be a DataFrame of linked features, got "
                        f"{type(traj).__name__}; for a store, pass store.dump() (it is read "
                        "into memory).")
    if "particle" not in traj.columns:
        raise ValueError(f"{function}: traj has no 'particle' column; link first "
                         f"(tp.link(features, search_range)), or use tp.msd for one trajectory")


def _msd_N(N, t):
    """trackpy's effective number of independent measurements (Qian et al. 1991, B4);
    ``N`` and ``t`` broadcast."""
    t = np.asarray(t, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(t > N/2,
                        1/(1+((N-t)**3+5*t-4*(N-t)**2*t-N)/(6*(N-t)*t**2)),
                        6*(N-t)**2*t/(2*N-t+4*N*t**2-5*t**3))


def _msd_table(traj, mpp, max_lagtime, pos_columns, detail, codes=None):
    """The per-particle MSD tables of all trajectories, as trackpy's ``msd`` gives them.

    Returns ``(values, nlags)``: ``values`` has shape (particles, lags, 2*ndim + 1
    [+ 1 with detail]) -- the columns ``<p>...``, ``<p^2>...``, ``msd`` [, ``N``] -- and
    ``nlags[i]`` is the number of lag times particle ``i`` has (its rows
    ``1..nlags[i]``; later rows are NaN). ``codes`` gives each row's particle number
    (0..n-1, -1 to leave a row out); None puts every row in one trajectory.
    """
    ndim = len(pos_columns)
    frames = traj["frame"].to_numpy()
    if frames.dtype.kind == "f":
        if not np.all(np.isfinite(frames)) or np.any(frames != np.round(frames)):
            raise ValueError("traj['frame'] must hold whole frame numbers")
        frames = frames.astype(np.int64)
    frames = frames.astype(np.int64, copy=False)
    r = traj[pos_columns].to_numpy(dtype=np.float64) * mpp
    if codes is None:
        codes = np.zeros(len(frames), np.int64)
        nparticles = 1
    else:
        keep = codes >= 0
        if not keep.all():
            codes, frames, r = codes[keep], frames[keep], r[keep]
        nparticles = int(codes.max()) + 1 if len(codes) else 0
    order = np.lexsort((frames, codes))
    codes, frames, r = codes[order], frames[order], r[order]
    same = (codes[1:] == codes[:-1]) & (frames[1:] == frames[:-1])
    if same.any():
        raise ValueError("traj has more than one row for one particle in one frame: "
                         "link first, or pass one trajectory per particle")
    counts = np.bincount(codes, minlength=nparticles)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
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
        out[:, :, -1] = _msd_N(n, lagtimes)
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
        n_pos = span[idx][:, None]
        N = _msd_N(n_pos, lagtimes[None, :]) * counts[idx][:, None] / n_pos
        N[beyond] = 0.0
        desired = N.sum(axis=1)
        N[np.isnan(out[:, :, 2*ndim])] = 0.0
        current = N.sum(axis=1)
        rescale = current != desired
        with np.errstate(divide="ignore", invalid="ignore"):
            N[rescale] = N[rescale] * desired[rescale, None] / current[rescale, None]
        out[:, :, -1] = N
    out[beyond] = np.nan
    return out


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


def _result_columns(pos_columns):
    return ([f"<{p}>" for p in pos_columns] + [f"<{p}^2>" for p in pos_columns]
            + ["msd"])


def _particle_codes(traj):
    codes, uniques = pd.factorize(traj["particle"], sort=True)
    return np.asarray(codes, dtype=np.int64), uniques


def msd(traj, mpp, fps, max_lagtime=100, detail=False, pos_columns=None):
    """Mean displacement and mean squared displacement of one trajectory.

    Parameters
    ----------
    traj : DataFrame
        One trajectory: a ``frame`` column and the position columns. Frames may
        be missing (gaps); a displacement counts only when both its frames are
        present.
    mpp : float
        Microns per pixel.
    fps : float
        Frames per second.
    max_lagtime : int, optional
        Lag times out to this many frames. Default 100.
    detail : bool, optional
        Add a column ``N``, the estimated number of statistically independent
        measurements at each lag time (0 where gaps leave the MSD undefined,
        the rest rescaled to keep the total). Default False.
    pos_columns : list of str, optional
        Position columns. Default ``['x', 'y']``.

    Returns
    -------
    DataFrame
        Columns ``<x>, <y>, <x^2>, <y^2>, msd`` (``N`` with detail) and ``lagt``
        (seconds), indexed by the lag time in frames (index name ``lagt``). NaN
        where gaps leave a lag time unmeasured.

    Raises
    ------
    ValueError
        A missing column, an empty table, ``max_lagtime < 1``, or two rows in one frame.

    Examples
    --------
    >>> import pandas as pd, streamtrack as tp
    >>> traj = pd.DataFrame({'frame': [0, 1, 2], 'x': [1., 2., 4.], 'y': [0., 1., 1.]})
    >>> tp.msd(traj, mpp=1, fps=1)  # doctest: +NORMALIZE_WHITESPACE
          <x>  <y>  <x^2>  <y^2>   msd  lagt
    lagt
    1     1.5  0.5    2.5    0.5   3.0   1.0
    2     3.0  1.0    9.0    1.0  10.0   2.0
    """
    pos_columns = _pos_columns(traj, pos_columns)
    max_lagtime = _check_max_lagtime(max_lagtime)
    if len(traj) == 0:
        raise _EmptyTrajectoryError("msd: traj is empty; pass a table with at least one row")
    values, nlags = _msd_table(traj, mpp, max_lagtime, pos_columns, detail)
    n = int(nlags[0])
    lagtimes = np.arange(1, n + 1)
    columns = _result_columns(pos_columns) + (["N"] if detail else [])
    result = pd.DataFrame(values[0, :n], index=pd.Index(lagtimes, name="lagt"),
                          columns=columns)
    result["lagt"] = lagtimes / float(fps)
    return result


def imsd(traj, mpp, fps, max_lagtime=100, statistic='msd', pos_columns=None):
    """Mean squared displacement (or another statistic) of each particle.

    Parameters
    ----------
    traj : DataFrame
        Linked trajectories: columns ``particle``, ``frame`` and the positions.
    mpp : float
        Microns per pixel.
    fps : float
        Frames per second.
    max_lagtime : int, optional
        Lag times out to this many frames. Default 100.
    statistic : str, optional
        One of `msd`'s columns: ``'msd'`` (default), ``'<x>'``, ``'<y>'``,
        ``'<x^2>'``, ``'<y^2>'`` (named after ``pos_columns``).
    pos_columns : list of str, optional
        Position columns. Default ``['x', 'y']``.

    Returns
    -------
    DataFrame
        One column per particle (particles with a single position have none),
        indexed by lag time in seconds (index name ``lag time [s]``); NaN where
        a particle's lag time was not measured.

    Raises
    ------
    ValueError
        No ``particle`` column (link first), an empty table, ``max_lagtime < 1``,
        an unknown ``statistic``, or two rows of one particle in one frame.

    Examples
    --------
    >>> import pandas as pd, streamtrack as tp
    >>> traj = pd.DataFrame({'particle': [0, 0, 0, 1, 1], 'frame': [0, 1, 2, 0, 2],
    ...                      'x': [0., 1., 3., 5., 7.], 'y': [0., 0., 0., 1., 1.]})
    >>> tp.imsd(traj, mpp=0.5, fps=10)  # doctest: +NORMALIZE_WHITESPACE
                      0    1
    lag time [s]
    0.1           0.625  NaN
    0.2           2.250  1.0
    """
    _check_particle(traj, "imsd")
    pos_columns = _pos_columns(traj, pos_columns)
    max_lagtime = _check_max_lagtime(max_lagtime)
    allowed = _result_columns(pos_columns) + ["lagt"]
    if statistic not in allowed:
        raise ValueError(f"imsd: statistic must be one of {allowed}, got {statistic!r}")
    codes, uniques = _particle_codes(traj)
    if len(uniques) == 0:
        raise ValueError("imsd: traj has no trajectories (No objects to concatenate)")
    values, nlags = _msd_table(traj, mpp, max_lagtime, pos_columns, False, codes)
    lmax = values.shape[1]
    lagtimes = np.arange(1, lmax + 1)
    keep = nlags > 0
    if statistic == "lagt":
        data = np.where(lagtimes[:, None] <= nlags[None, keep], lagtimes[:, None] / float(fps),
                        np.nan)
    else:
        data = values[keep, :, allowed.index(statistic)].T
    index = pd.Index(lagtimes.astype("float64") / float(fps), name="lag time [s]")
    return pd.DataFrame(data, index=index, columns=uniques[keep].rename(None), copy=True)


def emsd(traj, mpp, fps, max_lagtime=100, detail=False, pos_columns=None):
    """Ensemble mean squared displacement of many particles.

    Each particle's `msd` is weighted by its number of independent
    measurements ``N``, as in trackpy.

    Parameters
    ----------
    traj : DataFrame
        Linked trajectories: columns ``particle``, ``frame`` and the positions.
    mpp : float
        Microns per pixel.
    fps : float
        Frames per second.
    max_lagtime : int, optional
        Lag times out to this many frames. Default 100.
    detail : bool, optional
        Return all of `msd`'s columns plus ``N`` (the summed number of
        independent measurements). Default False: only the MSD.
    pos_columns : list of str, optional
        Position columns. Default ``['x', 'y']``.

    Returns
    -------
    Series or DataFrame
        Without detail, a Series named ``msd`` indexed by lag time in seconds
        (index name ``lagt``). With detail, a DataFrame with columns ``<x>, <y>,
        <x^2>, <y^2>, msd, N, lagt`` indexed by lag time in frames (index name
        ``frame``).

    Raises
    ------
    ValueError
        No ``particle`` column (link first), an empty table, ``max_lagtime < 1``,
        or two rows of one particle in one frame.

    Examples
    --------
    >>> import pandas as pd, streamtrack as tp
    >>> traj = pd.DataFrame({'particle': [0, 0, 0, 1, 1, 1], 'frame': [0, 1, 2] * 2,
    ...                      'x': [0., 1., 3., 5., 6., 6.], 'y': 0.})
    >>> tp.emsd(traj, mpp=1, fps=1)
    lagt
    1.0    1.5
    2.0    5.0
    Name: msd, dtype: float64
    """
    _check_particle(traj, "emsd")
    pos_columns = _pos_columns(traj, pos_columns)
    max_lagtime = _check_max_lagtime(max_lagtime)
    codes, uniques = _particle_codes(traj)
    if len(uniques) == 0:
        raise ValueError("emsd: traj has no trajectories (No objects to concatenate)")
    values, nlags = _msd_table(traj, mpp, max_lagtime, pos_columns, True, codes)
    nparticles, lmax, _ = values.shape
    lagtimes = np.arange(1, lmax + 1)
    rows = lagtimes[None, :] <= nlags[:, None]           # trackpy's rows (particle, lag)
    ndim = len(pos_columns)
    N = values[:, :, -1]
    stats = values[:, :, :-1].copy()
    msd_col = stats[:, :, 2*ndim]
    msd_col[np.isnan(msd_col)] = 0.0                     # trackpy sets NaN msd to 0
    lagt = np.broadcast_to(lagtimes / float(fps), (nparticles, lmax))
    table = np.concatenate([stats, N[:, :, None], lagt[:, :, None]], axis=2)
    weighted = table * N[:, :, None]
    ok = rows[:, :, None] & ~np.isnan(weighted)
    with np.errstate(divide="ignore", invalid="ignore"):
        num = np.where(ok, weighted, 0).sum(axis=0) / ok.sum(axis=0)
        n_ok = rows & ~np.isnan(N)
        N_sum = np.where(n_ok, N, 0).sum(axis=0)
        den = N_sum / n_ok.sum(axis=0)
        results = num / den[:, None]
    columns = _result_columns(pos_columns) + ["N", "lagt"]
    present = rows.any(axis=0)
    results = results[present]
    if not detail:
        index = pd.Index(results[:, -1], name="lagt")
        return pd.Series(results[:, 2*ndim], index=index, name="msd")
    results[:, -2] = N_sum[present]
    index = pd.Index(lagtimes[present].astype(np.int64), name="frame")
    return pd.DataFrame(results, index=index, columns=columns)


def compute_drift(traj, smoothing=0, pos_columns=None):
    """The ensemble drift: cumulative mean displacement of the particles per frame.

    Only steps of one particle between consecutive frames count.

    Parameters
    ----------
    traj : DataFrame
        Trajectories: position columns, ``frame`` and ``particle``.
    smoothing : int, optional
        Smooth the per-frame displacements with a rolling mean over this many
        frames before summing. Default 0 (no smoothing).
    pos_columns : list of str, optional
        Position columns. Default ``['y', 'x']``, or ``['z', 'y', 'x']`` if
        traj has a ``z`` column.

    Returns
    -------
    DataFrame
        The drift, one column per position column, indexed by ``frame``.

    Raises
    ------
    ValueError
        No ``particle`` column (link first) or a missing position column.

    Examples
    --------
    >>> import pandas as pd, streamtrack as tp
    >>> traj = pd.DataFrame({'particle': [0, 0, 0, 1, 1, 1], 'frame': [0, 1, 2] * 2,
    ...                      'x': [0., 1., 2., 5., 6., 7.], 'y': [0., 0., 1., 3., 3., 4.]})
    >>> tp.compute_drift(traj)  # doctest: +NORMALIZE_WHITESPACE
             y    x
    frame
    1      0.0  1.0
    2      1.0  2.0
    >>> corrected = tp.subtract_drift(traj, tp.compute_drift(traj))
    >>> corrected[['x', 'y']]  # doctest: +NORMALIZE_WHITESPACE
                      x    y
    frame particle
    0     0         0.0  0.0
          1         5.0  3.0
    1     0         0.0  0.0
          1         5.0  3.0
    2     0         0.0  0.0
          1         5.0  3.0
    """
    if pos_columns is None:
        pos_columns = ["z", "y", "x"] if "z" in traj else ["y", "x"]
    pos_columns = list(pos_columns)
    _check_particle(traj, "compute_drift")
    missing = [c for c in pos_columns + ["frame"] if c not in traj.columns]
    if missing:
        raise ValueError(f"compute_drift: traj has no column(s) {missing}; pass pos_columns")
    cols = pos_columns + ["particle", "frame"]
    data = traj[cols]
    if data.index.name is not None and data.index.name in ("particle", "frame"):
        data = data.rename_axis(data.index.name + "_index")
    f_sort = data.sort_values(by=["particle", "frame"])
    f_diff = f_sort[cols].diff().rename(columns={"frame": "frame_diff"})
    f_diff["frame"] = f_sort["frame"]
    mask = (f_diff["particle"] == 0) & (f_diff["frame_diff"] == 1)
    dx = f_diff.loc[mask, pos_columns + ["frame"]].groupby("frame").mean()
    if smoothing > 0:
        dx = dx.rolling(smoothing, min_periods=0).mean()
    return dx.cumsum()


def subtract_drift(traj, drift=None, inplace=False):
    """Trajectories with the drift subtracted.

    Parameters
    ----------
    traj : DataFrame
        Trajectories: position columns, ``frame`` and (with more than one
        particle) ``particle``.
    drift : DataFrame, optional
        Drift per frame, as `compute_drift` returns it; its columns are
        subtracted from traj's columns of the same names (frames missing from
        drift are left unchanged). Default: ``compute_drift(traj)``.
    inplace : bool, optional
        Modify ``traj`` itself (its index and row order too) and return it.
        Default False: return a modified copy.

    Returns
    -------
    DataFrame
        Indexed by ``(frame, particle)`` (or ``frame``), sorted by frame, the
        columns kept.

    Raises
    ------
    KeyError
        A drift column that traj does not have.

    Examples
    --------
    >>> import pandas as pd, streamtrack as tp
    >>> traj = pd.DataFrame({'frame': [0, 1, 2], 'x': [1., 2., 3.], 'y': [0., 0., 0.]})
    >>> drift = pd.DataFrame({'x': [1., 2.]}, index=pd.Index([1, 2], name='frame'))
    >>> tp.subtract_drift(traj, drift)  # doctest: +NORMALIZE_WHITESPACE
           frame    x    y
    frame
    0          0  1.0  0.0
    1          1  1.0  0.0
    2          2  1.0  0.0
    """
    if drift is None:
        drift = compute_drift(traj)
    keys = ["frame", "particle"] if "particle" in traj.columns else ["frame"]
    result = traj.set_index(keys, drop=False).sort_index(level="frame")
    for col in drift.columns:
        result[col] = result[col].sub(drift[col], fill_value=0, level="frame")
    if not inplace:
        return result
    # the caller's object takes the new index, row order and values
    traj.index = result.index
    for col in result.columns:
        traj[col] = result[col].to_numpy()
    return traj


def vanhove(pos, lagtime, mpp=1, ensemble=False, bins=24):
    """The van Hove correlation: histograms of the displacements over ``lagtime``.

    Parameters
    ----------
    pos : DataFrame
        One position coordinate (x or y), one column per particle, indexed by
        frame, e.g. ``traj.set_index(['frame', 'particle'])['x'].unstack()``.
    lagtime : int
        Lag time in frames.
    mpp : float, optional
        Microns per pixel. Default 1 (pixels).
    ensemble : bool, optional
        False (default): a DataFrame, each particle's histogram. True: a Series,
        the mean of the particles' histograms.
    bins : int or sequence, optional
        Number of equal bins (shared by all particles, spanning all
        displacements) or the bin edges, as for `numpy.histogram`. Default 24.

    Returns
    -------
    DataFrame or Series
        Probability densities indexed by the left bin edges.

    Raises
    ------
    ValueError
        ``lagtime`` beyond the last frame of ``pos``.

    Examples
    --------
    >>> import pandas as pd, streamtrack as tp
    >>> pos = pd.DataFrame({0: [0., 1., 2., 4.], 1: [0., 1., 1., 1.]})
    >>> tp.vanhove(pos, lagtime=1, bins=2, ensemble=True)
    0.0    0.333333
    1.0    0.666667
    dtype: float64
    """
    pos = pos.reindex(np.arange(pos.index[0], 1 + pos.index[-1]))
    if not lagtime <= pos.index.values.max():
        raise ValueError(f"vanhove: lagtime={lagtime} is beyond the data, which ends at frame "
                         f"{pos.index.values.max()}; pass a smaller lagtime")
    disp = mpp*pos.sub(pos.shift(lagtime))
    values = disp.to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    global_bins = np.histogram(finite, bins=bins)[1]
    # np.histogram(x, bins=global_bins, density=True) of every column at once
    nbins = len(global_bins) - 1
    first, last = global_bins[0], global_bins[-1]
    inside = (values >= first) & (values <= last)
    which = np.searchsorted(global_bins, np.where(inside, values, first), side="right") - 1
    which[values == last] = nbins - 1
    ncols = values.shape[1]
    colno = np.broadcast_to(np.arange(ncols), values.shape)
    flat = colno[inside] * nbins + which[inside]
    counts = np.bincount(flat, minlength=ncols * nbins).reshape(ncols, nbins).astype(float)
    db = np.diff(global_bins).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        density = counts / db / counts.sum(axis=1, keepdims=True)
    vh = pd.DataFrame(density.T, index=global_bins[:-1], columns=disp.columns)
    if ensemble:
        return vh.sum(1)/len(vh.columns)
    return vh

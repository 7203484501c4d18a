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

from . import _msd, _streamed, _streamed_rows

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
        raise TypeError(f"{function}: traj must be a DataFrame of linked features or a "
                        f"store (streamtrack.PandasHDFStore...), got {type(traj).__name__}")
    if "particle" not in traj.columns:
        raise ValueError(f"{function}: traj has no 'particle' column; link first "
                         f"(tp.link(features, search_range)), or use tp.msd for one trajectory")


def _msd_table(traj, mpp, max_lagtime, pos_columns, detail, codes=None):
    """:func:`._msd.per_particle` of a table; ``codes`` None: one trajectory."""
    frames = _msd.frame_numbers(traj["frame"].to_numpy())
    r = traj[pos_columns].to_numpy(dtype=np.float64) * mpp
    if codes is None:
        return _msd.per_particle(frames, np.zeros(len(frames), np.int64), r, 1,
                                 max_lagtime, detail)
    keep = codes >= 0                    # a row without a particle (NaN) is left out
    if not keep.all():
        codes, frames, r = codes[keep], frames[keep], r[keep]
    nparticles = int(codes.max()) + 1 if len(codes) else 0
    return _msd.per_particle(frames, codes, r, nparticles, max_lagtime, detail)


def _store_pos_columns(pos_columns):
    return ["x", "y"] if pos_columns is None else list(pos_columns)


def _check_statistic(statistic, pos_columns):
    allowed = _result_columns(pos_columns) + ["lagt"]
    if statistic not in allowed:
        raise ValueError(f"imsd: statistic must be one of {allowed}, got {statistic!r}")


def _result_columns(pos_columns):
    return ([f"<{p}>" for p in pos_columns] + [f"<{p}^2>" for p in pos_columns]
            + ["msd"])


def _particle_codes(traj):
    codes, uniques = pd.factorize(traj["particle"], sort=True)
    return np.asarray(codes, dtype=np.int64), uniques


def msd(traj, mpp=None, fps=None, max_lagtime=100, detail=False, pos_columns=None):
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
    max_lagtime = _check_max_lagtime(max_lagtime)
    mpp, fps = _streamed.units(traj, mpp, fps, "msd")
    if _streamed.is_store(traj):
        values, nlags = _streamed.msd(traj, mpp, fps, max_lagtime, detail,
                                      _store_pos_columns(pos_columns))
    else:
        pos_columns = _pos_columns(traj, pos_columns)
        if len(traj) == 0:
            raise _EmptyTrajectoryError("msd: traj is empty; pass a table with at least one row")
        values, nlags = _msd_table(traj, mpp, max_lagtime, pos_columns, detail)
    pos_columns = _store_pos_columns(pos_columns)
    n = int(nlags[0])
    lagtimes = np.arange(1, n + 1)
    columns = _result_columns(pos_columns) + (["N"] if detail else [])
    result = pd.DataFrame(values[0, :n], index=pd.Index(lagtimes, name="lagt"),
                          columns=columns)
    result["lagt"] = lagtimes / float(fps)
    return result


def imsd(traj, mpp=None, fps=None, max_lagtime=100, statistic='msd', pos_columns=None):
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
    max_lagtime = _check_max_lagtime(max_lagtime)
    mpp, fps = _streamed.units(traj, mpp, fps, "imsd")
    if _streamed.is_store(traj):
        pos_columns = _store_pos_columns(pos_columns)
        _check_statistic(statistic, pos_columns)
        return _streamed.imsd(traj, mpp, fps, max_lagtime, statistic, pos_columns)
    _check_particle(traj, "imsd")
    pos_columns = _pos_columns(traj, pos_columns)
    _check_statistic(statistic, pos_columns)
    allowed = _result_columns(pos_columns) + ["lagt"]
    codes, uniques = _particle_codes(traj)
    if len(uniques) == 0:
        raise ValueError("imsd: traj has no trajectories (No objects to concatenate)")
    values, nlags = _msd_table(traj, mpp, max_lagtime, pos_columns, False, codes)
    lmax = values.shape[1]
    lagtimes = np.arange(1, lmax + 1)
    keep = nlags > 0
    if not keep.any():
        _streamed.warn_too_short("imsd")
    if statistic == "lagt":
        data = np.where(lagtimes[:, None] <= nlags[None, keep], lagtimes[:, None] / float(fps),
                        np.nan)
    else:
        data = values[keep, :, allowed.index(statistic)].T
    index = pd.Index(lagtimes.astype("float64") / float(fps), name="lag time [s]")
    return pd.DataFrame(data, index=index, columns=uniques[keep].rename(None), copy=True)


def emsd(traj, mpp=None, fps=None, max_lagtime=100, detail=False, pos_columns=None):
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
    max_lagtime = _check_max_lagtime(max_lagtime)
    mpp, fps = _streamed.units(traj, mpp, fps, "emsd")
    if _streamed.is_store(traj):
        return _streamed.emsd(traj, mpp, fps, max_lagtime, detail,
                              _store_pos_columns(pos_columns))
    _check_particle(traj, "emsd")
    pos_columns = _pos_columns(traj, pos_columns)
    codes, uniques = _particle_codes(traj)
    if len(uniques) == 0:
        raise ValueError("emsd: traj has no trajectories (No objects to concatenate)")
    values, nlags = _msd_table(traj, mpp, max_lagtime, pos_columns, True, codes)
    ensemble = _msd.Ensemble(len(pos_columns), max(values.shape[1], 1), fps)
    ensemble.add(values, nlags)
    if not ensemble.present.any():
        _streamed.warn_too_short("emsd")
    return ensemble.result(pos_columns, detail)


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
    if _streamed.is_store(traj):
        if pos_columns is None:
            columns = _streamed.first_columns(traj, "compute_drift")
            pos_columns = ["z", "y", "x"] if "z" in columns else ["y", "x"]
        return _streamed.compute_drift(traj, smoothing, list(pos_columns))
    if pos_columns is None:
        pos_columns = ["z", "y", "x"] if "z" in traj else ["y", "x"]
    pos_columns = list(pos_columns)
    _check_particle(traj, "compute_drift")
    missing = [c for c in pos_columns + ["frame"] if c not in traj.columns]
    if missing:
        raise ValueError(f"compute_drift: traj has no column(s) {missing}; pass pos_columns")
    from . import _drift  # array numerics, shared with streamed stores

    arrays = _drift.table_arrays(traj, pos_columns)
    if arrays is None:  # dtypes whose pandas arithmetic is not float64's: trackpy's way
        return _drift.drift_pandas(traj, smoothing, pos_columns)
    frames, particles, r, frame_dtype = arrays
    step_frames, sums, counts = _drift.mean_steps(frames, particles, r)
    return _drift.drift_table(step_frames, sums, counts, smoothing,
                              _drift.result_columns(traj.columns, pos_columns), frame_dtype)


def subtract_drift(traj, drift=None, inplace=False, output=None):
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
    if _streamed.is_store(traj):
        if inplace:
            raise ValueError("subtract_drift: inplace=True is for DataFrames; a store is not "
                             "modified: pass output=another store")
        if drift is None:
            drift = compute_drift(traj)
        return _streamed_rows.rewrite(traj, output, "subtract_drift",
                                 lambda part: subtract_drift(part, drift))
    if output is not None:
        return _streamed_rows.put_frames(subtract_drift(traj, drift, inplace), output,
                                    "subtract_drift")
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
        return vh.sum(axis=1)/len(vh.columns)
    return vh

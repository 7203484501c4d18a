"""Remove spurious trajectories from a linked table (trackpy's ``filtering``).

The functions take and return a :class:`pandas.DataFrame` with trackpy's
columns (``'frame'``, ``'particle'``, ...) and give the same rows, order,
index and dtypes as trackpy 0.7: the result is a new table indexed by
``'frame'`` (the ``'frame'`` column is kept), in the input's row order.
Rows whose ``'particle'`` is missing (NaN) never survive, as in trackpy.

:func:`filter_stubs` and :func:`filter_clusters` are vectorised (one
group-wise count or mean instead of one Python call per trajectory).
"""
import numpy as np

from . import _streamed, _streamed_rows

__all__ = ["filter_stubs", "filter_clusters", "filter"]

_LINK_FIRST = (
    "tracks must contain columns 'frame' and 'particle' (missing: {}); "
    "link the features first, e.g. with streamtrack.link(features, search_range)"
)


def _check_columns(tracks):
    missing = [name for name in ("frame", "particle") if name not in tracks.columns]
    if missing:
        raise ValueError(_LINK_FIRST.format(", ".join(repr(name) for name in missing)))


def _take(tracks, keep):
    """Rows of ``tracks`` where ``keep`` is True, indexed by frame as trackpy does."""
    kept = tracks.reset_index(drop=True)
    if not keep.all():
        kept = kept.iloc[np.flatnonzero(keep)]
    return kept.set_index("frame", drop=False)


def filter_stubs(tracks, threshold=100, output=None):
    """Filter out trajectories with few points. They are often spurious.

    A trajectory survives if it has at least ``threshold`` rows with a
    frame number (``>=``, not ``>``).

    Parameters
    ----------
    tracks : DataFrame
        Linked features; must include columns named 'frame' and 'particle'.
    threshold : int, default 100
        Minimum number of points (video frames) to survive.

    Returns
    -------
    DataFrame
        A new table with the rows of the surviving trajectories, in the
        input's order, indexed by 'frame' (the 'frame' column is kept).

    Raises
    ------
    ValueError
        If 'frame' or 'particle' is missing (the table is not linked yet), or
        if ``threshold`` is negative.

    Examples
    --------
    >>> import pandas as pd
    >>> import streamtrack as tp
    >>> t = pd.DataFrame({'frame': [0, 1, 2, 0, 1], 'particle': [0, 0, 0, 1, 1],
    ...                   'x': [1.0, 1.5, 2.0, 7.0, 7.5]})
    >>> tp.filter_stubs(t, threshold=3)  # doctest: +NORMALIZE_WHITESPACE
           frame  particle    x
    frame
    0          0         0  1.0
    1          1         0  1.5
    2          2         0  2.0
    >>> len(tp.filter_stubs(t, threshold=2))
    5
    """
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0 (a number of frames), got {threshold!r}")
    if _streamed.is_store(tracks):
        scan = _streamed.Scan(tracks, "filter_stubs")
        return _streamed_rows.filter_by_particle(tracks, scan.count >= threshold, scan,
                                            "filter_stubs", output)
    _check_columns(tracks)
    if output is not None:
        return _streamed_rows.put_frames(filter_stubs(tracks, threshold), output, "filter_stubs")
    # rows with a frame number per trajectory, broadcast back onto the rows;
    # rows without a particle get NaN and fail the comparison, as in trackpy
    counts = tracks.groupby(tracks["particle"].to_numpy(), sort=False)["frame"].transform(
        "count"
    )
    keep = counts.to_numpy(dtype=float) >= threshold
    return _take(tracks, keep)


def filter_clusters(tracks, quantile=0.8, threshold=None, output=None):
    """Filter out trajectories with a mean particle size above a given quantile.

    A trajectory survives if its mean 'size' is strictly below the threshold.

    Parameters
    ----------
    tracks : DataFrame
        Linked features; must include columns named 'frame', 'particle' and
        'size'.
    quantile : float between 0 and 1, default 0.8
        Quantile of particle 'size' (over all rows) above which to cut off.
    threshold : float, optional
        If given, use this size cut-off and ignore ``quantile``.

    Returns
    -------
    DataFrame
        A new table with the rows of the surviving trajectories, in the
        input's order, indexed by 'frame' (the 'frame' column is kept).

    Raises
    ------
    ValueError
        If 'frame' or 'particle' is missing (the table is not linked yet), if
        'size' is missing, or if ``quantile`` is outside [0, 1].

    Examples
    --------
    >>> import pandas as pd
    >>> import streamtrack as tp
    >>> t = pd.DataFrame({'frame': [0, 1, 0, 1], 'particle': [0, 0, 1, 1],
    ...                   'size': [2.0, 2.0, 5.0, 6.0]})
    >>> tp.filter_clusters(t, threshold=3)  # doctest: +NORMALIZE_WHITESPACE
           frame  particle  size
    frame
    0          0         0   2.0
    1          1         0   2.0
    """
    if _streamed.is_store(tracks):
        scan = _streamed.Scan(tracks, "filter_clusters", sizes="size" in
                              _streamed.first_columns(tracks, "filter_clusters"))
        if "size" not in scan.columns:
            raise ValueError("the store has no 'size' column to filter clusters by size")
        if threshold is None:
            threshold = _streamed_rows.size_quantile(tracks, scan, quantile)
        with np.errstate(divide="ignore", invalid="ignore"):
            means = scan.size_sum / scan.size_count
        return _streamed_rows.filter_by_particle(tracks, means < threshold, scan,
                                            "filter_clusters", output)
    _check_columns(tracks)
    if "size" not in tracks.columns:
        raise ValueError("tracks must contain a 'size' column to filter clusters by size")
    if output is not None:
        return _streamed_rows.put_frames(filter_clusters(tracks, quantile, threshold), output,
                                    "filter_clusters")
    if threshold is None:
        threshold = tracks["size"].quantile(quantile)
    means = tracks.groupby(tracks["particle"].to_numpy(), sort=False)["size"].transform("mean")
    keep = means.to_numpy(dtype=float) < threshold
    return _take(tracks, keep)


def filter(tracks, condition_func):
    """Keep the trajectories for which ``condition_func`` returns True.

    Parameters
    ----------
    tracks : DataFrame
        Linked features; must include columns named 'frame' and 'particle'.
    condition_func : callable
        Applied to each trajectory (the rows of one particle, as a
        DataFrame); must return True or False.

    Returns
    -------
    DataFrame
        A new table with the rows of the surviving trajectories, in the
        input's order, indexed by 'frame' (the 'frame' column is kept).

    Raises
    ------
    ValueError
        If 'frame' or 'particle' is missing (the table is not linked yet).

    Examples
    --------
    >>> import pandas as pd
    >>> import streamtrack as tp
    >>> t = pd.DataFrame({'frame': [0, 1, 0, 1], 'particle': [0, 0, 1, 1],
    ...                   'x': [1.0, 9.0, 5.0, 5.5]})
    >>> moves_far = lambda traj: traj['x'].max() - traj['x'].min() > 2
    >>> tp.filter(t, moves_far)  # doctest: +NORMALIZE_WHITESPACE
           frame  particle    x
    frame
    0          0         0  1.0
    1          1         0  9.0
    """
    _check_columns(tracks)
    grouped = tracks.reset_index(drop=True).groupby("particle")
    return grouped.filter(condition_func).set_index("frame", drop=False)

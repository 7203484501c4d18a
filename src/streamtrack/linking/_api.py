"""trackpy's linking entry points, all on one :class:`Linker`.

``link``/``link_df`` take a whole DataFrame, ``link_iter`` arrays, and
``link_df_iter`` streams per-frame DataFrames (a store, a generator, ...):
the same core, so the same trajectories. As in trackpy, ``memory`` counts
frame numbers in ``link`` (a missing frame number is an empty frame) and
delivered frames in the streaming functions (frames 0, 25, 75 are
consecutive). A streamed store that recorded the frames ``batch`` processed
delivers the processed frames without features too, so streaming a movie
processed whole counts what ``link`` counts on the store's ``dump()``.
"""
import itertools
import numbers
import warnings

import numpy as np
import pandas as pd

from ..stores.base import resumable
from ._linker import Linker


def _pos_columns(columns, pos_columns):
    if pos_columns is not None:
        return list(pos_columns)
    return ["z", "y", "x"] if "z" in columns else ["y", "x"]


def _check_columns(df, pos_columns, t_column, where):
    missing = [c for c in list(pos_columns) + [t_column] if c not in df.columns]
    if missing:
        raise ValueError(f"{where} has no column {missing[0]!r} (columns: {list(df.columns)}); "
                         "pass pos_columns=[...] / t_column=... to name the right ones.")


def _frame_numbers(values, t_column):
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if (values.dtype.kind == "f" and np.all(np.isfinite(values))
            and np.all(values == np.round(values))):
        return values.astype(np.int64)
    raise ValueError(f"column {t_column!r} must hold integer frame numbers, got "
                     f"dtype {values.dtype}.")


def _numeric(df, column, where):
    """One position column as floats; text that is not a number is named."""
    try:
        return df[column].to_numpy(dtype=float)
    except (TypeError, ValueError):
        values = df[column]
        bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
        first = values[bad].iloc[0] if bad.any() else None
        raise ValueError(f"{where}: position column {column!r} holds {first!r}, which is not "
                         f"a number; convert the column first, e.g. "
                         f"df[{column!r}] = pd.to_numeric(df[{column!r}]).") from None


def _positions(df, pos_columns, where):
    try:
        coords = df[pos_columns].to_numpy(dtype=float)
    except (TypeError, ValueError):
        coords = np.column_stack([_numeric(df, c, where) for c in pos_columns])
    if not np.all(np.isfinite(coords)):
        raise ValueError(f"{where} has NaN or infinite positions in {pos_columns}; drop "
                         "those rows first (e.g. df.dropna(subset=pos_columns)).")
    return coords


def check_search_range(search_range, pos_columns):
    """Refuse a ``search_range`` with a value count that fits neither one nor each axis.

    Checked before the first frame is linked (and so before anything is
    written back): a broadcasting error would come only from the second.

    Raises
    ------
    ValueError
        ``search_range`` has several values, but not one per position column.
    """
    n = np.size(search_range) if hasattr(search_range, "__len__") else 1
    if n not in (1, len(pos_columns)):
        shown = np.atleast_1d(np.asarray(search_range, dtype=float)).tolist()
        raise ValueError(f"search_range has {n} values ({shown}) but the positions "
                         f"have {len(pos_columns)} columns {list(pos_columns)}; give one "
                         "value, or one per position column in that order.")


def _repeated_rows(columns):
    """The rows, after the first of each kind, whose values all repeat an earlier row's.

    ``columns`` are equal-length int64/float64 arrays (frame number, positions).
    A hash of each row's bits is sorted to find candidates cheaply (about 3%
    of the time linking a million rows takes); only rows whose hashes collide
    are compared.
    """
    n = len(columns[0])
    if n < 2:
        return np.empty(0, np.int64)
    bits = [np.ascontiguousarray(c, dtype=np.int64 if c.dtype.kind in "iu" else np.float64)
            .view(np.uint64) for c in columns]
    h = np.zeros(n, np.uint64)
    for b in bits:
        h = (h * np.uint64(1099511628211)) ^ b  # FNV-style mix; wraps around
    ordered = np.sort(h)
    if not np.any(ordered[1:] == ordered[:-1]):
        return np.empty(0, np.int64)
    candidates = np.flatnonzero(pd.Series(h).duplicated(keep=False).to_numpy())
    table = pd.DataFrame({i: c[candidates] for i, c in enumerate(columns)})
    return candidates[table.duplicated().to_numpy()]


def _warn_repeated(t, coords, pos_columns, t_column, where, stacklevel=3):
    """Warn when rows repeat a frame and position exactly (a frame stored twice?).

    trackpy links each copy as a particle of its own, silently doubling
    them; the result here is the same (trackpy's), but the user is told.
    """
    repeated = _repeated_rows([np.broadcast_to(np.asarray(t, np.int64), len(coords))]
                              + list(coords.T))
    if len(repeated):
        frames = sorted(set(np.broadcast_to(t, len(coords))[repeated].tolist()))
        shown = ", ".join(str(f) for f in frames[:5]) + (", ..." if len(frames) > 5 else "")
        warnings.warn(f"{where} holds {len(repeated)} rows that repeat another row's frame "
                      f"and position exactly (frame {shown}: stored twice?); each copy is "
                      "linked as a particle of its own (as trackpy does). Drop them first, "
                      f"e.g. df.drop_duplicates(subset={[t_column] + list(pos_columns)}).",
                      UserWarning, stacklevel=stacklevel + 1)


def _link_arrays(coords_iter, linker):
    """``(t, ids)`` per item of ``coords_iter``, ids as an int64 array.

    The engine of :func:`link_iter` (which converts the ids to lists, as
    trackpy yields them); ``t`` is yielded as given.
    """
    items = iter(coords_iter)
    try:
        first = next(items)
    except StopIteration:
        return
    items = itertools.chain([first], items)
    pairs = isinstance(first, tuple) and len(first) == 2 and \
        (first[0] is None or isinstance(first[0], (numbers.Integral, np.integer)))
    for i, item in enumerate(items):
        t, coords = item if pairs else (i, item)
        yield t, linker.step(t, coords)


def link_iter(coords_iter, search_range, **kwargs):
    """Link an iterable of coordinate arrays; yield ``(t, particle_ids)`` per frame.

    ``memory`` counts the frames given (as trackpy's ``link_iter``): arrays
    numbered 0, 25, 75 are consecutive frames, and an empty array is a frame.

    Parameters
    ----------
    coords_iter : iterable
        ``(N, ndim)`` arrays (frames numbered 0, 1, ...) or ``(t, array)`` pairs.
    search_range : float or tuple
        Largest displacement between frames (one per axis if a tuple).
    **kwargs
        Options of :class:`streamtrack.linking.Linker` (memory, predictor,
        adaptive_stop, adaptive_step, neighbor_strategy, link_strategy,
        dist_func, to_eucl, max_subnet_size, max_subnet_size_adaptive).

    Yields
    ------
    (t, list of int)
        The frame number as given (or the position, for bare arrays) and one
        particle id per input row, as a list of Python ints (as trackpy
        yields them; empty for an empty frame).

    Examples
    --------
    >>> frames = [np.array([[0.0, 0.0], [5.0, 5.0]]), np.array([[5.2, 5.0], [0.1, 0.0]])]
    >>> list(link_iter(frames, 1.0))
    [(0, [0, 1]), (1, [1, 0])]
    """
    linker = Linker(search_range, memory_counts="steps", **kwargs)
    for t, ids in _link_arrays(coords_iter, linker):
        yield t, ids.tolist()


def link(f, search_range, pos_columns=None, t_column='frame', **kwargs):
    """Link features of a whole DataFrame into trajectories.

    Parameters
    ----------
    f : DataFrame
        Features with position columns and a frame-number column.
    search_range : float or tuple
        Largest displacement between frames (one per axis if a tuple).
    pos_columns : list of str, optional
        Default ``['y', 'x']``, or ``['z', 'y', 'x']`` when there is a ``z``.
    t_column : str, optional
        Frame-number column. Default 'frame'.
    **kwargs
        Options of :class:`streamtrack.linking.Linker` (memory, predictor, ...).

    Returns
    -------
    DataFrame
        A copy of ``f`` sorted by frame (stable; index kept) with an int64
        ``particle`` column. A ``t_column`` of another dtype than integer
        (float frame numbers) becomes int64, as in trackpy; integer columns
        keep their dtype.

    Raises
    ------
    TypeError
        ``f`` is not a DataFrame.
    ValueError
        Missing columns, NaN/inf positions, text in a position column,
        non-integer frame numbers, a non-positive search_range or one with
        several values but not one per position column.
    SubnetOversizeException
        A subnetwork beyond the size limits.

    Warns
    -----
    UserWarning
        Rows that repeat another row's frame and position exactly (a frame
        stored twice?): each copy is linked as a particle of its own, as
        trackpy links them.

    Examples
    --------
    >>> f = pd.DataFrame({'frame': [0, 0, 1, 1], 'y': [0., 5., 5.2, .1], 'x': [0., 5., 5., 0.]})
    >>> link(f, 1.0)['particle'].tolist()
    [0, 1, 1, 0]
    """
    if not isinstance(f, pd.DataFrame):
        raise TypeError(f"link() takes a DataFrame of features, got {type(f).__name__}; "
                        "for an iterable of frames use link_df_iter().")
    pos_columns = _pos_columns(f.columns, pos_columns)
    _check_columns(f, pos_columns, t_column, "the DataFrame")
    t = _frame_numbers(f[t_column].to_numpy(), t_column)
    coords = _positions(f, pos_columns, "the DataFrame")
    linker = Linker(search_range, **kwargs)  # validates options before any work
    check_search_range(search_range, pos_columns)
    _warn_repeated(t, coords, pos_columns, t_column, "the DataFrame")
    order = np.argsort(t, kind="stable")
    t, coords = t[order], coords[order]
    particle = np.empty(len(t), dtype=np.int64)
    if len(t):
        starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
        stops = np.r_[starts[1:], len(t)]
        for a, b in zip(starts, stops):
            particle[a:b] = linker.step(t[a], coords[a:b])
    result = f.iloc[order].copy()
    if result[t_column].dtype.kind not in "iu":  # float frame numbers, checked whole above
        result[t_column] = t
    result["particle"] = particle
    return result


link_df = link


def _store_frames(store, after=None):
    """``(frame_no, DataFrame or None)`` of a store in frame order, after ``after``.

    None stands for a frame the store recorded as processed (``batch`` marks
    every frame it located) but holds no features of: an empty frame, which
    counts towards ``memory`` like any other. A store that records nothing
    gives its stored frames only.
    """
    stored = list(store.frames)
    held = set(stored)
    processed = store.processed_frames
    if not len(processed):
        numbers = stored
    else:
        numbers = sorted(held.union(int(t) for t in processed))
    for t in numbers:
        if after is None or t > after:
            yield t, (store.get(t) if t in held else None)


def _records_processed(f_iter):
    # a store that recorded which frames batch processed (any streamtrack store)
    return resumable(f_iter)


def link_df_iter(f_iter, search_range, pos_columns=None, t_column='frame', **kwargs):
    """Link per-frame DataFrames as they stream by; yield each with ``particle``.

    Reads one frame at a time, so a store of any length links in constant
    memory; the caller may ``put`` each yielded frame back into the store it
    reads from.

    ``memory`` counts the frames delivered (as trackpy's ``link_df_iter``):
    frames numbered 0, 25, 75 are consecutive, and an empty DataFrame is a
    frame. A store that recorded which frames ``batch`` processed (every
    streamtrack store) also delivers its processed frames without features,
    as empty frames that are counted but not yielded (there is nothing to
    put back): an empty frame inside the movie counts, and streaming a movie
    ``batch`` processed whole gives :func:`link` on the store's ``dump()``.

    Parameters
    ----------
    f_iter : iterable of DataFrame
        One DataFrame per frame, in increasing frame order: a framewise store,
        a generator, a list. Empty frames are allowed.
    search_range : float or tuple
        Largest displacement between frames (one per axis if a tuple).
    pos_columns : list of str, optional
        Default ``['y', 'x']``, or ``['z', 'y', 'x']`` when there is a ``z``
        (decided on the first non-empty frame).
    t_column : str, optional
        Frame-number column. Default 'frame'.
    **kwargs
        Options of :class:`streamtrack.linking.Linker` (memory, predictor, ...).

    Yields
    ------
    DataFrame
        A copy of each frame (index kept) with an int64 ``particle`` column.

    Raises
    ------
    TypeError
        ``f_iter`` is a single DataFrame, or yields something else.
    ValueError
        Missing columns, NaN/inf positions, text in a position column,
        several or non-integer frame numbers in one DataFrame, frames out of
        order or repeated, a search_range with several values but not one
        per position column (raised before that frame is yielded).

    Warns
    -----
    UserWarning
        A frame whose rows repeat a position exactly, as :func:`link` warns.

    Examples
    --------
    >>> frames = [pd.DataFrame({'frame': [t], 'y': [y], 'x': [0.0]})
    ...           for t, y in ((0, 0.0), (25, 0.5), (75, 1.0))]  # consecutive frames
    >>> [int(df['particle'].iloc[0]) for df in link_df_iter(frames, 1.0)]
    [0, 0, 0]
    """
    if isinstance(f_iter, pd.DataFrame):
        raise TypeError("link_df_iter() takes an iterable of per-frame DataFrames (a store, "
                        "a generator, a list); for one DataFrame use link(), or "
                        "(df for _, df in f.groupby('frame')).")
    linker = Linker(search_range, memory_counts="steps", **kwargs)
    items = _store_frames(f_iter) if _records_processed(f_iter) else \
        ((None, df) for df in f_iter)
    for frame_no, df in items:
        if df is None:  # processed, no features: a frame all the same
            linker.step(frame_no, ())
            continue
        yield _link_frame(linker, df, pos_columns, t_column, search_range=search_range)


def _link_frame(linker, df, pos_columns=None, t_column="frame", where=None,
                search_range=None):
    """Step ``linker`` with one frame's DataFrame; return a copy with ``particle``.

    Shared by the streaming functions, so they check and link frames alike.

    Raises
    ------
    TypeError
        ``df`` is not a DataFrame.
    ValueError
        Missing columns, NaN/inf positions, several or non-integer frame
        numbers, a frame out of order.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"link_df_iter() expects DataFrames, one per frame, got "
                        f"{type(df).__name__}.")
    out = df.copy()
    if len(df) == 0:
        linker.step(None, ())  # a frame of unknown number, counted all the same
        out["particle"] = pd.Series(dtype=np.int64)
        return out
    cols = _pos_columns(df.columns, pos_columns)
    _check_columns(df, cols, t_column, where or "a frame")
    # the linker keeps only the per-axis ranges of an anisotropic search_range
    check_search_range(search_range if search_range is not None else
                       (linker.scale if getattr(linker, "scale", None) is not None else 1),
                       cols)
    t = _frame_numbers(df[t_column].to_numpy(), t_column)
    if np.any(t != t[0]):
        raise ValueError(f"a DataFrame passed to link_df_iter holds several frames "
                         f"({sorted(set(t.tolist()))[:5]}...); pass one frame at a time.")
    coords = _positions(df, cols, where or f"frame {t[0]}")
    _warn_repeated(t[0], coords, cols, t_column, where or f"frame {t[0]}", stacklevel=4)
    out["particle"] = linker.step(t[0], coords)
    return out

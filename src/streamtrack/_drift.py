"""The numerics of `streamtrack.compute_drift`: trackpy's ensemble drift on arrays.

trackpy's ``compute_drift`` sorts the whole table by particle and frame with
pandas, takes the row-to-row differences of every column, keeps those of one
particle between consecutive frames, and averages them per frame with a
groupby. Most of its time goes into the two-key sort and the groupby. Here:

* the rows are put in (particle, frame) order with *stable* argsorts of small
  unsigned integer keys, which numpy does with a radix sort in O(n): a linked
  table comes sorted by frame (checked in O(n)), so one pass over the particle
  ids is enough (ids minus the smallest as uint8 or uint16; ids spread wider
  numbered through a table of their range; else two 16-bit passes while the
  range fits 32 bits); an unsorted table first gets a pass over its frame
  numbers. Keys that do not fit (fractional ids, ranges beyond 32 bits, frame
  ranges beyond 16 bits in an unsorted table) fall back to `numpy.lexsort`.
  Stable sorts keep rows with the same particle and frame in table order, as
  pandas' sort does, so such duplicate rows give trackpy's numbers too;
* a step is a consecutive pair of sorted rows with the same particle and
  frames differing by exactly 1, and the steps' per-frame sums and counts are
  `numpy.bincount` with weights (the other pairs go to a spare bin);
* the rolling mean (``smoothing``) and the cumulative sum work on the small
  per-frame table.

The work is split in two so that a streaming reader can use the same code:
`mean_steps` gives per-frame *sums* and counts of the steps of some rows
(blocks of a store add up), and `drift_table` turns them into the DataFrame
``compute_drift`` returns. Tables whose dtypes make pandas' own arithmetic
differ from float64 arithmetic (float32 positions, extension dtypes, ...) go
through `drift_pandas`, trackpy's algorithm unchanged.
"""
import numpy as np
import pandas as pd

__all__ = ["mean_steps", "drift_table"]

_RADIX_MAX = 1 << 16  # numpy's stable argsort is a radix sort up to 16-bit keys


def _small_codes(values, lo, span):
    """``values - lo`` (0..span) as the smallest unsigned dtype that holds span."""
    dtype = np.uint8 if span < (1 << 8) else np.uint16 if span < (1 << 16) else np.uint32
    return (values - lo).astype(dtype)


def _particle_codes(particles):
    """Integer codes of the particle ids (equal ids, equal codes; order kept),
    as uint8/16/32, or None when the ids' range needs more than 32 bits or
    they are not whole numbers (then the ids themselves are sort keys).

    The codes are the ids minus the smallest id; ids whose range needs more
    than 16 bits but is less than 16 times the number of rows are numbered
    instead (0, 1, ... in increasing order, through a table of the range), so
    that up to 65536 distinct ids still sort in one 16-bit radix pass."""
    if particles.dtype.kind == "f":
        if not np.array_equal(particles, np.trunc(particles)):
            return None
        lo, hi = particles.min(), particles.max()
        if hi - lo >= (1 << 32) or abs(lo) >= 2.0**53 or abs(hi) >= 2.0**53:
            return None
    else:
        lo, hi = particles.min(), particles.max()
        if int(hi) - int(lo) >= (1 << 32):
            return None
    span = int(hi - lo)
    if span >= (1 << 16) and span < 16 * len(particles):
        offsets = (particles - lo).astype(np.intp, copy=False)
        present = np.zeros(span + 1, dtype=bool)
        present[offsets] = True
        ids = np.flatnonzero(present)
        if len(ids) <= (1 << 16):
            number = np.empty(span + 1, dtype=np.uint16)
            number[ids] = np.arange(len(ids))
            return number[offsets]
    return _small_codes(particles, lo, span)


def _radix_keys(codes):
    """uint8/uint16 sort keys of ``codes``, least significant first."""
    if codes.dtype != np.uint32:
        return [codes]
    return [(codes & 0xFFFF).astype(np.uint16), (codes >> 16).astype(np.uint16)]


def _order(frames, particles, frames_sorted, fmin, fmax):
    """The stable permutation of the rows into (particle, frame) order, and the
    sorted rows' particle keys (equal keys, equal particles)."""
    codes = _particle_codes(particles)
    if codes is None or not (frames_sorted or fmax - fmin < _RADIX_MAX):
        order = np.lexsort((frames, particles))
        return order, np.take(particles if codes is None else codes, order)
    keys = _radix_keys(codes)
    if not frames_sorted:
        keys.insert(0, _small_codes(frames, fmin, fmax - fmin))
    order = np.argsort(keys[0], kind="stable")
    for key in keys[1:]:  # least significant key first: an LSD radix sort
        order = order[np.argsort(np.take(key, order), kind="stable")]
    return order, np.take(codes, order)


def _empty_steps(ndim):
    return (np.empty(0, dtype=np.int64), np.empty((0, ndim), dtype=np.float64),
            np.empty(0, dtype=np.int64))


def mean_steps(frames, particles, r):
    """Per-frame sums and counts of the one-frame steps of the particles.

    A step is the displacement of one particle from frame ``f - 1`` to frame
    ``f``, both rows among those given; it is counted in frame ``f``. Rows are
    in any order (sorted by frame is fastest). When a particle has several rows in one frame, the
    rows pair up as in trackpy (rows of one particle and frame in table
    order; a step joins the last row of frame ``f - 1`` and the first row of
    frame ``f``).

    Parameters
    ----------
    frames : ndarray of int64, shape (n,)
        Frame number of each row.
    particles : ndarray, shape (n,)
        Particle id of each row, any numeric dtype; NaN (or infinite) is no
        particle: the row takes part in no step.
    r : ndarray of float64, shape (n, ndim)
        Positions. A NaN coordinate is skipped, as pandas' ``mean`` does: it
        is left out of that coordinate's sum and count.

    Returns
    -------
    step_frames : ndarray of int64, shape (k,)
        The frames with at least one step, sorted.
    sums : ndarray of float64, shape (k, ndim)
        Sum of the steps counted in each of those frames.
    counts : ndarray of int64, shape (k,) or (k, ndim)
        Number of steps in each frame; shape (k, ndim) -- the number of non-NaN
        steps per coordinate -- only when some step has a NaN coordinate.
        ``sums / counts.reshape(k, -1)`` are the mean steps.

    Examples
    --------
    >>> import numpy as np
    >>> frames = np.array([0, 0, 1, 1, 2, 3])
    >>> particles = np.array([7, 9, 7, 9, 7, 9])
    >>> r = np.array([[0., 0.], [5., 5.], [1., 2.], [6., 5.], [1., 4.], [0., 0.]])
    >>> step_frames, sums, counts = mean_steps(frames, particles, r)
    >>> step_frames, counts
    (array([1, 2]), array([2, 1]))
    >>> sums
    array([[2., 2.],
           [0., 2.]])
    """
    frames = np.asarray(frames, dtype=np.int64)
    particles = np.asarray(particles)
    r = np.asarray(r, dtype=np.float64)
    if r.ndim != 2 or len(r) != len(frames) or len(particles) != len(frames):
        raise ValueError("mean_steps: frames (n,), particles (n,) and r (n, ndim) must "
                         "describe the same rows")
    ndim = r.shape[1]
    if particles.dtype.kind == "b":
        particles = particles.view(np.uint8)
    elif particles.dtype.kind == "f":
        real = np.isfinite(particles)
        if not real.all():  # no particle: in no step (trackpy: NaN differences)
            frames, particles, r = frames[real], particles[real], r[real]
    elif particles.dtype.kind not in "iu":
        raise TypeError(f"mean_steps: particle ids must be numbers, got {particles.dtype}")
    n = len(frames)
    if n < 2:
        return _empty_steps(ndim)

    frames_sorted = bool(np.all(frames[:-1] <= frames[1:]))
    if frames_sorted:
        fmin, fmax = int(frames[0]), int(frames[-1])
    else:
        fmin, fmax = int(frames.min()), int(frames.max())
    order, keys = _order(frames, particles, frames_sorted, fmin, fmax)
    fs = np.take(frames, order)
    step = np.diff(fs) == 1
    step &= keys[1:] == keys[:-1]
    nsteps = int(np.count_nonzero(step))
    if nsteps == 0:
        return _empty_steps(ndim)
    dense = fmax - fmin < 4 * n + 1024
    if dense:  # a bin per frame, 0..nbins-1, and bin nbins for the pairs that are no step
        nbins = fmax - fmin + 1
        bins = fs[1:]  # fs is a copy: made the bins in place
        if fmin:
            bins -= fmin
        bins[~step] = nbins
    else:  # frame numbers too sparse for a bin per frame: a bin per frame with steps
        step_frames, inverse = np.unique(fs[1:][step], return_inverse=True)
        nbins = len(step_frames)
        bins = np.full(n - 1, nbins, dtype=np.intp)
        bins[step] = inverse
    counts = np.bincount(bins, minlength=nbins + 1)[:nbins]
    present = np.flatnonzero(counts)
    if dense:
        step_frames = present + fmin
    counts = counts[present]

    sums = np.empty((len(present), ndim), dtype=np.float64)
    column_counts = None
    for j in range(ndim):
        with np.errstate(invalid="ignore"):  # inf - inf: NaN, as in pandas
            d = np.diff(np.take(r[:, j], order))
        nan = np.isnan(d)
        if nan.any():  # skipped, as by pandas' mean
            skipped = nan & step
            if skipped.any():
                if column_counts is None:
                    column_counts = np.repeat(counts[:, None], ndim, axis=1)
                kept = np.where(skipped, nbins, bins)
                column_counts[:, j] = np.bincount(kept, minlength=nbins + 1)[present]
            d[nan] = 0.0
        sums[:, j] = np.bincount(bins, weights=d, minlength=nbins + 1)[present]
    return step_frames, sums, counts if column_counts is None else column_counts


def drift_table(step_frames, sums, counts, smoothing, pos_columns, frame_dtype):
    """The drift table `compute_drift` returns, from per-frame step sums.

    Parameters
    ----------
    step_frames : ndarray of int, shape (k,)
        The frames with steps, sorted (as `mean_steps` gives them).
    sums : ndarray of float64, shape (k, ndim)
        Sum of the steps in each frame.
    counts : ndarray of int, shape (k,) or (k, ndim)
        Number of steps in each frame (per coordinate if 2-D).
    smoothing : int
        If > 0, the mean steps are replaced by their rolling mean over this
        many frames *with steps* (pandas' ``rolling(smoothing,
        min_periods=0).mean()`` over the rows of the per-frame table).
    pos_columns : list of str or Index
        The column labels, one per coordinate.
    frame_dtype : dtype
        The dtype of the index (that of the table's ``frame`` column).

    Returns
    -------
    DataFrame
        The cumulative sum of the (smoothed) mean steps, float64, indexed by
        ``frame``; frames without steps are absent.

    Examples
    --------
    >>> import numpy as np
    >>> drift_table(np.array([1, 2]), np.array([[2., 2.], [0., 2.]]), np.array([2, 1]),
    ...             0, ['y', 'x'], np.int64)  # doctest: +NORMALIZE_WHITESPACE
             y    x
    frame
    1      1.0  1.0
    2      1.0  3.0
    """
    step_frames = np.asarray(step_frames)
    k, ndim = len(step_frames), len(pos_columns)
    sums = np.asarray(sums, dtype=np.float64).reshape(k, ndim)
    counts = np.asarray(counts)
    if counts.ndim == 1:
        counts = counts[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    index = pd.Index(step_frames, dtype=frame_dtype, name="frame")
    if smoothing > 0:
        means = pd.DataFrame(means, index=index, columns=pos_columns, copy=False)
        return means.rolling(smoothing, min_periods=0).mean().cumsum()
    nan = np.isnan(means)
    with np.errstate(invalid="ignore"):  # inf - inf
        if nan.any():  # pandas' cumsum skips NaN and keeps it in place
            drift = np.where(nan, 0.0, means).cumsum(axis=0)
            drift[nan] = np.nan
        else:
            drift = means.cumsum(axis=0)
    return pd.DataFrame(drift, index=index, columns=pos_columns, copy=False)


def result_columns(columns, pos_columns):
    """The column labels of trackpy's result: ``pos_columns`` in the dtype trackpy's
    column renaming and selection give them (``str`` for names, ``object`` for
    mixed labels; an extension string dtype of ``columns`` is kept)."""
    if isinstance(columns.dtype, pd.StringDtype):
        return pd.Index(pos_columns, dtype=columns.dtype)
    return pd.Index(list(pos_columns) + ["particle", "frame_diff"])[:len(pos_columns)]


def table_arrays(traj, pos_columns):
    """``(frames, particles, r, frame_dtype)`` of a linked table for `mean_steps`,
    or None when pandas' arithmetic on its dtypes differs from float64
    arithmetic on whole frame numbers (then use `drift_pandas`).

    The fast path takes numpy integer or float ``frame`` (whole numbers; rows
    with a NaN frame are in no step and are left out), numpy numeric
    ``particle`` and float64, int32 or int64 positions.
    """
    columns = traj.columns
    if isinstance(columns, pd.MultiIndex) or not columns.is_unique:
        return None
    frame_col = traj["frame"]
    frames = frame_col.to_numpy()
    frame_dtype = frame_col.dtype
    particles = traj["particle"].to_numpy()
    if not (isinstance(frame_dtype, np.dtype) and isinstance(particles.dtype, np.dtype)
            and particles.dtype.kind in "iuf"):
        return None
    keep = None
    if frame_dtype.kind in "iu":
        if frame_dtype == np.uint64 and len(frames) and frames.max() >= 2**63:
            return None
    elif frame_dtype in (np.float64, np.float32):
        nan = np.isnan(frames)
        if nan.any():  # trackpy: NaN frame differences, in no step
            keep = ~nan
            frames, particles = frames[keep], particles[keep]
        if not (np.array_equal(frames, np.trunc(frames))
                and np.all(np.abs(frames) < 2.0**53)):
            return None  # fractional frame numbers: differences of 1 need float arithmetic
    else:
        return None
    r = np.empty((len(pos_columns), len(frames)), dtype=np.float64).T  # columns contiguous
    for j, c in enumerate(pos_columns):
        col = traj[c]
        if col.dtype not in (np.float64, np.int64, np.int32):
            return None  # float32, int8/16, unsigned, extension: pandas' own dtypes
        r[:, j] = col.to_numpy() if keep is None else col.to_numpy()[keep]
    return frames.astype(np.int64, copy=False), particles, r, frame_dtype


def drift_pandas(traj, smoothing, pos_columns):
    """trackpy's ``compute_drift`` algorithm (pandas sort, diff and groupby), for
    tables `table_arrays` leaves to pandas; ``traj`` is not modified."""
    cols = list(pos_columns) + ["particle", "frame"]
    data = traj[cols]
    if data.index.name is not None and data.index.name in ("particle", "frame"):
        data = data.rename_axis(data.index.name + "_index")
    f_sort = data.sort_values(by=["particle", "frame"])
    f_diff = f_sort[cols].diff().rename(columns={"frame": "frame_diff"})
    f_diff["frame"] = f_sort["frame"]
    mask = (f_diff["particle"] == 0) & (f_diff["frame_diff"] == 1)
    dx = f_diff.loc[mask, list(pos_columns) + ["frame"]].groupby("frame").mean()
    if smoothing > 0:
        dx = dx.rolling(smoothing, min_periods=0).mean()
    return dx.cumsum()

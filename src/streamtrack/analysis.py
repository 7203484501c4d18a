"""The analysis of a linked store: drift, mean squared displacements, power-law fit.

trackpy's walkthrough analysis (``filter_stubs``, ``compute_drift``,
``subtract_drift``, ``imsd``, ``emsd``, ``fit_powerlaw``) of a store, in two
passes over it and in memory that does not grow with the movie: a scan
counts each trajectory's positions, then one pass measures the drift of the
kept trajectories, subtracts it and computes their MSDs (the engine is
:mod:`streamtrack._streamed`). The numbers are those of the DataFrame
functions on the whole table::

    t = tp.filter_stubs(store.dump(), min_length)
    drift = tp.compute_drift(t)
    t = tp.subtract_drift(t, drift)
    tp.emsd(t, mpp, fps, max_lagtime, detail=True), tp.imsd(t, mpp, fps, max_lagtime)

The store may also be a DataFrame of linked features (a table in memory,
e.g. a napari layer linked without a store): :func:`analyse` reads it through
:class:`streamtrack.stores._memory.TableStore`, the same way and with the same
numbers as a store of the same rows.

The power law is fitted on every lag time of the ensemble MSD, or on a range
of them (``fit_lags``); :meth:`Analysis.refit` fits another range without
reading the store again.

Front-end neutral: :func:`analyse` returns an :class:`Analysis`, whose
:meth:`~Analysis.summary` lines the command line prints and whose
:meth:`~Analysis.write` saves tables and figures; the ``plot_*`` functions
draw on a given matplotlib Axes (a figure file here, a Qt canvas in napari).
matplotlib is imported only when a plot is drawn.
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import _msd, _streamed
from ._analysis_plots import plot_drift, plot_msd, plot_track_lengths

__all__ = ["Analysis", "analyse", "check_output", "plot_msd", "plot_drift",
           "plot_track_lengths", "OUTPUTS", "DIFFUSIVE_TOLERANCE"]

#: the files :meth:`Analysis.write` writes into its folder
OUTPUTS = ("emsd.csv", "imsd.csv", "drift.csv", "track_lengths.csv", "msd.png", "drift.png",
           "track_lengths.png")
#: D = A / (2 * dimensions) is given only when the fitted exponent n is within this of 1
DIFFUSIVE_TOLERANCE = 0.1


@dataclass
class Analysis:
    """The result of :func:`analyse` (inputs, then results).

    ``tracks`` is indexed by particle id, with columns ``length`` (positions,
    what ``filter_stubs`` counts), ``first`` and ``last`` (frames) and
    ``kept`` (``length >= min_length``). ``drift`` is trackpy's
    ``compute_drift`` table of the kept trajectories (pixels, indexed by
    frame), measured whether or not it was subtracted. ``emsd`` is trackpy's
    ``emsd(..., detail=True)`` table, ``imsd`` its ``imsd`` table (µm², lag
    times in s). ``n`` and ``A`` fit ``MSD = A t**n`` (t in s, A in µm²/s**n;
    NaN without two lag times to fit); ``D`` (µm²/s) is ``A / (2 ndim)`` when
    ``|n - 1| <= DIFFUSIVE_TOLERANCE``, else None. ``notes`` are the
    warnings (no trajectory long enough...); ``frame_range`` the store's first
    and last frame numbers. ``fit_lags`` is the range of lags (frames,
    inclusive) the power law was fitted on, None for every lag.
    """

    mpp: float
    fps: float
    min_length: int
    subtract_drift: bool
    max_lagtime: int
    smoothing: int
    ndim: int
    n_frames: int
    tracks: pd.DataFrame
    drift: pd.DataFrame
    emsd: pd.DataFrame
    imsd: pd.DataFrame
    n: float = np.nan
    A: float = np.nan
    D: float | None = None
    notes: list = field(default_factory=list)
    frame_range: tuple = (0, -1)
    fit_lags: tuple | None = None

    @property
    def lengths(self) -> pd.Series:
        """Positions per trajectory (particle id -> rows)."""
        return self.tracks["length"]

    @property
    def trajectories_before(self) -> int:
        return len(self.tracks)

    @property
    def trajectories_after(self) -> int:
        return int(self.tracks["kept"].sum())

    @property
    def msd(self) -> pd.Series:
        """The ensemble MSD (µm²) indexed by lag time (s), as ``emsd`` without detail."""
        return pd.Series(self.emsd["msd"].to_numpy(),
                         index=pd.Index(self.emsd["lagt"].to_numpy(), name="lagt"), name="msd")

    def fitted_msd(self) -> pd.Series:
        """The ensemble MSD values the power law is fitted on (µm², by lag time in s).

        The positive values at the lags of ``fit_lags`` (all lags when None).
        """
        msd = self.msd
        keep = np.isfinite(msd.to_numpy()) & (msd.to_numpy() > 0)
        if self.fit_lags is not None:
            lags = self.emsd.index.to_numpy(np.float64)
            keep &= (lags >= self.fit_lags[0]) & (lags <= self.fit_lags[1])
        return msd[keep]

    def refit(self, fit_lags=None) -> Analysis:
        """The same analysis with the power law fitted on the lags ``fit_lags``.

        Nothing is read again: only ``n``, ``A``, ``D`` and ``fit_lags`` change.

        Parameters
        ----------
        fit_lags : (int, int), optional
            The first and last lag, in frames (inclusive; lags past the
            MSD's last are ignored). None: every lag.

        Returns
        -------
        Analysis
            A new one (this one is unchanged). ``n``, ``A`` NaN and ``D`` None
            when the range holds fewer than two positive MSD values.

        Raises
        ------
        ValueError
            ``fit_lags`` is not two whole numbers 1 <= first < last.
        """
        fit_lags = _check_fit_lags(fit_lags)
        result = dataclasses.replace(self, fit_lags=fit_lags, n=np.nan, A=np.nan, D=None,
                                     notes=list(self.notes))
        _fit(result)
        return result

    def drift_microns(self) -> pd.DataFrame:
        """The drift in µm, indexed by time in s (frame / fps)."""
        index = pd.Index(self.drift.index.to_numpy(np.float64) / self.fps, name="time [s]")
        return pd.DataFrame(self.drift.to_numpy(np.float64) * self.mpp, index=index,
                            columns=list(self.drift.columns))

    def summary(self) -> list[str]:
        """The result in a few lines of text (what ``streamtrack analyse`` prints).

        Returns
        -------
        list of str
            Units, trajectories before and after the length cut, the drift
            over the movie, the MSD's lag times, the fit (and D), then a
            ``Warning:`` line per note.
        """
        lines = [f"Store: {self.n_frames} frames ({self.frame_range[0]}-{self.frame_range[1]}); "
                 f"units {self.mpp:g} µm/px, {self.fps:g} frames/s."]
        lines.append(f"Trajectories: {self.trajectories_before} in the store, "
                     f"{self.trajectories_after} with {self.min_length} positions or more.")
        done = "subtracted" if self.subtract_drift else "not subtracted"
        if len(self.drift):
            total = self.drift.iloc[-1].to_numpy(np.float64) * self.mpp
            start = int(self.drift.index[0]) - 1
            stop = int(self.drift.index[-1])
            seconds = (stop - start) / self.fps
            parts = ", ".join(f"{c} {v:+.3g} µm" for c, v in zip(self.drift.columns, total))
            rate = ", ".join(f"{v / seconds:+.3g}" for v in total)
            lines.append(f"Drift: {parts} over frames {start}-{stop} ({seconds:g} s; "
                         f"{rate} µm/s), {done}.")
        else:
            lines.append("Drift: none measured (no step of a kept trajectory).")
        if len(self.emsd):
            lagt = self.emsd["lagt"]
            lines.append(f"Ensemble MSD: lag times {lagt.iloc[0]:g}-{lagt.iloc[-1]:g} s "
                         f"({len(lagt)} lags), {self.imsd.shape[1]} trajectories, drift {done}.")
        if np.isfinite(self.n):
            fitted = self.fitted_msd().index
            over = ("" if self.fit_lags is None else
                    f" on lags {self.fit_lags[0]}-{self.fit_lags[1]} frames "
                    f"({fitted[0]:g}-{fitted[-1]:g} s, {len(fitted)} lags)")
            lines.append(f"Power-law fit MSD = A t^n{over}: n = {self.n:.3f}, "
                         f"A = {self.A:.4g} µm²/s^n.")
            dims = 2 * self.ndim
            if self.D is not None:
                lines.append(f"Diffusion: D = A/{dims} = {self.D:.4g} µm²/s "
                             f"({self.ndim} dimensions, n within {DIFFUSIVE_TOLERANCE:g} of 1).")
            else:
                kind = "sub" if self.n < 1 else "super"
                lines.append(f"Diffusion: no D: n = {self.n:.2f} is not within "
                             f"{DIFFUSIVE_TOLERANCE:g} of 1 ({kind}-diffusive motion); A is "
                             "the MSD at 1 s.")
        else:
            where = ("" if self.fit_lags is None else
                     f" on lags {self.fit_lags[0]}-{self.fit_lags[1]} frames")
            lines.append(f"Power-law fit: none (it needs the MSD at two lag times or "
                         f"more{where}).")
        return lines + [f"Warning: {note}" for note in self.notes]

    def write(self, folder, overwrite=False) -> list[str]:
        """Write the tables (CSV) and figures (PNG) of :data:`OUTPUTS` into ``folder``.

        Parameters
        ----------
        folder : path-like
            Created if missing.
        overwrite : bool, optional
            Replace files of those names. Default False.

        Returns
        -------
        list of str
            The paths written.

        Raises
        ------
        FileExistsError, NotADirectoryError
            As :func:`check_output` (nothing is written).
        """
        check_output(folder, overwrite)
        folder = os.fspath(folder)
        os.makedirs(folder, exist_ok=True)
        paths = [os.path.join(folder, name) for name in OUTPUTS]
        self.emsd.to_csv(paths[0])
        self.imsd.to_csv(paths[1])
        self.drift.to_csv(paths[2])
        self.tracks.to_csv(paths[3])
        from matplotlib.figure import Figure

        for path, plot in zip(paths[4:], (plot_msd, plot_drift, plot_track_lengths)):
            figure = Figure(figsize=(6.4, 4.8), layout="constrained")
            plot(figure.add_subplot(), self)
            figure.savefig(path, dpi=100)
        return paths


def check_output(folder, overwrite=False):
    """Check an output folder before any work: what :meth:`Analysis.write` would refuse.

    Parameters
    ----------
    folder : path-like
        The output folder (it need not exist).
    overwrite : bool, optional
        Whether files of :data:`OUTPUTS` there may be replaced. Default False.

    Raises
    ------
    NotADirectoryError
        ``folder`` is a file.
    FileExistsError
        ``folder`` holds some of :data:`OUTPUTS` and ``overwrite`` is False
        (the message names them).
    """
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(f"{folder} is a file; the output is a folder (its tables and "
                                 "figures are written there): choose another path.")
    existing = [name for name in OUTPUTS if os.path.exists(os.path.join(folder, name))]
    if existing and not overwrite:
        raise FileExistsError(f"{folder} already holds {', '.join(existing)}; pass "
                              "--overwrite (overwrite=True) to replace them, or choose "
                              "another folder.")


def _check(min_length, max_lagtime, smoothing):
    for name, value, low in (("min_length", min_length, 0), ("max_lagtime", max_lagtime, 1),
                             ("smoothing", smoothing, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"analyse: {name} must be a whole number >= {low}, got {value!r}")


def _check_fit_lags(fit_lags):
    if fit_lags is None:
        return None
    try:
        first, last = fit_lags
    except (TypeError, ValueError):
        first = last = None
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
               for v in (first, last)) or not 1 <= first < last:
        raise ValueError(f"analyse: fit_lags must be two whole numbers 1 <= first < last "
                         f"(lags in frames), got {fit_lags!r}")
    return int(first), int(last)


def analyse(store, mpp=None, fps=None, min_length=25, subtract_drift=True, max_lagtime=100,
            smoothing=0, progress=None, fit_lags=None) -> Analysis:
    """Drift, MSDs and power-law fit of the trajectories of a linked store.

    Parameters
    ----------
    store : FramewiseData or DataFrame
        A linked store (a ``particle`` column), open for reading. It is read
        twice, frame by frame: never whole. A DataFrame of linked features
        (``frame``, ``particle``, ``x``, ``y``) is read the same way through a
        :class:`~streamtrack.stores._memory.TableStore` (a frame-sorted copy):
        the numbers are those of a store holding its rows.
    mpp, fps : float, optional
        Microns per pixel and frames per second. Default: the store's units
        record (:func:`streamtrack.workflow.save_units`; a DataFrame's
        ``attrs['units']``).
    min_length : int, optional
        Keep trajectories with at least this many positions (``filter_stubs``'
        threshold). Default 25.
    subtract_drift : bool, optional
        Subtract the drift of the kept trajectories before the MSDs. Default
        True. With False the drift is still measured (and reported), not
        subtracted.
    max_lagtime : int, optional
        Lag times out to this many frames. Default 100.
    smoothing : int, optional
        ``compute_drift``'s rolling mean, frames. Default 0.
    progress : callable, optional
        Called as ``progress(stage, done, total)`` with stage ``'scan'`` then
        ``'measure'``, and frames read so far out of the store's frames. An
        exception it raises stops the analysis (a front end's Cancel).
    fit_lags : (int, int), optional
        Fit the power law on the lags from ``fit_lags[0]`` to ``fit_lags[1]``
        frames (inclusive). Default: every lag (see :meth:`Analysis.refit`).

    Returns
    -------
    Analysis
        When no trajectory has ``min_length`` positions (or none spans two
        frames), a UserWarning and empty tables with the right columns.

    Raises
    ------
    ValueError
        Unknown or bad units, a bad ``min_length``/``max_lagtime``/``smoothing``/
        ``fit_lags``, an empty or unlinked store, no ``x``/``y`` columns.

    Examples
    --------
    >>> import os, tempfile, streamtrack as tp
    >>> from streamtrack.analysis import analyse
    >>> traj = tp.synthetic.brownian_trajectories(5, 30, diffusion=0.5, seed=1)
    >>> with tp.PandasHDFStoreChunked(os.path.join(tempfile.mkdtemp(), 's.h5')) as store:
    ...     for _, frame in traj.groupby('frame'):
    ...         store.put(frame)
    ...     result = analyse(store, mpp=0.5, fps=10, min_length=20, max_lagtime=10)
    >>> result.trajectories_after, list(result.emsd.columns)
    (5, ['<x>', '<y>', '<x^2>', '<y^2>', 'msd', 'N', 'lagt'])
    >>> result.summary()[1]
    'Trajectories: 5 in the store, 5 with 20 positions or more.'
    """
    _check(min_length, max_lagtime, smoothing)
    fit_lags = _check_fit_lags(fit_lags)
    if isinstance(store, pd.DataFrame):
        from .stores._memory import TableStore

        store = TableStore(store)
    mpp, fps = _streamed.units(store, mpp, fps, "analyse")
    mpp, fps = float(mpp), float(fps)
    frames = np.asarray(store.frames, dtype=np.int64)
    total = len(frames)

    def reporter(stage):
        if progress is None:
            return None
        progress(stage, 0, total)
        return lambda done: progress(stage, done, total)

    scan = _streamed.Scan(store, "analyse", progress=reporter("scan"))
    missing = [c for c in ("x", "y") if c not in scan.columns]
    if missing:
        raise ValueError(f"analyse: the store has no {' and '.join(missing)} column(s); it "
                         "needs the positions 'x', 'y' (and 'z' in 3D)")
    three_d = "z" in scan.columns
    ndim = 3 if three_d else 2
    drift_columns = ["z", "y", "x"] if three_d else ["y", "x"]
    msd_columns = ["x", "y", "z"] if three_d else ["x", "y"]
    keep = scan.count >= min_length
    ids = scan.ids
    tracks = pd.DataFrame({"length": scan.count, "first": scan.first, "last": scan.last,
                           "kept": keep}, index=pd.Index(ids, name="particle"))
    tracks = tracks.sort_index(kind="stable")

    drift = _streamed.RunningDrift(smoothing, drift_columns, subtract=subtract_drift)
    ensemble = _msd.Ensemble(ndim, max_lagtime, fps)
    individual = _streamed.Individual(scan, fps, column=2 * ndim)
    if keep.any():
        for codes, values, nlags in _streamed.msd_tables(
                store, scan, mpp, max_lagtime, msd_columns, True, keep=keep, drift=drift,
                progress=reporter("measure")):
            ensemble.add(values, nlags)
            individual.add(codes, values, nlags)
    emsd = ensemble.result(msd_columns, detail=True)
    imsd = individual.result(warn=False)               # ours is below
    result = Analysis(mpp=mpp, fps=fps, min_length=min_length, subtract_drift=subtract_drift,
                      max_lagtime=max_lagtime, smoothing=smoothing, ndim=ndim,
                      n_frames=total, tracks=tracks, drift=drift.current(), emsd=emsd,
                      imsd=imsd, frame_range=(int(frames[0]), int(frames[-1])) if total
                      else (0, -1), fit_lags=fit_lags)
    if not keep.any():
        result.notes.append(f"no trajectory has {min_length} positions or more (the longest "
                            f"has {int(scan.count.max())}): nothing to analyse; lower the "
                            "minimum length (--min-length)")
    elif not len(emsd):
        result.notes.append("no kept trajectory spans two frames: no MSD")
    for note in result.notes:
        warnings.warn(f"analyse: {note}", UserWarning, stacklevel=2)
    _fit(result)
    return result


def _fit(result):
    """The power-law fit of the ensemble MSD, and D when the motion is diffusive."""
    from .utils import fit_powerlaw

    msd = result.fitted_msd()
    if len(msd) < 2:
        return
    fit = fit_powerlaw(msd, plot=False)
    result.n, result.A = float(fit["n"].iloc[0]), float(fit["A"].iloc[0])
    if abs(result.n - 1) <= DIFFUSIVE_TOLERANCE:
        result.D = result.A / (2 * result.ndim)

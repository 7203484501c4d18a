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


# ---------------------------------------------------------------- plots
def _nothing(ax, analysis, what):
    why = (f"no trajectory of {analysis.min_length} positions or more"
           if analysis.trajectories_after == 0 else "no kept trajectory spans two frames")
    ax.text(0.5, 0.5, f"{why}:\nno {what}", transform=ax.transAxes, ha="center",
            va="center")


def plot_msd(ax, analysis, max_curves=200):
    """Draw the MSDs on log-log axes: the individual ones faint, the ensemble, the fit.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw (a figure file's, or a widget's canvas).
    analysis : Analysis
        What :func:`analyse` returned.
    max_curves : int, optional
        Draw at most this many individual MSDs, evenly chosen. Default 200.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``; without an MSD, it says why in its middle.
    """
    ax.set_xlabel("lag time t [s]")
    ax.set_ylabel("MSD [µm²]")
    ax.set_title("Mean squared displacement"
                 + (" (drift subtracted)" if analysis.subtract_drift else " (drift kept)"))
    msd = analysis.msd
    if not len(msd):
        _nothing(ax, analysis, "MSD")
        return ax
    imsd = analysis.imsd
    shown = np.unique(np.linspace(0, imsd.shape[1] - 1, min(max_curves, imsd.shape[1]))
                      .round().astype(int)) if imsd.shape[1] else np.zeros(0, int)
    if len(shown):
        values = np.array(imsd.iloc[:, shown].to_numpy(np.float64))
        values[~(values > 0)] = np.nan
        lines = ax.plot(imsd.index.to_numpy(), values, color="tab:blue", alpha=0.15, lw=0.7)
        lines[0].set_label(f"individual ({len(shown)} of {imsd.shape[1]})")
    positive = msd[msd > 0]
    ax.plot(positive.index, positive.to_numpy(), "o", color="black", ms=4,
            label=f"ensemble ({analysis.trajectories_after} trajectories)")
    if np.isfinite(analysis.n):
        t = analysis.fitted_msd().index.to_numpy(np.float64)
        label = f"fit MSD = A t^n: n = {analysis.n:.2f}, A = {analysis.A:.3g} µm²/s^n"
        if analysis.fit_lags is not None:
            label += f" (lags {t[0]:g}-{t[-1]:g} s)"
            ax.axvspan(t[0], t[-1], color="tab:red", alpha=0.08, lw=0)
        if analysis.D is not None:
            label += f"\nD = A/{2 * analysis.ndim} = {analysis.D:.3g} µm²/s"
        ax.plot(t, analysis.A * t ** analysis.n, "-", color="tab:red", lw=2, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_labels(ax)
    ax.legend(loc="upper left", fontsize="small")
    return ax


def _plain_log_labels(ax, y=True):
    """Log axes labelled 0.5, 1, 2 rather than 5x10^-1 (the same ticks labelled)."""
    from matplotlib import ticker

    class Plain(ticker.LogFormatterSciNotation):
        def __call__(self, x, pos=None):
            return f"{x:g}" if super().__call__(x, pos) else ""

    for axis in (ax.xaxis, ax.yaxis) if y else (ax.xaxis,):
        axis.set_major_formatter(Plain())
        axis.set_minor_formatter(Plain())


def plot_drift(ax, analysis):
    """Draw the drift along y and x (and z) in µm against time in s.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    analysis : Analysis
        What :func:`analyse` returned.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``; without a drift, it says why in its middle.
    """
    ax.set_xlabel("time [s]")
    ax.set_ylabel("drift [µm]")
    ax.set_title("Drift of the kept trajectories"
                 + (" (subtracted)" if analysis.subtract_drift else " (not subtracted)"))
    drift = analysis.drift_microns()
    if not len(drift):
        _nothing(ax, analysis, "drift")
        return ax
    for column in drift.columns:
        ax.plot(drift.index.to_numpy(), drift[column].to_numpy(), label=f"{column} drift")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.legend(loc="best")
    return ax


def plot_track_lengths(ax, analysis):
    """Draw a histogram of the trajectory lengths, kept and left out, the cut marked.

    Log-spaced bins on a log axis when the longest has more than 100 positions.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    analysis : Analysis
        What :func:`analyse` returned.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.
    """
    lengths = analysis.lengths.to_numpy()
    longest = int(lengths.max()) if len(lengths) else 1
    if longest <= 100:
        bins = np.arange(0.5, longest + 1.5)
    else:
        shortest = max(1, min(int(lengths.min()), analysis.min_length))
        bins = np.unique(np.geomspace(shortest, longest + 1, 60).round()) - 0.5
        ax.set_xscale("log")
        _plain_log_labels(ax, y=False)
    kept = analysis.tracks["kept"].to_numpy()
    counts, _, _ = ax.hist([lengths[~kept], lengths[kept]], bins=bins, stacked=True,
                           color=["0.6", "tab:blue"], label=["left out", "kept"])
    counts = np.asarray(counts)[-1]  # stacked: the top is the total
    if counts.max(initial=0) > 100 * counts[counts > 0].min(initial=1):
        ax.set_yscale("log")
    # kept: length >= min_length, so the cut is between bins min_length - 1 and min_length
    ax.axvline(max(analysis.min_length - 0.5, 0.5), color="tab:red", lw=1.5,
               label=f"minimum length {analysis.min_length}: {analysis.trajectories_after} "
                     f"of {analysis.trajectories_before} kept")
    ax.margins(y=0.3)  # room above the bars for the legend
    ax.set_xlabel("trajectory length [positions]")
    ax.set_ylabel("trajectories")
    ax.set_title("Trajectory lengths")
    ax.legend(loc="best", fontsize="small")
    return ax

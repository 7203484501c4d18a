"""The figures of an :class:`streamtrack.analysis.Analysis`, drawn on a given Axes.

A figure file (:meth:`~streamtrack.analysis.Analysis.write`) and a Qt canvas
in napari draw with the same functions. They use matplotlib through the Axes
they are given, so nothing here imports it at module import.
"""
import numpy as np


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
            label += f" (lags {t[0]:.3g}-{t[-1]:.3g} s)"
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

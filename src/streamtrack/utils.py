"""Small analysis helpers with trackpy's names (``trackpy.utils``)."""
import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["fit_powerlaw"]


def fit_powerlaw(data, plot=True, **kwargs):
    """Fit a power law ``A * t**n`` by a linear regression in log space.

    Parameters
    ----------
    data : Series or DataFrame
        Values indexed by ``t`` (e.g. `emsd` or `imsd`); each column is fitted
        on its own, NaN rows left out.
    plot : bool, optional
        Plot the data and the fits on log-log axes with matplotlib (the
        current axes). Default True.
    **kwargs
        Passed to matplotlib's ``plot``.

    Returns
    -------
    DataFrame
        Columns ``n`` and ``A``, one row per column of ``data``.

    Raises
    ------
    ValueError
        From the regression, when a column has fewer than two values.

    Examples
    --------
    >>> import numpy as np, pandas as pd, streamtrack as tp
    >>> t = np.arange(1, 5) / 10
    >>> tp.utils.fit_powerlaw(pd.Series(4 * t**0.5, index=t, name='msd'), plot=False)
           n    A
    msd  0.5  4.0
    """
    ys = pd.DataFrame(data)
    x = pd.Series(data.index.values, index=data.index, dtype=np.float64)
    values = pd.DataFrame(index=["n", "A"])
    fits = {}
    for col in ys:
        y = ys[col].dropna()
        slope, intercept, r, p, stderr = stats.linregress(np.log(x), np.log(y))
        values[col] = [slope, np.exp(intercept)]
        fits[col] = np.exp(intercept) * x**slope
    values = values.T
    if plot:
        _plot_fit(data, pd.concat(fits, axis=1, sort=False), **kwargs)
    return values


def _plot_fit(data, fits, **kwargs):
    """trackpy.plots.fit with logx and logy, on the current axes."""
    import matplotlib.pyplot as plt

    ax = plt.gca()
    data = data.dropna()
    x, y = data.index.values.astype("float64"), data.values
    datalines = ax.plot(x, y, "o", label=getattr(data, "name", None), **kwargs)
    ax.set_xscale("log")
    ax.set_yscale("log")
    fitlines = ax.plot(fits.index, fits, **kwargs)
    xmin = data.index.values[data.index.values > 0].min()
    ax.set_xlim(xmin, data.index.values.max())
    for d, f in zip(datalines, fitlines):
        f.set_color(d.get_color())
    ax.set_xscale("log")
    return ax

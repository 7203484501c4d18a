"""Quick-look plots of features and trajectories (trackpy's ``plots``).

Same names, signatures, defaults and return values as trackpy 0.7:
:func:`plot_traj`, :func:`annotate`, :func:`mass_size`, :func:`mass_ecc` and
:func:`subpx_bias`. matplotlib is imported only when a plot is drawn, so
``import streamtrack`` (and this module) stays free of it.

As in trackpy, a function that takes ``ax`` draws on the current axes
(``plt.gca()``) when ``ax`` is None, and then calls ``plt.show()`` unless the
backend is Agg; ``legend=True`` adds a legend when there are labelled artists.
"""
import logging
from collections.abc import Iterable
from functools import wraps
from itertools import pairwise

import numpy as np

__all__ = ["plot_traj", "annotate", "mass_size", "mass_ecc", "subpx_bias"]

logger = logging.getLogger(__name__)

_LINE2D_LONG_NAMES = dict(c="color", ls="linestyle", lw="linewidth", mec="markeredgecolor",
                          mew="markeredgewidth", mfc="markerfacecolor", ms="markersize")


def _make_axes(func):
    """Draw on ``ax`` if given, else on the current axes and show the plot
    (trackpy's ``make_axes``); ``legend=True`` adds a legend."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib.pyplot as plt

        if kwargs.get("ax") is None:
            kwargs["ax"] = plt.gca()
            show_plot = plt.get_backend().lower() != "agg"
        else:
            show_plot = False
        legend = kwargs.pop("legend", False)
        result = func(*args, **kwargs)
        if legend:
            handles, labels = kwargs["ax"].get_legend_handles_labels()
            if len(labels) > 0:
                kwargs["ax"].legend(handles, labels, loc="best")
        if show_plot:
            plt.show()
        return result

    return wrapper


def _line2d_style(defaults, plot_style):
    """``defaults`` updated with ``plot_style``, short matplotlib names made long
    (``ms`` -> ``markersize``); the caller's dictionary is left unchanged."""
    style = dict(defaults)
    style.update({_LINE2D_LONG_NAMES.get(key, key): value
                  for key, value in (plot_style or {}).items()})
    return style


def _invert_yaxis(ax):
    """Put y = 0 at the top, as in an image; returns ``ax``."""
    bottom, top = ax.get_ylim()
    if top > bottom:
        ax.set_ylim(top, bottom, auto=None)
    return ax


def _set_labels(ax, label_format, pos_columns):
    ax.set_xlabel(label_format.format(pos_columns[0]))
    ax.set_ylabel(label_format.format(pos_columns[1]))


def _position_label_format(mpp):
    import matplotlib as mpl

    if mpp is None:
        return "{} [px]"
    if mpl.rcParams["text.usetex"]:
        return r"{} [\textmu m]"
    return "{} [\xb5m]"


@_make_axes
def plot_traj(traj, colorby='particle', mpp=None, label=False,
              superimpose=None, cmap=None, ax=None, t_column=None,
              pos_columns=None, plot_style={}, **kwargs):  # noqa: B006 (trackpy's signature)
    """Plot traces of trajectories for each particle.

    Optionally superimpose them on a frame of the video.

    Parameters
    ----------
    traj : DataFrame
        Linked features: time, 'particle' and position columns.
    colorby : {'particle', 'frame'}, default 'particle'
        'particle': one line per trajectory (matplotlib's colour cycle);
        'frame': one line collection per trajectory, coloured by frame.
    mpp : float, optional
        Microns per pixel: positions are multiplied by it and the axes are
        labelled in microns. If omitted, the labels have units of pixels.
    label : bool, default False
        Write each particle's number at its first position.
    superimpose : ndarray, optional
        Background image (drawn in grey).
    cmap : colormap, optional
        Only used with ``colorby='frame'``; default ``matplotlib.cm.winter``.
    ax : matplotlib Axes, optional
        Defaults to the current axes.
    t_column : str, optional
        Column of the time coordinate; default 'frame'.
    pos_columns : list of str, optional
        Columns of the position; default ['x', 'y'].
    plot_style : dict
        Keyword arguments passed through to ``Axes.plot``.
    **kwargs
        ``vmin`` and ``vmax`` for the background image; ``legend=True``.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on, with the y axis inverted (image convention).

    Raises
    ------
    ValueError
        If ``traj`` is empty.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use('Agg')
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> import streamtrack as tp
    >>> t = pd.DataFrame({'frame': [0, 1, 2, 0, 1], 'particle': [0, 0, 0, 1, 1],
    ...                   'x': [1.0, 2.0, 3.0, 5.0, 5.5], 'y': [1.0, 1.5, 1.0, 4.0, 3.0]})
    >>> fig, ax = plt.subplots()
    >>> ax = tp.plot_traj(t, ax=ax)
    >>> len(ax.lines), ax.get_xlabel()
    (2, 'x [px]')
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    if cmap is None:
        cmap = plt.cm.winter
    if t_column is None:
        t_column = 'frame'
    if pos_columns is None:
        pos_columns = ['x', 'y']
    if len(traj) == 0:
        raise ValueError("DataFrame of trajectories is empty.")
    style = _line2d_style(dict(linewidth=1), plot_style)

    _set_labels(ax, _position_label_format(mpp), pos_columns)
    if mpp is None:
        mpp = 1.0  # for the image extent below
    if superimpose is not None:
        ax.imshow(superimpose, cmap=plt.cm.gray, origin='lower', interpolation='nearest',
                  vmin=kwargs.get('vmin'), vmax=kwargs.get('vmax'))
        ax.set_xlim(-0.5 * mpp, (superimpose.shape[1] - 0.5) * mpp)
        ax.set_ylim(-0.5 * mpp, (superimpose.shape[0] - 0.5) * mpp)
    if colorby == 'particle':
        # one row per particle, one column per (position, time): gaps are NaN,
        # which breaks the line there, as in trackpy
        unstacked = traj.set_index(['particle', t_column])[pos_columns].unstack()
        for _, trajectory in unstacked.iterrows():
            ax.plot(mpp * trajectory[pos_columns[0]], mpp * trajectory[pos_columns[1]],
                    **style)
    if colorby == 'frame':
        x = traj.set_index([t_column, 'particle'])[pos_columns[0]].unstack()
        y = traj.set_index([t_column, 'particle'])[pos_columns[1]].unstack()
        color_numbers = traj[t_column].to_numpy() / float(traj[t_column].max())
        norm = plt.Normalize(color_numbers.min(), color_numbers.max())
        color_max = float(traj[t_column].max())
        for particle in x:
            x_series = x[particle].dropna()
            y_series = y[particle].dropna()
            frames_map = np.asarray(x_series.index) / color_max
            points = np.array([x_series.to_numpy(), y_series.to_numpy()]).T.reshape(-1, 1, 2)
            segments = np.concatenate([points[:-1], points[1:]], axis=1)
            lc = LineCollection(segments, cmap=cmap, norm=norm)
            lc.set_array(frames_map)
            ax.add_collection(lc)
        ax.set_xlim(np.nanmin(x.to_numpy()), np.nanmax(x.to_numpy()))
        ax.set_ylim(np.nanmin(y.to_numpy()), np.nanmax(y.to_numpy()))
    if label:
        unstacked = traj.set_index([t_column, 'particle'])[pos_columns].unstack()
        first_frame = int(traj[t_column].min())
        coords = unstacked.bfill().stack().loc[first_frame]
        for particle_id, coord in coords.iterrows():
            ax.text(*coord.tolist(), s=str(int(particle_id)),
                    horizontalalignment='center', verticalalignment='center')
    return _invert_yaxis(ax)


@_make_axes
def annotate(centroids, image, circle_size=None, color=None,
             invert=False, ax=None, split_category=None, split_thresh=None,
             imshow_style={}, plot_style={}):  # noqa: B006 (trackpy's signature)
    """Mark identified features with circles on the image.

    Parameters
    ----------
    centroids : DataFrame
        Features, with columns 'x' and 'y'.
    image : ndarray or str
        2D grayscale or RGB(A) image, or the path of an image file.
    circle_size : float, optional
        Deprecated (as in trackpy): the marker area; use
        ``plot_style={'markersize': ...}`` instead.
    color : matplotlib color or list of colors, optional
        Marker edge colour(s); default red. Several colours need
        ``split_category``.
    invert : bool, default False
        Show ``1 - image`` instead of ``image``.
    ax : matplotlib Axes, optional
        Defaults to the current axes.
    split_category : str, optional
        Column by which to split the features into groups of colours.
    split_thresh : float or list of float, optional
        Increasing thresholds on ``split_category``; one more colour than
        thresholds.
    imshow_style : dict
        Keyword arguments passed through to ``Axes.imshow``.
    plot_style : dict
        Keyword arguments passed through to ``Axes.plot`` (the markers).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on, with the y axis inverted (image convention).

    Raises
    ------
    ValueError
        If the image is not 2D grayscale or RGB(A), or the colours do not fit
        ``split_category``/``split_thresh``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use('Agg')
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> import pandas as pd
    >>> import streamtrack as tp
    >>> f = pd.DataFrame({'x': [3.0, 10.0], 'y': [4.0, 8.0], 'mass': [10.0, 30.0]})
    >>> fig, ax = plt.subplots()
    >>> ax = tp.annotate(f, np.zeros((16, 16)), color=['b', 'r'],
    ...                  split_category='mass', split_thresh=20, ax=ax)
    >>> len(ax.lines), len(ax.images)
    (2, 1)
    >>> plt.close(fig)
    """
    import warnings

    import matplotlib.pyplot as plt

    if isinstance(image, str):
        image = plt.imread(image)
    if image.ndim != 2 and not (image.ndim == 3 and image.shape[-1] in (3, 4)):
        raise ValueError("image has incorrect dimensions. Please input a 2D "
                         "grayscale or RGB(A) image. For 3D image annotation, "
                         "use annotate3d. Multichannel images can be "
                         "converted to RGB using pims.display.to_rgb.")
    style = _line2d_style(dict(markersize=15, markeredgewidth=2, markerfacecolor='none',
                               markeredgecolor='r', marker='o', linestyle='none'), plot_style)
    if circle_size is not None:
        warnings.warn("circle_size will be removed in future version of "
                      "trackpy. Use plot_style={'markersize': ...} instead.", stacklevel=3)
        if 'markersize' in _line2d_style({}, plot_style):
            raise ValueError("passed in both 'markersize' and 'circle_size'")
        style['markersize'] = np.sqrt(circle_size)  # area vs. diameter
    show_style = dict(origin='lower', interpolation='nearest', cmap=plt.cm.gray)
    show_style.update(imshow_style)

    if color is None:
        color = ['r']
    if isinstance(color, str):
        color = [color]
    if not isinstance(split_thresh, Iterable):
        split_thresh = [split_thresh]

    ax.imshow(1 - image if invert else image, **show_style)
    ax.set_xlim(-0.5, image.shape[1] - 0.5)
    ax.set_ylim(-0.5, image.shape[0] - 0.5)

    if split_category is None:
        if np.size(color) > 1:
            raise ValueError("multiple colors specified, no split category specified")
        style.update(markeredgecolor=color[0])
        ax.plot(centroids['x'], centroids['y'], **style)
    else:
        if len(color) != len(split_thresh) + 1:
            raise ValueError("number of colors must be number of thresholds plus 1")
        category = centroids[split_category]
        groups = [category < split_thresh[0]]
        groups += [(category >= bot) & (category < top)
                   for bot, top in pairwise(split_thresh)]
        groups.append(category >= split_thresh[-1])
        for c, rows in zip(color, groups):
            style.update(markeredgecolor=c)
            ax.plot(centroids['x'][rows], centroids['y'][rows], **style)
    return _invert_yaxis(ax)


@_make_axes
def mass_ecc(f, ax=None):
    """Plot each feature's mass versus eccentricity.

    Parameters
    ----------
    f : DataFrame
        Features, with columns 'mass' and 'ecc'.
    ax : matplotlib Axes, optional
        Defaults to the current axes.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use('Agg')
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> import streamtrack as tp
    >>> f = pd.DataFrame({'mass': [10.0, 30.0], 'ecc': [0.1, 0.3]})
    >>> fig, ax = plt.subplots()
    >>> tp.mass_ecc(f, ax=ax).get_ylabel()
    'eccentricity (0=circular)'
    >>> plt.close(fig)
    """
    ax.plot(f['mass'], f['ecc'], 'ko', alpha=0.3)
    ax.set_xlabel('mass')
    ax.set_ylabel('eccentricity (0=circular)')
    return ax


@_make_axes
def mass_size(f, ax=None):
    """Plot each feature's mass versus size.

    Parameters
    ----------
    f : DataFrame
        Features, with columns 'mass' and 'size'.
    ax : matplotlib Axes, optional
        Defaults to the current axes.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use('Agg')
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> import streamtrack as tp
    >>> f = pd.DataFrame({'mass': [10.0, 30.0], 'size': [1.5, 2.5]})
    >>> fig, ax = plt.subplots()
    >>> ax = tp.mass_size(f, ax=ax)
    >>> ax.get_xlabel(), ax.get_ylabel(), len(ax.lines)
    ('mass', 'size', 1)
    >>> plt.close(fig)
    """
    ax.plot(f['mass'], f['size'], 'ko', alpha=0.1)
    ax.set_xlabel('mass')
    ax.set_ylabel('size')
    return ax


def subpx_bias(f, pos_columns=None):
    """Histogram the fractional part of the positions.

    If the sub-pixel accuracy is good, the histograms are flat. If they are
    depressed in the middle, try a larger feature diameter.

    Parameters
    ----------
    f : DataFrame
        Features.
    pos_columns : list of str, optional
        Position columns; default ['x', 'y'], or ['x', 'y', 'z'] if ``f`` has
        a 'z' column.

    Returns
    -------
    ndarray of matplotlib.axes.Axes
        One histogram per position column, in a new figure
        (``DataFrame.hist``'s return value).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use('Agg')
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> import streamtrack as tp
    >>> f = pd.DataFrame({'x': [1.2, 2.5, 3.7], 'y': [0.1, 4.4, 5.9]})
    >>> axes = tp.subpx_bias(f)
    >>> axes.shape
    (1, 2)
    >>> plt.close('all')
    """
    if pos_columns is None:
        pos_columns = ['x', 'y', 'z'] if 'z' in f else ['x', 'y']
    return (f[pos_columns] % 1).hist()

"""Candidate features: local maxima above a percentile, outside the margins;
and removal of refined features closer than the separation (trackpy's rules)."""
import warnings

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .preprocess import FAST_DTYPES
from .workspace import buffer


def percentile_threshold(image, percentile, counts=None):
    """A threshold ``t`` such that ``image > t`` selects the same pixels as
    ``image > np.percentile(image[image != 0], percentile)``; NaN if all black.

    For uint8/uint16 images this reads the order statistic off a histogram
    instead of sorting: between two consecutive order statistics no pixel
    value exists, so the lower one gives the same comparison as numpy's
    interpolated value (the index is computed with numpy's own formula).
    ``counts``, if given, is that histogram with ``counts[0] == 0``.
    """
    if image.dtype not in FAST_DTYPES or image.ndim != 2:
        not_black = image[np.nonzero(image)]
        if len(not_black) == 0:
            return np.nan
        return np.percentile(not_black, percentile)
    if counts is None:
        counts = np.bincount(image.ravel(), minlength=np.iinfo(image.dtype).max + 1)
        counts[0] = 0
    n = int(counts.sum())
    if n == 0:
        return np.nan
    virtual = (n - 1) * np.true_divide(percentile, 100)  # numpy's 'linear' index
    cumulative = np.cumsum(counts)
    if virtual >= n - 1:
        return float(np.flatnonzero(counts)[-1])
    rank = int(np.floor(virtual))
    return float(np.searchsorted(cumulative, rank, side="right"))


def local_maxima(image, separation, percentile, margin, counts=None, compiled=False):
    """Integer coordinates (C raster order) of the local maxima of ``image``.

    A maximum equals the maximum of its box window (the largest box inside
    the ``separation`` ellipse), exceeds the ``percentile`` threshold of the
    nonzero pixels and lies at least ``margin`` pixels from every edge.
    Warns, as trackpy does, when there is nothing to return. ``compiled``:
    use the compiled box maximum (2-D uint8/uint16) instead of scipy's.
    """
    ndim = image.ndim
    empty = np.empty((0, ndim), dtype=np.int64)
    threshold = percentile_threshold(image, percentile, counts)
    if np.isnan(threshold):
        warnings.warn("Image is completely black.", UserWarning, stacklevel=3)
        return empty
    size = [int(2 * s / np.sqrt(ndim)) for s in separation]
    if compiled and ndim == 2 and image.dtype in FAST_DTYPES:
        pos = _fast_maxima(image, size, threshold, margin)
        if len(pos) == 0:
            anywhere = _fast_maxima(image, size, threshold, (0, 0))
            _warn_empty(len(anywhere) == 0)
        return pos
    dilation = ndimage.grey_dilation(image, size, mode="constant")
    maxima = (image == dilation) & (image > threshold)
    if not maxima.any():
        _warn_empty(True)
        return empty
    pos = np.argwhere(maxima)
    shape = np.array(image.shape)
    margin = np.asarray(margin)
    pos = pos[~np.any((pos < margin) | (pos > shape - margin - 1), axis=1)]
    if len(pos) == 0:
        _warn_empty(False)
    return pos


def _fast_maxima(image, size, threshold, margin):
    from . import kernels

    return kernels.box_maxima_2d(image, size[0], size[1], threshold, int(margin[0]),
                                 int(margin[1]),
                                 buffer("maxima_candidates", (image.size,), np.int64))


def _warn_empty(no_maxima):
    if no_maxima:
        warnings.warn("Image contains no local maxima.", UserWarning, stacklevel=4)
    else:
        warnings.warn("All local maxima were in the margins.", UserWarning, stacklevel=4)


def where_close(pos, separation, intensity, compiled=False):
    """Indices to drop so that no two features are closer than ``separation``.

    Every pair closer than the separation ellipse drops its dimmer member;
    on equal intensity, the one with the smaller coordinate sum (top-left).
    ``compiled``: find the pairs with a compiled sweep instead of a k-d tree.
    """
    if len(pos) == 0 or any(s == 0 for s in separation):
        return np.empty(0, dtype=np.int64)
    scaled = pos / np.asarray(separation, dtype=float)
    radius = 1 - 1e-7
    if compiled:
        from . import kernels

        drop = np.zeros(len(pos), dtype=np.bool_)
        kernels.close_pairs_drop(scaled, np.ascontiguousarray(intensity, dtype=np.float64),
                                 radius * radius, drop)
        return np.flatnonzero(drop)
    pairs = cKDTree(scaled, 30).query_pairs(radius, output_type="ndarray")
    if len(pairs) == 0:
        return np.empty(0, dtype=np.int64)
    first, second = pairs[:, 0], pairs[:, 1]
    to_drop = np.where(intensity[first] > intensity[second], second, first)
    ties = intensity[first] == intensity[second]
    if ties.any():
        f, s = first[ties], second[ties]
        to_drop[ties] = np.where(scaled[f].sum(1) > scaled[s].sum(1), s, f)
    return np.unique(to_drop)

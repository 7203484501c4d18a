"""Elliptical feature masks (trackpy's definitions), cached per radius."""
from functools import lru_cache

import numpy as np


def validate_tuple(value, ndim, name="value"):
    """Broadcast a scalar to ``ndim`` values, or check a sequence's length."""
    if not hasattr(value, "__iter__"):
        return (value,) * ndim
    value = tuple(value)
    if len(value) != ndim:
        raise ValueError(
            f"{name} has {len(value)} values but the image has {ndim} dimensions; "
            f"give one value, or one per axis."
        )
    return value


def _box_coords(radius):
    points = [np.arange(-r, r + 1) for r in radius]
    return np.array(np.meshgrid(*points, indexing="ij"))


@lru_cache(maxsize=64)
def binary_mask(radius):
    """Boolean ellipse ``sum((x_i / r_i)**2) <= 1`` in a ``2r+1`` box."""
    coords = _box_coords(radius)
    return sum((c / r) ** 2 for c, r in zip(coords, radius)) <= 1


@lru_cache(maxsize=64)
def refine_masks(radius):
    """Per-pixel tables the refine kernel needs, in ``mask.nonzero()`` order.

    Returns ``(offsets, box_coords, r2, x2, cos2theta, sin2theta)`` where
    ``offsets`` are flat offsets for an image of unknown width: they are built
    by :func:`flat_offsets` once the image shape is known.
    """
    radius = tuple(int(r) for r in radius)
    ndim = len(radius)
    mask = binary_mask(radius)
    box = np.asarray(mask.nonzero()).T.astype(np.int64)  # (M, ndim), 0..2r
    rel = box - np.asarray(radius)
    r2 = (rel ** 2).sum(axis=1).astype(np.float64)
    x2 = (ndim * rel ** 2).astype(np.float64)
    if ndim == 2:
        theta = np.arctan2(box[:, 0] - radius[0], box[:, 1] - radius[1]).astype(np.float64)
        cos2, sin2 = np.cos(2 * theta), np.sin(2 * theta)
    else:
        cos2 = sin2 = np.zeros(len(box))
    return box, r2, x2, cos2, sin2


def flat_offsets(box, shape):
    """Flat (C-order) offsets of box coordinates in an image of ``shape``."""
    strides = np.cumprod((tuple(shape[1:]) + (1,))[::-1])[::-1]
    return (box * strides).sum(axis=1).astype(np.int64)


@lru_cache(maxsize=64)
def root_sum_x_squared(radius):
    """sqrt of the sum of x_i**2 over the mask, per axis (for the static error)."""
    ndim = len(radius)
    mask = binary_mask(radius)
    coords = _box_coords(radius)
    return np.sqrt(np.array([(coords[i] ** 2)[mask].sum() for i in range(ndim)], dtype=float))


@lru_cache(maxsize=64)
def mask_half_widths(radius):
    """For a 2-D mask: the half-width in x of each mask row (dy = -ry..ry)."""
    mask = binary_mask(radius)
    return (mask.sum(axis=1) // 2).astype(np.int32)

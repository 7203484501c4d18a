"""Centre-of-mass refinement and characterisation (trackpy's refine step).

Two implementations with the same bits: the compiled ``kernels.refine_com``
(one feature at a time) and ``refine_numpy`` below (all features at once),
which serves until the compiled one is ready (see `_fastpath`). Every sum
that is not exact in float64 (the ``ecc`` moments, ``raw_mass`` of float
images) is accumulated over the mask pixels in the kernel's order; the others
are sums of integers, exact in any order.
"""
import numpy as np

from .masks import flat_offsets, refine_masks

SHIFT_THRESH = 0.6  # trackpy's: move the integer centre when the COM is off by more


def n_columns(ndim, characterize, isotropic):
    """positions, mass, then size (1 or ndim), ecc, signal, raw_mass."""
    return ndim + 1 + ((1 if isotropic else ndim) + 3 if characterize else 0)


def refine(image, image_int, coords, radius, max_iterations, characterize, isotropic, compiled):
    """Refined positions and characterisation, one row per candidate in ``coords``.

    ``image`` is the (inverted) raw image, ``image_int`` the preprocessed one;
    both C-contiguous. Columns as in `n_columns`.
    """
    box, r2, x2, cos2, sin2 = refine_masks(radius)
    offsets = flat_offsets(box, image_int.shape)
    coords = np.ascontiguousarray(coords, dtype=np.int64)
    radius = np.asarray(radius, dtype=np.int64)
    # plain bools: a numpy bool would make numba compile another specialisation
    characterize, isotropic = bool(characterize), bool(isotropic)
    results = np.empty((len(coords), n_columns(image_int.ndim, characterize, isotropic)))
    if compiled:
        from . import kernels
        kernels.refine_com(image_int, image, coords, radius, int(max_iterations), SHIFT_THRESH,
                           offsets, box, r2, x2, cos2, sin2, characterize, isotropic, results)
    else:
        refine_numpy(image_int, image, coords, radius, int(max_iterations), offsets, box, r2, x2,
                     cos2, sin2, characterize, isotropic, results)
    return results


def _sequential_sum(rows):
    """``rows[0] + rows[1] + ...`` in that order (numpy's sum may pair them)."""
    total = np.zeros(rows.shape[1:])
    for row in rows:
        total += row
    return total


def refine_numpy(image_int, raw, coords, radius, max_iterations, offsets, box, r2, x2,
                 cos2, sin2, characterize, isotropic, results):
    """Vectorised twin of ``kernels.refine_com`` (same arguments, same bits)."""
    n_feat, ndim = coords.shape
    shape = np.asarray(image_int.shape, dtype=np.int64)
    strides = np.cumprod(np.concatenate([shape[1:], [1]])[::-1])[::-1]
    flat = image_int.ravel()
    box_t = box.T.astype(np.float64)  # (ndim, M): per-axis coordinates in the box
    coord = coords.copy()
    corner = np.zeros(n_feat, dtype=np.int64)
    mass = np.zeros(n_feat)
    active = np.arange(n_feat)
    for _ in range(max_iterations):
        if len(active) == 0:
            break
        here = coord[active]
        corner[active] = (here - radius) @ strides
        px = flat[corner[active][None, :] + offsets[:, None]].astype(np.float64)  # (M, A)
        m = px.sum(axis=0)  # sums of integers: exact
        mass[active] = m
        cm = box_t @ px  # (ndim, A), exact as well
        with np.errstate(divide="ignore", invalid="ignore"):
            cm = np.where(m != 0.0, cm / m, radius[:, None].astype(np.float64))
        off = cm - radius[:, None]
        results[active, :ndim] = (off + here.T).T
        moving = ~np.all(np.abs(off) < SHIFT_THRESH, axis=0)
        step = np.where(off > SHIFT_THRESH, 1, np.where(off < -SHIFT_THRESH, -1, 0)).T
        moved = np.clip(here + step, radius, shape - radius - 1)
        coord[active[moving]] = moved[moving]
        active = active[moving]
    results[:, ndim] = mass
    if not characterize or n_feat == 0:
        return results
    index = corner[None, :] + offsets[:, None]  # (M, N): the last neighbourhood
    px = flat[index].astype(np.float64)
    col = ndim + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        if isotropic:
            results[:, col] = np.where(mass != 0.0, np.sqrt((r2 @ px) / mass), np.nan)
            col += 1
        else:
            for a in range(ndim):
                results[:, col + a] = np.where(mass != 0.0, np.sqrt((x2[:, a] @ px) / mass),
                                               np.nan)
            col += ndim
    if ndim == 2:
        ecc1 = _sequential_sum(cos2[:, None] * px)
        ecc2 = _sequential_sum(sin2[:, None] * px)
        centre_px = flat[corner + int(radius @ strides)].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):  # as quiet as the kernel
            results[:, col] = np.sqrt(ecc1 ** 2 + ecc2 ** 2) / (mass - centre_px + 1e-6)
    else:
        results[:, col] = np.nan
    results[:, col + 1] = np.maximum(px.max(axis=0), 0.0)
    raw_px = raw.ravel()[index].astype(np.float64)
    results[:, col + 2] = (raw_px.sum(axis=0) if raw.dtype.kind in "ui"
                           else _sequential_sum(raw_px))
    return results

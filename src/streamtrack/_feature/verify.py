"""Prove the compiled locate kernels equal their numpy/scipy twins.

The check of the kernel sets ``("locate", ndim, dtype_name)``, registered with
`_fastpath` by this package (``_fastpath.register_check``), which runs it in
its background thread before the kernels may serve. It runs ``locate``
twice on small inputs made here, once forced onto the compiled kernels
(which compiles them, or loads them from numba's cache, with exactly the
argument types that real calls use) and once onto numpy/scipy, and demands
identical bits. The compiled 2-D bandpass and maxima are also compared with
scipy directly on random images, edge cases included. ``check(key)``
returns None, or what differed.
"""
import numpy as np

from .. import _fastpath
from .locating import locate
from .masks import binary_mask, mask_half_widths
from .maxima import _fast_maxima
from .preprocess import boxcar, gaussian_kernel, lowpass


def check(key):
    """None if the compiled kernels for ``key = ("locate", ndim, dtype_name)``
    give the numpy/scipy path's bits, else what differed."""
    return _check_locate(ndim=key[1], dtype=np.dtype(key[2]))


def describe(key):
    """``key`` in words, for `_fastpath`'s messages."""
    return f"locating {key[1]}-D {key[2]} images"


def _same(a, b):
    """Exact equality of two DataFrames or arrays, NaN equal to NaN."""
    if hasattr(a, "columns"):
        if list(a.columns) != list(b.columns) or a.shape != b.shape:
            return False
        a, b = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _blobs(ndim, dtype, seed):
    """A small test image of ``dtype`` with bright blobs on a noisy background."""
    rng = np.random.default_rng(seed)
    shape = (48, 64) if ndim == 2 else (14, 28, 28)
    grid = np.indices(shape, dtype=float)
    image = np.zeros(shape)
    for _ in range(10):
        centre = [rng.uniform(4, s - 4) for s in shape]
        r2 = sum((g - c) ** 2 for g, c in zip(grid, centre))
        image += rng.uniform(0.5, 1.0) * np.exp(-r2 / (2 * 1.5 ** 2))
    image += rng.uniform(0, 0.15, shape)
    if dtype.kind == "f":
        return (image / image.max()).astype(dtype)
    top = min(np.iinfo(dtype).max, 4000)
    return (image / image.max() * top * 0.9).astype(dtype)


def _check_locate(ndim, dtype):
    if ndim == 2 and dtype in (np.dtype(np.uint8), np.dtype(np.uint16)):
        problem = _probe_2d(dtype)
        if problem:
            return problem
    cases = ([dict(diameter=7), dict(diameter=9, invert=True, separation=5, noise_size=1.5),
              dict(diameter=(7, 9), characterize=True, percentile=50)] if ndim == 2 else
             [dict(diameter=5), dict(diameter=(3, 5, 5), invert=True)])
    for seed, kwargs in enumerate(cases):
        image = _blobs(ndim, dtype, seed)
        with _fastpath.forced(True):
            fast = locate(image, **kwargs)
        with _fastpath.forced(False):
            slow = locate(image, **kwargs)
        if len(slow) == 0:
            return f"the {dtype} test image {seed} gave no features"
        if not _same(fast, slow):
            return f"locate({kwargs}) differs between the compiled and the numpy path"
    return None


def _probe_2d(dtype):
    """The compiled bandpass, maxima and background mask against scipy."""
    from scipy import ndimage

    from . import kernels  # numba: only in the preparation thread

    rng = np.random.default_rng(12345)
    top = np.iinfo(dtype).max
    image = rng.integers(0, top, (37, 53), endpoint=True).astype(dtype)
    for sigma, size in ((1, (11, 11)), (1.5, (9, 13))):
        got = np.empty(image.shape)
        kernels.lowpass_2d(image, gaussian_kernel(sigma, 4), np.empty(image.shape), got)
        if not np.array_equal(got, lowpass(image, sigma)):
            return "lowpass differs from scipy's correlate1d"
        got = kernels.boxcar_2d(image, *size, np.empty_like(image), np.empty_like(image))
        if not np.array_equal(got, boxcar(image, size)):
            return "boxcar differs from scipy's uniform_filter1d"
    sparse = np.where(rng.random(image.shape) < 0.05, image, 0).astype(dtype)
    for size in ((16, 16), (15, 8)):
        dilation = ndimage.grey_dilation(sparse, size, mode="constant")
        want = np.argwhere((sparse == dilation) & (sparse > 3))
        want = want[np.all((want >= 2) & (want <= np.array(sparse.shape) - 3), axis=1)]
        if not np.array_equal(_fast_maxima(sparse, size, 3.0, (2, 2)), want):
            return "local maxima differ from scipy's grey_dilation"
    for radius in ((5, 5), (3, 4)):
        background = ~ndimage.binary_dilation(sparse, structure=binary_mask(radius))
        half_widths = mask_half_widths(radius)
        got = kernels.background_mask_2d(
            sparse, half_widths, np.empty((half_widths.max() + 1,) + sparse.shape, np.uint8),
            np.empty(sparse.shape, bool))
        if not np.array_equal(got, background):
            return "background mask differs from scipy's binary_dilation"
    return None

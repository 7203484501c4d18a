"""Compile a kernel set and prove it equals its numpy/scipy twin (run by `_fastpath`).

Each check runs the real code path twice on small inputs made here, once
forced onto the compiled kernels (which compiles them, or loads them from
numba's cache, with exactly the argument types that real calls use) and once
onto numpy/scipy, and demands identical bits. The compiled 2-D bandpass and
maxima are also compared with scipy directly on random images, edge cases
included. ``check(key)`` returns None, or what differed.
"""
import numpy as np

from . import _fastpath


def check(key):
    if key[0] == "locate":
        return _check_locate(ndim=key[1], dtype=np.dtype(key[2]))
    if key[0] == "link":
        return _check_link()
    raise ValueError(f"unknown kernel set {key!r}")


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
    from ._locate import locate

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

    from . import _kernels
    from ._masks import binary_mask, mask_half_widths
    from ._maxima import _fast_maxima
    from ._preprocess import boxcar, gaussian_kernel, lowpass

    rng = np.random.default_rng(12345)
    top = np.iinfo(dtype).max
    image = rng.integers(0, top, (37, 53), endpoint=True).astype(dtype)
    for sigma, size in ((1, (11, 11)), (1.5, (9, 13))):
        got = np.empty(image.shape)
        _kernels.lowpass_2d(image, gaussian_kernel(sigma, 4), np.empty(image.shape), got)
        if not np.array_equal(got, lowpass(image, sigma)):
            return "lowpass differs from scipy's correlate1d"
        got = _kernels.boxcar_2d(image, *size, np.empty_like(image), np.empty_like(image))
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
        got = _kernels.background_mask_2d(
            sparse, half_widths, np.empty((half_widths.max() + 1,) + sparse.shape, np.uint8),
            np.empty(sparse.shape, bool))
        if not np.array_equal(got, background):
            return "background mask differs from scipy's binary_dilation"
    return None


def _check_link():
    from .linking._linker import Linker

    rng = np.random.default_rng(7)
    # a jittered lattice (many small subnetworks), then one shifted by half a
    # spacing along x: every particle ties between two neighbours, in chains
    side = np.arange(0, 40, 4.0)
    lattice = np.array(np.meshgrid(side, side, indexing="ij")).reshape(2, -1).T
    frames = [lattice + rng.normal(0, 0.8, lattice.shape) for _ in range(4)]
    frames += [lattice.copy(), lattice + [0.0, 2.0]]
    results = []
    for compiled in (True, False):
        with _fastpath.forced(compiled):
            linker = Linker(2.5, memory=1)
            results.append([linker.step(t, pos).copy() for t, pos in enumerate(frames)])
    if not all(np.array_equal(a, b) for a, b in zip(*results)):
        return "the compiled assignment solver differs from scipy's linear_sum_assignment"
    return None

"""Decides when the compiled 2-D kernels may replace the scipy calls.

The kernels in `_kernels` copy scipy's arithmetic; a scipy release could change
that arithmetic (it did for ``uniform_filter1d``'s running sum once already).
So before first use, ``verified()`` runs every kernel next to its scipy
counterpart on random images and enables the fast path only if the results are
identical bit for bit. Set ``STREAMTRACK_NO_FASTPATH=1`` to force the scipy path.
"""
import logging
import os

import numpy as np

logger = logging.getLogger(__name__)
_verified = None
FAST_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))


def _probe():
    from scipy import ndimage

    from . import _kernels
    from ._masks import binary_mask, mask_half_widths
    from ._maxima import _fast_maxima
    from ._preprocess import boxcar, gaussian_kernel, lowpass

    rng = np.random.default_rng(12345)
    for dtype in FAST_DTYPES:
        top = np.iinfo(dtype).max
        image = rng.integers(0, top, (37, 53), endpoint=True).astype(dtype)
        for sigma, size in ((1, (11, 11)), (1.5, (9, 13))):
            got = np.empty(image.shape)
            _kernels.lowpass_2d(image, gaussian_kernel(sigma, 4), np.empty(image.shape), got)
            if not np.array_equal(got, lowpass(image, sigma)):
                return "lowpass"
            got = _kernels.boxcar_2d(image, *size, np.empty_like(image), np.empty_like(image))
            if not np.array_equal(got, boxcar(image, size)):
                return "boxcar"
        sparse = np.where(rng.random(image.shape) < 0.05, image, 0).astype(dtype)
        for size in ((16, 16), (15, 8)):
            dilation = ndimage.grey_dilation(sparse, size, mode="constant")
            want = np.argwhere((sparse == dilation) & (sparse > 3))
            want = want[np.all((want >= 2) & (want <= np.array(sparse.shape) - 3), axis=1)]
            got = _fast_maxima(sparse, size, 3, (2, 2))
            if not np.array_equal(got, want):
                return "grey_dilation"
        for radius in ((5, 5), (3, 4)):
            background = ~ndimage.binary_dilation(sparse, structure=binary_mask(radius))
            got = _kernels.background_mask_2d(sparse, mask_half_widths(radius),
                                              np.empty(sparse.shape, np.int32),
                                              np.empty(sparse.shape, bool))
            if not np.array_equal(got, background):
                return "binary_dilation"
    return None


def verified():
    """True when the compiled kernels reproduce scipy on this installation."""
    global _verified
    if _verified is None:
        if os.environ.get("STREAMTRACK_NO_FASTPATH"):
            _verified = False
        else:
            failed = _probe()
            if failed:
                logger.warning("streamtrack: compiled %s differs from scipy's on this "
                               "installation; using the scipy path.", failed)
            _verified = failed is None
    return _verified


def usable(image, noise_size, smoothing_size):
    """Whether ``image`` with these sizes can take the compiled path."""
    return (image.ndim == 2 and image.dtype in FAST_DTYPES
            and noise_size[0] == noise_size[1] and noise_size[0] > 0
            and all(int(s) == s and int(s) & 1 for s in smoothing_size)
            and verified())

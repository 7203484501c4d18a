"""Preprocessing: inversion, bandpass (Gaussian lowpass minus boxcar background)
and conversion to integers, with trackpy's arithmetic.

The generic functions run scipy exactly as trackpy 0.7 does; ``bandpass_to_int``
routes 2-D uint8/uint16 images through the compiled kernels in `kernels` once
`_fastpath` has verified (with `verify`) that they give identical bits.
"""
from functools import lru_cache

import numpy as np
from scipy.ndimage import correlate1d, uniform_filter1d

from .masks import validate_tuple
from .workspace import buffer


@lru_cache(maxsize=32)
def gaussian_kernel(sigma, truncate=4.0):
    """Normalised 1-D Gaussian, half-width ``int(truncate * sigma + 0.5)``."""
    half = int(truncate * sigma + 0.5)
    x = np.arange(-half, half + 1)
    weights = np.exp(x ** 2 / (-2 * sigma ** 2))
    return weights / np.sum(weights)


def invert_image(raw_image, max_value=None):
    """Invert an image: dark features on a bright background become bright.

    Parameters
    ----------
    raw_image : ndarray
        Integer or float image.
    max_value : number, optional
        The value that maps to 0. Default: the dtype's maximum for integer
        images (bitwise inversion), 1.0 for float images.

    Returns
    -------
    ndarray
        The inverted image, same dtype.

    Examples
    --------
    >>> invert_image(np.array([[0, 200]], dtype=np.uint8))
    array([[255,  55]], dtype=uint8)
    """
    if max_value is None:
        if np.issubdtype(raw_image.dtype, np.integer):
            return raw_image ^ np.iinfo(raw_image.dtype).max
        max_value = 1.0
    return max_value - raw_image


def lowpass(image, sigma=1, truncate=4):
    """Gaussian smoothing (float64), zero padded, axis by axis (trackpy's lowpass)."""
    sigma = validate_tuple(sigma, image.ndim, "noise_size")
    result = np.array(image, dtype=float)
    for axis, s in enumerate(sigma):
        if s > 0:
            correlate1d(result, gaussian_kernel(s, truncate), axis,
                        output=result, mode="constant", cval=0.0)
    return result


def boxcar(image, size):
    """Rolling average in the image's own dtype (integers truncate, as in trackpy)."""
    size = validate_tuple(size, image.ndim, "smoothing_size")
    if not all(int(s) & 1 for s in size):
        raise ValueError("smoothing_size must be an odd integer; round it up.")
    result = image.copy()
    for axis, s in enumerate(size):
        if s > 1:
            uniform_filter1d(result, int(s), axis, output=result, mode="nearest", cval=0)
    return result


def _check_scales(lshort, llong):
    if any(short >= long for short, long in zip(lshort, llong)):
        raise ValueError(
            f"noise_size {lshort} must be smaller than smoothing_size {llong} on every "
            "axis; the smoothing length scale must be larger than the noise length scale."
        )


def bandpass(image, lshort, llong, threshold=None, truncate=4):
    """Remove noise (Gaussian lowpass) and background (boxcar), as trackpy does.

    Parameters
    ----------
    image : ndarray
        The image.
    lshort : number or tuple
        Gaussian sigma (the noise size), per axis if a tuple.
    llong : int or tuple
        Odd boxcar size (the smoothing size), larger than ``lshort``.
    threshold : number, optional
        Values of the result below this become 0. Default 1 for integer
        images, 1/255 for float images.
    truncate : number, optional
        Gaussian kernel half-width in sigmas. Default 4.

    Returns
    -------
    ndarray of float64
        The bandpassed image.

    Raises
    ------
    ValueError
        If ``lshort >= llong`` on some axis, or ``llong`` is even.

    Examples
    --------
    >>> img = np.zeros((32, 32), np.uint8); img[16, 16] = 200
    >>> bool(bandpass(img, 1, 11).max() > 0)
    True
    """
    lshort = validate_tuple(lshort, image.ndim, "noise_size")
    llong = validate_tuple(llong, image.ndim, "smoothing_size")
    _check_scales(lshort, llong)
    if threshold is None:
        threshold = 1 if np.issubdtype(image.dtype, np.integer) else 1 / 255.0
    background = boxcar(image, llong)
    result = lowpass(image, lshort, truncate)
    result -= background
    return np.where(result >= threshold, result, 0)


def convert_to_int(image, dtype="uint8"):
    """Scale a float image to the full range of integer ``dtype`` (truncating).

    Returns ``(scale_factor, image_int)``; integer images come back unchanged
    with a scale factor of 1.
    """
    if np.issubdtype(image.dtype, np.integer):
        return 1.0, image
    max_value = np.iinfo(dtype).max
    image_max = image.max()
    scale_factor = 1.0 if image_max == 0 else max_value / image_max
    return scale_factor, (scale_factor * image.clip(min=0.0)).astype(dtype)


FAST_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))


def compiled_bandpass_applies(image, noise_size, smoothing_size):
    """Whether the compiled bandpass takes ``image`` with these sizes."""
    return (image.ndim == 2 and image.dtype in FAST_DTYPES
            and noise_size[0] == noise_size[1] and noise_size[0] > 0
            and all(int(s) == s and int(s) & 1 for s in smoothing_size))


def bandpass_to_int(image, noise_size, smoothing_size, threshold, int_dtype, compiled=False):
    """``convert_to_int(bandpass(image, ...), int_dtype)``, compiled if ``compiled``
    (and the image and sizes suit the kernels).

    Returns ``(scale, image_int, counts)``: ``counts`` is the histogram of the
    nonzero values of ``image_int`` when the compiled path computed it, else None.
    """
    if compiled and compiled_bandpass_applies(image, noise_size, smoothing_size):
        from . import kernels
        sigma = float(noise_size[0])
        shape = image.shape
        lowpassed = buffer("lowpass", shape, np.float64)
        kernels.lowpass_2d(image, gaussian_kernel(sigma, 4),
                           buffer("lowpass_tmp", shape, np.float64), lowpassed)
        background = kernels.boxcar_2d(image, int(smoothing_size[0]), int(smoothing_size[1]),
                                       buffer("boxcar_tmp", shape, image.dtype),
                                       buffer("boxcar", shape, image.dtype))
        peak = kernels.subtract_threshold_max(lowpassed, background, float(threshold))
        max_value = np.iinfo(int_dtype).max
        scale = 1.0 if peak == 0 else max_value / peak
        out = buffer("image_int", shape, int_dtype)
        counts = np.zeros(int(max_value) + 1, dtype=np.int64)
        kernels.scale_to_int(lowpassed, scale, out, counts)
        counts[0] = 0
        return scale, out, counts
    _check_scales(noise_size, smoothing_size)
    scale, image_int = convert_to_int(bandpass(image, noise_size, smoothing_size, threshold),
                                      int_dtype)
    return scale, image_int, None

"""Background level and noise, for the static error ``ep`` (Savin & Doyle)."""
import numpy as np
from scipy.ndimage import binary_dilation

from .masks import binary_mask, mask_half_widths, root_sum_x_squared
from .preprocess import FAST_DTYPES
from .workspace import buffer


def measure_noise(image_int, raw_image, radius, compiled=False):
    """Mean and standard deviation of ``raw_image`` away from every feature.

    Background pixels are those not covered by the feature mask placed on any
    nonzero pixel of the preprocessed image (``~binary_dilation``).
    Returns ``(black_level, noise)``: NaN, NaN without background pixels,
    ``(mean, NaN)`` with exactly one. ``compiled``: 2-D images use the
    compiled kernels (same results).
    """
    if compiled and image_int.ndim == 2:
        from . import kernels
        half_widths = mask_half_widths(radius)
        background = kernels.background_mask_2d(
            image_int, half_widths,
            buffer("noise_dilated", (int(half_widths.max()) + 1,) + image_int.shape, np.uint8),
            buffer("noise_mask", image_int.shape, np.bool_))
        if raw_image.dtype in FAST_DTYPES:
            n, mean, std = kernels.masked_stats_int(background.view(np.uint8), raw_image)
            return (mean, std) if n > 1 else (mean, np.nan)
    else:
        background = ~binary_dilation(image_int, structure=binary_mask(radius))
        if image_int.ndim == 2 and raw_image.dtype in FAST_DTYPES:
            n, mean, std = masked_stats_int(background, raw_image)
            return (mean, std) if n > 1 else (mean, np.nan)
    # other images: numpy's own reductions, in the image's precision, as trackpy
    n = background.sum()
    if n == 0:
        return np.nan, np.nan
    values = raw_image[background]
    return values.mean(), (values.std() if n > 1 else np.nan)


def masked_stats_int(mask, raw):
    """numpy twin of ``kernels.masked_stats_int``: ``(count, mean, std)`` of
    uint8/uint16 ``raw`` where ``mask``, from integer sums (exact: no overflow
    at these depths), squares taken about the rounded mean (the kernel's bits)."""
    values = raw[mask].astype(np.int64)
    count = len(values)
    if count == 0:
        return 0, np.nan, np.nan
    total = int(values.sum())
    mean = np.float64(total) / np.float64(count)
    ref = int(np.round(mean))
    deviation = values - ref
    sq = int(np.dot(deviation, deviation))
    shift = np.float64(total - count * ref) / np.float64(count)
    var = np.float64(sq) / np.float64(count) - shift * shift
    return count, mean, np.sqrt(max(var, 0.0))


def static_error(raw_mass, black_level, noise, radius, noise_size):
    """trackpy's ``ep``: noise / (background-corrected mass) * noise_size *
    sqrt(sum over the mask of x_i**2). One column if radius and noise_size are
    isotropic, else one per axis."""
    # an int64 scalar, as trackpy's: with a Python int, N * float32 stays float32
    n_px = np.int64(binary_mask(radius).sum())
    moments = root_sum_x_squared(radius)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = noise / (raw_mass - n_px * black_level)
        if len(set(radius)) == 1 and len(set(noise_size)) == 1:
            return ratio * noise_size[0] * moments[0]
        return ratio[:, np.newaxis] * (np.asarray(noise_size) * moments)[np.newaxis, :]

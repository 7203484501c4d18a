"""``locate``: Crocker-Grier feature finding with trackpy 0.7's signature and numbers."""
import inspect
import numbers
import warnings

import numpy as np
import pandas as pd

from .. import _fastpath
from .masks import validate_tuple
from .maxima import local_maxima, where_close
from .noise import measure_noise, static_error
from .preprocess import bandpass_to_int, convert_to_int, invert_image
from .refine import refine
from .workspace import buffer


def pos_columns_for(ndim):
    return ["z", "y", "x"][-ndim:] if ndim < 4 else [f"x{i}" for i in range(ndim)]


def feature_columns(ndim, isotropic=True, characterize=True, noise_isotropic=True):
    """Column names of ``locate``'s result, in trackpy's order (without ``frame``)."""
    pos = pos_columns_for(ndim)
    columns = pos + ["mass"]
    if characterize:
        columns += ["size"] if isotropic else ["size_" + c for c in pos]
        columns += ["ecc", "signal", "raw_mass"]
        columns += ["ep"] if (isotropic and noise_isotropic) else ["ep_" + c for c in pos]
    return columns


def _odd_sizes(value, ndim, name):
    values = validate_tuple(value, ndim, name)
    out = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must be an odd positive integer (or one per axis), "
                            f"got {value!r}.")
        if v != int(v) or int(v) <= 0 or not int(v) & 1:
            raise ValueError(f"{name} must be an odd positive integer (or one per axis), "
                             f"got {value!r}; feature diameters are odd: round up.")
        out.append(int(v))
    return tuple(out)


def _positive(value, ndim, name):
    values = validate_tuple(value, ndim, name)
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must be a number or one number per axis, got {value!r}.")
        if not v >= 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}.")
    return values


def _is_number(value):
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Real)


def _check_values(filter_before=None, engine='auto', minmass=None, maxsize=None,
                  threshold=None, percentile=64, topn=None, max_iterations=10):
    """Check the option values that do not depend on the image; raise a one-line error.

    Values that could only give a wrong or an empty result without a word
    (a NaN ``minmass`` keeps nothing, a negative ``topn`` drops features,
    a ``percentile`` of 150 finds no maxima) are refused here, before any
    pixel is touched. :func:`locate` and :func:`check_arguments` run this
    on every call, :func:`check_options` before a movie's first frame.

    Raises
    ------
    TypeError
        A value that is not a number (``minmass='500'``), or a ``topn`` that is
        not an integer.
    ValueError
        A number out of its range, a ``filter_before`` other than None, an
        unknown ``engine``.
    """
    if filter_before is not None:
        raise ValueError("filter_before is not supported (as in trackpy); features are "
                         "filtered after refinement: use minmass / maxsize.")
    if engine not in ("auto", "python", "numba"):
        raise ValueError(f"engine must be 'auto', 'python' or 'numba', got {engine!r}.")
    for name, value, what in (("minmass", minmass, "the minimum integrated brightness"),
                              ("maxsize", maxsize, "the largest radius of gyration"),
                              ("threshold", threshold, "the bandpass clip level")):
        if value is None:
            continue
        if not _is_number(value):
            raise TypeError(f"{name} must be a number ({what}) or None, got {value!r} "
                            f"({type(value).__name__}); e.g. {name}=float(value).")
        if not np.isfinite(value) and not (name == "maxsize" and value == np.inf):
            raise ValueError(f"{name} must be a finite number ({what}), got {value!r}; "
                             "use a finite number, or None for the default.")
    if maxsize is not None and not maxsize > 0:
        raise ValueError(f"maxsize must be > 0 (the largest radius of gyration kept), got "
                         f"{maxsize!r}; every feature would be filtered out. Use None for "
                         "no limit.")
    if not _is_number(percentile):
        raise TypeError(f"percentile must be a number between 0 and 100, got {percentile!r} "
                        f"({type(percentile).__name__}).")
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {percentile!r}.")
    if topn is not None:
        if isinstance(topn, (bool, np.bool_)) or not isinstance(topn, numbers.Integral):
            raise TypeError(f"topn must be a positive integer (how many of the brightest "
                            f"features to keep) or None, got {topn!r}.")
        if topn < 1:
            # trackpy keeps all features for 0 and drops the |topn| faintest
            # for a negative topn: neither is what was asked for
            raise ValueError(f"topn must be a positive integer (how many of the brightest "
                             f"features to keep) or None to keep all, got {topn!r}.")
    if max_iterations is not None and not _is_number(max_iterations):
        raise TypeError(f"max_iterations must be an integer, got {max_iterations!r}.")


def _sizes(ndim, diameter, maxsize, separation, noise_size, smoothing_size, preprocess):
    """Normalised per-axis sizes, checked against each other and the image's ``ndim``.

    Returns
    -------
    diameter, radius, isotropic, separation, smoothing_size, noise_size
    """
    defaulted_smoothing = smoothing_size is None
    diameter = _odd_sizes(diameter, ndim, "diameter")
    radius = tuple(d // 2 for d in diameter)
    isotropic = len(set(radius)) == 1
    if not isotropic and maxsize is not None:
        raise ValueError("maxsize works only for isotropic features; drop it or give a "
                         "single diameter.")
    separation = (tuple(d + 1 for d in diameter) if separation is None
                  else _positive(separation, ndim, "separation"))
    smoothing_size = (diameter if smoothing_size is None
                      else _odd_sizes(smoothing_size, ndim, "smoothing_size"))
    noise_size = _positive(noise_size, ndim, "noise_size")
    if preprocess and any(n >= s for n, s in zip(noise_size, smoothing_size)):
        if defaulted_smoothing:
            # smoothing_size was not given: it is the diameter, so name that
            smallest = int(max(noise_size)) + 1
            smallest += 1 - smallest % 2  # the smallest odd size above noise_size
            shown = diameter[0] if isotropic else diameter
            noise = noise_size[0] if len(set(noise_size)) == 1 else noise_size
            raise ValueError(f"noise_size {noise} must be smaller than the diameter {shown} "
                             "(the background smoothing size, unless smoothing_size is "
                             f"given); use an odd diameter of at least {smallest}, or a "
                             "smaller noise_size.")
        raise ValueError(f"noise_size {noise_size} must be smaller than smoothing_size "
                         f"{smoothing_size}: the smoothing length scale must be larger "
                         "than the noise length scale.")
    return diameter, radius, isotropic, separation, smoothing_size, noise_size


def _narrowed(image):
    """A 64-bit integer image as 32 bits when its values fit, else a clear error.

    The integer path scales the bandpassed image to the full range of its
    dtype in float64, which has 53 bits: at 64 bits the scaled values lose
    precision (and the compiled kernels' results differ from numpy's). 32
    bits are exact, and give what the same values give as int32/uint32.
    """
    small = np.dtype(np.int32 if image.dtype.kind == "i" else np.uint32)
    info = np.iinfo(small)
    low, high = image.min(), image.max()
    if low < info.min or high > info.max:
        raise ValueError(f"raw_image has dtype {image.dtype} with values from {low} to {high}, "
                         f"beyond {small.name}'s range: locate would lose precision. Scale "
                         f"the values into that range first, e.g. "
                         f"(image // 2**8).astype(np.{small.name}).")
    return image.astype(small)


def _validate_image(raw_image, diameter):
    frame_no = getattr(raw_image, "frame_no", None)
    if not hasattr(raw_image, "shape") or not hasattr(raw_image, "dtype"):
        try:
            raw_image = np.asarray(raw_image)
        except Exception as exc:  # noqa: BLE001 - anything unconvertible
            raise TypeError(f"raw_image must be an array, got {type(raw_image).__name__}.") from exc
    image = np.squeeze(np.asarray(raw_image))
    if image.dtype.kind not in "uif" or image.dtype.itemsize > 8:
        raise TypeError(f"raw_image must hold integers or floats of at most 64 bits, got "
                        f"dtype {image.dtype}; convert it, e.g. image.astype(np.uint16).")
    if image.ndim not in (2, 3) and not (hasattr(diameter, "__iter__")
                                         and len(diameter) == image.ndim):
        raise ValueError(f"raw_image must be 2-D (y, x) or 3-D (z, y, x); got shape "
                         f"{np.shape(raw_image)}. For a movie, locate one frame at a time "
                         "or use batch().")
    if image.ndim == 3 and image.shape[-1] in (3, 4) and not hasattr(diameter, "__iter__"):
        raise ValueError(f"raw_image has shape {image.shape}, which looks like an RGB(A) colour "
                         "image; pick one channel, e.g. image[:, :, 1] (or a pipeline such as "
                         "@streamtrack.pipeline def green(im): return im[:, :, 1]). For a 3-D "
                         "volume, pass diameter as a tuple (dz, dy, dx).")
    if min(image.shape) == 0:
        raise ValueError(f"raw_image is empty (shape {image.shape}).")
    if not image.dtype.isnative:
        # big-endian data (some TIFFs): the same values in this machine's order,
        # which is what the compiled kernels (and the buffers) are built for
        image = image.astype(image.dtype.newbyteorder("="))
    if image.dtype == np.float16:
        # scipy's filters have no float16 loops; float32 holds every float16
        # value exactly, so the result is that of the float32 image
        image = image.astype(np.float32)
    elif image.dtype.kind in "iu" and image.dtype.itemsize == 8:
        image = _narrowed(image)
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise ValueError("raw_image contains NaN or infinite pixels; replace them first, "
                         "e.g. np.nan_to_num(image, nan=0.0).")
    return image, frame_no


#: the options of ``_check_values``: checked alike on any image
_VALUE_OPTIONS = ("filter_before", "engine", "minmass", "maxsize", "threshold", "percentile",
                  "topn", "max_iterations")
#: sizes that mean the same on any image when they are single values
_SIZE_OPTIONS = ("separation", "noise_size", "smoothing_size")


def option_names():
    """The names of :func:`locate`'s options: its parameters after ``raw_image, diameter``."""
    return list(inspect.signature(locate).parameters)[2:]


def check_options(diameter, **options):
    """Raise what :func:`locate` would raise for these options on every image.

    For callers that locate many images and must refuse bad options before
    the first one, and before they write anything (``batch``): unknown
    option names, option values, and the sizes when each is a single value
    (those mean the same on any image). What depends on the image (its
    dimensions, sizes given per axis, an RGB frame) waits for the image:
    :func:`locate` and :func:`check_arguments` check it.

    Parameters
    ----------
    diameter : odd int or tuple of odd ints
        As for :func:`locate`.
    **options
        :func:`locate`'s keyword arguments (``minmass``, ``invert``, ...).

    Raises
    ------
    TypeError
        An option that :func:`locate` does not take (all such names in one
        message), or a value of the wrong type.
    ValueError
        A value out of its range, as :func:`locate` raises it.
    """
    accepted = option_names()
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(f"unknown locate option(s) {unknown}; locate accepts {accepted}.")
    _check_values(**{k: options[k] for k in _VALUE_OPTIONS if k in options})
    sizes = [diameter] + [options.get(k) for k in _SIZE_OPTIONS]
    if not any(hasattr(v, "__iter__") for v in sizes):
        _sizes(2, diameter, options.get("maxsize"), options.get("separation"),
               options.get("noise_size", 1), options.get("smoothing_size"),
               options.get("preprocess", True))


def check_arguments(raw_image, diameter, minmass=None, maxsize=None, separation=None,
                    noise_size=1, smoothing_size=None, threshold=None, invert=False,
                    percentile=64, topn=None, preprocess=True, max_iterations=10,
                    filter_before=None, filter_after=None, characterize=True,
                    engine='auto'):
    """Raise the error :func:`locate` would raise for these arguments, locating nothing.

    For callers that must refuse bad input before they write anything (the
    command line checks the first frame before it opens its output).

    Parameters
    ----------
    raw_image, diameter, ...
        As for :func:`locate`.

    Raises
    ------
    ValueError, TypeError
        As :func:`locate` raises them.
    """
    _check_values(filter_before, engine, minmass, maxsize, threshold, percentile, topn,
                  max_iterations)
    image, _ = _validate_image(raw_image, diameter)
    _sizes(image.ndim, diameter, maxsize, separation, noise_size, smoothing_size, preprocess)


def locate(raw_image, diameter, minmass=None, maxsize=None, separation=None,
           noise_size=1, smoothing_size=None, threshold=None, invert=False,
           percentile=64, topn=None, preprocess=True, max_iterations=10,
           filter_before=None, filter_after=None, characterize=True,
           engine='auto'):
    """Locate Gaussian-like blobs of some approximate size in an image.

    Crocker-Grier: bandpass, local maxima, centre-of-mass refinement,
    characterisation. Signature, defaults, columns and numbers are trackpy
    0.7's; results do not depend on ``engine``.

    Parameters
    ----------
    raw_image : array
        2-D image (y, x), or 3-D volume (z, y, x); uint8, uint16, other
        integers or floats. float16 is located as float32 (exactly the same
        values); 64-bit integers as 32-bit ones when their values fit (else
        a ValueError). A ``frame_no`` attribute adds a ``frame`` column.
    diameter : odd int or tuple of odd ints
        Feature size in pixels (per axis if a tuple; z, y, x order).
    minmass : float, optional
        Minimum integrated brightness (``mass``) of a feature; finite.
        Default 0.
    maxsize : float, optional
        Maximum radius of gyration (isotropic features only); > 0.
    separation : float or tuple, optional
        Minimum distance between features. Default ``diameter + 1``.
    noise_size : float or tuple, optional
        Gaussian sigma of the noise filter. Default 1.
    smoothing_size : odd int or tuple, optional
        Size of the boxcar background filter. Default ``diameter``.
    threshold : float, optional
        Clip the bandpass result below this value. Default 1 for integer
        images, 1/255 for float images.
    invert : bool, optional
        Look for dark features on a bright background. Default False.
    percentile : float, optional
        Maxima must be brighter than this percentile (0 to 100) of the
        nonzero bandpassed pixels. Default 64.
    topn : int, optional
        Keep only the ``topn`` (>= 1) brightest features. (trackpy keeps all
        for 0 and drops some for a negative ``topn``; both are errors here.)
    preprocess : bool, optional
        Bandpass the image first. Default True.
    max_iterations : int, optional
        Centre-of-mass refinement steps. Default 10.
    filter_before : None
        Not supported (as in trackpy); must be None.
    filter_after : None
        Deprecated in trackpy; accepted with a DeprecationWarning, ignored.
    characterize : bool, optional
        Compute size, ecc, signal, raw_mass and ep. Default True.
    engine : {'auto', 'python', 'numba'}, optional
        Accepted for compatibility; every engine gives the same result.

    Returns
    -------
    DataFrame
        Columns ``y x mass size ecc signal raw_mass ep`` (``z`` first in 3-D;
        ``size_*``/``ep_*`` per axis when anisotropic), plus ``frame`` when
        the frame number is known. Empty, with these columns, if nothing is
        found (a warning says why).

    Raises
    ------
    ValueError
        Even, non-integer or non-positive ``diameter``; an image that is not
        2-D/3-D; an RGB frame; NaN/inf pixels; a 64-bit integer image beyond
        the 32-bit range; ``noise_size >= smoothing_size`` (a ``diameter``
        too small for ``noise_size``); ``maxsize`` with an anisotropic
        diameter or <= 0; a NaN or infinite ``minmass`` or ``threshold``;
        ``percentile`` outside 0-100; ``topn`` < 1; ``filter_before``; an
        unknown ``engine``. All raised before any pixel is processed.
    TypeError
        A non-numeric image or parameter (``minmass='500'``), a ``topn``
        that is not an integer.

    Examples
    --------
    >>> from streamtrack import synthetic
    >>> frames, truth = synthetic.brownian_movie(n_particles=5, n_frames=1, seed=1)
    >>> f = locate(frames[0], 11)
    >>> list(f.columns)
    ['y', 'x', 'mass', 'size', 'ecc', 'signal', 'raw_mass', 'ep', 'frame']
    """
    _check_values(filter_before, engine, minmass, maxsize, threshold, percentile, topn,
                  max_iterations)
    if filter_after is not None:
        warnings.warn("filter_after is deprecated and ignored: filtering is always on.",
                      DeprecationWarning, stacklevel=2)
    image, frame_no = _validate_image(raw_image, diameter)
    ndim = image.ndim
    diameter, radius, isotropic, separation, smoothing_size, noise_size = _sizes(
        ndim, diameter, maxsize, separation, noise_size, smoothing_size, preprocess)
    if max_iterations is None or max_iterations <= 0:
        warnings.warn("max_iterations has to be larger than 0; setting it to 1.", stacklevel=2)
        max_iterations = 1
    minmass = 0 if minmass is None else minmass
    is_float = image.dtype.kind == "f"
    if threshold is None:
        threshold = 1 / 255.0 if is_float else 1
    if invert and not is_float:
        # bitwise inversion into a reused buffer (also makes it contiguous)
        image = np.bitwise_xor(image, np.iinfo(image.dtype).max,
                               out=buffer("inverted", image.shape, image.dtype))
    elif invert:
        image = invert_image(image)
    if not image.flags.c_contiguous:
        contiguous = buffer("contiguous", image.shape, image.dtype)
        np.copyto(contiguous, image)
        image = contiguous
    int_dtype = np.uint8 if is_float else image.dtype
    # one decision per call: the compiled kernels for this kind of image, or
    # their numpy/scipy twins while those are being prepared (same results)
    compiled = _fastpath.ready(("locate", ndim, image.dtype.name))
    if preprocess:
        scale, image_int, counts = bandpass_to_int(image, noise_size, smoothing_size,
                                                   threshold, int_dtype, compiled)
    else:
        scale, image_int = convert_to_int(image, int_dtype)
        counts = None
    noise_isotropic = len(set(noise_size)) == 1
    columns = feature_columns(ndim, isotropic, characterize, noise_isotropic)
    extra = ["frame"] if frame_no is not None else []

    margin = tuple(max(r, int(s) // 2 - 1, m // 2)
                   for r, s, m in zip(radius, separation, smoothing_size))
    coords = local_maxima(image_int, separation, percentile, margin, counts, compiled)
    if len(coords) == 0:
        return empty_features(columns + extra)
    results = refine(image, image_int, coords, radius, max_iterations, characterize, isotropic,
                     compiled)
    pos = results[:, :ndim]
    mass = results[:, ndim]
    keep = np.ones(len(results), dtype=bool)
    if all(s > 0 for s in separation):
        keep[where_close(pos, separation, mass, compiled)] = False
        results = results[keep]
    results[:, ndim] /= scale
    if characterize:
        results[:, ndim + (2 if isotropic else 1 + ndim) + 1] /= scale  # signal
    condition = results[:, ndim] > minmass
    if maxsize is not None and characterize:
        condition &= results[:, ndim + 1] < maxsize
    results = results[condition]
    if len(results) == 0:
        warnings.warn("No maxima survived mass- and size-based filtering.", UserWarning,
                      stacklevel=2)
        return empty_features(columns + extra)
    if topn is not None and len(results) > topn:
        order = [int(np.argmax(results[:, ndim]))] if topn == 1 else \
            np.argsort(results[:, ndim])[-topn:]
        results = results[order]
    data = dict(zip(columns, results.T))
    if characterize:
        black_level, noise = measure_noise(image_int, image, radius, compiled)
        ep = static_error(data["raw_mass"], black_level, noise, radius, noise_size)
        if ep.ndim == 1:
            data["ep"] = ep
        else:
            for i, c in enumerate(pos_columns_for(ndim)):
                data["ep_" + c] = ep[:, i]
    if frame_no is not None:
        data["frame"] = np.full(len(results), int(frame_no), dtype=np.int64)
    return pd.DataFrame(data, columns=columns + extra, copy=False)


def empty_features(columns):
    """An empty result with these columns (``frame`` int64, the others float64)."""
    data = {c: pd.Series(dtype=np.int64 if c == "frame" else np.float64) for c in columns}
    return pd.DataFrame(data, columns=columns)

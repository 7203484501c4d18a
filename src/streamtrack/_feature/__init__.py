"""Feature finding: :func:`locate` (Crocker-Grier, trackpy 0.7's numbers) and its steps.

Modules
-------
locating
    ``locate``; its argument checks (``check_arguments`` for one image,
    ``check_options`` before a movie's first frame); the result's columns.
preprocess
    ``invert_image``, ``bandpass`` and the conversion to integers.
maxima
    Candidate features (local maxima) and removal of features too close.
refine
    Centre-of-mass refinement and characterisation.
noise
    Background level and noise, for the static error ``ep``.
masks
    Elliptical feature masks; ``validate_tuple``.
workspace
    Per-thread scratch arrays.
kernels
    The compiled (numba) kernels of the 2-D integer fast path; imported only
    by the code that runs them, never by ``import streamtrack``.
verify
    The check `_fastpath` runs before those kernels serve: registered here
    for the kernel sets ``("locate", ndim, dtype_name)``.
"""
from .. import _fastpath
from . import verify
from .locating import (
    check_arguments,
    check_options,
    empty_features,
    feature_columns,
    locate,
    option_names,
    pos_columns_for,
)
from .preprocess import bandpass, invert_image

_fastpath.register_check("locate", verify.check, verify.describe)

__all__ = ["bandpass", "check_arguments", "check_options", "empty_features",
           "feature_columns", "invert_image", "locate", "option_names", "pos_columns_for"]

"""Microns per pixel and frames per second from a layer's ``scale`` and ``units``.

One reading for every part of the plugin (the Analyse widget's units, the
GEFF and CSV writers' units record): axis 0 is time when there are three
axes or more, the others are space. An axis with a physical unit (napari
0.5+'s ``layer.units``: nm, µm, ms, s...) is converted with pint; an axis
without one (napari's default, 'pixel') is read as µm or s when its scale is
not 1 (the default scale says nothing).
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["units_from_scale"]

# what napari says of an axis without a physical unit
NO_UNIT = ("pixel", "dimensionless", "", "None")


def _converted(value: float, unit, target: str) -> float | None:
    """``value`` of ``unit`` in ``target`` ('micrometer' or 'second'); None when unknown."""
    name = "pixel" if unit is None else str(unit)
    if name in NO_UNIT:
        return float(value) if value != 1 else None
    try:
        import pint

        quantity = pint.get_application_registry().Quantity(float(value), name)
        return float(quantity.to(target).magnitude)
    except Exception:  # noqa: BLE001 - not a length (time), or a unit pint does not know
        return None


def units_from_scale(scale, units=None) -> dict:
    """``mpp`` and/or ``fps`` a layer's ``scale`` (and ``units``) give; either may be missing.

    Parameters
    ----------
    scale : sequence of float
        The layer's scale, time first when there are three axes or more.
    units : sequence, optional
        The layer's units (pint units or their names); default: none.

    Returns
    -------
    dict
        No ``mpp`` when the spatial axes have different pixel sizes (with a
        ``UserWarning``): one value per pixel cannot describe them.

    Examples
    --------
    >>> units_from_scale([0.5, 0.2, 0.2])
    {'mpp': 0.2, 'fps': 2.0}
    >>> units_from_scale([100, 250, 250], ['millisecond', 'nanometer', 'nanometer'])
    {'mpp': 0.25, 'fps': 10.0}
    >>> units_from_scale([1, 1, 1])
    {}
    """
    scale = [float(v) for v in (() if scale is None else scale)]
    units = tuple(units) if units is not None else (None,) * len(scale)
    found = {}
    spatial = slice(1, None) if len(scale) >= 3 else slice(None)
    sizes = [_converted(v, u, "micrometer") for v, u in zip(scale[spatial], units[spatial])]
    known = [s for s in sizes if s is not None and s > 0]
    if known and not np.allclose(known, known[0], rtol=1e-9):
        warnings.warn(f"the layer's spatial axes have different pixel sizes {known} (µm); "
                      "one µm per pixel cannot describe them, so none is taken", UserWarning,
                      stacklevel=2)
    elif known:
        found["mpp"] = known[0]
    if len(scale) >= 3:
        seconds = _converted(scale[0], units[0], "second")
        if seconds is not None and seconds > 0:
            found["fps"] = 1.0 / seconds
    return found

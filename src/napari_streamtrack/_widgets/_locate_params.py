"""``streamtrack.locate``'s parameters as magicgui widgets, and back to keyword arguments."""
from __future__ import annotations

from magicgui.widgets import CheckBox, FloatSpinBox, SpinBox

# name: (widget class, widget options, default, tooltip). Tooltips follow
# locate's docstring; where locate takes None for "its default", 0 stands in.
PARAMETERS = {
    "diameter": (SpinBox, dict(min=3, max=999, step=2), 11,
                 "Feature size in pixels: an odd integer (even values are rounded up "
                 "to odd). Pick it a little larger than the features look."),
    "minmass": (FloatSpinBox, dict(min=0, max=1e12, step=10), 0.0,
                "Minimum integrated brightness (mass) of a feature; 0 = none. Put it "
                "between the noise and the particles in the histogram below."),
    "invert": (CheckBox, {}, False, "Look for dark features on a bright background."),
    "maxsize": (FloatSpinBox, dict(min=0, max=1e4, step=0.5), 0.0,
                "Maximum radius of gyration (size) of a feature, px; 0 = no limit."),
    "separation": (FloatSpinBox, dict(min=0, max=1e4, step=1), 0.0,
                   "Minimum distance between features, px; 0 = default (diameter + 1)."),
    "noise_size": (FloatSpinBox, dict(min=0, max=1e3, step=0.5), 1.0,
                   "Gaussian sigma of the noise filter, px. Must be smaller than the "
                   "smoothing size."),
    "smoothing_size": (SpinBox, dict(min=0, max=999, step=1), 0,
                       "Size of the boxcar background filter, px (odd); 0 = default "
                       "(the diameter)."),
    "threshold": (FloatSpinBox, dict(min=0, max=1e6, step=0.001), 0.0,
                  "Clip the bandpassed image below this value; 0 = default (1 for "
                  "integer images, 1/255 for float images)."),
    "percentile": (FloatSpinBox, dict(min=0, max=100, step=1), 64.0,
                   "Maxima must be brighter than this percentile of the nonzero "
                   "bandpassed pixels."),
    "topn": (SpinBox, dict(min=0, max=10**7, step=1), 0,
             "Keep only the N brightest features of each frame; 0 = all."),
    "preprocess": (CheckBox, {}, True,
                   "Bandpass the image first (noise size, smoothing size, threshold)."),
    "max_iterations": (SpinBox, dict(min=1, max=100, step=1), 10,
                       "Centre-of-mass refinement steps."),
    "characterize": (CheckBox, {}, True,
                     "Compute size, ecc, signal, raw_mass and ep; off: only y, x, mass."),
}
# always shown; the others behind "more options"
BASIC = ("diameter", "minmass", "invert")
NONE_IF_ZERO = ("maxsize", "separation", "smoothing_size", "threshold", "topn")
ODD = ("diameter", "smoothing_size")


def defaults() -> dict:
    """Each parameter's default value."""
    return {name: spec[2] for name, spec in PARAMETERS.items()}


def make_widgets(values: dict) -> dict:
    """One widget per parameter, set to ``values``, in locate's order."""
    widgets = {}
    for name, (cls, options, _, tooltip) in PARAMETERS.items():
        if cls is CheckBox:
            kwargs = dict(text=name, tooltip=tooltip)
        else:
            kwargs = dict(label=name.replace("_", " "), tooltip=tooltip, **options)
        widgets[name] = cls(value=values[name], **kwargs)
    return widgets


def locate_kwargs(widgets: dict) -> dict:
    """Keyword arguments for ``streamtrack.locate`` from the widgets' values."""
    kwargs = {name: widget.value for name, widget in widgets.items()}
    for name in NONE_IF_ZERO:
        kwargs[name] = kwargs[name] or None
    return kwargs


class KeepOdd:
    """Keep the diameter and smoothing-size spin boxes on odd values.

    A spin box cannot forbid even numbers, so an even value is replaced by
    the odd one next to it in the direction the user went (typing 12 gives
    13, stepping down from 13 to 12 gives 11); 0 ("default") stays.
    """

    def __init__(self, widgets: dict):
        self._widgets = {name: widgets[name] for name in ODD}
        self._previous = {name: w.value for name, w in self._widgets.items()}
        for widget in self._widgets.values():
            widget.changed.connect(self._check)

    def _check(self, _=None) -> None:
        for name, widget in self._widgets.items():
            value = widget.value
            if value and value % 2 == 0:
                down = value < self._previous[name] and value - 1 >= widget.min
                value = value - 1 if down else value + 1
                widget.value = value  # re-enters with an odd value
            self._previous[name] = value

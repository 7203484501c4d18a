"""One parameter specification per operation: what every front end derives its options from.

An :class:`Operation` lists its :class:`Param` s: name, kind, default, help
(taken from the numpydoc docstring of the function that runs it), how "none"
is spelled in a form (a spin box cannot be empty: 0 stands for None), the
range a form offers, and whether the option is basic. From it come

- the command line's options (:func:`streamtrack.cli`: flag, parser, help),
- the napari widgets' fields and tooltips,
- the defaults of ``streamtrack demo``,
- the records stored with the results (:meth:`Operation.record`),
- validation before anything is written (:meth:`Operation.check`: the core's
  own checks, no probe image).

Adding an option to ``locate`` is one edit here (and the function itself).

Examples
--------
>>> from streamtrack.params import LOCATE, LINK
>>> LOCATE['minmass'].default is None, LOCATE['minmass'].none
(True, 0)
>>> LOCATE.from_form({'diameter': 11, 'minmass': 0, 'topn': 0})
{'diameter': 11, 'minmass': None, 'topn': None}
>>> LINK.check({'search_range': 5, 'memory': -1})
Traceback (most recent call last):
    ...
ValueError: memory must be a non-negative integer, got -1.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Param", "Operation", "LOCATE", "LINK", "UNITS", "PREDICTORS", "predictor_class"]


@dataclass(frozen=True)
class Param:
    """One option of an operation.

    Parameters
    ----------
    name : str
        The keyword argument of the core function.
    kind : {'odd', 'size', 'odd_size', 'int', 'float', 'bool', 'choice'}
        'odd': an odd positive integer; 'size': a number, or one per axis;
        'odd_size': an odd integer, or one per axis.
    default : object
        The core function's default (None: "its own default", see ``none``).
    help : str, optional
        One paragraph for a tooltip or ``--help``; by default the parameter's
        description in the docstring of the function that runs the operation.
    none : object, optional
        The value a form shows for None (0 for spin boxes), or None when
        the option cannot be None.
    none_means : str, optional
        What None stands for, e.g. "diameter + 1" (said in forms).
    minimum, maximum, step : float, optional
        The range a form offers.
    basic : bool
        Always shown in forms (the others behind "more options").
    required : bool
        No default: the command line requires it.
    short : str, optional
        A one-letter command-line flag, e.g. '-d'.
    choices : tuple of str
        For 'choice'.
    cli : str, optional
        The command-line flag when it is not ``--name-with-dashes``.
    """

    name: str
    kind: str
    default: Any = None
    help: str = ""
    none: Any = None
    none_means: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    basic: bool = False
    required: bool = False
    short: str | None = None
    choices: tuple = ()
    cli: str = ""

    @property
    def flag(self) -> str:
        """The long command-line flag (a true-by-default switch is ``--no-...``)."""
        if self.cli:
            return self.cli
        name = self.name.replace("_", "-")
        return f"--no-{name}" if self.kind == "bool" and self.default else f"--{name}"

    def parse(self, text: str):
        """The value of ``text`` as typed on a command line.

        Raises
        ------
        ValueError
            One line saying what was expected.
        """
        if self.kind in ("odd", "odd_size"):
            return _odd(text, per_axis=self.kind == "odd_size")
        if self.kind == "size":
            return _numbers(text)
        if self.kind == "int":
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"expected an integer, got {text!r}") from None
            return value  # its range is the core's to check (one message for all)
        if self.kind == "float":
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"expected a number, got {text!r}") from None
            if not np.isfinite(value):
                raise ValueError(f"expected a finite number, got {text!r}")
            return value
        if self.kind == "choice":
            if text not in self.choices:
                raise ValueError(f"expected one of {', '.join(self.choices)}; got {text!r}")
            return text
        raise ValueError(f"{self.name} takes no value")


def _odd(text, per_axis=True):
    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError:
        raise ValueError(f"expected an odd integer such as 11, or one per axis such as 9,11;"
                         f" got {text!r}") from None
    if any(p <= 0 or p % 2 == 0 for p in parts):
        raise ValueError(f"expected odd positive integers (feature sizes are odd: round up),"
                         f" got {text!r}")
    if len(parts) > 1 and not per_axis:
        raise ValueError(f"expected one odd integer such as 11, got {text!r}")
    return parts[0] if len(parts) == 1 else tuple(parts)


def _numbers(text):
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise ValueError(f"expected a number such as 5, or one per axis such as 3,5; "
                         f"got {text!r}") from None
    if not all(np.isfinite(parts)):
        raise ValueError(f"expected finite numbers, got {text!r}")
    return parts[0] if len(parts) == 1 else tuple(parts)


_DOCS = {}  # operation name -> {parameter: description}, read once


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)


@dataclass(frozen=True)
class Operation:
    """An operation's parameters, in the order of the function's signature.

    Parameters
    ----------
    name : str
        'locate', 'link', ...: also the name of the record stored with results.
    params : tuple of Param
    validate : callable
        ``validate(kwargs)`` raises the core's one-line error for a bad value
        (image-independent checks only).
    docs : callable
        ``docs()`` returns ``{name: description}`` from the numpydoc docstring
        of the function that runs the operation (read on first use, so that
        importing this module imports no algorithm).
    """

    name: str
    params: tuple
    validate: Callable[[dict], None]
    docs: Callable[[], dict] = dict

    def help(self, name: str) -> str:
        """Parameter ``name``'s help text (its own, else the docstring's)."""
        param = self[name]
        if param.help:
            return param.help
        if not _DOCS.get(self.name):
            _DOCS[self.name] = self.docs()
        return _DOCS[self.name].get(name, "")

    def tooltip(self, name: str) -> str:
        """The help text, with what a form's "none" value (0) stands for."""
        param = self[name]
        if param.none is None:
            return self.help(name)
        return f"{self.help(name)} {param.none} = {param.none_means or 'none'}."

    def __iter__(self):
        return iter(self.params)

    def __getitem__(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)

    @property
    def names(self) -> list:
        return [p.name for p in self.params]

    def defaults(self) -> dict:
        """Every parameter's default (None for a required one)."""
        return {p.name: p.default for p in self.params}

    def from_form(self, values: dict) -> dict:
        """Keyword arguments from a form's values: a form's "none" becomes None."""
        return {name: (None if self[name].none is not None and value == self[name].none
                       else value) for name, value in values.items()}

    def to_form(self, kwargs: dict) -> dict:
        """A form's values from keyword arguments: None becomes the form's "none"
        (of the field's type: 0.0 in a float field)."""
        form = {}
        for name, value in kwargs.items():
            param = self[name]
            if value is None and param.none is not None:
                value = param.none
            if param.kind in ("float", "size") and isinstance(value, int) and \
                    not isinstance(value, bool):
                value = float(value)
            form[name] = value
        return form

    def check(self, kwargs: dict) -> dict:
        """Check ``kwargs`` (unknown names, values); return them with every default.

        Raises
        ------
        TypeError
            An unknown option, or a value of the wrong type.
        ValueError
            A value out of its range, or a required option missing.
        """
        unknown = sorted(set(kwargs) - set(self.names))
        if unknown:
            raise TypeError(f"unknown {self.name} option(s) {unknown}; {self.name} takes "
                            f"{self.names}.")
        missing = [p.name for p in self.params if p.required and kwargs.get(p.name) is None]
        if missing:
            raise ValueError(f"{self.name} needs {', '.join(missing)}.")
        full = {**self.defaults(), **kwargs}
        self.validate(full)
        return full

    def record(self, kwargs: dict) -> dict:
        """The options of a run, every default filled in, as JSON gives them back."""
        full = {**self.defaults(), **{k: v for k, v in kwargs.items() if k in self.names}}
        return json.loads(json.dumps(full, default=_jsonable))


# ----------------------------------------------------------------------- locate
def _locate_help():
    from ._feature import locate

    return _docstring_params(locate)


def _docstring_params(obj) -> dict:
    """``{parameter name: description}`` from ``obj``'s numpydoc docstring."""
    import docstring_parser

    found = {}
    for param in docstring_parser.parse(obj.__doc__ or "").params:
        text = " ".join((param.description or "").replace("``", "").split())
        for name in param.arg_name.split(","):
            found[name.strip()] = text
    return found


def _validate_locate(kwargs):
    from ._feature import check_options

    check_options(**kwargs)


LOCATE = Operation("locate", (
        Param("diameter", "odd_size", 11, required=True, short="-d", basic=True,
              minimum=3, maximum=999, step=2),
        Param("minmass", "float", None, none=0, none_means="none", basic=True,
              minimum=0, maximum=1e12, step=10),
        Param("maxsize", "float", None, none=0, none_means="no limit",
              minimum=0, maximum=1e4, step=0.5),
        Param("separation", "size", None, none=0, none_means="default (diameter + 1)",
              minimum=0, maximum=1e4, step=1),
        Param("noise_size", "size", 1, minimum=0, maximum=1e3, step=0.5),
        Param("smoothing_size", "odd_size", None, none=0, none_means="default (the diameter)",
              minimum=0, maximum=999, step=1),
        Param("threshold", "float", None, none=0,
              none_means="default (1 for integer images, 1/255 for float images)",
              minimum=0, maximum=1e6, step=0.001),
        Param("invert", "bool", False, basic=True),
        Param("percentile", "float", 64, minimum=0, maximum=100, step=1),
        Param("topn", "int", None, none=0, none_means="all", minimum=0, maximum=10**7, step=1),
        Param("preprocess", "bool", True),
        Param("max_iterations", "int", 10, minimum=1, maximum=100, step=1),
        Param("characterize", "bool", True),
    ), validate=lambda kwargs: _validate_locate(kwargs), docs=lambda: _locate_help())


# ------------------------------------------------------------------------- link
#: predictor names (command line, widgets, records) -> class name in streamtrack.predict
PREDICTORS = {"none": None, "nearest": "NearestVelocityPredict", "drift": "DriftPredict"}


def predictor_class(name):
    """The predictor class registered as ``name`` ('none' or None: no predictor).

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones).
    """
    if name is None or name == "none":
        return None
    if name not in PREDICTORS:
        # records name the class: 'DriftPredict' is accepted too
        by_class = {v: k for k, v in PREDICTORS.items() if v}
        if name not in by_class:
            raise ValueError(f"predictor must be one of {', '.join(PREDICTORS)}; got {name!r}.")
        name = by_class[name]
    from . import predict

    return getattr(predict, PREDICTORS[name])


def _validate_link(kwargs):
    from .linking import Linker

    kwargs = dict(kwargs)
    predictor_class(kwargs.pop("predictor", None))
    Linker(kwargs.pop("search_range"), **kwargs)


def _link_help():
    from .linking import Linker, link_df_iter

    texts = _docstring_params(Linker)
    texts["search_range"] = _docstring_params(link_df_iter).get("search_range", "")
    texts["predictor"] = ("Predict where each particle will be: none (where it was), "
                          "nearest (the velocity of its nearest neighbour), drift (the "
                          "mean velocity of all particles).")
    return texts


LINK = Operation("link", (
        Param("search_range", "size", None, required=True, short="-s", basic=True,
              minimum=0.1, maximum=1e4, step=0.5),
        Param("memory", "int", 0, basic=True, minimum=0, maximum=100000, step=1),
        Param("adaptive_stop", "float", None, none=0, none_means="off",
              minimum=0, maximum=1e4, step=0.5),
        Param("adaptive_step", "float", 0.95, minimum=0.01, maximum=0.99, step=0.01),
        Param("max_subnet_size", "int", 200, minimum=1, maximum=10**6, step=10),
        Param("predictor", "choice", "none", choices=tuple(PREDICTORS), cli="--predict"),
    ), validate=lambda kwargs: _validate_link(kwargs), docs=lambda: _link_help())


# ------------------------------------------------------------------------ units
def _validate_units(kwargs):
    for name, what in (("mpp", "microns per pixel"), ("fps", "frames per second")):
        value = kwargs.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or \
                not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} ({what}) must be a positive number, got {value!r}.")


UNITS = Operation("units", (
    Param("mpp", "float", None, help="Microns per pixel of the movie (recorded in the store; "
          "the default of every analysis of it).", minimum=0, maximum=1e6, step=0.01),
    Param("fps", "float", None, help="Frames per second of the movie (recorded in the store; "
          "the default of every analysis of it).", minimum=0, maximum=1e9, step=1),
), validate=lambda kwargs: _validate_units(kwargs))


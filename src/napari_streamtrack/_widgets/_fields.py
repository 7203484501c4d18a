"""Form fields built from the core's parameter specifications (:mod:`streamtrack.params`).

One magicgui widget per parameter: the kind picks the widget (spin box,
float spin box, check box, combo box), the specification gives its range,
default and tooltip; a form's "none" (0) becomes None on the way back. The
widgets therefore never repeat a default, a range or a help text of the core.
"""
from __future__ import annotations

from magicgui.widgets import CheckBox, ComboBox, FloatSpinBox, SpinBox

_WIDGETS = {"odd": SpinBox, "odd_size": SpinBox, "int": SpinBox, "size": FloatSpinBox,
            "float": FloatSpinBox, "bool": CheckBox, "choice": ComboBox}


def defaults(operation, names=None, **given) -> dict:
    """A form's default values (None shown as the form's "none"); ``given``
    supplies a start value where the core has no default (a required one)."""
    chosen = operation.names if names is None else names
    return operation.to_form({n: given.get(n, operation[n].default) for n in chosen})


def make_fields(operation, values: dict, names=None, labels: dict | None = None) -> dict:
    """One widget per parameter of ``operation`` (in its order), set to ``values``."""
    fields = {}
    labels = labels or {}
    for name in (operation.names if names is None else names):
        param = operation[name]
        cls = _WIDGETS[param.kind]
        tooltip = operation.tooltip(name)
        label = labels.get(name, name.replace("_", " "))
        if cls is CheckBox:
            fields[name] = CheckBox(value=values[name], text=label, tooltip=tooltip)
            continue
        if cls is ComboBox:
            fields[name] = ComboBox(value=values[name], label=label, choices=param.choices,
                                    tooltip=tooltip)
            continue
        options = {key: getattr(param, key) for key in ("minimum", "maximum", "step")
                   if getattr(param, key) is not None}
        options = {{"minimum": "min", "maximum": "max"}.get(k, k): v for k, v in options.items()}
        fields[name] = cls(value=values[name], label=label, tooltip=tooltip, **options)
    return fields


def form_values(fields: dict) -> dict:
    """The fields' values as the form shows them (what settings remember)."""
    return {name: field.value for name, field in fields.items()}


def kwargs_from(operation, fields: dict) -> dict:
    """Keyword arguments for the core from the fields (a form's "none" -> None)."""
    return operation.from_form(form_values(fields))


class KeepOdd:
    """Keep the spin boxes of odd-sized parameters (diameter, smoothing size) odd.

    A spin box cannot forbid even numbers, so an even value is replaced by
    the odd one next to it in the direction the user went (typing 12 gives
    13, stepping down from 13 to 12 gives 11); 0 ("default") stays.
    """

    def __init__(self, operation, fields: dict):
        self._fields = {name: field for name, field in fields.items()
                        if operation[name].kind in ("odd", "odd_size")}
        self._previous = {name: w.value for name, w in self._fields.items()}
        for field in self._fields.values():
            field.changed.connect(self._check)

    def _check(self, _=None) -> None:
        for name, field in self._fields.items():
            value = field.value
            if value and value % 2 == 0:
                down = value < self._previous[name] and value - 1 >= field.min
                value = value - 1 if down else value + 1
                field.value = value  # re-enters with an odd value
            self._previous[name] = value


def record_form(operation, record, names=None) -> dict:
    """A form's values from a run's record (a store's or a layer's "locate"/"link").

    Only what a field can show: a per-axis value (a list) or a value of
    another type is left out, and so is a predictor the form does not offer.
    A record's predictor class name ('DriftPredict') becomes its form name.
    """
    if not isinstance(record, dict):
        return {}
    from streamtrack.params import PREDICTORS

    by_class = {cls: key for key, cls in PREDICTORS.items() if cls}
    values = {}
    for name in (operation.names if names is None else names):
        if name not in record:
            continue
        param, value = operation[name], record[name]
        if param.kind == "choice":
            value = "none" if value is None else by_class.get(value, value)
            if value not in param.choices:
                continue
        elif value is None:
            if param.none is None:
                continue
        elif param.kind == "bool":
            if not isinstance(value, bool):
                continue
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            continue  # a list (per axis), a string: not a field's value
        values[name] = value
    return operation.to_form(values)


def set_values(fields: dict, values: dict) -> list:
    """Show ``values`` in ``fields``; return the names set (a value a field refuses,
    e.g. out of its range, leaves it as it was)."""
    done = []
    for name, value in values.items():
        field = fields.get(name)
        if field is None:
            continue
        if field.value == value:
            done.append(name)
            continue
        try:
            field.value = value
        except (TypeError, ValueError):
            continue
        done.append(name)
    return done

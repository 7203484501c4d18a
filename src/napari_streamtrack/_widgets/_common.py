"""Pieces the Locate and Link widgets share: layer geometry, layer updates,
the compile notice."""
from __future__ import annotations

import warnings

import numpy as np


def layer_geometry(layer, ndim: int | None = None) -> dict:
    """``scale``, ``translate``, ``axis_labels``, ``units`` of ``layer``'s last ``ndim`` axes.

    New Points and Tracks layers get these so that they sit exactly on the
    image they came from (RGB images: the channel axis is not a layer axis).
    """
    ndim = layer.ndim if ndim is None else ndim
    geometry = {
        "scale": tuple(np.asarray(layer.scale)[-ndim:]),
        "translate": tuple(np.asarray(layer.translate)[-ndim:]),
    }
    for key in ("axis_labels", "units"):
        value = getattr(layer, key, None)
        if value is not None:
            geometry[key] = tuple(value)[-ndim:]
    return geometry


def put_layer(viewer, name: str, data, kwargs: dict, layer_type: str):
    """Add a layer, or replace the data and features of the one called ``name``.

    Replacing keeps the user's display choices (colours, size, visibility)
    and the layer's place in the list. Setting a Tracks layer's ``data``
    resets its features, so features are always set after data.
    """
    kwargs = dict(kwargs)
    features = kwargs.pop("features", None)
    if name in viewer.layers and viewer.layers[name]._type_string == layer_type:
        layer = viewer.layers[name]
        color_by = getattr(layer, "color_by", None)  # Tracks: reset with the data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # transient colour fallback
            layer.data = data
        if features is not None:
            layer.features = features
        if color_by is not None and features is not None and color_by in features:
            layer.color_by = color_by
        for key in ("metadata", "scale", "translate"):
            if key in kwargs:
                setattr(layer, key, kwargs[key])
        return layer
    add = getattr(viewer, f"add_{layer_type}")
    if features is not None:
        kwargs["features"] = features
    return add(data, name=name, **kwargs)


class CompileNotice:
    """The core's "compiling kernels, first run only" notice, for a status line.

    The core announces from a background thread, so the message is only kept
    here; the widget adds ``suffix()`` to the text it shows on the GUI thread.
    """

    def __init__(self):
        from streamtrack import _fastpath

        self.message = None
        _fastpath.add_listener(self._set)

    def _set(self, message):
        self.message = message

    def suffix(self) -> str:
        return f" ({self.message})" if self.message else ""

    def close(self) -> None:
        from streamtrack import _fastpath

        _fastpath.remove_listener(self._set)


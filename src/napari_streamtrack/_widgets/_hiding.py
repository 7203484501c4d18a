"""Hiding trajectories shorter than a minimum length in Points and Tracks layers.

The Analyse widget's length filter, at once and without replacing a layer:
Points through their public ``shown`` mask (an edited Points layer is
hidden again), Tracks by leaving the short tracks out of the layer's data
through a :class:`~napari_streamtrack._window.TracksWindow` (napari's Tracks
layer has no per-track visibility; an alpha of 0 still showed a track's id
label and graph). The window keeps every track, so lowering the minimum or
:meth:`LengthHiding.restore` puts them back.
"""
from __future__ import annotations

import functools

import numpy as np
from napari.layers import Points, Tracks
from qtpy.QtCore import QTimer

from .._window import keep_tracks

# the second layer is hidden this long after the first (the canvas drawn between)
LATER_MS = 20


def kept_by_length(tracks, min_length: int):
    """``keep(particles) -> bool array``: the ids of ``tracks`` at least ``min_length`` long.

    ``tracks`` is an analysis' table of trajectories (index: particle id,
    column ``length``); ids it does not list are kept.
    """
    lengths = tracks["length"]
    ids = lengths.index.to_numpy()
    order = np.argsort(ids, kind="stable")
    ids, counts = ids[order].astype(np.float64), lengths.to_numpy()[order]

    def keep(particles):
        particles = np.asarray(particles, dtype=np.float64)
        if not len(ids):
            return np.ones(len(particles), bool)
        i = np.clip(np.searchsorted(ids, particles), 0, len(ids) - 1)
        found = ids[i] == particles
        return ~found | (counts[i] >= min_length)

    return keep


class LengthHiding:
    """The layers a widget hides short trajectories in, and what they hide.

    Parameters
    ----------
    viewer : napari.Viewer
    """

    def __init__(self, viewer):
        self.viewer = viewer
        self.layers = []  # layers hiding some trajectories
        self.key = None  # what they hide: (source, minimum length, ...)
        self._keep = None
        self._applying = False
        self._generation = 0  # apply/restore calls: a layer left to a later turn checks it
        self._scheduled = 0  # layers left to a later turn

    def apply(self, source, analysis) -> None:
        """Hide the trajectories of ``analysis`` shorter than its minimum in ``source``'s layers."""
        # the analysis that follows a minimum-length change hides the same ones again:
        # skipped (it is a pause of the GUI of a few tens of ms on 180,000 points)
        key = (source.key, analysis.min_length, len(analysis.tracks),
               tuple(id(layer) for layer in source.layers))
        if key == self.key and all(layer in self.layers for layer in source.layers):
            return
        self.key = key
        self._keep = kept_by_length(analysis.tracks, analysis.min_length)
        self._generation += 1
        layers = [layer for layer in source.layers if layer in self.viewer.layers]
        for i, layer in enumerate(layers):
            if layer not in self.layers:
                self.layers.append(layer)
                if isinstance(layer, Points):  # edited points: hidden again
                    layer.events.data.connect(self._layer_changed)
            if i == 0:
                self._hide_in(layer)
            else:
                # one layer per turn of the event loop: two pauses of ~0.05 s (and
                # the canvas drawn between them) rather than one twice as long
                self._scheduled += 1
                QTimer.singleShot(LATER_MS * i, functools.partial(self._hide_later, layer,
                                                       self._generation))

    def _hide_later(self, layer, generation):
        self._scheduled -= 1
        if generation == self._generation and layer in self.layers \
                and layer in self.viewer.layers:
            self._hide_in(layer)

    @property
    def pending(self) -> bool:
        """Layers of the last :meth:`apply` still to be hidden (the next event-loop turns)."""
        return self._scheduled > 0

    def _hide_in(self, layer):
        self._applying = True
        try:
            if isinstance(layer, Points):
                if "particle" in layer.features.columns:
                    layer.shown = self._keep(layer.features["particle"].to_numpy())
            elif isinstance(layer, Tracks):
                keep_tracks(self.viewer, layer, self._keep)
        finally:
            self._applying = False

    def _layer_changed(self, event):
        layer = getattr(event, "source", None)
        if self._applying or layer not in self.layers:
            return
        self._hide_in(layer)

    def forget(self, layer) -> None:
        """``layer`` left the viewer."""
        self.layers = [lyr for lyr in self.layers if lyr is not layer]

    def restore(self) -> None:
        """Show every trajectory again in the layers some were hidden in."""
        for layer in self.layers:
            self._applying = True
            try:
                if isinstance(layer, Points):
                    layer.events.data.disconnect(self._layer_changed)
                    layer.shown = np.ones(len(layer.data), bool)
                elif layer in self.viewer.layers:
                    keep_tracks(self.viewer, layer, None)
            except (TypeError, ValueError, RuntimeError):
                pass
            finally:
                self._applying = False
        self.layers = []
        self.key = None
        self._generation += 1

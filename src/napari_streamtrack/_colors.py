"""The colours of linked particles: one fixed colour per particle id, everywhere.

Particle ``p`` gets ``PALETTE[p % len(PALETTE)]`` on its points and on its
track, whoever shows them: the Link widget after a run, the reader when a
linked store is opened again, the windows that follow the slider. The
Tracks layers say so in their own colour controls: ``color_by`` is
``'particle'`` and ``colormap`` is :data:`COLORMAP` (registered with napari),
and napari itself gives every particle its palette colour (a colormap in the
layer's ``colormaps_dict`` that takes the ids modulo the palette), so the
controls show the colours really used and choosing them again changes nothing.
Any other property chosen in the controls gets the palette as a discrete
colormap.

napari is imported only in :func:`tracks_color_kwargs`.
"""
from __future__ import annotations

import numpy as np

# saturated, so distinct on dark and on light grey images; ids cycle through them
PALETTE = ["#ff4b4b", "#4bff6e", "#4b9bff", "#ffd84b", "#ff4bf0", "#4bffef", "#ff9b4b",
           "#b04bff", "#c8ff4b", "#ff4b9b", "#2f6bff"]
# RGBA of PALETTE: particle p gets colour p % len(PALETTE), on its points and its track
PALETTE_RGBA = np.array([[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)] + [1.0]
                         for c in PALETTE])
# the name of the palette in napari's colormaps (the Tracks layer's colormap control)
COLORMAP = "streamtrack particles"
# the feature the tracks are coloured by
COLOR_BY = "particle"


def particle_colors(particles) -> np.ndarray:
    """RGBA per row: particle ``p`` gets ``PALETTE[p % len(PALETTE)]``."""
    ids = np.round(np.asarray(particles, dtype=float)).astype(np.int64)
    return PALETTE_RGBA[ids % len(PALETTE_RGBA)]


_MAPS = {}


def _colormaps():
    """(discrete palette registered as :data:`COLORMAP`, the per-id colormap)."""
    if not _MAPS:
        from napari.utils.colormaps import Colormap, ensure_colormap

        class ParticleColormap(Colormap):
            """The palette by particle id (raw ids, as in ``colormaps_dict``)."""

            def map(self, values):  # noqa: A003 - napari's name
                return particle_colors(np.nan_to_num(np.asarray(values, dtype=float)))

        n = len(PALETTE)
        common = dict(colors=PALETTE_RGBA, controls=np.linspace(0, 1, n + 1),
                      interpolation="zero", name=COLORMAP)
        _MAPS["palette"] = ensure_colormap(Colormap(**common))
        _MAPS["ids"] = ParticleColormap(**common)
    return _MAPS["palette"], _MAPS["ids"]


def tracks_color_kwargs() -> dict:
    """``add_tracks`` keyword arguments: coloured by particle with the palette."""
    _palette, ids = _colormaps()
    return {"color_by": COLOR_BY, "colormap": COLORMAP, "colormaps_dict": {COLOR_BY: ids}}


def color_tracks(tracks) -> None:
    """Colour an existing Tracks layer by particle with the palette (if it has ids)."""
    kwargs = tracks_color_kwargs()
    tracks.colormaps_dict = {**tracks.colormaps_dict, **kwargs["colormaps_dict"]}
    tracks.colormap = kwargs["colormap"]
    if COLOR_BY in tracks.properties_to_color_by:
        tracks.color_by = COLOR_BY

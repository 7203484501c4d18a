"""A small matplotlib histogram of feature masses, for picking ``minmass`` by eye."""
from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

# enough to see a noise peak and a particle peak; more bars just get thin
MAX_BINS = 50
# the figure's resolution: Qt's logical dots per inch, so that FONT_PT is a point
# size as the dock's own labels count it
DPI = 96
# every text of the plot (title, axis labels, ticks, legend): readable at the
# dock's width, as large as the dock's labels (napari's are 9 pt)
FONT_PT = 9


class MassHistogram(QWidget):
    """Histogram of the preview's masses with a vertical line at ``minmass``.

    Grey bars count every candidate of the frame (located without
    ``minmass`` and ``topn``), coloured bars the features that pass, so the
    gap between the noise and the particles shows where ``minmass`` belongs.

    Parameters
    ----------
    colors : dict, optional
        ``background``, ``text``, ``kept``, ``line`` colours (the widget uses
        the napari theme's).
    parent : QWidget, optional

    Attributes
    ----------
    masses : ndarray
        Masses of the preview's features: what the coloured bars count.
    all_masses : ndarray
        Masses of every candidate: what the grey bars count.
    minmass : float
        Where the vertical line is.
    title : str
        What the plot shows (frame, counts).
    """

    def __init__(self, colors: dict | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.colors = {"background": "white", "text": "black", "kept": "tab:orange",
                       "all": "0.6", "line": "tab:red", **(colors or {})}
        self.masses = np.empty(0)
        self.all_masses = np.empty(0)
        self.minmass = 0.0
        self.title = ""
        self.figure = Figure(figsize=(3.2, 2.0), dpi=DPI, layout="constrained",
                             facecolor=self.colors["background"])
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(170)
        self.canvas.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.axes = self.figure.add_subplot()
        self._line = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self._draw()

    def set_data(self, all_masses, masses, minmass: float, title: str = "") -> None:
        """Show new masses (``all_masses`` grey, ``masses`` coloured), the line, a title."""
        self.all_masses = np.asarray(all_masses, dtype=float)
        self.masses = np.asarray(masses, dtype=float)
        self.minmass = _cut(minmass)
        self.title = title
        self._draw()

    def set_minmass(self, minmass: float | None) -> None:
        """Move the line only: instant feedback while the preview re-locates.

        None (no minmass) hides the line.
        """
        self.minmass = _cut(minmass)
        if self._line is not None:
            self._line.set_visible(self.minmass is not None)
            if self.minmass is not None:
                self._line.set_xdata([self.minmass, self.minmass])
            self.canvas.draw_idle()

    def clear(self) -> None:
        """Empty the plot (no preview)."""
        self.set_data([], [], self.minmass)

    def _draw(self) -> None:
        ax, c = self.axes, self.colors
        ax.clear()
        ax.set_facecolor(c["background"])
        for spine in ax.spines.values():
            spine.set_color(c["text"])
        ax.tick_params(colors=c["text"], labelsize=FONT_PT)
        ax.set_xlabel("mass", color=c["text"], fontsize=FONT_PT)
        ax.set_title(self.title, color=c["text"], fontsize=FONT_PT)
        ax.set_ylabel("features", color=c["text"], fontsize=FONT_PT)
        values = self.all_masses if len(self.all_masses) else self.masses
        if len(values):
            edges = np.histogram_bin_edges(values, bins=min(MAX_BINS, max(len(values) // 4, 5)))
            ax.hist(self.all_masses, bins=edges, color=c["all"], label="candidates")
            ax.hist(self.masses, bins=edges, color=c["kept"], label="kept")
            ax.legend(fontsize=FONT_PT, frameon=False, labelcolor=c["text"], loc="upper right")
        else:
            ax.text(0.5, 0.5, "no preview", ha="center", va="center", color=c["text"],
                    fontsize=FONT_PT, transform=ax.transAxes)
        self._line = ax.axvline(0.0 if self.minmass is None else self.minmass,
                                color=c["line"], lw=1.5, visible=self.minmass is not None)
        self.canvas.draw_idle()


def _cut(minmass):
    """minmass as a float, or None when there is no cut."""
    return None if minmass is None else float(minmass)

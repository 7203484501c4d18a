"""A plot of an analysis in a dock, drawn off the GUI thread.

Drawing one of the analysis figures with matplotlib takes 50-200 ms (the
histogram's log axis and the MSD's curves on log-log axes); on the GUI thread
that was the longest pause of the Analyse widget. :class:`PlotPanel` draws
the figure with matplotlib's Agg renderer in a worker thread, at the size
the panel has on screen, shortly after it is asked for (:data:`START_MS`),
and the GUI thread only puts the finished pixels into a ``QLabel``. One
drawing runs at a time per panel; a request made while one runs is drawn
when it ends, with the newest analysis.

The figure last drawn stays available (``figure``, ``axes``) for tests and
for a reader who wants its artists; it is never drawn again on the GUI
thread.
"""
from __future__ import annotations

import threading

import numpy as np
from magicgui.widgets import PushButton
from qtpy.QtCore import Qt, QTimer, Signal
from qtpy.QtGui import QImage, QPixmap
from qtpy.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

# the plots' height on screen (logical pixels) and resolution (dots per logical inch)
HEIGHT, DPI = 260, 90
# the plots' margins on screen, pixels: left (tick labels and axis label), right,
# bottom (tick labels and axis label), top (title)
MARGINS = (60, 12, 44, 26)
# a resize is drawn again this long after the last one
RESIZE_MS = 150
# a drawing starts this long after it is asked for: what asked (a new analysis, a
# new minimum length) also changes the layers on the GUI thread, and the drawing
# thread would take half of the interpreter's time from that work (the GIL), the
# window's pause doubling; one after the other, neither waits for the other
START_MS = 150
# matplotlib settings of the plots on screen (small, readable in a dock)
SCREEN_STYLE = {"font.size": 9, "axes.titlesize": 10, "legend.fontsize": 8}
PLACEHOLDER = "Analyse an input to see this plot."
# matplotlib's settings are global: one drawing (or PNG export) at a time, so that
# the screen style of one never leaks into another's figure
MATPLOTLIB = threading.Lock()


def render(plot, analysis, width: int, height: int, ratio: float = 1.0, message=None):
    """Draw ``plot(axes, analysis)`` (or ``message``) into RGBA pixels with Agg.

    Parameters
    ----------
    plot : callable
        ``plot(axes, analysis)``, one of the core's plot functions.
    analysis : Analysis or None
    width, height : int
        Logical pixels.
    ratio : float, optional
        Device pixels per logical pixel (the screen's).
    message : str, optional
        Drawn alone in the middle instead of the plot.

    Returns
    -------
    (ndarray, Figure, Axes)
        ``(height * ratio, width * ratio, 4)`` uint8 pixels, the figure and its axes.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = DPI * ratio
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=dpi)
    FigureCanvasAgg(figure)
    # fixed margins in pixels: a layout engine would measure every label at each draw
    figure.subplots_adjust(left=MARGINS[0] / width, right=1 - MARGINS[1] / width,
                           bottom=MARGINS[2] / height, top=1 - MARGINS[3] / height)
    with MATPLOTLIB, matplotlib.rc_context(SCREEN_STYLE):
        axes = figure.add_subplot()
        if message is None:
            try:
                plot(axes, analysis)
            except Exception as exc:  # noqa: BLE001 - said in the plot, not raised
                axes.clear()
                message = f"This plot could not be drawn:\n{type(exc).__name__}: {exc}"
        if message is not None:
            axes.set_axis_off()
            axes.text(0.5, 0.5, message, ha="center", va="center",
                      transform=axes.transAxes, fontsize=10, wrap=True)
        figure.canvas.draw()
    pixels = np.array(figure.canvas.buffer_rgba(), copy=True)
    return pixels, figure, axes


class PlotPanel(QWidget):
    """One of the core's plots, drawn in a worker thread, and a "Save PNG…" button.

    Parameters
    ----------
    title : str
        The tab's title.
    plot : callable
        ``plot(axes, analysis)``: the exported PNG's drawing.
    filename : str
        The PNG's default file name.
    save : callable
        ``save(panel)``, called by the button.
    """

    #: emitted on the GUI thread when a drawing is on screen
    drawn = Signal()

    def __init__(self, title: str, plot, filename: str, save, parent=None):
        super().__init__(parent)
        self.title, self.plot, self.filename = title, plot, filename
        self.screen_plot = plot  # what the screen shows (the MSD: fewer curves)
        self.view = QLabel()
        self.view.setFixedHeight(HEIGHT)
        self.view.setMinimumWidth(120)
        self.view.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.save_button = PushButton(text=f"Save {title.lower()} plot as PNG…",
                                      enabled=False)
        self.save_button.changed.connect(lambda: save(self))
        self.analysis = None
        self.figure = self.axes = None  # of the last drawing
        self.stale = True  # the analysis changed since the last drawing was asked for
        self._worker = None  # the drawing running
        self._again = False  # another drawing was asked for while it ran
        self._size = None  # (width, ratio) of the last drawing
        self._resized = QTimer(self)
        self._resized.setSingleShot(True)
        self._resized.setInterval(RESIZE_MS)
        self._resized.timeout.connect(self._draw)
        self._start = QTimer(self)
        self._start.setSingleShot(True)
        self._start.setInterval(START_MS)
        self._start.timeout.connect(self._draw_now)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.view)
        layout.addWidget(self.save_button.native)

    @property
    def drawing(self) -> bool:
        """A drawing is running or waiting to run."""
        return (self._worker is not None or self._resized.isActive()
                or self._start.isActive())

    def show_analysis(self, analysis, now: bool = True):
        """Keep ``analysis``; draw it now, or when the tab is shown (``now`` False)."""
        self.analysis = analysis
        self.save_button.enabled = analysis is not None
        self.stale = True
        if now:
            self.redraw()

    def redraw(self):
        """Draw the kept analysis if it changed since the last drawing."""
        if self.stale:
            self.stale = False
            self._draw()

    def showEvent(self, event):  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._size is None:
            self._draw()

    def resizeEvent(self, event):  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self._size is not None and self._size != self._screen_size():
            self._resized.start()

    def _screen_size(self):
        return max(self.view.width(), 120), float(self.view.devicePixelRatioF())

    def _draw(self):
        if self._worker is not None:
            self._again = True
        elif not self._start.isActive():
            self._start.start()

    def _draw_now(self):
        if self._worker is not None:
            self._again = True
            return
        from superqt.utils import create_worker

        width, ratio = self._size = self._screen_size()
        message = PLACEHOLDER if self.analysis is None else None
        worker = self._worker = create_worker(render, self.screen_plot, self.analysis,
                                              width, HEIGHT, ratio, message)
        worker.returned.connect(self._show)
        worker.finished.connect(self._ended)
        worker.start()

    def _show(self, result):
        pixels, figure, axes = result
        try:
            self.view.setPixmap(self._pixmap(pixels))
        except RuntimeError:  # the panel was deleted while drawing
            return
        self.figure, self.axes = figure, axes

    def _pixmap(self, pixels):
        height, width = pixels.shape[:2]
        image = QImage(pixels.data, width, height, 4 * width,
                       QImage.Format.Format_RGBA8888).copy()
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self._size[1])
        return pixmap

    def _ended(self):
        self._worker = None
        try:
            self.isVisible()
        except RuntimeError:  # the panel was deleted while drawing
            return
        if self._again:
            self._again = False
            self._draw_now()
        else:
            self.drawn.emit()

"""The Analyse widget's plots, drawn with Agg in a worker thread (``_widgets/_plots.py``)."""
import numpy as np

import streamtrack
from napari_streamtrack._widgets._plots import HEIGHT, PLACEHOLDER, PlotPanel, render
from streamtrack import analysis as core


def _analysis():
    table = streamtrack.synthetic.brownian_trajectories(20, 40, seed=3)
    return core.analyse(table, 0.5, 2.0, min_length=10)


def test_render_draws_the_core_plot_at_the_asked_size():
    pixels, figure, axes = render(core.plot_msd, _analysis(), 300, 200, ratio=2.0)
    assert pixels.shape == (400, 600, 4) and pixels.dtype == np.uint8
    assert axes.get_title().startswith("Mean squared displacement")
    assert len(np.unique(pixels.reshape(-1, 4), axis=0)) > 10  # something was drawn


def test_a_plot_that_fails_says_so_in_the_plot():
    def broken(axes, analysis):
        axes.plot([1, 2], [3, 4])
        raise ValueError("no such column")

    _pixels, _figure, axes = render(broken, None, 300, 200)
    assert [t.get_text() for t in axes.texts] == [
        "This plot could not be drawn:\nValueError: no such column"]
    assert not axes.lines


def test_panel_shows_the_drawing_made_in_a_worker(qtbot):
    saved = []
    panel = PlotPanel("MSD", core.plot_msd, "msd.png", saved.append)
    qtbot.addWidget(panel)
    panel.resize(420, HEIGHT + 40)
    panel.show()
    qtbot.waitUntil(lambda: panel.axes is not None and not panel.drawing, timeout=10_000)
    assert [t.get_text() for t in panel.axes.texts] == [PLACEHOLDER]
    assert not panel.save_button.enabled
    with qtbot.waitSignal(panel.drawn, timeout=10_000):
        panel.show_analysis(_analysis())
    assert panel.axes.get_title().startswith("Mean squared displacement")
    pixmap = panel.view.pixmap()
    assert pixmap.height() == HEIGHT * pixmap.devicePixelRatio()
    panel.save_button.native.click()
    assert saved == [panel]

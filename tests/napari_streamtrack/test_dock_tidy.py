"""The docks' manners: never taller than the screen, the preview gone after a run,
Link never offered the preview, an error on one line with the rest in its tooltip."""
import numpy as np
import pytest
from qtpy.QtWidgets import QApplication, QLabel

from napari_streamtrack._sample_data import brownian_movie_and_truth
from napari_streamtrack._widgets import link as link_module
from napari_streamtrack._widgets import locate as locate_module
from napari_streamtrack._widgets.link import LinkWidget
from napari_streamtrack._widgets.locate import LocateWidget

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def movie():
    return brownian_movie_and_truth(n_frames=6)[0]


@pytest.fixture(autouse=True)
def _no_popups(monkeypatch):
    monkeypatch.setattr(locate_module, "show_error", lambda _text: None)
    monkeypatch.setattr(link_module, "show_error", lambda _text: None)


def _settle(qtbot):
    for _ in range(3):
        QApplication.processEvents()
    qtbot.wait(50)


def test_docks_never_make_the_window_taller_than_the_screen(make_napari_viewer, qtbot,
                                                            movie):
    viewer = make_napari_viewer(show=True)
    viewer.add_image(movie, name="movie")
    locate = LocateWidget(viewer)
    viewer.window.add_dock_widget(locate)
    viewer.window.add_dock_widget(LinkWidget(viewer))
    window = locate.native.window()
    screen = window.screen().availableGeometry().height()
    _settle(qtbot)
    height, dock = window.height(), locate.native.height()
    body = locate._body.native
    short = body.sizeHint().height()
    assert height <= screen

    # every option and the histogram: much taller contents, the same window
    locate.more.value = True
    locate.preview.value = True
    _settle(qtbot)
    assert body.sizeHint().height() > short + 200
    assert window.height() <= screen and window.height() == height
    scroll = locate._body.scroll_area
    if body.sizeHint().height() > scroll.viewport().height():
        assert scroll.verticalScrollBar().maximum() > 0  # the contents scroll

    # and back: the contents shrink to their old height, the dock keeps its own
    locate.preview.value = False
    locate.more.value = False
    _settle(qtbot)
    assert body.sizeHint().height() == short
    assert locate.native.height() == dock and window.height() == height


def test_the_preview_is_gone_after_a_run(make_napari_viewer, qtbot, tmp_path, movie):
    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    widget = LocateWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.params["minmass"].value = 500
    widget.preview.value = True
    qtbot.waitUntil(lambda: "movie preview" in viewer.layers, timeout=TIMEOUT)
    widget.store_path.value = tmp_path / "out.h5"
    with qtbot.waitSignal(widget.done, timeout=TIMEOUT):
        widget.run()
    assert "movie features" in viewer.layers
    assert "movie preview" not in viewer.layers and not widget.preview.value
    qtbot.wait(300)  # a late preview job must not bring it back
    assert "movie preview" not in viewer.layers


def test_link_offers_the_features_never_the_preview(make_napari_viewer, qtbot, tmp_path,
                                                   movie):
    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    locate = LocateWidget(viewer)
    viewer.window.add_dock_widget(locate)
    link = LinkWidget(viewer)
    viewer.window.add_dock_widget(link)
    locate.params["minmass"].value = 500
    locate.preview.value = True
    qtbot.waitUntil(lambda: "movie preview" in viewer.layers, timeout=TIMEOUT)
    # only a preview so far: nothing to link
    assert link.points.value is None
    assert viewer.layers["movie preview"] not in [v for _, v in link._points_choices()]
    link.run()
    assert "No input" in link.status.value

    # an unrelated Points layer, then the run's features: Link picks the features
    viewer.add_points(np.array([[0, 5.0, 5.0]]), name="drawn")
    locate.store_path.value = tmp_path / "out.h5"
    with qtbot.waitSignal(locate.done, timeout=TIMEOUT):
        locate.run()
    assert link.points.value is viewer.layers["movie features"]
    locate.preview.value = True  # the preview again, over the features
    qtbot.waitUntil(lambda: "movie preview" in viewer.layers, timeout=TIMEOUT)
    link.points.reset_choices()
    assert link.points.value is viewer.layers["movie features"]
    assert "movie preview" not in [name for name, _ in link._points_choices()]


def test_an_error_is_one_line_with_the_details_in_its_tooltip(make_napari_viewer, qtbot,
                                                              tmp_path, movie):
    viewer = make_napari_viewer(show=True)
    viewer.add_image(movie, name="movie")
    widget = LocateWidget(viewer)
    viewer.window.add_dock_widget(widget)
    _settle(qtbot)
    width, label = widget.native.width(), widget.status.native
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 8, "out.h5")
    widget.store_path.value = deep
    assert widget.run() is None
    _settle(qtbot)
    message = widget.status.value
    assert "does not exist" in message and str(deep.parent) in message
    shown = QLabel.text(label)  # what the label draws
    assert "\n" not in shown and len(shown) < len(message) and shown.endswith("…")
    assert label.toolTip() == message
    assert label.height() < 1.6 * label.fontMetrics().height()  # one line
    assert widget.native.width() == width

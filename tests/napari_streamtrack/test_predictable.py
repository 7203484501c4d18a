"""Issue 13, "tidy and predictable": a store reopened looks like the session that made it,
parameters follow the data set, Link links what the layer shows, dialogs have a parent."""
import numpy as np
import pytest

import streamtrack
from napari_streamtrack import _colors, _layers
from napari_streamtrack._sample_data import brownian_movie_and_truth
from napari_streamtrack._widgets import link as link_module
from napari_streamtrack._widgets.link import LinkWidget
from streamtrack import workflow
from streamtrack.stores.detect import open_store

TIMEOUT = 60_000


@pytest.fixture
def errors(monkeypatch):
    shown = []
    monkeypatch.setattr(link_module, "show_error", shown.append)
    return shown


def locate_store(path, n_frames=12, source="movie"):
    """A store as the Locate widget writes it: features + the "locate" record."""
    streamtrack.quiet()
    movie, _ = brownian_movie_and_truth(n_frames=n_frames)
    with workflow.new_store(path) as store:
        for _ in workflow.locate_into(list(movie), store, 11, minmass=500, processes=1,
                                      source=source):
            pass
        return store.dump().reset_index(drop=True)


def add_located(viewer, path, features, name="movie features"):
    data, feats = _layers.points_data(features)
    with open_store(path, mode="r") as store:
        meta = store.metadata
    return viewer.add_points(data, features=feats, name=name, face_color="transparent",
                             metadata={"streamtrack": {"store": str(path), **meta}})


def link_widget(viewer):
    widget = LinkWidget(viewer)
    viewer.window.add_dock_widget(widget)
    return widget


def run(qtbot, widget):
    with qtbot.waitSignal(widget.done, timeout=TIMEOUT) as blocker:
        assert widget.run() is not None
    return blocker.args[0]


# ---------------------------------------------------------------- 1. reopened stores
def test_reopened_store_looks_like_the_session(make_napari_viewer, qtbot, tmp_path, errors):
    path = tmp_path / "run1.h5"  # the store's name is not the movie's
    features = locate_store(path)
    viewer = make_napari_viewer()
    add_located(viewer, path, features)
    widget = link_widget(viewer)
    assert run(qtbot, widget) == "linked" and not errors
    points, tracks = viewer.layers["movie features"], viewer.layers["movie tracks"]
    # the tracks' colour controls say what the widget drew: by particle, the palette
    assert (tracks.color_by, tracks.colormap) == ("particle", _colors.COLORMAP)
    np.testing.assert_allclose(tracks.track_colors,
                               _colors.particle_colors(tracks.data[:, 0]))

    again = make_napari_viewer()
    opened = again.open(str(path), plugin="napari-streamtrack")
    assert [layer.name for layer in opened] == ["movie features", "movie tracks"]
    r_points, r_tracks = opened
    np.testing.assert_allclose(r_points.data, points.data)
    np.testing.assert_allclose(r_points.face_color, points.face_color)
    np.testing.assert_allclose(r_points.border_color, points.border_color)
    # a colour per particle, the palette's
    np.testing.assert_allclose(r_points.border_color,
                               _colors.particle_colors(r_points.features["particle"]))
    assert (r_tracks.color_by, r_tracks.colormap) == (tracks.color_by, tracks.colormap)
    np.testing.assert_allclose(r_tracks.data, tracks.data)
    np.testing.assert_allclose(r_tracks.track_colors, tracks.track_colors)
    # choosing the shown colormap again in the controls changes nothing
    r_tracks.colormap = "viridis"
    r_tracks.colormap = _colors.COLORMAP
    np.testing.assert_allclose(r_tracks.track_colors, tracks.track_colors)


def test_store_without_a_layer_named_as_the_reader_names_it(make_napari_viewer, qtbot,
                                                             tmp_path, errors):
    path = tmp_path / "run2.h5"
    locate_store(path, n_frames=6, source="/data/my movie.tif")  # the command line's
    viewer = make_napari_viewer()
    widget = link_widget(viewer)
    widget.store_file.value = path
    assert run(qtbot, widget) == "linked" and not errors
    assert {"run2 features", "run2 tracks"} <= {layer.name for layer in viewer.layers}
    opened = make_napari_viewer().open(str(path), plugin="napari-streamtrack")
    assert [layer.name for layer in opened] == ["run2 features", "run2 tracks"]
    unlinked = tmp_path / "plain.h5"
    locate_store(unlinked, n_frames=3, source="cells")
    (points,) = make_napari_viewer().open(str(unlinked), plugin="napari-streamtrack")
    assert points.name == "cells features"
    np.testing.assert_allclose(points.border_color[0], [1, 1, 0, 1])  # not linked: yellow


# ---------------------------------------------------------------- 2. per data set
def test_link_shows_the_parameters_of_the_chosen_data_set(make_napari_viewer, tmp_path):
    from napari_streamtrack import _settings

    _settings.save("link", {"search_range": 9.0, "memory": 0})  # the last session's
    path = tmp_path / "linked.h5"
    locate_store(path, n_frames=4)
    with workflow.new_store(path) as store:
        for _ in workflow.link_in_place(store, 4, memory=1, predictor="drift"):
            pass
    viewer = make_napari_viewer()
    plain = viewer.add_points(np.zeros((1, 3)), name="plain")
    widget = link_widget(viewer)
    assert (widget.search_range.value, widget.memory.value) == (9.0, 0)
    own = viewer.add_points(np.zeros((1, 3)), name="own", metadata={"streamtrack": {
        "store": str(tmp_path / "gone.h5"), "link": {"search_range": 7.5, "memory": 2,
                                                     "predictor": None}}})
    assert widget.points.value is own  # picked as it arrives: its record is shown
    assert (widget.search_range.value, widget.memory.value) == (7.5, 2)
    assert "link record of 'own'" in widget.status.value
    # a layer whose store holds the record (not the layer)
    stored = viewer.add_points(np.zeros((1, 3)), name="stored",
                               metadata={"streamtrack": {"store": str(path)}})
    assert widget.points.value is stored
    assert (widget.search_range.value, widget.memory.value, widget.predictor.value) == \
        (4.0, 1, "drift")
    widget.points.value = own
    assert (widget.search_range.value, widget.memory.value) == (7.5, 2)
    widget.points.value = plain  # no record: the fields stay
    assert (widget.search_range.value, widget.memory.value) == (7.5, 2)
    widget.store_file.value = path  # a store file: its record
    assert (widget.search_range.value, widget.memory.value) == (4.0, 1)


def test_the_sample_gets_its_suggested_parameters(make_napari_viewer, tmp_path):
    from napari_streamtrack import _settings
    from napari_streamtrack._widgets.locate import LocateWidget

    # the last data set's values, remembered
    _settings.save("locate", {"diameter": 21, "minmass": 40.0})
    _settings.save("link", {"search_range": 12.0, "memory": 0})
    viewer = make_napari_viewer()
    other = viewer.add_image(np.zeros((3, 32, 32), np.uint8), name="other")
    locate = LocateWidget(viewer)
    viewer.window.add_dock_widget(locate)
    assert locate.layer.value is other
    assert (locate.params["diameter"].value, locate.params["minmass"].value) == (21, 40.0)
    viewer.open_sample("napari-streamtrack", "brownian")
    sample = viewer.layers["brownian particles"]
    locate.layer.value = sample
    assert (locate.params["diameter"].value, locate.params["minmass"].value) == (11, 500.0)
    assert "suggested" in locate.status.value

    # features of the sample, from Locate (they name their movie): Link's suggestion
    link = link_widget(viewer)
    assert (link.search_range.value, link.memory.value) == (12.0, 0)
    viewer.add_points(np.zeros((1, 3)), name="brownian particles features",
                      metadata={"streamtrack": {"source": "brownian particles",
                                                "locate": {"diameter": 11}}})
    assert (link.search_range.value, link.memory.value) == (5.0, 3)

    # a store located in another session: its record when chosen as the store to append to
    path = tmp_path / "earlier.h5"
    streamtrack.quiet()
    movie, _ = brownian_movie_and_truth(n_frames=2)
    with workflow.new_store(path) as store:
        for _ in workflow.locate_into(list(movie), store, 9, minmass=300, processes=1):
            pass
    locate.store_path.value = path
    assert (locate.params["diameter"].value, locate.params["minmass"].value) == (9, 300.0)


# ---------------------------------------------------------------- 3. edited points
def test_deleted_points_stay_deleted_when_linked(make_napari_viewer, qtbot, tmp_path,
                                                 errors):
    path = tmp_path / "movie.h5"
    features = locate_store(path)
    viewer = make_napari_viewer()
    points = add_located(viewer, path, features)
    # delete spurious detections as a user does: select, then delete
    gone = [0, 3, 17, len(features) - 1]
    points.selected_data = set(gone)
    points.remove_selected()
    kept = np.delete(_layers.points_data(features)[0], gone, axis=0)
    np.testing.assert_allclose(points.data, kept)
    widget = link_widget(viewer)
    widget.search_range.value = 6

    assert run(qtbot, widget) == "linked" and not errors
    assert "edited" in widget.status.value and str(path) in widget.status.value
    expected = streamtrack.link_df(features.drop(index=gone).reset_index(drop=True), 6)
    # the layers: what was shown, linked
    np.testing.assert_allclose(points.data, kept)
    np.testing.assert_array_equal(points.features["particle"], expected["particle"])
    tracks = viewer.layers["movie tracks"]
    assert len(tracks.data) == len(kept)
    np.testing.assert_allclose(tracks.data, _layers.tracks_data(expected)[0])
    # the store: the same points, their other columns, its records
    with open_store(path, mode="r") as store:
        stored = store.dump()
        meta = store.metadata
    assert len(stored) == len(kept)
    lost = features.iloc[gone]
    assert not stored.merge(lost[["frame", "y", "x"]], on=["frame", "y", "x"]).size
    np.testing.assert_allclose(_layers.points_data(stored)[0], kept)
    np.testing.assert_array_equal(stored["particle"], expected["particle"])
    for column in ("mass", "size", "ecc", "signal"):
        np.testing.assert_allclose(stored[column], expected[column])
    assert meta["locate"]["source"] == "movie" and meta["link"]["complete"]
    assert meta["link"]["search_range"] == 6
    assert not list(tmp_path.glob(".*tmp"))

    # linking again without edits links the store in place (nothing rewritten)
    assert run(qtbot, widget) == "linked" and not errors
    assert "edited" not in widget.status.value


def test_cancelled_edited_link_leaves_the_store(make_napari_viewer, qtbot, tmp_path,
                                                errors, monkeypatch):
    import threading

    # the linker waits after its first frame until Cancel was pressed
    cancelled, real = threading.Event(), workflow.link_table

    def held(*args, **kwargs):
        for i, linked in enumerate(real(*args, **kwargs)):
            yield linked
            if i == 0:
                assert cancelled.wait(30)

    monkeypatch.setattr(workflow, "link_table", held)

    def cancel_once(n_done):
        if n_done == 1:
            widget.cancel()
            cancelled.set()

    path = tmp_path / "movie.h5"
    features = locate_store(path, n_frames=20)
    viewer = make_napari_viewer()
    points = add_located(viewer, path, features)
    points.selected_data = {1}
    points.remove_selected()
    widget = link_widget(viewer)
    with qtbot.waitSignal(widget.done, timeout=TIMEOUT) as blocker:
        worker = widget.run()
        worker.yielded.connect(cancel_once)
    assert blocker.args == ["cancelled"]
    assert "nothing was changed" in widget.status.value
    with open_store(path, mode="r") as store:
        assert len(store.dump()) == len(features) and "link" not in store.metadata
    assert not list(tmp_path.glob(".*tmp"))


# ---------------------------------------------------------------- 4. pop-ups, fonts
def _capture_file_dialogs(monkeypatch):
    """Replace Qt's file dialogs (the choose buttons' and analyse's) by ones recording
    their parent."""
    from qtpy.QtWidgets import QFileDialog

    from napari_streamtrack._widgets import analyse

    parents = []

    def fake(parent, *args):
        parents.append(parent)
        return ("", "") if len(args) > 2 else ""

    for name in ("getOpenFileName", "getOpenFileNames", "getSaveFileName",
                 "getExistingDirectory"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(fake))

    class FakeDialog:
        getSaveFileName = staticmethod(fake)
        getExistingDirectory = staticmethod(fake)

    monkeypatch.setattr(analyse, "QFileDialog", FakeDialog)
    return parents


def test_dialogs_open_on_the_main_window(make_napari_viewer, qtbot, monkeypatch):
    from qtpy.QtWidgets import QDockWidget, QMainWindow

    from napari_streamtrack._widgets import analyse
    from napari_streamtrack._widgets.locate import LocateWidget

    parents = _capture_file_dialogs(monkeypatch)
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((2, 16, 16), np.uint8), name="movie")
    locate, link = LocateWidget(viewer), LinkWidget(viewer)
    ana = analyse.AnalyseWidget(viewer)
    for widget in (locate, link, ana):
        viewer.window.add_dock_widget(widget)
    qtbot.waitUntil(lambda: not ana._probing, timeout=TIMEOUT)
    main = locate.native.window()
    assert isinstance(main, QMainWindow)
    locate.store_path.choose_btn.native.click()
    link.store_file.choose_btn.native.click()
    ana.store_file.choose_btn.native.click()
    analyse.ask_save_file(ana, "save", "", "PNG image (*.png)")
    analyse.ask_folder(ana, "folder", "")
    assert len(parents) == 5 and all(parent is main for parent in parents)
    # a floating dock is still the main window's
    dock = next(d for d in main.findChildren(QDockWidget) if d.isAncestorOf(link.native))
    dock.setFloating(True)
    link.store_file.choose_btn.native.click()
    assert len(parents) == 6 and parents[-1] is main
    parents.clear()  # the viewer's leak check: nothing may hold its window


def test_histogram_fonts_are_readable(make_napari_viewer, qtbot):
    from matplotlib.text import Text

    from napari_streamtrack._widgets.locate import LocateWidget

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((2, 16, 16), np.uint8), name="movie")
    widget = LocateWidget(viewer)
    viewer.window.add_dock_widget(widget)
    histogram = widget.histogram
    histogram.setVisible(True)
    rng = np.random.default_rng(0)
    every = rng.gamma(2, 300, 400)
    histogram.set_data(every, every[every > 500], 500, title="frame 0: 1 of 2")
    histogram.canvas.draw()
    ratio = histogram.canvas.device_pixel_ratio
    texts = [t for t in histogram.figure.findobj(Text) if t.get_visible() and t.get_text()]
    assert {"mass", "features", "candidates", "kept"} <= {t.get_text() for t in texts}
    for text in texts:
        # in points as Qt counts them (96 logical dots per inch)
        points = text.get_fontsize() * histogram.figure.dpi / ratio / 96
        assert points >= 8, (text.get_text(), points)


@pytest.mark.parametrize("layout", ["frames", "big", "single"])
def test_relink_edited_replaces_a_store_with_the_linked_table(tmp_path, layout):
    """The core step behind Link on edited points (no GUI): every layout, a frame
    emptied by the edit disappears, records and other columns stay."""
    import pandas as pd

    path = tmp_path / "s.h5"
    rows = [{"frame": t, "y": 10.0 + 20 * k, "x": 5.0 + t, "mass": 100.0 + k}
            for t in range(4) for k in range(2)]
    with workflow.new_store(path, layout) as store:
        for _, frame in pd.DataFrame(rows).groupby("frame"):
            store.put(frame)
        store.save_metadata("locate", {"diameter": 7, "source": "cells"})
        assert workflow.same_features(store, store.dump())
    edited = pd.DataFrame([r for r in rows if r["frame"] != 2 and (r["frame"], r["y"])
                           != (0, 30.0)])
    with open_store(path, mode="r") as store:
        assert not workflow.same_features(store, edited)
    linked = pd.concat(list(workflow.relink_edited(path, edited, 3, memory=1)))
    expected = streamtrack.link_df(edited, 3, memory=1)
    with open_store(path, mode="r") as store:
        assert store.frames == [0, 1, 3]
        stored, meta = store.dump(), store.metadata
        assert workflow.same_features(store, edited)
    np.testing.assert_array_equal(stored["particle"], expected["particle"])
    np.testing.assert_array_equal(linked["particle"], expected["particle"])
    np.testing.assert_allclose(stored["mass"], expected["mass"])
    assert meta["locate"]["source"] == "cells" and meta["link"]["complete"]
    assert meta["link"]["memory"] == 1
    with pytest.raises(ValueError):  # bad options: nothing written
        list(workflow.relink_edited(path, edited, -1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5"]

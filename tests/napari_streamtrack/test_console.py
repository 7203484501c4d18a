"""napari_streamtrack's public functions for napari's console and scripts; and one
workflow for every front end: the command line, the widgets and the console write
the same records, and their stores open the same way."""
import numpy as np
import pandas as pd
import pytest
import tifffile

import napari_streamtrack as nst
import streamtrack
from napari_streamtrack._sample_data import brownian_movie_and_truth
from napari_streamtrack._widgets.link import LinkWidget
from napari_streamtrack._widgets.locate import LocateWidget
from streamtrack.cli import main as cli

TIMEOUT = 30_000
# the records' input description: what the movie was, in each front end's words
INPUT = ("source",)


@pytest.fixture(scope="module")
def movie():
    return brownian_movie_and_truth(n_frames=8)[0]


def dump(path):
    with streamtrack.PandasHDFStore(str(path), mode="r") as store:
        return store.dump().reset_index(drop=True), store.metadata


def test_three_console_lines_track_the_current_layer(make_napari_viewer, tmp_path, movie):
    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    # the README's lines, as a user types them in napari's console
    path = nst.track_layer(viewer.layers["movie"], tmp_path / "tracks.h5", diameter=11,
                           search_range=5, minmass=500)
    layers = nst.add_store(viewer, path)

    points, tracks = layers
    assert points.__class__.__name__ == "Points" and tracks.__class__.__name__ == "Tracks"
    table, meta = dump(path)
    expected = streamtrack.link_df(streamtrack.batch(streamtrack.open(movie), 11, minmass=500,
                                                     processes=1), 5)
    assert table["particle"].tolist() == expected["particle"].tolist()
    np.testing.assert_allclose(table[["y", "x"]], expected[["y", "x"]])
    assert len(points.data) == len(expected) and len(tracks.data) == len(expected)
    assert meta["locate"]["source"] == "movie" and meta["link"]["search_range"] == 5
    with pytest.raises(FileExistsError, match="tracks.h5"):
        nst.track_layer(viewer.layers["movie"], path, diameter=11, search_range=5)


def test_layers_to_a_store_and_back(make_napari_viewer, tmp_path, movie):
    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    path = nst.locate_layer(viewer.layers["movie"], tmp_path / "f.h5", 11, minmass=500)
    layers = nst.layers_from_store(path)
    assert [type(layer).__name__ for layer in layers] == ["Points"]  # not linked
    copy = nst.store_from_layers(tmp_path / "copy.h5", *layers)
    got, _ = dump(copy)
    want, meta = dump(path)
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)
    assert meta["locate"]["minmass"] == 500


def test_rgb_layers_need_a_channel(make_napari_viewer, movie):
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.stack([movie, movie, movie], -1), name="rgb", rgb=True)
    with pytest.raises(ValueError, match="channel="):
        nst.frames_from_layer(layer)
    assert np.array_equal(nst.frames_from_layer(layer, 1)[3], movie[3])
    with pytest.raises(ValueError, match="channel 3 does not exist"):
        nst.frames_from_layer(layer, 3)


def test_command_line_and_widgets_write_the_same_records(make_napari_viewer, qtbot, tmp_path,
                                                         movie):
    folder = tmp_path / "movie"
    folder.mkdir()
    for i, frame in enumerate(movie):
        tifffile.imwrite(folder / f"f{i:02d}.tif", frame)
    by_cli = tmp_path / "cli.h5"
    assert cli(["locate", str(folder), "-d", "11", "--minmass", "500", "--percentile", "50",
                "-o", str(by_cli), "-q"]) == 0
    assert cli(["link", str(by_cli), "-s", "5", "--memory", "2", "-q"]) == 0

    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    locate = LocateWidget(viewer)
    viewer.window.add_dock_widget(locate)
    locate.params["minmass"].value = 500
    locate.params["percentile"].value = 50
    locate.store_path.value = tmp_path / "widget.h5"
    with qtbot.waitSignal(locate.done, timeout=TIMEOUT) as blocker:
        locate.run()
    assert blocker.args == ["located"]
    link = LinkWidget(viewer)
    viewer.window.add_dock_widget(link)
    link.points.value = viewer.layers["movie features"]
    link.search_range.value = 5
    link.memory.value = 2
    with qtbot.waitSignal(link.done, timeout=TIMEOUT) as blocker:
        link.run()
    assert blocker.args == ["linked"]

    cli_table, cli_meta = dump(by_cli)
    widget_table, widget_meta = dump(tmp_path / "widget.h5")
    pd.testing.assert_frame_equal(cli_table, widget_table)
    assert sorted(cli_meta) == sorted(widget_meta)
    for name in cli_meta:
        if name == "link_checkpoint":
            continue  # the linker's options with the store's own position columns
        ours = {k: v for k, v in cli_meta[name].items() if k not in INPUT}
        theirs = {k: v for k, v in widget_meta[name].items() if k not in INPUT}
        assert ours == theirs, name
    assert cli_meta["locate"]["source"] == str(folder) and widget_meta["locate"]["source"] == \
        "movie"
    # and they open the same way: the same layers, sized from the same record
    by_reader = [nst.layers_from_store(path) for path in (by_cli, tmp_path / "widget.h5")]
    for a, b in zip(*by_reader, strict=True):
        assert type(a) is type(b)
        np.testing.assert_array_equal(a.data, b.data)
        np.testing.assert_array_equal(a.size if hasattr(a, "size") else 0,
                                      b.size if hasattr(b, "size") else 0)

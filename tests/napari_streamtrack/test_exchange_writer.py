"""The GEFF and CSV writers: round trips, trackpy's columns, units, the graph, npe2's choice."""
import os
import warnings

import geff
import numpy as np
import pandas as pd
import pytest
from napari.layers import Points, Tracks

from napari_streamtrack import _exchange_writer as W
from napari_streamtrack import _layers
from streamtrack.exchange import from_geff, read_csv

PLUGIN = "napari-streamtrack"


def _linked_table(n_particles=4, n_frames=5, seed=0):
    """A linked table in trackpy's layout: y, x, mass, size, frame, particle."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_particles):
        start = rng.uniform(10, 90, 2)
        steps = np.cumsum(rng.normal(0, 1, (n_frames, 2)), axis=0)
        for f in range(n_frames):
            y, x = start + steps[f]
            rows.append((y, x, rng.uniform(100, 500), rng.uniform(1, 3), f, p))
    table = pd.DataFrame(rows, columns=["y", "x", "mass", "size", "frame", "particle"])
    return table.sort_values("frame", kind="stable").reset_index(drop=True)


def _points_layer(table, **kwargs):
    data, features = _layers.points_data(table)
    return Points(data, features=features, **kwargs)


def _tracks_layer(table, **kwargs):
    data, features = _layers.tracks_data(table)
    return Tracks(data, features=features, **kwargs)


def _tuple(layer):
    data, meta, _ = layer.as_layer_data_tuple()
    return data, meta


def _same_rows(a, b):
    """Equal tables, row order aside (frame, then particle/position)."""
    keys = [c for c in ("frame", "particle", "y", "x") if c in a.columns]
    a = a.sort_values(keys).reset_index(drop=True)
    b = b.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def _validate_geff(path):
    from geff.core_io._base_read import read_to_memory
    from geff.validate.data import ValidationConfig, validate_data

    geff.validate_structure(path)
    validate_data(read_to_memory(path),
                  ValidationConfig(graph=True, tracklet=True, lineage=True))


# ---------------------------------------------------------------- GEFF
def test_tracks_to_geff_round_trip_validates_and_records_units(tmp_path):
    table = _linked_table()
    layer = _tracks_layer(table, scale=(0.5, 0.2, 0.2), units=("s", "um", "um"))
    path = str(tmp_path / "tracks.geff")
    assert W.write_geff_tracks(path, *_tuple(layer)) == [path]
    _validate_geff(path)
    back = from_geff(path)
    assert list(back.columns) == ["y", "x", "mass", "size", "frame", "particle"]
    assert back["frame"].dtype == np.int64 and back["particle"].dtype == np.int64
    _same_rows(back, table)
    assert back.attrs["units"] == pytest.approx({"mpp": 0.2, "fps": 2.0})
    _, meta = geff.read(path)
    scales = {ax.name: (ax.scale, ax.scaled_unit) for ax in meta.axes}
    assert scales["t"] == (pytest.approx(0.5), "second")
    assert scales["y"] == (pytest.approx(0.2), "micrometer")
    # one edge per link: 4 particles x 4 steps
    graph, _ = geff.read(path)
    assert graph.number_of_edges() == 16 and graph.number_of_nodes() == 20


def test_no_scale_no_units(tmp_path):
    layer = _tracks_layer(_linked_table())
    path = str(tmp_path / "plain.geff")
    W.write_geff_tracks(path, *_tuple(layer))
    assert "units" not in from_geff(path).attrs
    assert all(ax.scale is None for ax in geff.read(path)[1].axes)


def test_the_graph_becomes_edges(tmp_path):
    # track 0 (frames 0-2) divides into 1 and 2 (frames 3-4)
    data = np.array([[0, 0, 1, 1], [0, 1, 2, 2], [0, 2, 3, 3],
                     [1, 3, 4, 2], [1, 4, 5, 2], [2, 3, 4, 6], [2, 4, 5, 7]], float)
    layer = Tracks(data, graph={1: [0], 2: [0]})
    path = str(tmp_path / "lineage.geff")
    W.write_geff_tracks(path, *_tuple(layer))
    _validate_geff(path)
    graph, _ = geff.read(path)
    frame = {n: a["t"] for n, a in graph.nodes(data=True)}
    particle = {n: a["particle"] for n, a in graph.nodes(data=True)}
    divisions = [(particle[s], particle[d], frame[s], frame[d], graph.edges[s, d]["frame_gap"])
                 for s, d in graph.edges if particle[s] != particle[d]]
    assert sorted(divisions) == [(0, 1, 2, 3, 1), (0, 2, 2, 3, 1)]
    assert graph.number_of_edges() == 2 + 1 + 1 + 2
    with pytest.warns(UserWarning, match="division"):
        back = from_geff(path)
    _same_rows(back, _layers.features_from_tracks(data))


@pytest.mark.parametrize("graph, message", [
    ({1: [0]}, "continues track 0 as track 1"),
    ({1: [7], 2: [7]}, "track 7 has no vertices"),
    ({0: [1], 2: [1]}, "not later"),
])
def test_a_bad_graph_is_refused_before_anything_is_written(tmp_path, graph, message):
    data = np.array([[0, 0, 1, 1], [0, 1, 2, 2], [1, 2, 3, 3], [1, 3, 4, 4],
                     [2, 2, 5, 5], [2, 3, 6, 6]], float)
    path = tmp_path / "bad.geff"
    layer_data, meta = _tuple(Tracks(data))
    meta["graph"] = graph  # napari checks some of this itself; a caller may not
    with pytest.raises(ValueError, match=message):
        W.write_geff_tracks(str(path), layer_data, meta)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_points_and_tracks_to_one_geff_join_the_features(tmp_path):
    table = _linked_table()
    points = _points_layer(table.drop(columns="particle"), scale=(1, 0.35, 0.35))
    tracks = _tracks_layer(table[["y", "x", "frame", "particle"]])
    path = str(tmp_path / "both.geff")
    W.write_geff_points_tracks(path, [points.as_layer_data_tuple(),
                                      tracks.as_layer_data_tuple()])
    _validate_geff(path)
    back = from_geff(path)
    _same_rows(back, table)
    assert back.attrs["units"] == {"mpp": pytest.approx(0.35), "fps": None}


def test_a_folder_that_is_not_a_geff_is_not_replaced(tmp_path):
    folder = tmp_path / "mine.geff"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(IsADirectoryError, match="not a GEFF"):
        W.write_geff_tracks(str(folder), *_tuple(_tracks_layer(_linked_table())))
    assert (folder / "notes.txt").read_text() == "keep me"


# ---------------------------------------------------------------- CSV
def test_unlinked_points_to_csv_have_trackpy_columns(tmp_path):
    table = _linked_table().drop(columns="particle")
    path = str(tmp_path / "features.csv")
    W.write_csv_points(path, *_tuple(_points_layer(table)))
    back = read_csv(path)
    assert list(back.columns) == ["y", "x", "mass", "size", "frame"]
    assert back["frame"].dtype == np.int64
    _same_rows(back, table)
    assert "axis-0" not in open(path).read()


def test_points_with_a_particle_feature_get_integer_ids(tmp_path):
    table = _linked_table()
    layer = _points_layer(table)
    layer.features["particle"] = layer.features["particle"].astype(float)
    path = str(tmp_path / "linked.csv")
    W.write_csv_points(path, *_tuple(layer))
    back = read_csv(path)
    assert list(back.columns) == ["y", "x", "mass", "size", "frame", "particle"]
    assert back["particle"].dtype == np.int64
    _same_rows(back, table)


def test_tracks_to_csv_id_is_particle_and_units_in_the_header(tmp_path):
    table = _linked_table()
    layer = _tracks_layer(table, scale=(100, 0.5, 0.5), units=("ms", "nm", "nm"))
    path = str(tmp_path / "tracks.csv")
    W.write_csv_tracks(path, *_tuple(layer))
    back = read_csv(path)
    assert list(back.columns) == ["y", "x", "mass", "size", "frame", "particle"]
    _same_rows(back, table)
    assert back.attrs["units"] == pytest.approx({"mpp": 0.0005, "fps": 10.0})
    assert open(path).readline().startswith("# streamtrack units:")


def test_points_and_tracks_to_one_linked_csv(tmp_path):
    table = _linked_table()
    points = _points_layer(table.drop(columns="particle"))
    tracks = _tracks_layer(table[["y", "x", "frame", "particle"]])
    path = str(tmp_path / "both.csv")
    W.write_csv_points_tracks(path, [tracks.as_layer_data_tuple(),
                                     points.as_layer_data_tuple()])
    _same_rows(read_csv(path), table)


def test_csv_refusals_leave_the_old_file_alone(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text("precious\n")
    data = np.array([[0, 0, 1, 1], [1, 1, 2, 2], [2, 1, 3, 3]], float)
    with pytest.raises(ValueError, match="save it as .geff"):
        W.write_csv_tracks(str(path), *_tuple(Tracks(data, graph={1: [0], 2: [0]})))
    with pytest.raises(ValueError, match="Add a time axis"):
        W.write_csv_points(str(path), *_tuple(Points(np.ones((3, 2)))))
    with pytest.raises(ValueError, match="nothing to save"):
        W.write_csv_points(str(path), np.empty((0, 3)), {"features": None})
    table = _linked_table()
    few = _tracks_layer(table[table["frame"] < 2][["y", "x", "frame", "particle"]])
    with pytest.raises(ValueError, match="do not come from the same features"):
        W.write_csv_points_tracks(str(path), [_points_layer(table).as_layer_data_tuple(),
                                              few.as_layer_data_tuple()])
    assert path.read_text() == "precious\n"
    assert os.listdir(tmp_path) == ["old.csv"]


def test_units_from_the_layer_record_and_unequal_pixels():
    record = {"metadata": {"streamtrack": {"units": {"mpp": 0.35, "fps": None}}},
              "scale": [0.25, 9.0, 9.0]}
    assert W.layer_units(record) == {"mpp": 0.35, "fps": 4.0}
    with pytest.warns(UserWarning, match="different pixel sizes"):
        assert W.layer_units({"scale": [1.0, 0.3, 0.2]}) == {"mpp": None, "fps": None}
    assert W.layer_units({"scale": [1.0, 1.0, 1.0]}) == {"mpp": None, "fps": None}


# ---------------------------------------------------------------- napari and npe2
def test_npe2_picks_our_writers_by_extension(tmp_path):
    from npe2 import PluginManager, write

    pm = PluginManager.instance()
    pm.discover()
    assert pm.get_writer("x.geff", ["tracks"])[0].command == f"{PLUGIN}.write_geff_tracks"
    assert pm.get_writer("x.csv", ["tracks"])[0].command == f"{PLUGIN}.write_csv_tracks"
    assert pm.get_writer("x.csv", ["points", "tracks"])[0].command == \
        f"{PLUGIN}.write_csv_points_tracks"
    # napari's own Points writer claims .csv too; without a plugin named, the first
    # registered wins (discovery order: not reliable), naming the plugin picks ours
    claims = [w.command for w in pm.iter_compatible_writers(["points"])
              if ".csv" in w.filename_extensions]
    assert {"napari.write_points", f"{PLUGIN}.write_csv_points"} <= set(claims)
    assert pm.get_writer("x.csv", ["points"], plugin_name=PLUGIN)[0].command == \
        f"{PLUGIN}.write_csv_points"
    table = _linked_table()
    path = str(tmp_path / "via_npe2.geff")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a linked table exports without a warning
        assert write(path, [_tracks_layer(table).as_layer_data_tuple()]) == [path]
    _same_rows(from_geff(path), table)


def test_viewer_saves_selected_layers_with_our_writers(make_napari_viewer, tmp_path):
    from napari.plugins._npe2 import file_extensions_string_for_layers

    table = _linked_table()
    viewer = make_napari_viewer()
    points = viewer.add_layer(_points_layer(table.drop(columns="particle")))
    tracks = viewer.add_layer(_tracks_layer(table[["y", "x", "frame", "particle"]]))
    viewer.layers.selection = {points}
    path = str(tmp_path / "points.csv")
    assert viewer.layers.save(path, selected=True, plugin=PLUGIN) == [path]
    assert list(read_csv(path).columns) == ["y", "x", "mass", "size", "frame"]
    viewer.layers.selection = {points, tracks}
    path = str(tmp_path / "linked.csv")
    assert viewer.layers.save(path, selected=True, plugin=PLUGIN) == [path]
    _same_rows(read_csv(path), table)
    path = str(tmp_path / "linked.geff")
    assert viewer.layers.save(path, selected=True, plugin=PLUGIN) == [path]
    _same_rows(from_geff(path), table)
    # what the Save dialog's file-type list offers for the selection
    filters, _ = file_extensions_string_for_layers([points, tracks])
    assert "Streamtrack CSV (trackpy columns), points and tracks linked (*.csv)" in filters
    assert "Streamtrack GEFF (graph exchange format), points and tracks (*.geff *.zarr)" \
        in filters
    filters, _ = file_extensions_string_for_layers([points])
    assert "Streamtrack CSV (trackpy columns) (*.csv)" in filters

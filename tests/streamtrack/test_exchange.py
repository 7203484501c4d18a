"""Exports and imports (issue 14): GEFF, CSV and Parquet round trips, streamed from stores."""
import os
import sys
import warnings

import geff
import networkx as nx
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import zarr
from geff.validate.data import ValidationConfig

import streamtrack as tp
from streamtrack import exchange
from streamtrack._streamed import MIN_BLOCK
from streamtrack.exchange import _geff
from streamtrack.workflow import save_units

STORES = {
    "chunked": lambda path: tp.PandasHDFStoreChunked(path, chunk_size=16),
    "frames": tp.PandasHDFStore,
    "single": tp.PandasHDFStoreSingleNode,
}


def features(n_particles=6, n_frames=30, seed=0, three_d=False, gaps=True):
    """Brownian trajectories with locate's columns, some rows dropped (memory gaps)
    and trajectories that start late or end early."""
    traj = tp.synthetic.brownian_trajectories(n_particles, n_frames, seed=seed)
    rng = np.random.default_rng(seed)
    if three_d:
        traj.insert(2, "z", rng.uniform(5, 20, len(traj)))
    for name in ("mass", "size", "ecc", "signal", "raw_mass", "ep"):
        traj[name] = rng.uniform(0.1, 100, len(traj))
    traj["ep"] = traj["ep"].where(rng.random(len(traj)) > 0.1)  # NaN ep, as locate gives
    # trackpy's column order: positions, features, frame, particle
    traj = traj[[c for c in traj.columns if c not in ("frame", "particle")]
                + ["frame", "particle"]]
    if gaps:
        drop = (rng.random(len(traj)) < 0.15) & (traj["frame"] > 0)
        late = (traj["particle"] == 1) & (traj["frame"] < n_frames // 2)
        early = (traj["particle"] == 2) & (traj["frame"] > n_frames // 3)
        traj = traj[~(drop | late | early)]
    return traj.reset_index(drop=True)


def write_store(path, traj, kind="chunked", mpp=None, fps=None):
    with STORES[kind](str(path)) as store:
        for _, frame in traj.groupby("frame", sort=True):
            store.put(frame.reset_index(drop=True))
        if mpp is not None or fps is not None:
            save_units(store, mpp=mpp, fps=fps)
    return str(path)


def _open(path):
    from streamtrack.stores import open_store

    return open_store(path, mode="r")


def expected_edges(table):
    """(source row, target row, frame gap) of consecutive observations per particle."""
    out = []
    for _, rows in table.groupby("particle"):
        rows = rows.sort_values("frame", kind="stable")
        idx, f = rows.index.to_numpy(), rows["frame"].to_numpy()
        out += list(zip(idx[:-1], idx[1:], np.diff(f)))
    return sorted(out)


# ------------------------------------------------------------------------- GEFF
@pytest.mark.parametrize("kind", sorted(STORES))
def test_store_to_geff_and_back(tmp_path, kind):
    traj = features()
    path = write_store(tmp_path / "s.h5", traj, kind, mpp=0.35, fps=24)
    out = tmp_path / "tracks.geff"
    with _open(path) as store:
        result = tp.to_geff(store, out)
        table = store.dump().reset_index(drop=True)
    assert result["nodes"] == len(traj)
    assert result["edges"] == len(traj) - traj["particle"].nunique()
    geff.validate_structure(str(out))
    back = tp.from_geff(out)
    pd.testing.assert_frame_equal(back, table)
    assert back.attrs["units"] == {"mpp": 0.35, "fps": 24}


def test_geff_nodes_edges_and_metadata(tmp_path):
    """Node ids are row positions in frame order; one edge per link, with the frame
    gap (> 1 across memory gaps); geff reads it as the same graph."""
    traj = features(n_frames=40)
    out = str(tmp_path / "t.geff")
    tp.to_geff(traj, out)
    graph, meta = geff.read(out, data_validation=ValidationConfig(graph=True, tracklet=True))
    assert sorted(graph.nodes) == list(range(len(traj)))
    edges = sorted((u, v, d["frame_gap"]) for u, v, d in graph.edges(data=True))
    assert edges == expected_edges(traj)
    assert any(gap > 1 for _, _, gap in edges)
    for node in (0, len(traj) // 2, len(traj) - 1):
        row = traj.iloc[node]
        data = graph.nodes[node]
        assert data["t"] == row["frame"] and data["particle"] == row["particle"]
        assert data["y"] == row["y"] and data["mass"] == row["mass"]
    assert meta.directed and meta.track_node_props == {"tracklet": "particle"}
    assert [(ax.name, ax.type, ax.unit, ax.scale) for ax in meta.axes] == [
        ("t", "time", "frame", None), ("y", "space", "pixel", None),
        ("x", "space", "pixel", None)]
    assert meta.axes[0].min == 0 and meta.axes[0].max == traj["frame"].max()
    assert meta.axes[1].min == traj["y"].min() and meta.axes[2].max == traj["x"].max()
    assert set(meta.node_props_metadata) == {"t", "y", "x", "mass", "size", "ecc", "signal",
                                             "raw_mass", "ep", "particle"}
    assert meta.edge_props_metadata["frame_gap"].dtype == "int64"
    assert meta.display_hints.display_horizontal == "x"
    ours = meta.extra["streamtrack"]
    assert "position in frame order" in ours["node_ids"] and ours["columns"] == list(traj)


def test_geff_streams_across_blocks_and_chunks(tmp_path, monkeypatch):
    """A store longer than one block, zarr chunks smaller than a block: links that
    cross blocks (also after a gap) are found, arrays are written chunk by chunk."""
    monkeypatch.setattr(_geff, "CHUNK", 64)
    traj = features(n_particles=4, n_frames=2 * MIN_BLOCK + 40, seed=2)
    # a particle missing for 30 frames around a block boundary
    bridged = (traj["particle"] == 3) & traj["frame"].between(MIN_BLOCK - 10, MIN_BLOCK + 20)
    traj = traj[~bridged].reset_index(drop=True)
    path = write_store(tmp_path / "c.h5", traj)
    out = str(tmp_path / "t.zarr")
    read = []
    with tp.PandasHDFStoreChunked(path, mode="r") as store:
        original = store.read_frames
        monkeypatch.setattr(store, "dump", None)            # never the whole store
        monkeypatch.setattr(store, "read_frames",
                            lambda frames: read.append(len(frames)) or original(frames))
        tp.to_geff(store, out)
    # in 3 blocks of at most MIN_BLOCK frames
    assert len(read) == 3 and max(read) <= MIN_BLOCK and sum(read) == traj["frame"].nunique()
    root = zarr.open_group(out, mode="r")
    assert root["nodes/ids"].chunks == (64,) and root["edges/ids"].shape[1] == 2
    graph, _ = geff.read(out)
    edges = sorted((u, v, d["frame_gap"]) for u, v, d in graph.edges(data=True))
    assert edges == expected_edges(traj)
    assert max(gap for *_, gap in edges) >= 31
    pd.testing.assert_frame_equal(tp.from_geff(out), traj)


def test_geff_in_3d_with_units(tmp_path):
    traj = features(three_d=True)
    path = write_store(tmp_path / "s.h5", traj, mpp=0.2, fps=5)
    out = str(tmp_path / "t.geff")
    with _open(path) as store:
        tp.to_geff(store, out)
    meta = geff.GeffMetadata.read(out)
    assert [(ax.name, ax.unit, ax.scale, ax.scaled_unit) for ax in meta.axes] == [
        ("t", "frame", 0.2, "second"), ("z", "pixel", 0.2, "micrometer"),
        ("y", "pixel", 0.2, "micrometer"), ("x", "pixel", 0.2, "micrometer")]
    assert meta.display_hints.display_depth == "z"
    back = tp.from_geff(out)
    pd.testing.assert_frame_equal(back, traj)
    assert back.attrs["units"] == {"mpp": 0.2, "fps": 5}


def test_traccuracy_loads_our_geff(tmp_path):
    from traccuracy.loaders import load_geff_data

    traj = features()
    out = str(tmp_path / "t.geff")
    tp.to_geff(traj, out)
    graph = load_geff_data(out, load_all_props=True)
    assert graph.graph.number_of_nodes() == len(traj)
    assert graph.graph.number_of_edges() == len(traj) - traj["particle"].nunique()
    assert graph.location_keys == ("y", "x") and graph.frame_key == "t"


def test_partly_linked_rows_have_no_particle_and_no_edges(tmp_path):
    traj = features()
    traj["particle"] = traj["particle"].astype(float)
    traj.loc[traj["frame"] >= 25, "particle"] = np.nan    # linking stopped at frame 25
    out = str(tmp_path / "t.geff")
    tp.to_geff(traj, out)
    # GEFF's own data checks: graph, tracklets (each unlinked row is a tracklet alone)
    config = ValidationConfig(graph=True, tracklet=True)
    graph, _ = geff.read(out, data_validation=config)
    linked = traj[traj["particle"].notna()]
    assert graph.number_of_edges() == len(linked) - linked["particle"].nunique()
    pd.testing.assert_frame_equal(tp.from_geff(out), traj)


def test_unlinked_store_gives_nodes_without_edges(tmp_path):
    traj = features().drop(columns="particle")
    out = str(tmp_path / "t.geff")
    with pytest.warns(UserWarning, match="no 'particle' column.*nodes without edges"):
        result = tp.to_geff(traj, out)
    assert result == {"nodes": len(traj), "edges": 0, "path": out}
    geff.validate_structure(out)
    meta = geff.GeffMetadata.read(out)
    assert meta.track_node_props is None
    pd.testing.assert_frame_equal(tp.from_geff(out), traj)


def lineage_geff(path):
    """A cell lineage written by geff's own writer: 0 -> 1 divides into 2 and 3;
    3 -> 4; an independent track 5 -> 6."""
    g = nx.DiGraph()
    positions = {0: (0, 10.0, 10.0), 1: (1, 11.0, 10.0), 2: (2, 12.0, 8.0),
                 3: (2, 12.0, 12.0), 4: (3, 13.0, 13.0), 5: (0, 50.0, 50.0),
                 6: (1, 51.0, 50.0)}
    for node, (t, y, x) in positions.items():
        g.add_node(node, t=t, y=y, x=x, area=float(node))
    g.add_edges_from([(0, 1), (1, 2), (1, 3), (3, 4), (5, 6)])
    geff.write(g, path, axis_names=["t", "y", "x"], axis_types=["time", "space", "space"],
               axis_units=["second", "micrometer", "micrometer"])


def test_lineage_is_flattened_with_a_warning(tmp_path):
    path = str(tmp_path / "lineage.geff")
    lineage_geff(path)
    with pytest.warns(UserWarning, match="1 division.*flattened: one particle per tracklet"):
        table = tp.from_geff(path)
    assert list(table.columns) == ["y", "x", "area", "frame", "particle"]
    assert table["frame"].tolist() == [0, 0, 1, 1, 2, 2, 3]
    by_node = table.set_index("area")["particle"]
    # tracklets: 0-1, 2, 3-4, 5-6: numbered by first appearance (frame, then node id)
    assert by_node.to_dict() == {0.0: 0, 5.0: 1, 1.0: 0, 6.0: 1, 2.0: 2, 3.0: 3, 4.0: 3}


def test_foreign_geff_without_division_reads_quietly(tmp_path):
    g = nx.DiGraph()
    for node in range(4):
        g.add_node(node * 7, t=node, y=float(node), x=2.0)
    g.add_edges_from([(0, 7), (7, 14), (14, 21)])
    path = str(tmp_path / "track.zarr")
    geff.write(g, path, axis_names=["t", "y", "x"], axis_types=["time", "space", "space"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = tp.from_geff(path)
    assert table["particle"].tolist() == [0, 0, 0, 0]
    assert table["frame"].dtype == np.int64 and "units" not in table.attrs


def test_not_a_geff(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tp.from_geff(tmp_path / "missing.geff")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="folder is not a GEFF"):
        tp.from_geff(tmp_path / "folder")
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w")
    with pytest.raises(ValueError, match="plain.zarr is not a GEFF"):
        tp.from_geff(tmp_path / "plain.zarr")


# ------------------------------------------------------------------ CSV, Parquet
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_tables_round_trip(tmp_path, fmt):
    traj = features(n_frames=MIN_BLOCK + 20)
    path = write_store(tmp_path / "s.h5", traj, mpp=0.35, fps=24)
    out = str(tmp_path / f"tracks.{fmt}")
    with _open(path) as store:
        rows = exchange.export(store, out)
        table = store.dump().reset_index(drop=True)
    assert rows == len(traj)
    back = tp.read_csv(out) if fmt == "csv" else tp.read_parquet(out)
    pd.testing.assert_frame_equal(back, table)
    assert back.attrs["units"] == {"mpp": 0.35, "fps": 24}
    if fmt == "csv":
        with open(out) as f:
            assert f.readline() == '# streamtrack units: {"mpp": 0.35, "fps": 24}\n'
        plain = pd.read_csv(out, comment="#")
        assert list(plain.columns) == list(traj.columns)
    else:
        assert pq.ParquetFile(out).num_row_groups == 2      # one per block of frames
        assert b"streamtrack" in pq.read_schema(out).metadata


def test_tables_from_a_dataframe_in_frame_order(tmp_path):
    traj = features()
    shuffled = traj.sample(frac=1, random_state=0).set_index("frame", drop=False)
    tp.to_csv(shuffled, tmp_path / "t.csv")
    back = tp.read_csv(tmp_path / "t.csv")
    assert back["frame"].is_monotonic_increasing
    expected = shuffled.reset_index(drop=True)
    expected = expected.iloc[np.argsort(expected["frame"].to_numpy(), kind="stable")]
    pd.testing.assert_frame_equal(back, expected.reset_index(drop=True))
    with open(tmp_path / "t.csv") as f:
        assert f.readline().startswith("y,x,mass")       # no units: no comment line


def test_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"napari-streamtrack\[parquet\]"):
        tp.to_parquet(features(), tmp_path / "t.parquet")
    assert not os.listdir(tmp_path)


# ------------------------------------------------------------------ outputs
def test_existing_outputs_and_overwrite(tmp_path):
    traj = features()
    out = tmp_path / "t.geff"
    tp.to_geff(traj, out)
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        tp.to_geff(traj, out)
    tp.to_geff(traj.iloc[:10], out, overwrite=True)
    assert len(tp.from_geff(out)) == 10
    (tmp_path / "data.geff").mkdir()
    (tmp_path / "data.geff" / "mine.txt").write_text("keep me")
    with pytest.raises(IsADirectoryError, match="not a GEFF/zarr group; not replacing"):
        tp.to_geff(traj, tmp_path / "data.geff", overwrite=True)
    assert (tmp_path / "data.geff" / "mine.txt").exists()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tp.to_csv(traj, tmp_path / "no" / "t.csv")
    # a failed export leaves nothing behind (and an existing output as it was)
    (tmp_path / "t.csv").write_text("old")
    with pytest.raises(ValueError, match="no 'frame' column"):
        tp.to_csv(traj.drop(columns="frame"), tmp_path / "t.csv", overwrite=True)
    assert (tmp_path / "t.csv").read_text() == "old"
    assert not [p for p in os.listdir(tmp_path) if "partial" in p]


def test_empty_source_and_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="no features"):
        tp.to_geff(features().iloc[:0], tmp_path / "t.geff")
    assert not os.listdir(tmp_path)
    with pytest.raises(ValueError, match="from its extension"):
        exchange.export(features(), tmp_path / "t.txt")
    with pytest.raises(TypeError, match="expected a store"):
        tp.to_csv([1, 2], tmp_path / "t.csv")


def test_readme_example_runs(tmp_path, monkeypatch):
    """The README's export example, as printed, on a linked chunked store."""
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = re.search(r"### Exchange: GEFF, CSV, Parquet[^\n]*\n\n```python\n(.*?)```", readme,
                      re.S)
    traj = features()
    write_store(tmp_path / "tracks.h5", traj, mpp=0.35, fps=24)
    monkeypatch.chdir(tmp_path)
    scope = {"tp": tp}
    exec(block.group(1), scope)
    pd.testing.assert_frame_equal(scope["t"], traj)
    pd.testing.assert_frame_equal(tp.read_csv(tmp_path / "tracks.csv"), traj)


def test_lineage_with_its_own_tracklet_ids(tmp_path):
    """A lineage GEFF that names its tracklet property: those ids are the particles
    (and the lineage is still flattened, with the warning)."""
    path = str(tmp_path / "lineage.geff")
    lineage_geff(path)
    meta = geff.GeffMetadata.read(path)
    meta.track_node_props = {"tracklet": "area"}            # any node property
    meta.write(path)
    with pytest.warns(UserWarning, match="flattened"):
        table = tp.from_geff(path)
    assert sorted(table["particle"]) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert "area" not in table.columns


def test_text_columns(tmp_path):
    """Text travels through CSV and Parquet ('#' inside a value too); GEFF leaves it
    out with a warning."""
    traj = features()
    traj["note"] = np.where(traj["particle"] % 2 == 0, "even #", "odd")
    tp.to_csv(traj, tmp_path / "t.csv")
    pd.testing.assert_frame_equal(tp.read_csv(tmp_path / "t.csv"), traj)
    tp.to_parquet(traj, tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(tp.read_parquet(tmp_path / "t.parquet"), traj)
    with pytest.warns(UserWarning, match=r"\['note'\] hold text"):
        tp.to_geff(traj, tmp_path / "t.geff")
    pd.testing.assert_frame_equal(tp.from_geff(tmp_path / "t.geff"), traj.drop(columns="note"))


def test_geff_keeps_only_live_particles_in_memory(tmp_path, monkeypatch):
    """A long movie of short trajectories: the edge tracker holds the particles seen
    lately, not every particle ever seen (memory would grow with the movie); one
    that comes back after a long absence is found among the retired ones (on disk,
    removed afterwards): the edges are still those of consecutive observations."""
    monkeypatch.setattr(_geff, "HORIZON", 20)
    n_frames, alive, life = 3 * MIN_BLOCK + 50, 8, 5
    frame = np.repeat(np.arange(n_frames), alive)
    slot = np.tile(np.arange(alive), n_frames)
    particle = (frame // life) * alive + slot              # 8 at a time, 5 frames each
    back = 10**6                                            # seen early and late only
    frame = np.r_[frame, 3, 2 * MIN_BLOCK + 7]
    particle = np.r_[particle, back, back]
    rng = np.random.default_rng(5)
    traj = pd.DataFrame({"y": rng.uniform(0, 100, len(frame)),
                         "x": rng.uniform(0, 100, len(frame)),
                         "mass": rng.uniform(1, 10, len(frame)),
                         "frame": frame, "particle": particle})
    traj = traj.sort_values("frame", kind="stable").reset_index(drop=True)
    path = write_store(tmp_path / "short.h5", traj)
    trackers, live = [], []

    class Tracked(_geff._Edges):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            trackers.append(self)

        def add(self, *args):
            out = super().add(*args)
            live.append(len(self.ids))
            return out

    monkeypatch.setattr(_geff, "_Edges", Tracked)
    out = str(tmp_path / "t.geff")
    with _open(path) as store:
        tp.to_geff(store, out)
    n_particles = traj["particle"].nunique()
    assert len(trackers) == 1 and len(live) == 4
    # the particles of the last HORIZON frames (+ the one not seen again yet), not all
    assert max(live) <= (20 // life + 2) * alive + 1 < n_particles // 10
    assert trackers[0].retired >= n_particles - max(live) and trackers[0].revived == 1
    assert not os.path.exists(os.path.join(out, _geff.SPILL))
    assert sorted(os.listdir(tmp_path)) == ["short.h5", "short.h5.chunks", "t.geff"]
    graph, _ = geff.read(out)
    edges = sorted((u, v, d["frame_gap"]) for u, v, d in graph.edges(data=True))
    assert edges == expected_edges(traj)
    assert (max(gap for *_, gap in edges)) == 2 * MIN_BLOCK + 4
    pd.testing.assert_frame_equal(tp.from_geff(out), traj)


def test_readme_geff_read_listing_is_a_real_run(tmp_path, monkeypatch, capsys):
    """The README's ``geff.read`` listing: the demo exported, read by the reference reader."""
    import re

    from streamtrack.cli import main

    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")).read()
    found = re.search(r"\*\*Opened by another tool's reader\.\*\*.*?```python\n(.*?)```\n\n"
                      r"```\n(.*?)```", readme, re.S)
    code, printed = found.groups()
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "-q", "-o", "demo"]) == 0
    assert main(["export", "demo/demo.h5", "demo/tracks.geff", "-q"]) == 0
    capsys.readouterr()
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out == printed

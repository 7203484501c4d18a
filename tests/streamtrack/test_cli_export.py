"""``streamtrack export STORE OUT``: the format from OUT's extension, one-line errors
before anything is written."""
import os
import re
import subprocess
import sys

import geff
import pandas as pd
import pytest
from test_exchange import features, write_store

import streamtrack as tp
from streamtrack.cli import main


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stores")
    traj = features(n_frames=40)
    return {"linked": write_store(folder / "linked.h5", traj, mpp=0.5, fps=4),
            "unlinked": write_store(folder / "unlinked.h5", traj.drop(columns="particle")),
            "traj": traj}


@pytest.mark.parametrize("name", ["tracks.geff", "tracks.zarr", "tracks.csv",
                                  "tracks.parquet"])
def test_export_each_format(stores, tmp_path, capsys, name):
    out = str(tmp_path / name)
    assert main(["export", stores["linked"], out, "-q"]) == 0
    printed = capsys.readouterr()
    traj = stores["traj"]
    if name.endswith((".geff", ".zarr")):
        n_edges = len(traj) - traj["particle"].nunique()
        assert printed.out == f"{len(traj)} nodes, {n_edges} edges -> {out}\n"
        geff.validate_structure(out)
        back = tp.from_geff(out)
    else:
        assert printed.out == f"{len(traj)} rows -> {out}\n"
        back = tp.read_csv(out) if name.endswith(".csv") else tp.read_parquet(out)
    pd.testing.assert_frame_equal(back, traj)
    assert back.attrs["units"] == {"mpp": 0.5, "fps": 4}
    assert printed.err == ""


def test_unlinked_store_to_geff_warns_in_one_line(stores, tmp_path, capsys):
    out = str(tmp_path / "t.geff")
    assert main(["export", stores["unlinked"], out, "-q"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("streamtrack export: warning: the source has no 'particle' column")
    assert len(err.strip().splitlines()) == 1
    assert geff.GeffMetadata.read(out).track_node_props is None
    # CSV of an unlinked store: no warning
    assert main(["export", stores["unlinked"], str(tmp_path / "t.csv"), "-q"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("output, message", [
    ("tracks.txt", "cannot tell the format of"),
    ("missing/tracks.csv", "the folder .* does not exist"),
])
def test_errors_before_anything_is_written(stores, tmp_path, capsys, output, message):
    assert main(["export", stores["linked"], str(tmp_path / output), "-q"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert re.search(f"streamtrack export: error: {message}", err)
    assert not os.listdir(tmp_path)


def test_missing_store_and_existing_output(stores, tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope.h5"), str(tmp_path / "t.csv"), "-q"]) == 2
    assert "nope.h5 does not exist" in capsys.readouterr().err
    out = tmp_path / "t.geff"
    assert main(["export", stores["linked"], str(out), "-q"]) == 0
    capsys.readouterr()
    assert main(["export", stores["linked"], str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err == f"streamtrack export: error: {out} exists; pass --overwrite to replace it, " \
                  "or choose another path\n"
    assert main(["export", stores["unlinked"], str(out), "-q", "--overwrite"]) == 0
    assert geff.GeffMetadata.read(str(out)).track_node_props is None


def test_parquet_without_pyarrow(stores, tmp_path):
    code = ("import sys; sys.modules['pyarrow'] = None\n"
            "from streamtrack.cli import main\n"
            f"sys.exit(main(['export', {stores['linked']!r}, {str(tmp_path / 't.parquet')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("streamtrack export: error: export: Parquet needs pyarrow: "
                                   "pip install 'napari-streamtrack[parquet]' (or pip install "
                                   "pyarrow)")
    assert not os.listdir(tmp_path)


def test_the_command_shows_progress(stores, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "streamtrack.cli", "export", stores["linked"],
                           str(tmp_path / "t.csv")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "export: 100%" in proc.stderr and "40/40" in proc.stderr

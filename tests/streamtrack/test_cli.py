"""The streamtrack command line: locate, link, track, demo."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import streamtrack as st
from streamtrack.cli import main

trackpy = pytest.importorskip("trackpy")




def test_locate_streams_a_glob_into_a_store(rgba_movie, tmp_path, capsys):
    folder, frames, _ = rgba_movie
    out = tmp_path / "f.h5"
    code = main(["locate", str(folder / "*.png"), "-d", "11", "--channel", "1",
                 "--minmass", "500", "-o", str(out), "-q"])
    assert code == 0
    assert "6 frames" in capsys.readouterr().out
    with st.PandasHDFStore(out, mode="r") as s:
        ours = s.dump()
    expected = st.batch(frames, 11, minmass=500)
    pd.testing.assert_frame_equal(ours.reset_index(drop=True), expected)


def test_locate_errors_are_one_clear_line(rgba_movie, tmp_path, capsys):
    folder, _, _ = rgba_movie
    assert main(["locate", str(tmp_path / "none*.png"), "-d", "11", "-o",
                 str(tmp_path / "x.h5"), "-q"]) == 2
    assert "no files match" in capsys.readouterr().err
    assert main(["locate", str(folder), "-d", "11", "-o", str(tmp_path / "y.h5"), "-q"]) == 2
    assert "channel" in capsys.readouterr().err  # RGBA frames without --channel
    existing = tmp_path / "exists.h5"
    existing.write_bytes(b"keep me")
    assert main(["locate", str(folder), "-d", "11", "--channel", "1", "-o", str(existing),
                 "-q"]) == 2
    assert "--overwrite" in capsys.readouterr().err and existing.read_bytes() == b"keep me"


def test_link_in_place_then_track_in_one_pass(rgba_movie, tmp_path):
    folder, frames, truth = rgba_movie
    store = tmp_path / "l.h5"
    assert main(["locate", str(folder), "-d", "11", "--channel", "1", "--minmass", "500",
                 "-o", str(store), "-q"]) == 0
    assert main(["link", str(store), "-s", "5", "--memory", "2", "-q"]) == 0
    with st.PandasHDFStore(store, mode="r") as s:
        linked = s.dump()
    expected = st.link(st.batch(frames, 11, minmass=500), 5, memory=2)
    assert (linked["particle"].to_numpy() == expected["particle"].to_numpy()).all()
    assert linked["particle"].nunique() == 12
    tracks = tmp_path / "t.h5"
    assert main(["track", str(folder), "-d", "11", "--channel", "1", "--minmass", "500",
                 "-s", "5", "--memory", "2", "-o", str(tracks), "-q", "--store", "big"]) == 0
    with st.PandasHDFStoreBig(tracks, mode="r") as s:
        tracked = s.dump()
    assert (tracked["particle"].to_numpy() == expected["particle"].to_numpy()).all()


def test_link_a_trackpy_single_node_store(tmp_path):
    frames, _ = st.synthetic.brownian_movie(n_particles=8, n_frames=5, seed=1)
    path = tmp_path / "tp.h5"
    with trackpy.PandasHDFStoreSingleNode(str(path)) as s:
        trackpy.batch([np.asarray(f) for f in frames], 11, minmass=500, output=s,
                      processes=1)
    assert main(["link", str(path), "-s", "5", "-q", "--predict", "drift"]) == 0
    with st.PandasHDFStoreSingleNode(path, mode="r") as s:
        linked = s.dump()
    assert len(linked) == 40 and linked["particle"].nunique() == 8


def test_link_refuses_a_file_that_is_not_a_store(tmp_path, capsys):
    other = tmp_path / "other.h5"
    pd.DataFrame({"a": [1]}).to_hdf(other, key="something")
    assert main(["link", str(other), "-s", "3", "-q"]) == 2
    assert "not a framewise store" in capsys.readouterr().err


def test_demo_runs_end_to_end_as_a_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "streamtrack.cli", "demo", "-q",
                             "--n-frames", "20", "-o", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "true trajectories recovered whole" in result.stdout
    assert (tmp_path / "demo.h5").exists()

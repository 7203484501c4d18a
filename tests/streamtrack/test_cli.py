"""The streamtrack command line: locate, link, track, demo."""
import re
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
    # 20 frames of 40 particles: D is printed, but too few steps to hold it to 10%
    assert "Diffusion: D = " in result.stdout and "not checked" in result.stdout


NUMBER = r"([-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?)"


def demo_numbers(out):
    """The truth and what the demo recovered, from its printed lines."""
    truth = re.search(rf"Truth: D = {NUMBER} px²/frame = {NUMBER} µm²/s \(at {NUMBER} µm/px, "
                      rf"{NUMBER} frames/s\), constant drift \({NUMBER}, {NUMBER}\) px/frame", out)
    drift = re.search(rf"Drift: \({NUMBER}, {NUMBER}\) px/frame recovered \(true \({NUMBER}, "
                      rf"{NUMBER}\), tolerance ±{NUMBER}", out)
    diffusion = re.search(rf"Diffusion: D = {NUMBER} µm²/s recovered \(true {NUMBER}, "
                          rf"{NUMBER}%\), exponent n = {NUMBER}", out)
    assert truth and drift and diffusion, out
    return {"truth": [float(v) for v in truth.groups()],
            "drift": [float(v) for v in drift.groups()],
            "diffusion": [float(v) for v in diffusion.groups()]}


@pytest.mark.parametrize("options, mpp, fps, diffusion, drift", [
    ([], 0.5, 4, 0.25, (0.1, 0.15)),  # the defaults
    (["--seed", "3", "--diffusion", "0.4", "--drift", "-0.2", "0.05", "--mpp", "0.2",
      "--fps", "2"], 0.2, 2, 0.4, (-0.2, 0.05)),
])
def test_demo_recovers_diffusion_and_drift(tmp_path, capsys, options, mpp, fps, diffusion,
                                           drift):
    assert main(["demo", "-q", "-o", str(tmp_path), *options]) == 0
    out = capsys.readouterr().out
    assert "Result: OK" in out
    numbers = demo_numbers(out)
    true_d = diffusion * mpp ** 2 * fps  # um^2/s
    assert numbers["truth"] == pytest.approx([diffusion, true_d, mpp, fps, *drift], rel=1e-3)
    # D within 10% of the truth (the fit's standard error is about 3% here)
    d, printed_true_d, percent, exponent = numbers["diffusion"]
    assert printed_true_d == pytest.approx(true_d, rel=1e-3)
    assert abs(d / true_d - 1) <= 0.1
    # (D printed to 3 significant digits: up to 0.5% off)
    assert percent == pytest.approx(100 * (d / true_d - 1), abs=0.6)
    assert 0.9 < exponent < 1.1
    # the drift per frame to within 4 standard errors of the mean of 40 x 99 steps
    tolerance = 4 * np.sqrt(2 * diffusion / (40 * 99))
    assert numbers["drift"][4] == pytest.approx(tolerance, abs=1e-3)
    np.testing.assert_allclose(numbers["drift"][:2], drift, rtol=0, atol=tolerance)
    np.testing.assert_allclose(numbers["drift"][2:4], drift)
    # the units are recorded in the store, for any later analysis of it
    with st.PandasHDFStore(tmp_path / "demo.h5", mode="r") as store:
        assert st.workflow.units(store) == {"mpp": mpp, "fps": fps}


@pytest.mark.parametrize("wrong", ["diffusion", "drift"])
def test_demo_fails_when_the_movie_is_not_what_it_says(tmp_path, capsys, monkeypatch, wrong):
    # a movie with twice the diffusion coefficient, or without the drift, that the
    # demo's truth announces: the recovered values give it away
    real = st.synthetic.brownian_movie

    def other_movie(*args, **kwargs):
        if wrong == "diffusion":
            kwargs["diffusion"] *= 2
        else:
            kwargs["drift"] = (0.0, 0.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(st.synthetic, "brownian_movie", other_movie)
    assert main(["demo", "-q", "-o", str(tmp_path), "--n-frames", "40", "--n-particles",
                 "70"]) == 1
    out = capsys.readouterr().out
    assert "Result: WORSE THAN EXPECTED" in out
    assert "true trajectories recovered whole" in out  # detection and linking went well
    d, true_d, _, _ = demo_numbers(out)["diffusion"]
    if wrong == "diffusion":
        assert d / true_d > 1.5
    else:
        assert np.abs(demo_numbers(out)["drift"][:2]).max() < 0.05

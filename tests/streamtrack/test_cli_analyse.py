"""``streamtrack analyse``: the printed report, the files written, the errors."""
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import streamtrack as tp
from streamtrack import analysis as an
from streamtrack import workflow
from streamtrack.cli import main

MPP, FPS = 0.5, 4.0


def write_store(path, traj, mpp=None, fps=None, chunk_size=50):
    with tp.PandasHDFStoreChunked(str(path), chunk_size=chunk_size) as store:
        for _, frame in traj.groupby("frame"):
            store.put(frame.reset_index(drop=True))
        if mpp is not None or fps is not None:
            workflow.save_units(store, mpp=mpp, fps=fps)
    return str(path)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """A linked store with units (60 walks, 30 of them cut to 10 frames), one without."""
    folder = tmp_path_factory.mktemp("stores")
    traj = tp.synthetic.brownian_trajectories(60, 200, shape=(400, 400), diffusion=0.5,
                                              drift=(0.1, 0.05), seed=3)
    traj = traj[(traj["particle"] >= 30) | (traj["frame"] < 10)]
    return (write_store(folder / "units.h5", traj, MPP, FPS),
            write_store(folder / "plain.h5", traj), traj)


NUMBER = r"([-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?)"


def test_report_and_files(stores, tmp_path, capsys):
    store, _, traj = stores
    out = tmp_path / "analysis"
    assert main(["analyse", store, "--max-lagtime", "10", "-o", str(out), "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Store: 200 frames (0-199); units 0.5 µm/px, 4 frames/s."
    assert lines[1] == "Trajectories: 60 in the store, 30 with 25 positions or more."
    drift = re.fullmatch(rf"Drift: y {NUMBER} µm, x {NUMBER} µm over frames 0-199 "
                         rf"\(49.75 s; {NUMBER}, {NUMBER} µm/s\), subtracted\.", lines[2])
    assert drift, lines[2]
    # truth: 199 frames x (0.1, 0.05) px x 0.5 µm/px; the mean of 30 walks is within ~1.3 µm
    assert abs(float(drift[1]) - 9.95) < 2 and abs(float(drift[2]) - 4.975) < 2
    assert lines[3] == ("Ensemble MSD: lag times 0.25-2.5 s (10 lags), 30 trajectories, "
                        "drift subtracted.")
    fit = re.fullmatch(rf"Power-law fit MSD = A t\^n: n = {NUMBER}, A = {NUMBER} µm²/s\^n\.",
                       lines[4])
    assert fit, lines[4]
    d = re.fullmatch(rf"Diffusion: D = A/4 = {NUMBER} µm²/s \(2 dimensions, n within 0.1 "
                     r"of 1\)\.", lines[5])
    assert d, lines[5]
    assert float(d[1]) == pytest.approx(float(fit[2]) / 4, rel=1e-3)
    assert float(d[1]) == pytest.approx(0.5 * MPP ** 2 * FPS, rel=0.1)  # 0.5 µm²/s
    assert lines[6] == (f"Wrote {', '.join(an.OUTPUTS)} to {out}")
    assert len(lines) == 7

    emsd = pd.read_csv(out / "emsd.csv")
    assert emsd.columns.tolist() == ["frame", "<x>", "<y>", "<x^2>", "<y^2>", "msd", "N",
                                     "lagt"]
    assert emsd["frame"].tolist() == list(range(1, 11))
    imsd = pd.read_csv(out / "imsd.csv", index_col=0)
    assert imsd.index.name == "lag time [s]" and imsd.shape == (10, 30)
    assert sorted(int(c) for c in imsd.columns) == list(range(30, 60))
    drift_table = pd.read_csv(out / "drift.csv")
    assert drift_table.columns.tolist() == ["frame", "y", "x"]
    np.testing.assert_allclose(drift_table[["y", "x"]].iloc[-1], [float(drift[1]) / MPP,
                                                                  float(drift[2]) / MPP],
                               rtol=5e-3)
    lengths = pd.read_csv(out / "track_lengths.csv", index_col="particle")
    assert lengths.columns.tolist() == ["length", "first", "last", "kept"]
    assert (lengths["length"] == traj.groupby("particle").size()).all()
    assert lengths["kept"].sum() == 30
    for name in ("msd.png", "drift.png", "track_lengths.png"):
        assert (out / name).stat().st_size > 15000

    # a second run into the folder: refused, then replaced with --overwrite
    assert main(["analyse", store, "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("streamtrack analyse: error: ") and "--overwrite" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["analyse", store, "-o", str(out), "-q", "--overwrite", "--no-drift",
                 "--min-length", "5", "--max-lagtime", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "Trajectories: 60 in the store, 60 with 5 positions or more."
    assert lines[2].endswith("not subtracted.") and "drift not subtracted" in lines[3]
    assert pd.read_csv(out / "emsd.csv")["frame"].tolist() == [1, 2, 3]


def test_units_on_the_command_line(stores, tmp_path, capsys):
    store, plain, _ = stores
    assert main(["analyse", plain, "-o", str(tmp_path / "a"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("streamtrack analyse: error: mpp and fps unknown")
    assert "--mpp MPP --fps FPS" in err and "save_units" in err and "\n" not in err
    assert main(["analyse", plain, "--mpp", "0.5", "-o", str(tmp_path / "b"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "fps unknown" in err and "--fps FPS" in err and "--mpp MPP" not in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert main(["analyse", plain, "--mpp", "1", "--fps", "2", "--max-lagtime", "4",
                 "-o", str(tmp_path / "c"), "-q"]) == 0
    assert "units 1 µm/px, 2 frames/s" in capsys.readouterr().out
    # the arguments win over the store's record
    assert main(["analyse", store, "--fps", "8", "--max-lagtime", "4",
                 "-o", str(tmp_path / "d"), "-q"]) == 0
    assert "units 0.5 µm/px, 8 frames/s" in capsys.readouterr().out


def test_no_trajectory_long_enough(stores, tmp_path, capsys):
    store, _, _ = stores
    out = tmp_path / "none"
    assert main(["analyse", store, "--min-length", "500", "-o", str(out), "-q"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[1] == "Trajectories: 60 in the store, 0 with 500 positions or more."
    assert "Warning: no trajectory has 500 positions or more (the longest has 200)" in \
        captured.out
    assert "Power-law fit: none" in captured.out
    assert "UserWarning" not in captured.err  # the report says it, once
    assert pd.read_csv(out / "emsd.csv").columns.tolist()[-3:] == ["msd", "N", "lagt"]
    assert len(pd.read_csv(out / "emsd.csv")) == 0
    assert pd.read_csv(out / "drift.csv").columns.tolist() == ["frame", "y", "x"]
    assert all((out / name).exists() for name in an.OUTPUTS)


@pytest.mark.parametrize("options, message", [
    (["--max-lagtime", "0"], "argument --max-lagtime: expected a number of frames >= 1"),
    (["--min-length", "-1"], "argument --min-length: expected a number of positions >= 0"),
    (["--mpp", "-2"], "argument --mpp: expected a positive number"),
    ([], "the following arguments are required: -o/--output"),
])
def test_usage_errors(stores, options, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["analyse", stores[0], *options] + ([] if not options else ["-o", "x"]))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_bad_stores_and_outputs(stores, tmp_path, capsys):
    def error(*argv):
        assert main(["analyse", *argv, "-q"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("streamtrack analyse: error: ") and "\n" not in err
        return err

    unlinked = tmp_path / "unlinked.h5"
    with tp.PandasHDFStoreChunked(str(unlinked)) as s:
        s.put(pd.DataFrame({"frame": [0, 0], "y": [1.0, 2.0], "x": [3.0, 4.0]}))
        workflow.save_units(s, mpp=1, fps=1)
    assert "link it first (streamtrack link STORE" in error(str(unlinked), "-o",
                                                             str(tmp_path / "u"))
    empty = tmp_path / "empty.h5"
    with tp.PandasHDFStoreChunked(str(empty)) as s:
        workflow.save_units(s, mpp=1, fps=1)
    assert "no features" in error(str(empty), "-o", str(tmp_path / "e"))
    assert "no such file" in error(str(tmp_path / "missing.h5"), "-o", str(tmp_path / "m"))
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me")
    assert "is a file" in error(stores[0], "-o", str(a_file))
    assert a_file.read_text() == "keep me"
    for name in ("u", "e", "m"):
        assert not (tmp_path / name).exists()


def test_the_command_shows_progress(stores, tmp_path):
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "streamtrack.cli", "analyse", stores[0],
                             "--max-lagtime", "5", "-o", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Diffusion: D = A/4 = " in result.stdout
    assert "scan: 100%" in result.stderr and "measure: 100%" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(an.OUTPUTS)


def test_readme_output_is_what_the_demo_gives(tmp_path, capsys):
    """The README's `streamtrack demo -o demo && streamtrack analyse ...` listing
    is this run's output (the lines after the demo's tracking lines)."""
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    listing = re.search(r"\$ streamtrack demo -o demo && streamtrack analyse demo/demo.h5 "
                        r"-o demo/analysis\n(.*?)```", readme, re.S).group(1)
    assert main(["demo", "-q", "-o", str(tmp_path / "demo")]) == 0
    assert main(["analyse", "-q", str(tmp_path / "demo" / "demo.h5"), "-o",
                 str(tmp_path / "demo" / "analysis")]) == 0
    printed = capsys.readouterr().out.replace(str(tmp_path) + "/", "")
    shown = [line for line in listing.splitlines() if line != "..."]
    lines = printed.splitlines()
    for line in shown:
        if line.startswith("Locating") or line.startswith("Done in"):
            continue
        assert line in lines, line

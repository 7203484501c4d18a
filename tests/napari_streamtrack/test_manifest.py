"""The npe2 manifest: valid, importable, shipped in the wheel, the symlink in place."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "src" / "napari_streamtrack" / "napari.yaml"


def test_top_level_manifest_is_a_relative_symlink():
    link = ROOT / "napari.yaml"
    assert link.is_symlink()
    assert not os.path.isabs(os.readlink(link))
    assert link.resolve() == MANIFEST.resolve()


def test_npe2_validate_with_imports():
    npe2 = Path(sys.executable).with_name("npe2")
    result = subprocess.run([str(npe2), "validate", "napari-streamtrack", "--imports"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def test_manifest_commands_resolve_and_name_matches_distribution():
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert manifest["name"] == "napari-streamtrack"
    ids = {c["id"] for c in manifest["contributions"]["commands"]}
    assert all(i.startswith("napari-streamtrack.") for i in ids)
    used = [w["command"] for w in manifest["contributions"]["widgets"]]
    used += [r["command"] for r in manifest["contributions"]["readers"]]
    used += [w["command"] for w in manifest["contributions"]["writers"]]
    used += [s["command"] for s in manifest["contributions"]["sample_data"]]
    assert set(used) <= ids


def test_built_wheel_contains_the_manifest(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                             "-w", str(tmp_path), str(ROOT)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    wheel, = tmp_path.glob("napari_streamtrack-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "napari_streamtrack/napari.yaml" in names
        shipped = yaml.safe_load(archive.read("napari_streamtrack/napari.yaml"))
        entry_points = archive.read(next(n for n in names
                                         if n.endswith("entry_points.txt"))).decode()
    assert shipped == yaml.safe_load(MANIFEST.read_text())
    assert "[napari.manifest]" in entry_points
    assert "napari-streamtrack = napari_streamtrack:napari.yaml" in entry_points

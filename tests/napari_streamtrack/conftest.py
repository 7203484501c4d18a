"""Shared fixtures of the plugin tests: a private settings folder, a small movie."""
import pytest


@pytest.fixture(autouse=True)
def _private_settings(tmp_path, monkeypatch):
    # widgets remember their parameters; never read or write the user's files
    monkeypatch.setenv("NAPARI_STREAMTRACK_CONFIG_DIR", str(tmp_path / "settings"))

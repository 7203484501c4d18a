"""Remember each widget's last used parameters between napari sessions.

One small JSON file per widget in the user's config directory
(``platformdirs``, which napari already depends on), or in
``$NAPARI_STREAMTRACK_CONFIG_DIR`` when set (tests use a temporary folder).
A missing, unreadable or stale file just means defaults: remembering is a
convenience and must never stop a widget from opening.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

ENV_VAR = "NAPARI_STREAMTRACK_CONFIG_DIR"


def config_dir() -> Path:
    """The folder the parameter files live in."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("napari-streamtrack", appauthor=False))


def load(name: str, defaults: dict) -> dict:
    """``defaults`` updated with the saved values of the same keys and types."""
    values = dict(defaults)
    try:
        saved = json.loads((config_dir() / f"{name}.json").read_text())
    except (OSError, ValueError):
        return values
    if not isinstance(saved, dict):
        return values
    for key, default in defaults.items():
        value = saved.get(key)
        # a saved value of another type (an older version's setting) is ignored
        if value is not None and (default is None or isinstance(value, type(default))
                                  or (isinstance(default, float) and isinstance(value, int))):
            values[key] = value
    return values


def save(name: str, values: dict) -> None:
    """Write ``values`` (JSON-serialisable) for ``name``; errors are ignored."""
    try:
        folder = config_dir()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.json.tmp"
        tmp.write_text(json.dumps(values, indent=1, sort_keys=True))
        os.replace(tmp, folder / f"{name}.json")  # never a half-written file
    except (OSError, TypeError, ValueError):
        pass

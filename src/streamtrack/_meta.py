"""The YAML record that ``batch(meta=...)`` writes (trackpy's format).

A tiny emitter for the flat mapping of scalars and tuples that batch records,
so the core needs no YAML library; the output loads with ``yaml.safe_load``.
"""
import json
import numbers

import numpy as np


def _scalar(value):
    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if value != value:
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    # JSON strings are valid YAML double-quoted scalars
    return json.dumps(str(value))


def to_yaml(mapping):
    """Block-style YAML for a flat mapping (keys sorted, as ``yaml.dump`` does)."""
    lines = []
    for key in sorted(mapping):
        value = mapping[key]
        if isinstance(value, (list, tuple, np.ndarray)):
            lines.append(f"{key}:")
            lines.extend(f"- {_scalar(v)}" for v in value)
        else:
            lines.append(f"{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"


def write_meta(info, meta):
    """Write ``info`` as YAML to ``meta``: a path, or an open text file."""
    text = to_yaml(info)
    if isinstance(meta, (str, bytes)) or hasattr(meta, "__fspath__"):
        with open(meta, "w", encoding="utf-8") as handle:
            handle.write(text)
    elif hasattr(meta, "write"):
        meta.write(text)
    else:
        raise TypeError("meta must be a file path or an open text file, got "
                        f"{type(meta).__name__}.")

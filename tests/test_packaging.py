"""Packaging: the core, the command line and the plugin's package import without napari
or Qt, and pyproject.toml declares every third-party package that src/ imports (and
nothing that it does not)."""
import ast
import os
import re
import subprocess
import sys
import textwrap

import pytest
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

# what napari brings: none of it may be needed by the core, the CLI or `import napari_streamtrack`
REFUSED = ("napari", "magicgui", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "vispy",
           "superqt")

# import name -> distribution name, where they differ (other than by case, '-' or '_')
DISTRIBUTION = {"PIL": "pillow", "yaml": "pyyaml", "sklearn": "scikit-learn",
                "skimage": "scikit-image", "pytestqt": "pytest-qt"}
# distributions that a requirement's extra brings: dask[distributed] -> distributed
EXTRA_BRINGS = {("dask", "distributed"): {"distributed"}}
PROJECT = "napari-streamtrack"

CHILD = """
import importlib.abc, sys

REFUSED = set(sys.argv[1].split(','))
attempts = []

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in REFUSED:
            attempts.append(name)
            raise ModuleNotFoundError(f'No module named {name!r} (refused by the test)',
                                      name=name)
        return None

sys.meta_path.insert(0, Refuse())

import streamtrack
from streamtrack import cli
rc = cli.main(['demo', '--n-frames', '5', '--n-particles', '5', '--size', '64',
               '-o', sys.argv[2], '-q'])
assert rc in (0, None), f'streamtrack demo returned {rc}'
import napari_streamtrack
assert napari_streamtrack.__version__ == streamtrack.__version__
loaded = sorted(m for m in sys.modules if m.split('.')[0] in REFUSED)
assert not loaded, loaded
assert not attempts, f'tried to import {attempts}'
print('CHILD OK')
"""


def test_core_cli_and_plugin_package_need_no_napari_or_qt(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_API", "PYTHONPATH")}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), ",".join(REFUSED),
                           str(tmp_path)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0 and "CHILD OK" in proc.stdout, (
        f"exit code {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    assert (tmp_path / "demo.h5").exists()


# --- declared dependencies ----------------------------------------------------------


def _normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _distribution(module):
    return _normal(DISTRIBUTION.get(module, module))


@pytest.fixture(scope="module")
def project(source_tree):
    with open(source_tree.repo / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _provided(requirements, extras_table, seen=()):
    """``{distribution: requirement text}`` that ``requirements`` install (directly, or
    through an extra of ours or a known extra of theirs)."""
    out = {}
    for text in requirements:
        req = Requirement(text)
        name = _normal(req.name)
        if name == PROJECT:
            for extra in sorted(req.extras):
                if extra not in seen:
                    out.update(_provided(extras_table[extra], extras_table,
                                         (*seen, extra)))
            continue
        out[name] = text
        for extra in req.extras:
            for dist in EXTRA_BRINGS.get((name, extra), ()):
                out[dist] = text
    return out


def _describe(refs):
    return ", ".join(sorted({r.where + (" (in a function)" if r.lazy else "")
                             for r in refs}))


def test_core_imports_are_declared(source_tree, project):
    """An import the core runs when imported needs a core dependency; one inside a
    function (an optional feature) may instead be in an optional extra other than
    ``napari`` and ``testing`` (``distributed``, ``sklearn``)."""
    extras = project["optional-dependencies"]
    core = _provided(project["dependencies"], extras)
    optional = _provided([r for e, reqs in extras.items() if e not in ("napari", "testing")
                          for r in reqs], extras)
    missing = []
    for module, refs in sorted(source_tree.third_party("streamtrack").items()):
        dist = _distribution(module)
        if dist in core:
            continue
        eager = [r for r in refs if not r.lazy and not r.type_checking]
        if dist in optional and not eager:
            continue
        why = ("is imported when streamtrack is (not in a function), so it must be a "
               "core dependency" if dist in optional else "is declared nowhere")
        missing.append(f"  {module} ({dist}) {why}: {_describe(eager or refs)}")
    assert not missing, ("src/streamtrack imports packages pyproject.toml does not declare "
                         "as it should:\n" + "\n".join(missing))


def test_plugin_imports_are_declared(source_tree, project):
    extras = project["optional-dependencies"]
    declared = _provided(project["dependencies"] + extras["napari"], extras)
    missing = [f"  {module} ({_distribution(module)}): {_describe(refs)}"
               for module, refs in sorted(source_tree.third_party("napari_streamtrack").items())
               if _distribution(module) not in declared]
    assert not missing, ("src/napari_streamtrack imports packages that are neither core "
                         "dependencies nor in the 'napari' extra:\n" + "\n".join(missing))


def test_declared_dependencies_are_used(source_tree, project):
    """Every core dependency and every requirement of the napari, distributed, ...
    extras (not ``testing``) is imported somewhere in src/."""
    imported = {_distribution(m) for package in source_tree.first_party
                for m in source_tree.third_party(package)}
    extras = project["optional-dependencies"]
    unused = []
    for where, requirements in [("dependencies", project["dependencies"])] + [
            (f"[{e}]", reqs) for e, reqs in extras.items() if e != "testing"]:
        for text in requirements:
            req = Requirement(text)
            name = _normal(req.name)
            brought = {name} | {d for x in req.extras for d in EXTRA_BRINGS.get((name, x), ())}
            if name != PROJECT and not brought & imported:
                unused.append(f"  {where}: {text}")
    assert not unused, "declared in pyproject.toml but imported nowhere in src/:\n" + "\n".join(
        unused)


def test_test_imports_are_declared(source_tree, project):
    """What tests/ imports is installed by ``pip install -e '.[testing]'``."""
    extras = project["optional-dependencies"]
    declared = _provided(project["dependencies"] + extras["testing"], extras)
    tests = source_tree.repo / "tests"
    local = {p.stem for p in tests.rglob("*.py")}
    missing = {}
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if (top in sys.stdlib_module_names or top in source_tree.first_party
                        or top in local or _distribution(top) in declared):
                    continue
                missing.setdefault(top, []).append(
                    f"{path.relative_to(source_tree.repo)}:{node.lineno}")
    assert not missing, ("tests/ imports packages that neither the dependencies nor the "
                         "'testing' extra install:\n"
                         + "\n".join(f"  {m}: {', '.join(w)}" for m, w in missing.items()))


def test_ci_runs_the_readme_test_command(source_tree):
    """.ci/run's last line is the README's test command, character for character."""
    repo = source_tree.repo
    ci = (repo / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    readme = (repo / "README.md").read_text(encoding="utf-8").splitlines()
    assert ci in readme, f".ci/run runs a command that is not in README.md:\n{ci}"
    assert "'.[testing]'" in ci and "pytest" in ci

"""Test-wide setup: keep trackpy's and streamtrack's per-frame logging quiet; the
``source_tree`` fixture (an AST scan of every import in ``src/``) for the packaging
and architecture tests."""
import ast
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
FIRST_PARTY = ("streamtrack", "napari_streamtrack")

# One Qt binding for napari (qtpy) and pytest-qt alike: PyQt6, the 'testing' extra's,
# when installed (a venv made before the move from PyQt5 may hold both; qtpy would then
# pick PyQt5 and pytest-qt PyQt6). Set here, before either imports Qt.
if "QT_API" not in os.environ and importlib.util.find_spec("PyQt6") is not None:
    os.environ["QT_API"] = "pyqt6"
if os.environ.get("QT_API", "").lower() in ("pyqt5", "pyqt6", "pyside6"):
    os.environ.setdefault("PYTEST_QT_API", os.environ["QT_API"].lower())


@pytest.fixture(autouse=True, scope="session")
def _quiet_logging():
    try:
        import trackpy
        trackpy.quiet()
    except ImportError:
        pass
    import streamtrack
    streamtrack.quiet()
    yield


# --- the import scan --------------------------------------------------------------


@dataclass(frozen=True)
class ImportRef:
    """One import in a source file, its target resolved to an absolute dotted name."""
    module: str  # the importing module, e.g. 'streamtrack.cli'
    path: Path
    lineno: int
    target: str  # 'numpy.linalg', 'streamtrack.stores' ('from . import x' -> the package)
    names: tuple = ()  # the names of a from-import ('*' for a star import)
    lazy: bool = False  # inside a function body: runs when the function is called
    type_checking: bool = False  # under 'if TYPE_CHECKING:': never runs

    @property
    def top(self):
        return self.target.split(".")[0]

    @property
    def where(self):
        return f"{self.path.relative_to(REPO)}:{self.lineno}"


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    imports: list = field(default_factory=list)
    bound: set = field(default_factory=set)  # names bound at module level
    dynamic: int = 0  # line of a call of import_module/__import__ with a computed name
    strings: set = field(default_factory=set)  # every string constant in the file

    @property
    def package(self):
        return self.name if self.is_package else self.name.rpartition(".")[0]


def _resolve(package, name, level):
    """``name`` imported with ``level`` leading dots from a module of ``package``."""
    if level == 0:
        return name
    parts = package.split(".")
    if level > 1:
        parts = parts[:len(parts) - (level - 1)]
    return ".".join(parts + ([name] if name else []))


def _is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
            or isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _literal_import_call(node, module):
    """The absolute name an ``import_module('...')``/``__import__('...')`` call with a
    literal name imports; '' for a computed name; None if the call is neither."""
    func = node.func
    fname = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if fname not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return ""
    name = first.value
    level = len(name) - len(name.lstrip("."))
    if fname == "__import__" or level == 0:
        return name.lstrip(".")
    anchor = node.args[1] if len(node.args) > 1 else next(
        (k.value for k in node.keywords if k.arg == "package"), None)
    if isinstance(anchor, ast.Name) and anchor.id == "__name__":
        anchor = module.name
    elif isinstance(anchor, ast.Name) and anchor.id == "__package__":
        anchor = module.package
    elif isinstance(anchor, ast.Constant) and isinstance(anchor.value, str):
        anchor = anchor.value
    else:
        return ""
    # importlib: '.x' relative to package 'a.b' is 'a.b.x', '..x' is 'a.x'
    return _resolve(anchor, name[level:], level)


def _scan(module, tree):
    def visit(node, lazy, tc):
        if isinstance(node, ast.Import):
            for alias in node.names:
                module.imports.append(ImportRef(module.name, module.path, node.lineno,
                                                alias.name, (), lazy, tc))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module.package, node.module, node.level)
            module.imports.append(ImportRef(module.name, module.path, node.lineno, target,
                                            tuple(a.name for a in node.names), lazy, tc))
        elif isinstance(node, ast.Call):
            target = _literal_import_call(node, module)
            if target:
                module.imports.append(ImportRef(module.name, module.path, node.lineno,
                                                target, (), lazy, tc))
            elif target == "":
                module.dynamic = module.dynamic or node.lineno
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            module.strings.add(node.value)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            visit(node.test, lazy, tc)
            for child in node.body:
                visit(child, lazy, True)
            for child in node.orelse:
                visit(child, lazy, tc)
            return
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner, tc)

    visit(tree, False, False)

    def bind(node):  # module-level bindings (not inside functions or classes)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            module.bound.add(node.name)
            return
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            module.bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                module.bound.add(alias.asname or alias.name.split(".")[0])
        for child in ast.iter_child_nodes(node):
            bind(child)

    bind(tree)


class SourceTree:
    """Every module of ``src/`` and every import in it (at any depth)."""

    repo = REPO
    first_party = FIRST_PARTY

    def __init__(self, root=SRC):
        self.root = root
        self.modules = {}
        for package in FIRST_PARTY:
            for path in sorted((root / package).rglob("*.py")):
                parts = list(path.relative_to(root).with_suffix("").parts)
                is_package = parts[-1] == "__init__"
                if is_package:
                    parts.pop()
                module = Module(".".join(parts), path, is_package)
                _scan(module, ast.parse(path.read_text(encoding="utf-8"), str(path)))
                self.modules[module.name] = module

    def in_package(self, package):
        return [m for name, m in self.modules.items()
                if name == package or name.startswith(package + ".")]

    def third_party(self, package):
        """``{top-level module: [ImportRef, ...]}`` of the third-party imports of ``package``."""
        found = {}
        for module in self.in_package(package):
            for ref in module.imports:
                if ref.top in FIRST_PARTY or ref.top in sys.stdlib_module_names:
                    continue
                found.setdefault(ref.top, []).append(ref)
        return found

    def edges(self, include_type_checking=False):
        """``{module: {imported module: [ImportRef, ...]}}`` among the modules of ``src/``.

        ``from pkg import name`` is an edge to the submodule ``pkg.name`` when there is
        one, else to ``pkg`` (its ``__init__``: the name is defined there, or served by
        its ``__getattr__``); ``import a.b.c`` is an edge to ``a.b.c``. Importing a
        submodule runs the ``__init__`` of its parent packages too, but that alone is
        no edge. A module that imports computed names (``import_module(prefix +
        name)``) is taken to import each module of its package that one of its string
        constants names (a lazy ``__getattr__`` re-export table)."""
        graph = {name: {} for name in self.modules}
        for module in self.modules.values():
            out = graph[module.name]
            for ref in module.imports:
                if ref.type_checking and not include_type_checking:
                    continue
                if ref.target not in self.modules:
                    continue
                targets = []
                for name in ref.names or ("",):
                    sub = f"{ref.target}.{name}"
                    targets.append(sub if name and sub in self.modules else ref.target)
                for target in targets:
                    if target != module.name:
                        out.setdefault(target, []).append(ref)
            if module.dynamic:
                for text in module.strings:
                    target = f"{module.package}.{text.lstrip('.')}"
                    if target in self.modules and target != module.name:
                        out.setdefault(target, []).append(
                            ImportRef(module.name, module.path, module.dynamic, target, (), True))
        return graph


@pytest.fixture(scope="session")
def source_tree():
    return SourceTree()

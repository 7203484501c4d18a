"""Architecture rules, checked on the source (``source_tree``: tests/conftest.py).

- no import cycles among the modules of ``streamtrack`` nor among those of
  ``napari_streamtrack`` (every import statement at any depth, lazy ones in
  functions included; only ``if TYPE_CHECKING:`` imports, which never run, are left
  out);
- the core imports nothing of napari or Qt, nor the plugin, anywhere;
- no private napari/pandas APIs anywhere in ``src/``.
"""
import ast
import re

import pytest

FIRST_PARTY = ("streamtrack", "napari_streamtrack")

# a module whose top-level name is one of these, or starts with 'napari', is GUI-side
GUI_MODULES = {"magicgui", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "superqt",
               "vispy", "app_model", "npe2", "pytestqt", "matplotlib"}

PRIVATE_APIS = ("._handle", "_type_string", "_relay_warning", "_relay_error")


def _strongly_connected(graph):
    """Tarjan's strongly connected components of ``{node: iterable of nodes}``."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []

    def connect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def _shortest_cycle(graph, start, members):
    """A shortest path start -> ... -> start inside ``members``."""
    parents, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for node in frontier:
            for succ in sorted(graph[node]):
                if succ not in members:
                    continue
                if succ == start:
                    path = [node]
                    while parents[path[-1]] is not None:
                        path.append(parents[path[-1]])
                    return [start] + path[::-1][1:] + [start]
                if succ not in parents:
                    parents[succ] = node
                    nxt.append(succ)
        frontier = nxt
    return [start, start]


def _describe_cycle(graph, cycle):
    lines = ["  " + " -> ".join(cycle)]
    for a, b in zip(cycle, cycle[1:]):
        refs = graph[a][b]
        where = ", ".join(sorted({r.where + (" (in a function)" if r.lazy else "")
                                  for r in refs}))
        lines.append(f"      {a} -> {b}: {where}")
    return "\n".join(lines)


@pytest.mark.parametrize("package", FIRST_PARTY)
def test_no_import_cycles(source_tree, package):
    graph = source_tree.edges()
    ours = {name for name in graph if name == package or name.startswith(package + ".")}
    cycles = []
    for component in _strongly_connected(graph):
        members = set(component)
        if len(component) < 2 or not members & ours:
            continue
        start = min(members & ours)
        cycle = _shortest_cycle(graph, start, members)
        cycles.append(f"{len(component)} modules in a cycle: {', '.join(sorted(members))}\n"
                      f"  for example:\n" + _describe_cycle(graph, cycle))
    assert not cycles, (f"import cycles among the modules of {package}:\n"
                        + "\n".join(cycles))


def test_core_imports_no_gui(source_tree):
    """No napari, Qt or plugin import in the core; matplotlib only inside the
    functions that draw a plot (trackpy's plots, ``fit_powerlaw(plot=True)``)."""
    bad = []
    for module in source_tree.in_package("streamtrack"):
        for ref in module.imports:
            if ref.top == "matplotlib" and ref.lazy:
                continue  # imported when a plot is asked for
            if (ref.top in GUI_MODULES or ref.top.startswith("napari")
                    or ref.top == "napari_streamtrack"):
                bad.append(f"  {ref.where}: {ref.target}")
    assert not bad, "the core (src/streamtrack) imports napari/Qt/GUI modules:\n" + "\n".join(bad)


def test_no_private_napari_or_pandas_api(source_tree):
    """napari's ``_type_string``, ``_relay_warning``, ``_relay_error`` nowhere in the text
    of ``src/``; pandas' ``HDFStore._handle`` nowhere read: ``._handle`` on anything but
    ``self``/``cls`` (our own classes' ``self._handle`` and ``self._handles`` are ours)."""
    pattern = re.compile("|".join(re.escape(s) for s in PRIVATE_APIS if s != "._handle"))
    hits = []
    for path in sorted(source_tree.root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        found = {lineno for lineno, line in enumerate(lines, 1) if pattern.search(line)}
        for node in ast.walk(ast.parse(text, str(path))):
            if (isinstance(node, ast.Attribute) and node.attr == "_handle"
                    and not (isinstance(node.value, ast.Name)
                             and node.value.id in ("self", "cls"))
                    or isinstance(node, ast.Constant) and node.value == "_handle"):
                found.add(node.lineno)
        hits += [f"  {path.relative_to(source_tree.repo)}:{lineno}: {lines[lineno - 1].strip()}"
                 for lineno in sorted(found)]
    assert not hits, ("private napari/pandas APIs used in src/ ("
                      + ", ".join(PRIVATE_APIS) + "):\n" + "\n".join(hits))

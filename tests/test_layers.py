"""The import graph reads as the architecture (issue 25): ``data/`` imports nothing of the plugin
machinery, not even inside a function, and the core's modules import each other in no circle."""

from __future__ import annotations

import ast
from pathlib import Path

import gancore

CORE = Path(gancore.__file__).parent
#: The plugin machinery: what ``data/`` is handed the results of, never imports.
MACHINERY = ("gancore.plugins", "gancore.installed", "gancore.hookspecs", "gancore.run.rundir", "gancore.run.resolve",
             "gancore.run.launch", "gancore.run.flags", "gancore.cli")


def _module(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (function-level imports too), by absolute name."""
    found = set()
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module(path): path for path in CORE.rglob("*.py")}

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    return {name: {owner(i) for i in _imports(path) if owner(i) not in (None, name)}
            for name, path in modules.items()}


def test_data_imports_nothing_of_the_plugin_machinery():
    graph = _graph()
    for name, targets in graph.items():
        if name == "gancore.data" or name.startswith("gancore.data."):
            bad = sorted(t for t in targets if t.startswith(MACHINERY))
            assert not bad, f"{name} imports {bad}"


def test_no_import_circle_in_the_core():
    graph = _graph()
    # Tarjan's strongly connected components: a component of more than one module is a circle.
    index, low, stack, on, circles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, circles

"""The benchmark scripts back every number in docs/, but no test runs them (they take minutes to hours).
Their imports of gancore are checked here, the function-local ones included, so that moving a name in
the core (as the split of cli.py into settings.py did) cannot leave a script broken until someone
reruns it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parent.parent / "benchmarks").glob("*.py"))


def gancore_imports(path: Path) -> list[tuple[int, str, str]]:
    """``(line, module, name)`` of every ``from gancore... import name`` (core or plugin) in ``path``."""
    return [(node.lineno, node.module, alias.name) for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0].startswith("gancore")
            for alias in node.names]


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda path: path.name)
def test_a_benchmarks_gancore_imports_resolve(path):
    missing = [f"{path.name}:{line}: {module}.{name}" for line, module, name in gancore_imports(path)
               if not hasattr(importlib.import_module(module), name)]
    assert missing == []


def test_the_import_check_can_fail(tmp_path):
    script = tmp_path / "old.py"
    script.write_text("def main():\n    from gancore.cli import settings_from_args\n")
    (line, module, name), = gancore_imports(script)
    assert (line, module, name) == (2, "gancore.cli", "settings_from_args")
    assert not hasattr(importlib.import_module(module), name)

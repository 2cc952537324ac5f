"""Every package under ``plugins/`` has the same shape, checked as a rule (not a list), so a package
added later is held to it too:

* the distribution ``gancore-x`` lives in ``plugins/gancore-x`` and holds the import package
  ``src/gancore_x``; every entry point it registers points into that package;
* a ``README.md`` and tests (``tests/test_*.py``);
* a package that registers plugins (entry points in the ``gancore`` group) runs every one of them
  through the conformance kit in ``tests/test_conformance.py``; a package without any, or whose
  entry points are libraries (modules implementing only install-time hooks such as
  ``register_commands``, like ``gancore-translation``), is a library (code that plugins share) and
  needs no kit;
* one naming rule for entry points, the one ``gan new-plugin`` writes: a family, and an add-on, is
  named as its distribution (``gancore-wgan``); a regularizer by the short name users give
  ``--regularizer`` (``gp``), never ``gancore-...``. :data:`NAMING_EXCEPTIONS` lists, with the
  reason, the entry points that keep another name;
* what the tests of every package share comes from gancore's pytest plugin
  (:mod:`gancore.pytest_plugin`), never a copy: the ``gan`` CLI-runner fixture is not redefined in
  a plugin's tests, and no ``tests/conftest.py`` sets torch's thread count (the plugin's
  ``gancore_torch_threads`` ini option, set in the repository's ``pyproject.toml``, does it for
  every test). A package needs no ``conftest.py``; one may hold fixtures of the package's own.
"""

from __future__ import annotations

import ast
import importlib
import re
import tomllib
from pathlib import Path

import pytest

from gancore.plugins import describe

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"

#: Entry points named otherwise than the rule says, by (distribution, entry point), with the reason.
NAMING_EXCEPTIONS = {
    ("gancore-ema", "ema"): "named before the rule; family defaults and saved runs name it `ema` (and "
                            "`--plugin gancore-ema` selects it too, by its distribution)",
    ("gancore-sngan", "spectral-norm"): "the distribution's second plugin; its family holds the distribution's name",
}


def packages() -> list[Path]:
    return sorted(path for path in PLUGINS.iterdir() if (path / "pyproject.toml").is_file())


def entry_points(package: Path) -> dict[str, str]:
    """The package's ``gancore`` entry points, name -> ``module:attr``."""
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    return dict(project.get("entry-points", {}).get("gancore", {}))


def kind_of(value: str) -> str:
    """The kind (family, regularizer, add-on) of the plugin an entry-point value names."""
    module, _, attr = value.partition(":")
    obj = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return describe("?", obj).kind


def is_library(value: str) -> bool:
    """Whether an entry point names a library (install-time hooks only); one that does not import is
    held to the rules of a plugin, which report it."""
    try:
        return kind_of(value) == "library"
    except ImportError:
        return False


def _calls(tree: ast.AST, name: str) -> bool:
    return any(isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name
               for node in ast.walk(tree))


def _strings(tree: ast.AST) -> set[str]:
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def _is_fixture(function: ast.FunctionDef) -> bool:
    return any("fixture" in ast.unparse(decorator) for decorator in function.decorator_list)


def cli_runner_redefinitions(path: Path) -> list[str]:
    """Functions in a test file that redefine the ``gan`` CLI runner: one named ``gan``, or a
    fixture built on click's ``CliRunner``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                node.name == "gan" or (_is_fixture(node) and "CliRunner" in ast.unparse(node))):
            found.append(f"{path.name}:{node.lineno} defines {node.name}()")
    return found


def problems(package: Path) -> list[str]:
    """How ``package`` breaks the rules of this module (empty when it follows them)."""
    found = []
    name = tomllib.loads((package / "pyproject.toml").read_text())["project"].get("name", "")
    module = name.replace("-", "_")
    if name != package.name or not re.fullmatch(r"gancore-[a-z0-9]+(-[a-z0-9]+)*", name):
        found.append(f"distribution name {name!r}: must be gancore-NAME and the directory's name "
                     f"({package.name!r})")
    if not (package / "src" / module / "__init__.py").is_file():
        found.append(f"no import package src/{module}/__init__.py")
    if not (package / "README.md").is_file():
        found.append("no README.md")
    tests = sorted((package / "tests").glob("test_*.py"))
    if not tests:
        found.append("no tests/test_*.py")
    conftest = package / "tests" / "conftest.py"
    for test in [*tests, *([conftest] if conftest.is_file() else [])]:
        found += [f"{where}: use the `gan` fixture of gancore's pytest plugin (or gancore.testing.run_cli)"
                  for where in cli_runner_redefinitions(test)]
    if conftest.is_file() and _calls(ast.parse(conftest.read_text()), "set_num_threads"):
        found.append("tests/conftest.py sets torch's thread count: gancore's pytest plugin does, for every test "
                     "(ini option gancore_torch_threads)")
    points = {point: value for point, value in entry_points(package).items() if not is_library(value)}
    if not points:
        return found  # a library: shared code, no plugin to put through the kit
    conformance = package / "tests" / "test_conformance.py"
    if not conformance.is_file():
        found.append("registers plugins but has no tests/test_conformance.py")
    else:
        tree = ast.parse(conformance.read_text())
        if not _calls(tree, "check_plugin"):
            found.append("tests/test_conformance.py does not call gancore.testing.check_plugin")
        found += [f"tests/test_conformance.py does not check entry point {point!r}"
                  for point in points if point not in _strings(tree)]
    for point, value in points.items():
        if not (value == module or value.startswith((f"{module}:", f"{module}."))):
            found.append(f"entry point {point!r} = {value!r} lies outside the package {module}")
            continue
        if (name, point) in NAMING_EXCEPTIONS:
            continue
        kind = kind_of(value)
        if kind in ("family", "add-on") and point != name:
            found.append(f"entry point {point!r} is a {kind}: name it as the distribution, {name!r}")
        if kind == "regularizer" and point.startswith("gancore-"):
            found.append(f"entry point {point!r} is a regularizer: name it as users give --regularizer, "
                         "without 'gancore-'")
    return found


@pytest.mark.parametrize("package", packages(), ids=lambda path: path.name)
def test_plugin_package_follows_the_rules(package):
    assert problems(package) == [], f"plugins/{package.name} (rules: tests/test_plugin_packages.py)"


def test_every_naming_exception_is_still_needed():
    for (distribution, point), reason in NAMING_EXCEPTIONS.items():
        assert reason and point in entry_points(PLUGINS / distribution), (distribution, point)


def test_the_rules_can_fail(tmp_path, monkeypatch):
    bad = tmp_path / "gancore-bad"
    (bad / "src" / "gancore_bad").mkdir(parents=True)
    (bad / "tests").mkdir()
    (bad / "src" / "gancore_bad" / "__init__.py").write_text(
        "from gancore.testing import ReferenceFamily\n\n\nclass Penalty:\n    def __init__(self, weight=1.0):\n"
        "        self.weight = weight\n")
    (bad / "pyproject.toml").write_text(
        '[project]\nname = "gancore-bad"\n[project.entry-points.gancore]\n'
        'bad = "gancore_bad:ReferenceFamily"\ngancore-pen = "gancore_bad:Penalty"\nother = "elsewhere:X"\n')
    (bad / "tests" / "test_bad.py").write_text(
        "import pytest\nfrom click.testing import CliRunner\n\n\n@pytest.fixture\ndef run():\n"
        "    return CliRunner()\n\n\ndef gan(*args):\n    pass\n")
    (bad / "tests" / "conftest.py").write_text(
        "import pytest\nimport torch\n\n\n@pytest.fixture(autouse=True)\ndef _few_threads():\n"
        "    torch.set_num_threads(1)\n\n\n@pytest.fixture\ndef gan():\n    pass\n")
    monkeypatch.syspath_prepend(str(bad / "src"))
    assert problems(bad) == [
        "no README.md",
        "test_bad.py:6 defines run(): use the `gan` fixture of gancore's pytest plugin (or gancore.testing.run_cli)",
        "test_bad.py:10 defines gan(): use the `gan` fixture of gancore's pytest plugin (or gancore.testing.run_cli)",
        "conftest.py:11 defines gan(): use the `gan` fixture of gancore's pytest plugin (or gancore.testing.run_cli)",
        "tests/conftest.py sets torch's thread count: gancore's pytest plugin does, for every test (ini option "
        "gancore_torch_threads)",
        "registers plugins but has no tests/test_conformance.py",
        "entry point 'bad' is a family: name it as the distribution, 'gancore-bad'",
        "entry point 'gancore-pen' is a regularizer: name it as users give --regularizer, without 'gancore-'",
        "entry point 'other' = 'elsewhere:X' lies outside the package gancore_bad",
    ]
    (bad / "README.md").write_text("# gancore-bad\n")
    (bad / "tests" / "test_bad.py").unlink()
    (bad / "tests" / "conftest.py").write_text("import pytest\n\n\n@pytest.fixture\ndef own():\n    return 1\n")
    (bad / "tests" / "test_conformance.py").write_text("def test_conformance():\n    check('bad')\n")
    assert problems(bad)[:3] == ["tests/test_conformance.py does not call gancore.testing.check_plugin",
                                 "tests/test_conformance.py does not check entry point 'gancore-pen'",
                                 "tests/test_conformance.py does not check entry point 'other'"]


def test_a_library_package_needs_a_readme_and_tests_but_no_kit(tmp_path):
    lib = tmp_path / "gancore-lib"
    (lib / "src" / "gancore_lib").mkdir(parents=True)
    (lib / "src" / "gancore_lib" / "__init__.py").write_text("")
    (lib / "pyproject.toml").write_text('[project]\nname = "gancore-lib"\n')
    assert problems(lib) == ["no README.md", "no tests/test_*.py"]
    (lib / "README.md").write_text("# gancore-lib\n")
    (lib / "tests").mkdir()
    (lib / "tests" / "test_lib.py").write_text("def test_it():\n    pass\n")
    assert problems(lib) == []


@pytest.mark.parametrize("kind", ["family", "regularizer", "add-on"])
def test_gan_new_plugin_writes_packages_that_follow_the_rules(kind, tmp_path, monkeypatch):
    # A third-party author starting from `gan new-plugin` gets the same shape as the built-in packages.
    from gancore.scaffold import new_plugin

    package = new_plugin(f"shape-{kind.replace('-', '')}", kind, tmp_path)
    monkeypatch.syspath_prepend(str(package / "src"))
    assert problems(package) == []

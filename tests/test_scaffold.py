"""`gan new-plugin` writes packages whose own tests pass: the hand-computed formula, the conformance
kit and the command-line test, for the plain and the stateful family and for a regularizer and an
add-on.

Nothing is installed: each package is made visible to a subprocess by a dist-info directory
(its entry points) in a temporary directory and its ``src`` on ``PYTHONPATH``, which is all that
``importlib.metadata`` and the import system need. ``tests/test_authoring.py`` does the real
``pip install`` into a fresh virtual environment (in CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from gancore.scaffold import new_plugin
from gancore.testing import assert_clean_error

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "examples" / "gancore-tutorial"


def visible(package: Path, site: Path) -> None:
    """Make ``package`` (a directory with pyproject.toml and src/) importable and its entry points
    discoverable from ``site``, as an editable install would, without installing it."""
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    points = project.get("entry-points", {})
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in table.items()) + "\n"
        for group, table in points.items()))


def run_package_tests(package: Path, site: Path, plugins: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", GANCORE_PROGRESS="0", GANCORE_LOAD_PLUGINS=plugins,
               PYTHONPATH=os.pathsep.join([str(site), str(package / "src")]))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=package,
                          env=env, capture_output=True, text=True, check=False, timeout=600)


@pytest.mark.parametrize("kind, stateful, plugins", [
    ("family", False, "gancore-demo"),
    ("family", True, "gancore-demo"),
    ("regularizer", False, "demo,gancore-gan,gancore-r1,gancore-ema"),
    ("add-on", False, "gancore-demo,gancore-gan,gancore-r1,gancore-ema"),
])
def test_the_generated_packages_own_tests_pass(kind, stateful, plugins, tmp_path):
    package = new_plugin("demo", kind, tmp_path, stateful=stateful)
    tests = sorted(p.name for p in (package / "tests").iterdir())
    assert tests == ["test_cli.py", "test_conformance.py", "test_gancore_demo.py"]
    visible(package, tmp_path / "site")
    done = run_package_tests(package, tmp_path / "site", plugins)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = 5 if stateful else 4  # two by hand (stateful), the kit, two on the command line
    assert f"{passed} passed" in done.stdout, done.stdout[-2000:]


def test_the_family_follows_the_guide(tmp_path):
    plain = (new_plugin("demo", "family", tmp_path) / "src" / "gancore_demo" / "__init__.py").read_text()
    fisher = (new_plugin("fish", "family", tmp_path, stateful=True) / "src" / "gancore_fish"
              / "__init__.py").read_text()
    for source in (plain, fisher):
        # Declared, per-kind defaults (training settings and network options), the shared networks.
        assert "@declare" in source and "defaults = DEFAULTS" in source
        assert "option_defaults = OPTION_DEFAULTS" in source
        assert "(StandardNetworks):" in source and "is_image" not in source
    assert "step.state_for(self)" in fisher and "def post_step(self, step, phase)" in fisher
    assert "post_step" not in plain


def test_stateful_is_for_families(gan, tmp_path):
    assert_clean_error(gan("new-plugin", "x", "--kind", "add-on", "--stateful", "--dir", tmp_path),
                       "--stateful writes a family")
    result = gan("new-plugin", "fish", "--stateful", "--dir", tmp_path)
    assert result.exit_code == 0, result.output
    assert "Fisher GAN" in (tmp_path / "gancore-fish" / "README.md").read_text()


def test_the_tutorial_package_passes_its_own_tests(tmp_path):
    visible(TUTORIAL, tmp_path / "site")
    done = run_package_tests(TUTORIAL, tmp_path / "site", "gancore-tutorial")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]

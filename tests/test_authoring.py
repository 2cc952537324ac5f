"""A plugin author's path, end to end in a fresh virtual environment.

The docs' tutorial package and the packages `gan new-plugin` writes are
installed with pip (editable, no network) into a new venv next to gancore,
then trained with `gan train` and their own tests run there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "examples" / "gancore-tutorial"


def _run(cmd, **kwargs):
    env = dict(os.environ, OMP_NUM_THREADS="1", GANCORE_PROGRESS="0")
    env.pop("PYTHONPATH", None)
    env.pop("GANCORE_LOAD_PLUGINS", None)
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}\n{done.stdout}\n{done.stderr}"
    return done


SCAFFOLDS = (("demo", "family"), ("demo-penalty", "regularizer"), ("demo-addon", "add-on"), ("demo-fisher", "family"))


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A new venv that sees the test run's own packages (torch, pip, setuptools, ...) and holds, editable,
    gancore, gancore-gan (with gancore-r1 and gancore-ema, which its defaults use), the tutorial's package
    and one package of each kind written by `gan new-plugin`."""
    root = tmp_path_factory.mktemp("authoring")
    path = root / "venv"
    # Not --system-site-packages: run from a virtual environment, that exposes the base interpreter's
    # packages (which may lack torch, or hold a setuptools without bdist_wheel), not the environment
    # the tests run in. A .pth file in the new venv lists this environment's site directories instead,
    # so its pip and setuptools (the test extra asks for one that builds wheels unaided) install there.
    _run([sys.executable, "-m", "venv", "--without-pip", path])
    site_dirs = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    inner = subprocess.run([path / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    Path(inner, "gancore-test-outer.pth").write_text("".join(f"{d}\n" for d in site_dirs))
    for name, kind in SCAFFOLDS:
        stateful = ["--stateful"] if name == "demo-fisher" else []
        _run([sys.executable, "-m", "gancore.cli", "new-plugin", name, "--kind", kind, *stateful,
              "--dir", root / "new"])
    # gancore-gan with the plugins its defaults turn on (R1, EMA), which it depends on.
    plugins = [ROOT / "plugins" / name for name in ("gancore-gan", "gancore-r1", "gancore-ema")]
    args = [a for p in (ROOT, *plugins, TUTORIAL, *scaffolds(root)) for a in ("-e", p)]
    _run([path / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
          "--no-index", "--disable-pip-version-check", *args])
    return path


def scaffolds(root: Path) -> list[Path]:
    return [root / "new" / f"gancore-{name}" for name, _ in SCAFFOLDS]


def train(venv: Path, out: Path, *args: str) -> dict:
    _run([venv / "bin" / "gan", "train", *args, "--data", "ring", "--out", out, "--name", "run", "--log-every",
          "10", "--batch-size", "32"])
    rows = [json.loads(line) for line in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    assert (out / "run" / "checkpoints" / f"step-{rows[-1]['step']:06d}" / "generator.safetensors").is_file()
    return rows[-1]


def test_the_tutorial_package_trains(venv, tmp_path):
    last = train(venv, tmp_path, "--plugin", "gancore-tutorial", "--steps", "20")
    assert last["step"] == 20 and "d/loss" in last and "g/loss" in last


def test_new_plugin_packages_of_every_kind_install_and_train(venv, tmp_path):
    gan = venv / "bin" / "gan"
    listed = {p["name"]: p["kind"] for p in json.loads(_run([gan, "plugins", "--json"]).stdout)}
    assert listed["gancore-demo"] == "family" and listed["demo-penalty"] == "regularizer"
    assert listed["gancore-demo-addon"] == "add-on" and listed["gancore-tutorial"] == "family"

    last = train(venv, tmp_path / "family", "--plugin", "gancore-demo", "--steps", "50")
    assert last["step"] == 50
    last = train(venv, tmp_path / "regularizer", "--plugin", "gancore-gan", "--regularizer", "demo-penalty=0.01",
                 "--steps", "50")
    assert last["d/demo_penalty"] > 0
    last = train(venv, tmp_path / "addon", "--plugin", "gancore-gan", "--plugin", "gancore-demo-addon",
                 "--steps", "50")
    assert last["grad_norm/g"] > 0 and last["grad_norm/max_d"] >= last["grad_norm/d"]


def test_the_packages_own_tests_pass_in_the_venv(venv):
    # Hand-computed values and the conformance kit, as written by the tutorial and by `gan new-plugin`.
    tests = [TUTORIAL / "tests", *[p / "tests" for p in scaffolds(venv.parent)]]
    # importlib mode: every package has a tests/test_conformance.py and a tests/test_cli.py.
    _run([venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib", *tests])


def test_new_plugin_refuses_bad_names_and_existing_directories(gan, tmp_path):
    assert gan("new-plugin", "Bad_Name", "--dir", tmp_path).exit_code == 1
    assert gan("new-plugin", "ok", "--dir", tmp_path).exit_code == 0
    again = gan("new-plugin", "ok", "--dir", tmp_path)
    assert again.exit_code == 1 and "already exists" in again.output
    files = sorted(str(p.relative_to(tmp_path / "gancore-ok")) for p in (tmp_path / "gancore-ok").rglob("*")
                   if p.is_file())
    assert files == ["README.md", "pyproject.toml", "src/gancore_ok/__init__.py", "tests/test_cli.py",
                     "tests/test_conformance.py", "tests/test_gancore_ok.py"]

"""The tree stays clean under ruff, with the configuration in pyproject.toml ([tool.ruff])."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_ruff_finds_nothing():
    assert importlib.util.find_spec("ruff") is not None, (
        "ruff is not installed: install the test extra (pip install -e '.[test]'), which CI installs")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True)
    assert done.returncode == 0, f"ruff check found problems:\n{done.stdout}{done.stderr}"

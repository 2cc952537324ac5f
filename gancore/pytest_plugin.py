"""gancore's pytest plugin: the fixtures shared by the tests of gancore and of every plugin.

pytest loads it through the ``pytest11`` entry point that gancore's ``pyproject.toml``
declares, so any test session in an environment where gancore is installed has these
fixtures, a third-party plugin's included: nothing to import, nothing to copy.
"""

from __future__ import annotations

from typing import Callable

import pytest


@pytest.fixture
def gan() -> Callable:
    """Run the ``gan`` CLI in-process: ``gan("train", "-p", "gancore-foo", "--steps", 2)``.

    Returns :func:`gancore.testing.run_cli`: arguments may be paths or numbers, the result is
    click's ``Result`` (``exit_code``, ``output``), and exceptions propagate.
    """
    from gancore.testing import run_cli

    return run_cli

"""gancore's pytest plugin: the fixtures shared by the tests of gancore and of every plugin.

pytest loads it through the ``pytest11`` entry point that gancore's ``pyproject.toml``
declares, so any test session in an environment where gancore is installed has these
fixtures, a third-party plugin's included: nothing to import, nothing to copy.

* ``gan``: runs the ``gan`` CLI in-process.
* The ini option ``gancore_torch_threads``: torch's thread count in every test. gancore sets it
  to 1 in its ``pyproject.toml`` (``[tool.pytest.ini_options]``), which covers the tests of
  every plugin under ``plugins/`` too: the suite's models are tiny and gain nothing from more
  threads on a machine the tests share. Unset (another project's tests), torch's default stays.
"""

from __future__ import annotations

from typing import Callable

import pytest

THREADS = "gancore_torch_threads"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(THREADS, "torch threads in each test (gancore's own tests: 1); empty: torch's default", default="")


def _threads(config: pytest.Config) -> int | None:
    value = str(config.getini(THREADS)).strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise pytest.UsageError(f"{THREADS} must be a whole number >= 1, got {value!r}.")
    return int(value)


def pytest_configure(config: pytest.Config) -> None:
    _threads(config)  # a bad value fails the session once, at its start


@pytest.fixture(autouse=True)
def _gancore_torch_threads(request: pytest.FixtureRequest) -> None:
    """torch's thread count in each test, from the ``gancore_torch_threads`` ini option (if set)."""
    threads = _threads(request.config)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


@pytest.fixture
def gan() -> Callable:
    """Run the ``gan`` CLI in-process: ``gan("train", "-p", "gancore-foo", "--steps", 2)``.

    Returns :func:`gancore.testing.run_cli`: arguments may be paths or numbers, the result is
    click's ``Result`` (``exit_code``, ``output``), and exceptions propagate.
    """
    from gancore.testing import run_cli

    return run_cli

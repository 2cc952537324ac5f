"""Shared fixtures for gancore's core tests."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from gancore.cli import main
from gancore.plugins import Registry


@pytest.fixture(autouse=True)
def _few_threads():
    # The suite runs on 2 cores; tiny models gain nothing from more threads.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry.discover()


@pytest.fixture
def gan(tmp_path):
    """Run the `gan` CLI in-process; returns click's Result (exit_code, output)."""

    def invoke(*args: str):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


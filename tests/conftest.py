"""Shared fixtures for gancore's core tests (the `gan` CLI runner and one torch thread per test come
from gancore's pytest plugin, :mod:`gancore.pytest_plugin`, as they do for every plugin's tests)."""

from __future__ import annotations

import os
import signal

import pytest
import torch

import gancore.cli
from gancore import hookimpl
from gancore.plugins import Registry


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry.discover()


# --- test add-ons for the reliability tests (tests/test_resume*.py) ----------

class Signaller:
    """Test add-on: sends this process a signal after the generator update of step ``at``."""

    def __init__(self, at: int = -1, signum: int = int(signal.SIGTERM)):
        self.at, self.signum = at, signum

    @hookimpl
    def post_step(self, step, phase):
        if phase == "g" and step.index == self.at:
            os.kill(os.getpid(), self.signum)


class BadTerm:
    """Test add-on: from step ``at`` on, adds a term whose value (or gradient) is NaN in phase ``phase``."""

    def __init__(self, at: int = 3, phase: str = "d", where: str = "value"):
        self.at, self.phase, self.where = at, phase, where

    @hookimpl
    def regularize(self, step, phase):
        if phase != self.phase or step.index < self.at:
            return None
        if self.where == "value":
            return {"bad": torch.tensor(float("nan"))}
        net = step.D if phase == "d" else step.G
        zero = sum(p.sum() for p in net.parameters()) * 0.0
        return {"bad": torch.sqrt(zero)}  # 0, but its gradient is inf * 0 = NaN


@pytest.fixture
def with_test_addons(monkeypatch):
    """The installed plugins plus the add-ons ``signaller`` and ``bad-term``, for the `gan` CLI."""
    registry = Registry.discover()
    registry.add("signaller", Signaller)
    registry.add("bad-term", BadTerm)
    monkeypatch.setattr(gancore.cli, "_registry", lambda: registry)

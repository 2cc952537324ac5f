"""The tutorial's hinge loss by hand, and gancore's conformance kit."""

from __future__ import annotations

import pytest
import torch

from gancore.testing import check_plugin
from gancore_tutorial import hinge_d, hinge_g


def test_hinge_losses_by_hand():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # D: (max(0, 1 - 2) + max(0, 1 - 0.5)) / 2 + (max(0, 1 - 2) + max(0, 1 + 0)) / 2
    assert hinge_d(real, fake).item() == pytest.approx(0.25 + 0.5)
    assert hinge_g(fake).item() == pytest.approx(1.0)


def test_conformance():
    check_plugin("gancore-tutorial", options={"hidden": 32, "layers": 2})

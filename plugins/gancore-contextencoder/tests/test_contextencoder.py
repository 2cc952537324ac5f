"""Context Encoder: its losses by hand."""

from __future__ import annotations

import math

import pytest
import torch
from gancore_contextencoder import ContextEncoder


def softplus(t):
    return math.log1p(math.exp(t))


class _Step:
    """Two real 1x2x2 images, their completions, masks, and D scores given by hand."""

    def __init__(self):
        self.real = torch.zeros(2, 1, 2, 2)
        self.fake = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.0, 0.0], [0.5, -0.5]]]])
        self.latent = {"mask": torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.0, 0.0], [1.0, 1.0]]]])}

    def real_and_fake_scores(self):
        return torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])

    def fake_scores(self):
        return torch.tensor([-1.0, 1.0])


def test_losses_by_hand():
    family, step = ContextEncoder(), _Step()
    expected_d = (softplus(-2) + softplus(0)) / 2 + (softplus(-1) + softplus(1)) / 2
    assert family.d_loss(step=step).item() == pytest.approx(expected_d, rel=1e-6)
    terms = family.g_loss(step=step)
    # three hole pixels: errors 1, 0.5, -0.5 -> mean square (1 + 0.25 + 0.25) / 3 = 0.5
    assert terms["rec"].item() == pytest.approx(0.999 * 0.5, rel=1e-6)
    assert terms["adv"].item() == pytest.approx(0.001 * (softplus(1) + softplus(-1)) / 2, rel=1e-6)


"""CCGAN: its losses by hand, the generator's view of the hole."""

from __future__ import annotations

import math

import pytest
import torch
from gancore_ccgan import CCGAN, ContextConditionalGenerator

from gancore.data import Batch, DataSpec


def softplus(t):
    return math.log1p(math.exp(t))


class _Step:
    def __init__(self):
        self.real = torch.zeros(1, 1, 2, 2)
        self.fake = torch.tensor([[[[1.0, -3.0], [0.0, 0.0]]]])
        self.latent = {"mask": torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])}

    def real_and_fake_scores(self):
        return torch.tensor([0.5]), torch.tensor([-0.5])

    def fake_scores(self):
        return torch.tensor([-0.5])


def test_losses_by_hand():
    step = _Step()
    assert CCGAN().d_loss(step=step).item() == pytest.approx(softplus(-0.5) + softplus(-0.5), rel=1e-6)
    terms = CCGAN().g_loss(step=step)
    assert list(terms) == ["adv"]  # the paper's G: adversarial only
    assert terms["adv"].item() == pytest.approx(softplus(0.5), rel=1e-6)
    terms = CCGAN(reconstruction=2.0).g_loss(step=step)
    assert terms["rec"].item() == pytest.approx(2.0 * (1 + 3) / 2, rel=1e-6)  # L1 over the two hole pixels


def test_generator_sees_the_mask_and_keeps_the_context():
    g = ContextConditionalGenerator(DataSpec("x", (1, 8, 8)), width=4, norm="none", fraction=0.5,
                                    placement="random")
    images = torch.rand(6, 1, 8, 8) * 2 - 1
    latent = g.latent(6, batch=Batch(images), rng=torch.Generator().manual_seed(0))
    assert g.net.down[0][0].in_channels == 2  # image and mask
    out = g(latent)
    known = latent["mask"] == 0
    assert torch.equal(out[known], images[known])
    assert len({tuple(m.nonzero()[0].tolist()) for m in latent["mask"]}) > 1  # holes at different places


"""The original GAN family: losses through its hooks against the paper's formula."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from gancore_gan import GAN

from gancore.data import DataSpec
from gancore.step import Step


class _Step:
    """A step whose discriminator returns scripted scores for real (0) and fake (1) rows."""

    real_and_fake_scores = Step.real_and_fake_scores
    fake_scores = Step.fake_scores
    _has_batch_statistics = Step._has_batch_statistics
    D = nn.Linear(1, 1)  # no batch statistics: fakes are scored alone

    def __init__(self, real_scores, fake_scores):
        self.real, self.fake = torch.zeros(len(real_scores), 2), torch.ones(len(fake_scores), 2)
        self.scores = {0.0: iter(real_scores), 1.0: iter(fake_scores)}

    def discriminator(self, x):
        return torch.stack([next(self.scores[row.item()]) for row in x[:, 0]])


_step = _Step


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_discriminator_loss_is_the_negative_log_likelihood():
    step = _step(torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0]))
    expected = -(math.log(sigmoid(1)) + math.log(sigmoid(3))) / 2 - (
        math.log(1 - sigmoid(0)) + math.log(1 - sigmoid(-2))) / 2
    assert GAN().d_loss(step).item() == pytest.approx(expected, rel=1e-6)


def test_generator_losses():
    def step():
        return _step(torch.tensor([0.0]), torch.tensor([0.5]))

    assert GAN().g_loss(step()).item() == pytest.approx(-math.log(sigmoid(0.5)), rel=1e-6)
    assert GAN(loss="saturating").g_loss(step()).item() == pytest.approx(math.log(1 - sigmoid(0.5)), rel=1e-6)


def test_unknown_loss_option_is_refused():
    with pytest.raises(ValueError, match="saturating"):
        GAN(loss="hinge")


def test_mlp_networks_fit_vectors_and_images():
    for shape in [(2,), (1, 8, 8), (3, 32, 32)]:
        spec = DataSpec("x", shape)
        G = GAN(hidden=8, layers=2).build_generator(config=SimpleNamespace(latent_dim=4), data=spec)
        D = GAN(hidden=8, layers=2).build_discriminator(data=spec)
        x = G(G.latent(5))
        assert x.shape == (5, *shape) and D(x).shape == (5,)
        if len(shape) == 3:
            assert x.abs().max() <= 1


def test_conformance():
    from gancore.testing import check_plugin

    check_plugin("gancore-gan", options={"hidden": 32, "layers": 2})

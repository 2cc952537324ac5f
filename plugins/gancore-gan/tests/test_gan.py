"""The original GAN family: losses through its hooks against the paper's formula."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from gancore_gan import GAN

from gancore.data import DataSpec
from gancore.testing import ScriptedStep, defaults_of, make_plugin


def _step(real_scores, fake_scores):
    return ScriptedStep(real_scores, fake_scores, features=2)


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


def test_defaults_on_28x28_images_are_the_small_image_recipe_for_5000_steps():
    from gancore_gan import DEFAULTS

    mnist = DataSpec("mnist", (1, 28, 28))
    assert defaults_of(GAN, mnist) == {**DEFAULTS["small-image"], "steps": 5000}
    assert make_plugin(GAN, mnist).hidden == 512 and make_plugin(GAN, mnist, hidden=64).hidden == 64

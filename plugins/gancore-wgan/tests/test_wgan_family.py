"""The WGAN family: critic/generator losses through the hooks, defaults."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from gancore_wgan import WGAN, wgan_defaults

from gancore.config import make_config
from gancore.data import DataSpec
from gancore.testing import ScriptedStep


def _step(real_scores, fake_scores):
    return ScriptedStep(real_scores, fake_scores)


def test_critic_and_generator_losses():
    family = WGAN()
    # E[D(G(z))] - E[D(x)] = -0.5 - 3 ; -E[D(G(z))] = 0.5
    assert family.d_loss(_step(torch.tensor([2.0, 4.0]), torch.tensor([-1.0, 0.0]))).item() == pytest.approx(-3.5)
    assert family.g_loss(_step(torch.tensor([]), torch.tensor([-1.0, 0.0]))).item() == pytest.approx(0.5)


def test_paper_defaults_per_variant():
    ring = DataSpec("ring", (2,))
    clip = wgan_defaults(ring, None)
    assert clip["optimizer"] == "rmsprop" and clip["lr_d"] == 5e-5 and clip["n_critic"] == 5
    assert clip["regularizers"] == {"clip": None}
    gp = wgan_defaults(DataSpec("x", (3, 64, 64)), ("gp",))
    assert make_config(gp).optimizer == "adam" and gp["lr_g"] == 5e-4 and gp["betas"] == (0.0, 0.99)
    assert "regularizers" not in gp
    # -r clip on images is the paper's setting.
    clipped = wgan_defaults(DataSpec("mnist", (1, 28, 28), 10), ("clip",))
    assert clipped["optimizer"] == "rmsprop" and clipped["n_critic"] == 5 and "regularizers" not in clipped


def test_28x28_images_train_as_wgan_gp_inside_the_28x28_recipe():
    images = DataSpec("mnist", (1, 28, 28), 10)
    defaults = wgan_defaults(images, None)
    assert defaults["regularizers"] == {"gp": None} and defaults["n_critic"] == 1
    assert defaults["betas"] == (0.0, 0.99) and defaults["lr_g"] == defaults["lr_d"] == 5e-4
    assert defaults["batch_size"] == 128 and defaults["plugins"] == ["ema"] and defaults["lr_schedule"] == "linear"
    assert defaults["steps"] == 3000
    assert make_config(defaults).optimizer == "adam"
    assert WGAN.option_defaults["image"] == {"norm": "none", "depth": 2}
    assert WGAN.paper["options"]["gancore-wgan"] == {"norm": "batch", "depth": 1}


def test_small_images_train_as_wgan_gp_by_default():
    spec = DataSpec("digits", (1, 8, 8), 10)
    defaults = wgan_defaults(spec, None)
    assert defaults["regularizers"] == {"gp": None} and make_config(defaults).optimizer == "adam"
    assert defaults["lr_schedule"] == "linear" and defaults["n_critic"] == 5 and defaults["plugins"] == ["ema"]
    assert wgan_defaults(spec, ("clip",))["optimizer"] == "rmsprop"
    # Vector data keeps the paper's clipping; -r gp there adds a linear decay.
    ring = DataSpec("ring", (2,))
    assert wgan_defaults(ring, None)["regularizers"] == {"clip": None}
    assert wgan_defaults(ring, ("gp",))["lr_schedule"] == "linear"


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 64, 64), (2,)])
def test_networks_fit_every_data_shape(shape):
    spec = DataSpec("x", shape)
    family = WGAN(width=4, hidden=8)
    config = SimpleNamespace(latent_dim=6)
    G, D = family.build_generator(config=config, data=spec), family.build_discriminator(data=spec)
    fake = G(G.latent(3))
    assert fake.shape == (3, *shape)
    assert D(fake).shape == (3,)

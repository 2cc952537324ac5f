"""ProGAN: the losses and pixel norm by hand, the fade-in's continuity, real images at a stage,
and an exact resume across a stage change through the real trainer."""

from __future__ import annotations

import math

import pytest
import torch
from gancore_progan import ProGAN, drift_wgan_d
from gancore_progan.nets import (
    ProDiscriminator,
    ProGenerator,
    pixel_norm,
    real_at,
    resolutions,
    schedule,
)

from gancore.checkpoint import load_checkpoint
from gancore.config import make_config
from gancore.data import DataSpec, load_data
from gancore.errors import PluginError
from gancore.growth import Stage
from gancore.plugins import Registry
from gancore.trainer import Trainer

SPEC = DataSpec("t", (1, 8, 8), 0)


def test_d_loss_is_wasserstein_plus_drift_by_hand():
    terms = drift_wgan_d(torch.tensor([1.0, 3.0]), torch.tensor([0.5, -0.5]), drift=0.001)
    # E[D(fake)] - E[D(real)] = 0 - 2; drift: 0.001 * (1 + 9) / 2.
    assert terms["wasserstein"].item() == pytest.approx(-2.0)
    assert terms["drift"].item() == pytest.approx(0.005)


def test_pixel_norm_by_hand():
    x = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)
    # mean of squares 12.5: (3, 4) / sqrt(12.5)
    assert pixel_norm(x).flatten().tolist() == pytest.approx([3 / math.sqrt(12.5), 4 / math.sqrt(12.5)], rel=1e-6)


def test_resolutions_and_schedule():
    assert resolutions(8) == [4, 8] and resolutions(28) == [7, 14, 28] and resolutions(32) == [4, 8, 16, 32]
    with pytest.raises(PluginError, match="cannot be"):
        resolutions(6)
    assert schedule(100, 0.5, 3) == (Stage(0, 0), Stage(100, 50), Stage(200, 50))


def test_real_images_at_a_stage_by_hand():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    # Stage 0 of [2, 4]: 2x2 means (2.5, 4.5 / 10.5, 12.5), upsampled to 4x4 by repetition.
    low = real_at(x, [2, 4], 0, 1.0)
    assert low[0, 0, 0].tolist() == [2.5, 2.5, 4.5, 4.5] and low[0, 0, 3].tolist() == [10.5, 10.5, 12.5, 12.5]
    # Stage 1 half faded in: the mean of the image and its stage-0 version.
    half = real_at(x, [2, 4], 1, 0.5)
    assert half[0, 0, 0].tolist() == [1.25, 1.75, 3.25, 3.75]
    assert torch.equal(real_at(x, [2, 4], 1, 1.0), x)


def test_a_stage_fading_in_starts_where_the_last_one_ended():
    torch.manual_seed(0)
    G = ProGenerator(SPEC, 16, 32, schedule(10, 0.5, 2))
    D = ProDiscriminator(SPEC, 32)
    z = torch.randn(4, 16)
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    G.staged.set_stage(0, 1.0), D.staged.set_stage(0, 1.0)
    before, before_d = G(z), D(x)
    assert before.shape == (4, 1, 8, 8) and torch.equal(before[:, :, ::2, ::2], before[:, :, 1::2, 1::2])
    G.staged.set_stage(1, 0.0), D.staged.set_stage(1, 0.0)
    assert torch.allclose(G(z), before, atol=1e-6)
    assert torch.allclose(D(real_at(x, D.sizes, 1, 0.0)), before_d, atol=1e-5)
    G.staged.set_stage(1, 1.0)
    assert not torch.allclose(G(z), before, atol=1e-3)


def make_trainer(tmp_path, steps=5):
    registry = Registry.discover()
    config = make_config({"plugins": ["gancore-progan"], "data": "digits", "steps": steps, "batch_size": 8,
                          "sample_every": 0, "checkpoint_every": 1, "keep": 10, "latent_dim": 8,
                          "regularizers": {"gp": 10.0}, "lr_g": 1e-3, "lr_d": 1e-3, "betas": (0.0, 0.99),
                          "options": {"gancore-progan": {"width": 16, "stage_steps": 2, "fade": 0.5}}})
    run = registry.activate(config.plugins, config.options)
    return Trainer(config, run, load_data("digits"), tmp_path, progress=False)


def test_resume_across_a_stage_change_gives_the_same_weights(tmp_path):
    straight = make_trainer(tmp_path / "straight")
    straight.fit()
    assert straight.generator.staged.position() == (1, 1.0)  # stage 1 from step 2, faded in by step 3
    resumed = make_trainer(tmp_path / "resumed")
    resumed.load_checkpoint(load_checkpoint(tmp_path / "straight" / "checkpoints" / "step-000002"))
    resumed.fit()
    for a, b in ((straight.generator, resumed.generator), (straight.discriminator, resumed.discriminator)):
        sa, sb = a.state_dict(), b.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_vector_data_is_refused():
    with pytest.raises(PluginError, match="grows images"):
        ProGAN().build_generator(make_config({}), DataSpec("ring", (2,), 8))

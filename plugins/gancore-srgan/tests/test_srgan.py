"""SRGAN: the perceptual loss by hand, the networks' shapes, the low-resolution latent, CLI train/sample/translate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from gancore_srgan import SRGAN, SRDiscriminator, SRResNet, bicubic_upsample, downsample
from PIL import Image

from gancore.cli import main
from gancore.data import Batch, DataSpec
from gancore.errors import ConfigError, PluginError
from gancore.step import Step
from gancore.testing import assert_clean_error, make_plugin

TINY = ["--set", "gancore-srgan.width=4", "--set", "gancore-srgan.blocks=1", "--set", "gancore-srgan.d_width=4"]


def softplus(t):
    return math.log1p(math.exp(t))


class _Step:
    """Two 1x2x2 high-resolution images, two super-resolved ones, and a D scoring an image by its mean."""

    real_and_fake_scores = Step.real_and_fake_scores
    fake_scores = Step.fake_scores
    _has_batch_statistics = Step._has_batch_statistics

    def __init__(self):
        self.real = torch.tensor([[[[1.0, -1.0], [0.5, 0.5]]], [[[0.0, 0.0], [0.0, 0.0]]]])
        self.fake = torch.tensor([[[[0.0, -1.0], [0.5, 1.5]]], [[[1.0, 1.0], [-1.0, -1.0]]]])
        self.D = torch.nn.Identity()

    def discriminator(self, x):
        return x.mean((1, 2, 3))


def test_perceptual_loss_by_hand():
    family, step = SRGAN(), _Step()
    # D scores: real [0.25, 0], fake [0.25, 0].
    expected_d = (softplus(-0.25) + softplus(0)) / 2 + (softplus(0.25) + softplus(0)) / 2
    assert family.d_loss(step=step).item() == pytest.approx(expected_d, rel=1e-6)
    terms = family.g_loss(step=step)
    # l_X = 1/(r^2 W H) sum (y - G(x))^2 over both images: squared errors 1, 0, 0, 1 and 1, 1, 1, 1.
    assert terms["content"].item() == pytest.approx((1 + 0 + 0 + 1 + 1 + 1 + 1 + 1) / 8, rel=1e-6)
    # 1e-3 * l_Gen, l_Gen = E -log sigmoid(D(G(x))) = E softplus(-D(G(x))).
    assert terms["adv"].item() == pytest.approx(1e-3 * (softplus(-0.25) + softplus(0)) / 2, rel=1e-6)
    total = sum(t.item() for t in terms.values())
    assert total == pytest.approx(6 / 8 + 1e-3 * (softplus(-0.25) + math.log(2)) / 2, rel=1e-6)


def test_adversarial_weight_is_an_option():
    terms = SRGAN(adversarial=0.5).g_loss(step=_Step())
    assert terms["adv"].item() == pytest.approx(0.5 * (softplus(-0.25) + softplus(0)) / 2, rel=1e-6)
    assert SRGAN(adversarial=0.0).g_loss(step=_Step())["adv"].item() == 0.0  # SRResNet: MSE alone


def test_downsampling_is_antialiased_bicubic_and_bicubic_upsampling_restores_smooth_images():
    x = torch.linspace(-1, 1, 8).view(1, 1, 1, 8).expand(2, 1, 8, 8).contiguous()
    low = downsample(x, 2)
    assert low.shape == (2, 1, 4, 4)
    # A constant image stays constant; a checkerboard averages out (antialiasing) instead of aliasing.
    assert torch.allclose(downsample(torch.full((1, 1, 8, 8), 0.3), 2), torch.full((1, 1, 4, 4), 0.3), atol=1e-6)
    checker = (torch.arange(8).view(1, 8) + torch.arange(8).view(8, 1)).remainder(2).float().mul(2).sub(1)
    assert downsample(checker.view(1, 1, 8, 8), 2).abs().max() < 0.2
    up = bicubic_upsample(low, 2)
    assert up.shape == x.shape and (up - x).abs().max() < 0.15  # a ramp survives x2 down and up


def test_generator_upsamples_the_downsampled_batch_and_refuses_noise():
    G = SRResNet(channels=1, width=4, blocks=2, scale=2, norm="batch")
    images = torch.rand(3, 1, 28, 28) * 2 - 1
    latent = G.latent(2, batch=Batch(images))
    assert set(latent) == {"source"} and torch.equal(latent["source"], downsample(images[:2], 2))
    assert G(latent).shape == (2, 1, 28, 28)
    G4 = SRResNet(channels=3, width=4, blocks=1, scale=4, norm="none")
    assert G4(G4.translation_latent(torch.zeros(2, 3, 32, 32))).shape == (2, 3, 32, 32)
    with pytest.raises(ConfigError, match="needs low-resolution inputs made from real images"):
        G.latent(2)


@pytest.mark.parametrize("size,stride_two", [(28, 4), (8, 2), (96, 4)])
def test_discriminator_follows_the_paper_as_far_as_the_size_allows(size, stride_two):
    D = SRDiscriminator(channels=1, size=size, width=64, norm="batch")
    convs = [m for m in D.body if isinstance(m, torch.nn.Conv2d)]
    assert sum(c.stride == (2, 2) for c in convs) == stride_two
    if size >= 28:  # 64, 64, 128, 128, 256, 256, 512, 512 channels, stride 1 and 2 alternating
        assert [(c.out_channels, c.stride[0]) for c in convs] == [(64, 1), (64, 2), (128, 1), (128, 2), (256, 1),
                                                                  (256, 2), (512, 1), (512, 2)]
        assert D.head.in_features == 1024
    assert D(torch.zeros(3, 1, size, size)).shape == (3,)


def test_refuses_what_it_cannot_super_resolve():
    with pytest.raises(PluginError, match="super-resolves images"):
        SRGAN().build_generator(data=DataSpec("ring", (2,)))
    with pytest.raises(PluginError, match="divisible by 4 into at least 2x2"):
        SRGAN(scale=4).build_discriminator(data=DataSpec("x", (1, 6, 6)))
    with pytest.raises(ValueError, match="power of 2"):
        SRGAN(scale=3)


def test_networks_follow_the_data_unless_set():
    mnist, digits = DataSpec("mnist", (1, 28, 28)), DataSpec("digits", (1, 8, 8))
    assert make_plugin(SRGAN, mnist).network() == {"width": 32, "blocks": 4, "d_width": 16}
    assert make_plugin(SRGAN, digits).network() == {"width": 16, "blocks": 2, "d_width": 8}
    assert make_plugin(SRGAN, mnist, width=64, blocks=16).network()["blocks"] == 16
    assert SRGAN().network() == {"width": 64, "blocks": 16, "d_width": 64}  # the paper's, for no data


def _train(tmp_path, *args):
    result = CliRunner().invoke(main, ["train", "-p", "gancore-srgan", *TINY, "--steps", "2", "--batch-size", "4",
                                       "--out", str(tmp_path), "--log-every", "1", "--grid-size", "4", *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_trains_on_mnist_samples_like_a_translator_and_translates_files(tmp_path):
    _train(tmp_path, "--data", "mnist", "--name", "sr", "-r", "r1")
    run = tmp_path / "sr"
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"d/loss", "d/r1", "g/content", "g/adv"} <= set(row) and all(math.isfinite(v) for v in row.values())
    assert json.loads((run / "checkpoints" / "step-000002" / "meta.json").read_text())["family"] == "gancore-srgan"
    # gan sample has no batch to take low-resolution images from: the same clear error as pix2pix's.
    assert_clean_error(CliRunner().invoke(main, ["sample", str(run), "-o", str(tmp_path / "s.png")]),
                       "needs low-resolution inputs", "gan translate")
    Image.fromarray(np.arange(28 * 28, dtype=np.uint8).reshape(28, 28) % 251).save(tmp_path / "digit.png")
    result = CliRunner().invoke(main, ["translate", str(run), str(tmp_path / "digit.png"), "-o",
                                       str(tmp_path / "out"), "--grid"])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out" / "digit.png").size == (28, 28) and (tmp_path / "out" / "grid.png").is_file()

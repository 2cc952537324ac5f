"""ESRGAN: its losses by hand, the RRDB's structure, the perceptual features."""

from __future__ import annotations

import math

import pytest
import torch
from gancore_esrgan import ESRGAN, RRDB, DenseBlock, perceptual_loss

from gancore.data import DataSpec
from gancore.errors import PluginError


def softplus(t):
    return math.log1p(math.exp(t))


class _Step:
    def __init__(self):
        self.real = torch.zeros(2, 1, 2, 2)
        self.fake = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.0, 0.0], [0.0, -1.0]]]])

    def real_and_fake_scores(self):
        return torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])


def test_relativistic_and_pixel_losses_by_hand():
    family, step = ESRGAN(perceptual="none"), _Step()
    # E C_r = 2, E C_f = -1: real relativistic scores [2, 4], fake ones [-2, -4]
    expected_d = (softplus(-2) + softplus(-4)) / 2 + (softplus(-2) + softplus(-4)) / 2
    assert family.d_loss(step=step).item() == pytest.approx(expected_d, rel=1e-6)
    terms = family.g_loss(step=step)
    # G swaps the roles: -E log sigmoid(fake rel) - E log(1 - sigmoid(real rel))
    expected_g = (softplus(2) + softplus(4)) / 2 + (softplus(2) + softplus(4)) / 2
    assert terms["adv"].item() == pytest.approx(5e-3 * expected_g, rel=1e-6)
    assert terms["l1"].item() == pytest.approx(1e-2 * 2 / 8, rel=1e-6)  # |1| + |-1| over 8 pixels
    assert "percep" not in terms


def test_perceptual_loss_by_hand():
    phi = torch.nn.Conv2d(1, 2, 1, bias=False)
    with torch.no_grad():
        phi.weight.copy_(torch.tensor([1.0, -2.0]).reshape(2, 1, 1, 1))
    fake, real = torch.ones(1, 1, 1, 2), torch.zeros(1, 1, 1, 2)
    # features of fake: [1, 1] and [-2, -2]; of real: zeros -> mean |diff| = (1 + 1 + 2 + 2) / 4
    assert perceptual_loss(phi, fake, real).item() == pytest.approx(1.5)


def test_dense_and_residual_in_residual_scaling():
    block = DenseBlock(3, 2, beta=0.2)
    assert [c.in_channels for c in block.convs] == [3, 5, 7, 9, 11] and block.convs[-1].out_channels == 3
    for conv in block.convs:
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.constant_(conv.bias, 1.0)
    x = torch.zeros(1, 3, 2, 2)
    assert torch.allclose(block(x), torch.full_like(x, 0.2))  # x + beta * (last conv = its bias, 1)
    rrdb = RRDB(3, 2)
    for conv in rrdb.modules():
        if isinstance(conv, torch.nn.Conv2d):
            torch.nn.init.zeros_(conv.weight)
            torch.nn.init.constant_(conv.bias, 1.0)
    # three dense blocks: 0.2, 0.4, 0.6; then x + 0.2 * 0.6
    assert torch.allclose(rrdb(x), torch.full_like(x, 0.12))


def test_refuses_colour_images_with_the_digit_features():
    with pytest.raises(PluginError, match="perceptual=none"):
        ESRGAN().build_discriminator(data=DataSpec("rgb", (3, 8, 8)))
    ESRGAN(perceptual="none").build_discriminator(data=DataSpec("rgb", (3, 8, 8)))


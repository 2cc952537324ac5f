"""R3GAN: the RpGAN loss against hand-computed values, the residual networks' structure and
initialisation, the defaults, a CLI run."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from gancore_r3gan import R3GAN
from torch import nn

from gancore.cli import main
from gancore.data import DataSpec
from gancore.losses import rpgan_d, rpgan_g
from gancore.nets.residual import (
    ResidualBlock,
    ResidualDiscriminator,
    ResidualGenerator,
    ResidualMLPBlock,
    ResidualMLPDiscriminator,
    ResidualMLPGenerator,
)
from gancore.testing import defaults_of, make_plugin

DIGITS = DataSpec("digits", (1, 8, 8))
RING = DataSpec("ring", (2,))


def test_rpgan_losses_by_hand():
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    # D: pairs (1, 0) and (0, 2): softplus(-1) = ln(1 + e^-1) = 0.31326169, softplus(2) = ln(1 + e^2) = 2.12692801
    assert rpgan_d(real, fake).item() == pytest.approx((0.31326169 + 2.12692801) / 2, abs=1e-6)
    # G: softplus(-(0 - 1)) = softplus(1) = 1.31326169, softplus(-(2 - 0)) = softplus(-2) = 0.12692801
    assert rpgan_g(real, fake).item() == pytest.approx((1.31326169 + 0.12692801) / 2, abs=1e-6)


def test_rpgan_pairs_samples_instead_of_averaging_the_batch():
    real = torch.tensor([1.0, 0.0])
    # Reordering the fakes changes the pairs, so the loss: (1 - 2, 0 - 0) -> softplus(1), softplus(0) = ln 2
    assert rpgan_d(real, torch.tensor([2.0, 0.0])).item() == pytest.approx((1.31326169 + 0.69314718) / 2, abs=1e-6)
    # A relativistic *average* loss would not see the order; the pairing one does.
    assert rpgan_d(real, torch.tensor([2.0, 0.0])) != rpgan_d(real, torch.tensor([0.0, 2.0]))


def test_rpgan_gradients_by_hand():
    real = torch.tensor([1.0, 0.0], requires_grad=True)
    fake = torch.tensor([0.0, 2.0], requires_grad=True)
    rpgan_d(real, fake).backward()
    # d/d real_i of mean softplus(-(r_i - f_i)) = -sigmoid(-(r_i - f_i)) / 2:
    # sigmoid(-1) = 0.26894142, sigmoid(2) = 0.88079708
    assert torch.allclose(real.grad, torch.tensor([-0.26894142, -0.88079708]) / 2, atol=1e-6)
    assert torch.allclose(fake.grad, -real.grad)


def test_residual_block_is_the_identity_at_initialisation_and_uses_grouped_convolutions():
    torch.manual_seed(0)
    block = ResidualBlock(32, expansion=2, group_size=16, total_blocks=3)
    x = torch.randn(2, 32, 4, 4)
    assert torch.equal(block(x), x)  # the last 1x1 convolution starts at zero
    assert block.widen.kernel_size == (1, 1) and block.narrow.kernel_size == (1, 1)
    assert block.grouped.kernel_size == (3, 3) and block.grouped.groups == 64 // 16
    assert block.widen.out_channels == 64 and block.narrow.in_channels == 64  # inverted bottleneck


def test_fixup_scales_the_branch_by_l_to_the_minus_quarter():
    torch.manual_seed(0)
    one = ResidualBlock(16, total_blocks=1)
    torch.manual_seed(0)
    sixteen = ResidualBlock(16, total_blocks=16)
    # 16 ** -0.25 = 0.5 on the widening and grouped layers; the last layer is zero either way
    assert torch.allclose(sixteen.widen.weight, one.widen.weight * 0.5)
    assert torch.allclose(sixteen.grouped.weight, one.grouped.weight * 0.5)
    assert not sixteen.narrow.weight.any() and not one.narrow.weight.any()
    torch.manual_seed(0)
    mlp1 = ResidualMLPBlock(8, total_blocks=1)
    torch.manual_seed(0)
    mlp16 = ResidualMLPBlock(8, total_blocks=16)
    assert torch.allclose(mlp16.widen.weight, mlp1.widen.weight * 0.5) and not mlp16.narrow.weight.any()


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_networks_have_no_normalization_and_the_right_shapes(shape):
    spec = DataSpec("img", shape)
    G, D = ResidualGenerator(spec, 16, width=8), ResidualDiscriminator(spec, width=8)
    x = G(torch.randn(3, 16))
    assert x.shape == (3, *shape) and D(x).shape == (3,)
    norms = (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d, nn.LayerNorm)
    assert not any(isinstance(m, norms) for m in [*G.modules(), *D.modules()])
    assert any(isinstance(m, nn.Conv2d) and m.groups > 1 for m in D.modules())


def test_mlp_variant_for_vectors():
    G, D = ResidualMLPGenerator(RING, 8, hidden=16, blocks=2), ResidualMLPDiscriminator(RING, hidden=16, blocks=2)
    x = G(torch.randn(5, 8))
    assert x.shape == (5, 2) and D(x).shape == (5,)
    assert sum(isinstance(m, ResidualMLPBlock) for m in D.modules()) == 2


def test_family_builds_the_networks_per_data_kind():
    family = make_plugin(R3GAN, RING, hidden=16)
    assert isinstance(family.build_discriminator(RING), ResidualMLPDiscriminator)
    assert family.blocks == 2
    image = make_plugin(R3GAN, DIGITS, width=8)
    assert isinstance(image.build_discriminator(DIGITS), ResidualDiscriminator)


def test_defaults_turn_on_r1_and_r2_with_one_gamma():
    for spec, gamma in ((RING, 1.0), (DIGITS, 0.1), (DataSpec("mnist", (1, 28, 28)), 0.1)):
        settings = defaults_of(R3GAN, spec)
        assert settings["regularizers"] == {"r1": gamma, "r2": gamma}
        assert tuple(settings["betas"]) == (0.0, 0.99)


def test_a_cli_run_logs_both_penalties(tmp_path):
    result = CliRunner().invoke(main, ["train", "-p", "gancore-r3gan", "--set", "gancore-r3gan.width=8",
                                       "--data", "digits", "--steps", "2", "--batch-size", "8", "--out",
                                       str(tmp_path), "--name", "run", "--log-every", "1", "--grid-size", "4"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all("d/r1" in row and "d/r2" in row for row in rows if "d/loss" in row)

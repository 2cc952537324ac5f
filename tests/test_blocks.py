"""gancore.nets.blocks: self-attention, residual blocks and StyleGAN2's layers against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from gancore.nets import (LRELU_GAIN, EqualConv2d, EqualLinear, MinibatchStdDev, ModulatedConv2d, NoiseInjection,
                            ResBlockDown, ResBlockUp, SelfAttention)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_attention_starts_as_the_identity():
    torch.manual_seed(0)
    block = SelfAttention(16)
    assert block.gamma.item() == 0.0
    assert [conv.out_channels for conv in (block.f, block.g, block.h)] == [2, 2, 2]  # C/8
    x = torch.randn(3, 16, 4, 4)
    assert torch.equal(block(x), x)


def _hand_set_attention():
    # C = 2 channels (a, b), C' = 1: f(x) = a, g(x) = b, h(x) = b, v(o) = (o, o), gamma = 1
    block = SelfAttention(2, reduction=2)
    with torch.no_grad():
        block.f.weight.copy_(torch.tensor([1.0, 0.0]).view(1, 2, 1, 1))
        block.g.weight.copy_(torch.tensor([0.0, 1.0]).view(1, 2, 1, 1))
        block.h.weight.copy_(torch.tensor([0.0, 1.0]).view(1, 2, 1, 1))
        block.v.weight.copy_(torch.tensor([1.0, 1.0]).view(2, 1, 1, 1))
        block.gamma.fill_(1.0)
    return block


def test_attention_of_two_positions_by_hand():
    # positions x_1 = (a, b) = (1, 2), x_2 = (0, 4); s_ij = f(x_i) g(x_j) = a_i b_j
    # j = 1: s = (1*2, 0*2) = (2, 0) -> beta = (e^2, 1) / (e^2 + 1); o_1 = beta . (b_1, b_2) = (2e^2 + 4) / (e^2 + 1)
    # j = 2: s = (1*4, 0*4) = (4, 0) -> o_2 = (2e^4 + 4) / (e^4 + 1)
    x = torch.tensor([[1.0, 0.0], [2.0, 4.0]]).view(1, 2, 1, 2)  # channel a = (1, 0), b = (2, 4)
    e = math.e
    o1, o2 = (2 * e ** 2 + 4) / (e ** 2 + 1), (2 * e ** 4 + 4) / (e ** 4 + 1)
    expected = torch.tensor([[1 + o1, 0 + o2], [2 + o1, 4 + o2]]).view(1, 2, 1, 2)
    assert torch.allclose(_hand_set_attention()(x), expected, atol=1e-5)


def test_attention_scales_with_gamma_and_trains_gamma():
    x = torch.tensor([[1.0, 0.0], [2.0, 4.0]]).view(1, 2, 1, 2)
    block = _hand_set_attention()
    full = block(x) - x
    with torch.no_grad():
        block.gamma.fill_(0.5)
    assert torch.allclose(block(x) - x, 0.5 * full)
    block(x).sum().backward()
    assert block.gamma.grad.item() == pytest.approx(full.sum().item(), rel=1e-5)


def test_residual_blocks_change_resolution_and_channels():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 4, 4)
    assert ResBlockUp(8, 4)(x).shape == (2, 4, 8, 8)
    assert ResBlockDown(8, 16)(x).shape == (2, 16, 2, 2)
    assert ResBlockDown(8, 8, downsample=False)(x).shape == (2, 8, 4, 4)
    assert ResBlockDown(8, 8, downsample=False).shortcut is None  # identity shortcut


def test_residual_down_block_sums_its_paths():
    # zero main path: the block is its shortcut, pooled after (pre-activated) or before the 1x1 convolution
    x = torch.arange(16.0).view(1, 1, 4, 4)
    for preactivate in (True, False):
        block = ResBlockDown(1, 1, preactivate=preactivate)
        with torch.no_grad():
            block.conv2.weight.zero_()
            block.conv2.bias.zero_()
            block.shortcut.weight.fill_(2.0)
            block.shortcut.bias.fill_(1.0)
        pooled = torch.tensor([[2.5, 4.5], [10.5, 12.5]]).view(1, 1, 2, 2)
        assert torch.allclose(block(x), 2 * pooled + 1)


def test_equal_linear_scales_weight_and_bias():
    layer = EqualLinear(4, 1, bias_init=0.5, lr_mul=0.01)
    with torch.no_grad():
        layer.weight.fill_(100.0)  # stored / lr_mul: used as 100 * 0.01 / sqrt(4) = 0.5
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert layer.bias.item() == pytest.approx(50.0)  # bias_init / lr_mul
    assert layer(x).item() == pytest.approx(0.5 * 10 + 0.5)
    act = EqualLinear(1, 1, bias=False, activation="lrelu")
    with torch.no_grad():
        act.weight.fill_(1.0)
    assert act(torch.tensor([[-1.0]])).item() == pytest.approx(-0.2 * LRELU_GAIN)


def test_equal_conv_uses_he_constant():
    conv = EqualConv2d(2, 1, 1, down=True)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    x = torch.ones(1, 2, 2, 2)
    assert torch.allclose(conv(x), torch.full((1, 1, 1, 1), 2 / math.sqrt(2)))


def test_modulated_conv_by_hand():
    # 1x1 kernel, 2 in, 1 out, weight (1, 2) * scale 1/sqrt(2); style s = A(w) = (2, 3) for every w
    conv = ModulatedConv2d(2, 1, 1, w_dim=3, demodulate=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 2.0]).view(1, 2, 1, 1))
        conv.affine.weight.zero_()
        conv.affine.bias.copy_(torch.tensor([2.0, 3.0]))
    x = torch.tensor([[1.0, 1.0], [-1.0, 2.0]]).view(2, 2, 1, 1)  # two samples, one pixel
    w = torch.randn(2, 3)
    # w' = (1*2, 2*3) / sqrt(2) = (2, 6) / sqrt(2)
    assert torch.allclose(conv(x, w).flatten(), torch.tensor([8.0, 10.0]) / math.sqrt(2), atol=1e-5)
    conv.demodulate = True  # w'' = (2, 6) / sqrt(40): unit norm per output channel
    assert torch.allclose(conv(x, w).flatten(), torch.tensor([8.0, 10.0]) / math.sqrt(40), atol=1e-5)


def test_modulated_conv_uses_each_samples_own_style():
    torch.manual_seed(0)
    conv = ModulatedConv2d(3, 4, 3, w_dim=5, up=True)
    x, w = torch.randn(2, 3, 4, 4), torch.randn(2, 5)
    out = conv(x, w)
    assert out.shape == (2, 4, 8, 8)
    assert torch.allclose(out[1:], conv(x[1:], w[1:]), atol=1e-5)
    # the non-fused computation equals convolving each sample with its own modulated weight
    upsampled = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    weights = conv.modulated_weight(w)
    for i in range(2):
        own = torch.nn.functional.conv2d(upsampled[i:i + 1], weights[i], padding=1)
        assert torch.allclose(out[i:i + 1], own, atol=1e-5)
    # demodulated weights have unit norm per sample and output channel
    norms = conv.modulated_weight(w).pow(2).sum(dim=(2, 3, 4))
    assert torch.allclose(norms, torch.ones(2, 4), atol=1e-4)


def test_noise_injection_starts_off_and_adds_scaled_noise():
    layer = NoiseInjection()
    x = torch.ones(2, 3, 2, 2)
    assert torch.equal(layer(x), x)
    with torch.no_grad():
        layer.strength.fill_(0.5)
    noise = torch.arange(8.0).view(2, 1, 2, 2)
    assert torch.equal(layer(x, noise), x + 0.5 * noise)


def test_minibatch_stddev_by_hand():
    # group of 2: samples 0 and 2, samples 1 and 3 (official StyleGAN2 grouping)
    x = torch.tensor([0.0, 1.0, 2.0, 5.0]).view(4, 1, 1, 1)
    out = MinibatchStdDev(group=2)(x)
    assert out.shape == (4, 2, 1, 1)
    # std of (0, 2) = 1, of (1, 5) = 2
    assert torch.allclose(out[:, 1].flatten(), torch.tensor([1.0, 2.0, 1.0, 2.0]), atol=1e-4)

"""Residual networks without normalization, in the style of R3GAN (Huang et al., NeurIPS 2024,
"The GAN is dead; long live the GAN! A Modern GAN Baseline"), written from the paper's text.

* :class:`ResidualBlock`: ``x + W3(act(Wg(act(W1(x)))))`` with ``W1`` a 1x1 convolution that
  widens the channels (an *inverted* bottleneck, ``expansion`` times), ``Wg`` a grouped 3x3
  convolution (``group_size`` channels per group) and ``W3`` a 1x1 convolution back. No
  normalization. Fix-up style initialisation: ``W3`` starts at zero, so every block is the
  identity at initialisation, and the branch's other layers are scaled by ``L**-0.25`` (``L``
  the number of blocks in the network), so that the sum of the branches keeps its variance as
  ``W3`` grows.
* :class:`ResidualMLPBlock`: the same on vectors: ``x + L3(act(L1(x)))``, ``L1`` widening,
  ``L3`` zero-initialised.
* :class:`ResidualGenerator` / :class:`ResidualDiscriminator`: a stage per resolution of
  :func:`gancore.nets.conv.conv_plan` (8x8: 2 -> 4 -> 8; 28x28: 7 -> 14 -> 28). G: a linear
  *basis* layer maps ``z`` to the smallest feature map; each stage is a transition (bilinear
  upsampling by 2 and a 1x1 convolution to the stage's channels) and ``blocks`` residual
  blocks; a 1x1 convolution gives the image (no tanh: the paper has none, and an unbounded
  output keeps gradients alive). D mirrors it: a 1x1 convolution from the image, stages of
  residual blocks each followed by a transition down (1x1 convolution, bilinear downsampling by
  2), and at the smallest map a per-channel (grouped) convolution over the whole map and a
  linear score.
* :class:`ResidualMLPGenerator` / :class:`ResidualMLPDiscriminator`: the vector-data variant.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gancore.data import DataSpec
from gancore.errors import PluginError
from gancore.generator import Generator
from gancore.nets.conv import conv_plan

__all__ = [
    "ResidualBlock",
    "ResidualDiscriminator",
    "ResidualGenerator",
    "ResidualMLPBlock",
    "ResidualMLPDiscriminator",
    "ResidualMLPGenerator",
    "stage_channels",
]


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2)


def _scale_(layer: nn.Module, gain: float) -> None:
    """Kaiming-uniform (PyTorch's default) weights times ``gain``; zero bias."""
    with torch.no_grad():
        layer.weight.mul_(gain)
        if layer.bias is not None:
            layer.bias.zero_()


def _zero_(layer: nn.Module) -> None:
    nn.init.zeros_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


class ResidualBlock(nn.Module):
    """``x + 1x1(act(grouped 3x3(act(1x1(x)))))``, widened ``expansion`` times inside; fix-up initialised.

    :param channels: input and output channels.
    :param expansion: inner channels = ``channels * expansion``.
    :param group_size: channels per group of the 3x3 convolution (the inner channels must divide by it).
    :param total_blocks: ``L``, the number of residual blocks of the whole network (for ``L**-0.25``).
    """

    def __init__(self, channels: int, expansion: int = 2, group_size: int = 16, total_blocks: int = 1):
        super().__init__()
        inner = channels * expansion
        group_size = min(group_size, inner)
        if inner % group_size:
            raise PluginError(f"a residual block's {inner} inner channels do not divide into groups of {group_size}.")
        self.widen = nn.Conv2d(channels, inner, 1)
        self.grouped = nn.Conv2d(inner, inner, 3, padding=1, groups=inner // group_size)
        self.narrow = nn.Conv2d(inner, channels, 1)
        self.act = _lrelu()
        gain = total_blocks ** -0.25
        _scale_(self.widen, gain)
        _scale_(self.grouped, gain)
        _zero_(self.narrow)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.narrow(self.act(self.grouped(self.act(self.widen(x)))))


class ResidualMLPBlock(nn.Module):
    """``x + L3(act(L1(x)))`` with ``L1`` widening ``expansion`` times; ``L3`` zero-initialised."""

    def __init__(self, features: int, expansion: int = 2, total_blocks: int = 1):
        super().__init__()
        self.widen = nn.Linear(features, features * expansion)
        self.narrow = nn.Linear(features * expansion, features)
        self.act = _lrelu()
        _scale_(self.widen, total_blocks ** -0.25)
        _zero_(self.narrow)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.narrow(self.act(self.widen(x)))


def stage_channels(spec: DataSpec, width: int, max_channels: int = 512) -> tuple[int, list[int], list[int]]:
    """``(base, sizes, channels)``: the resolutions from smallest to largest and the channels of each
    (``width`` at the image's resolution, doubled per halving, at most ``max_channels``)."""
    if not spec.is_image:
        raise PluginError(f"residual convolutional networks need image data; {spec.name!r} has shape {spec.shape}.")
    base, n = conv_plan(spec.image_size)
    sizes = [base * 2 ** i for i in range(n + 1)]
    channels = [min(width * 2 ** (n - i), max_channels) for i in range(n + 1)]
    return base, sizes, channels


class _Transition(nn.Module):
    """Bilinear resampling by ``factor`` and a 1x1 convolution (channels change at the lower resolution)."""

    def __init__(self, in_channels: int, out_channels: int, up: bool):
        super().__init__()
        self.up = up
        self.conv = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up:
            return self.conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
        return F.interpolate(self.conv(x), scale_factor=0.5, mode="bilinear", align_corners=False)


class ResidualGenerator(Generator):
    """R3GAN-style G: basis (linear z -> smallest map), per stage up-transition + residual blocks, 1x1 to image."""

    def __init__(self, spec: DataSpec, latent_dim: int, width: int = 64, blocks: int = 1, expansion: int = 2,
                 group_size: int = 16):
        super().__init__(latent_dim)
        base, sizes, channels = stage_channels(spec, width)
        total = blocks * len(sizes)
        self.base, self.first = base, channels[0]
        self.basis = nn.Linear(latent_dim, channels[0] * base * base)
        stages = []
        for i, c in enumerate(channels):
            layers = [] if i == 0 else [_Transition(channels[i - 1], c, up=True)]
            layers += [ResidualBlock(c, expansion, group_size, total) for _ in range(blocks)]
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.to_image = nn.Conv2d(channels[-1], spec.channels, 1)

    def forward(self, latent) -> torch.Tensor:
        h = self.basis(latent).view(-1, self.first, self.base, self.base)
        return self.to_image(self.stages(h))


class ResidualDiscriminator(nn.Module):
    """R3GAN-style D: 1x1 from image, per stage residual blocks + down-transition, whole-map grouped conv, linear."""

    def __init__(self, spec: DataSpec, width: int = 64, blocks: int = 1, expansion: int = 2, group_size: int = 16):
        super().__init__()
        base, sizes, channels = stage_channels(spec, width)
        channels = channels[::-1]  # largest resolution first
        total = blocks * len(sizes)
        self.from_image = nn.Conv2d(spec.channels, channels[0], 1)
        stages = []
        for i, c in enumerate(channels):
            layers = [ResidualBlock(c, expansion, group_size, total) for _ in range(blocks)]
            if i + 1 < len(channels):
                layers.append(_Transition(c, channels[i + 1], up=False))
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        last = channels[-1]
        # The paper's D basis: a depthwise convolution over the whole smallest map, then a linear score.
        self.basis = nn.Conv2d(last, last, base, groups=last, bias=False)
        self.head = nn.Linear(last, 1)
        self.feature_dim = last

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.basis(self.stages(self.from_image(x))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


class ResidualMLPGenerator(Generator):
    """Vector data: linear z -> ``hidden``, ``blocks`` residual MLP blocks, linear to the sample."""

    def __init__(self, spec: DataSpec, latent_dim: int, hidden: int = 256, blocks: int = 2, expansion: int = 2):
        super().__init__(latent_dim)
        self.shape = tuple(spec.shape)
        self.inp = nn.Linear(latent_dim, hidden)
        self.blocks = nn.Sequential(*[ResidualMLPBlock(hidden, expansion, blocks) for _ in range(blocks)])
        self.out = nn.Linear(hidden, math.prod(self.shape))

    def forward(self, latent) -> torch.Tensor:
        return self.out(self.blocks(self.inp(latent))).view(-1, *self.shape)


class ResidualMLPDiscriminator(nn.Module):
    """Vector data: linear -> ``hidden``, ``blocks`` residual MLP blocks, linear score."""

    def __init__(self, spec: DataSpec, hidden: int = 256, blocks: int = 2, expansion: int = 2):
        super().__init__()
        self.inp = nn.Linear(math.prod(spec.shape), hidden)
        self.blocks = nn.Sequential(*[ResidualMLPBlock(hidden, expansion, blocks) for _ in range(blocks)])
        self.head = nn.Linear(hidden, 1)
        self.feature_dim = hidden

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.inp(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)

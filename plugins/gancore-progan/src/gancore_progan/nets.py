"""ProGAN's networks (Karras et al. 2018), every stage built up front, one switched on at a time.

Resolutions ``r_0 < r_1 < ... < r_last``, each twice the one before, ``r_last`` the image size
(:func:`resolutions`). G at stage ``s`` runs its first block (at ``r_0``) and blocks ``1..s``
(each: 2x nearest upsampling, two 3x3 convolutions), then stage ``s``'s toRGB; during the
fade-in (``fade < 1``) its output is ``fade * toRGB_s(h_s) + (1 - fade) * up(toRGB_{s-1}(h_{s-1}))``.
The image is then upsampled (nearest) to the full size, so that samples always have the data's
shape. D mirrors it: the input average-pooled to ``r_s``, stage ``s``'s fromRGB, blocks ``s..1``
(two 3x3 convolutions, 2x average pooling), blended during the fade-in with fromRGB_{s-1} of the
input pooled once more; then the minibatch standard deviation, a 3x3 convolution and two dense
layers. Every convolution and dense layer has an equalized learning rate (weights ``N(0, 1)``
used times ``sqrt(2 / fan_in)``); G normalizes every feature vector (pixel norm) after each
convolution. The stage and fade are buffers of both networks (saved with their weights, so a
checkpoint's generator samples at its stage); :meth:`set_stage` sets them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gancore.data import DataSpec
from gancore.errors import PluginError
from gancore.generator import Generator
from gancore.growth import Stage
from gancore.nets import LRELU_GAIN, EqualConv2d, EqualLinear, MinibatchStdDev


def resolutions(size: int) -> list[int]:
    """The stages' resolutions: halve ``size`` while the result stays a whole number >= 4
    (8 -> [4, 8]; 28 -> [7, 14, 28]; 32 -> [4, 8, 16, 32])."""
    found = [size]
    while found[0] % 2 == 0 and found[0] // 2 >= 4:
        found.insert(0, found[0] // 2)
    if len(found) < 2:
        raise PluginError(f"gancore-progan grows an image from at least half its size; {size}x{size} cannot be "
                          "halved to a whole size >= 4. Use --image-size (8, 28, 32, 64, ...).")
    return found


def channels(width: int, stage: int) -> int:
    """Channels at stage ``stage``: ``width`` at the first, halved at each doubling, at least 16."""
    return max(16, width // 2 ** stage)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``x / sqrt(mean over channels of x^2 + eps)``: each pixel's feature vector to unit length (times sqrt C)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU(0.2) times its gain ``sqrt(2)``: the equalized layers' ``sqrt(2 / fan_in)`` He scale."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


class Staged(nn.Module):
    """The stage (a whole number) and fade (0..1) as buffers, set by :meth:`set_stage`."""

    def __init__(self):
        super().__init__()
        self.register_buffer("stage", torch.zeros((), dtype=torch.long))
        self.register_buffer("fade", torch.ones(()))

    def set_stage(self, stage: int, fade: float) -> None:
        self.stage.fill_(int(stage))
        self.fade.fill_(float(fade))

    def position(self) -> tuple[int, float]:
        return int(self.stage), float(self.fade)


class ProGenerator(Generator):
    """z -> pixel norm -> dense to ``r_0 x r_0`` -> a 3x3 convolution, then one block per stage."""

    def __init__(self, spec: DataSpec, latent_dim: int, width: int, growth: tuple[Stage, ...]):
        super().__init__(latent_dim)
        if not spec.is_image:
            raise PluginError(f"gancore-progan grows images; {spec.name!r} has shape {spec.shape}.")
        self.sizes = resolutions(spec.image_size)
        self.staged = Staged()
        self.full = spec.image_size
        c0 = channels(width, 0)
        self.dense = EqualLinear(latent_dim, c0 * self.sizes[0] ** 2)
        self.first = EqualConv2d(c0, c0, 3)
        self.blocks = nn.ModuleList(nn.ModuleList([EqualConv2d(channels(width, k - 1), channels(width, k), 3),
                                                   EqualConv2d(channels(width, k), channels(width, k), 3)])
                                    for k in range(1, len(self.sizes)))
        self.to_rgb = nn.ModuleList(EqualConv2d(channels(width, k), spec.channels, 1) for k in range(len(self.sizes)))
        if len(growth) != len(self.sizes):
            raise PluginError(f"gancore-progan: {len(self.sizes)} resolutions {self.sizes} need as many stages; "
                              f"got {len(growth)}.")
        #: The schedule the trainer reads (gancore.growth): one row per resolution.
        self.growth = tuple(growth)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        stage, fade = self.staged.position()
        h = pixel_norm(lrelu(self.dense(pixel_norm(z)).view(len(z), -1, self.sizes[0], self.sizes[0])))
        h = pixel_norm(lrelu(self.first(h)))
        previous = h
        for block in self.blocks[:stage]:
            previous = h
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            for conv in block:
                h = pixel_norm(lrelu(conv(h)))
        out = self.to_rgb[stage](h)
        if stage > 0 and fade < 1:
            old = F.interpolate(self.to_rgb[stage - 1](previous), scale_factor=2, mode="nearest")
            out = fade * out + (1 - fade) * old
        out = torch.tanh(out)
        return F.interpolate(out, size=self.full, mode="nearest") if out.shape[-1] != self.full else out


def real_at(x: torch.Tensor, sizes: list[int], stage: int, fade: float) -> torch.Tensor:
    """Real images as G draws them at ``stage`` and ``fade``: pooled to ``r_stage``, during the fade-in
    blended with their ``r_{stage-1}`` version, then upsampled (nearest) to the full size."""
    full = x.shape[-1]
    x = F.avg_pool2d(x, full // sizes[stage]) if sizes[stage] != full else x
    if stage > 0 and fade < 1:
        x = fade * x + (1 - fade) * F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
    return F.interpolate(x, size=full, mode="nearest") if x.shape[-1] != full else x


class ProDiscriminator(nn.Module):
    """fromRGB at the stage's resolution, blocks down to ``r_0``, minibatch stddev, a convolution, two dense layers."""

    def __init__(self, spec: DataSpec, width: int, group: int = 4):
        super().__init__()
        self.sizes = resolutions(spec.image_size)
        self.staged = Staged()
        last = len(self.sizes) - 1
        self.from_rgb = nn.ModuleList(EqualConv2d(spec.channels, channels(width, k), 1) for k in range(last + 1))
        self.blocks = nn.ModuleList(nn.ModuleList([EqualConv2d(channels(width, k), channels(width, k), 3),
                                                   EqualConv2d(channels(width, k), channels(width, k - 1), 3)])
                                    for k in range(1, last + 1))
        c0 = channels(width, 0)
        self.stddev = MinibatchStdDev(group)
        self.conv = EqualConv2d(c0 + 1, c0, 3)
        self.dense = EqualLinear(c0 * self.sizes[0] ** 2, c0, activation="lrelu")
        self.out = EqualLinear(c0, 1)

    def _down(self, k: int, h: torch.Tensor) -> torch.Tensor:
        for conv in self.blocks[k - 1]:
            h = lrelu(conv(h))
        return F.avg_pool2d(h, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stage, fade = self.staged.position()
        full = x.shape[-1]
        x = F.avg_pool2d(x, full // self.sizes[stage]) if self.sizes[stage] != full else x
        h = lrelu(self.from_rgb[stage](x))
        if stage > 0:
            h = self._down(stage, h)
            if fade < 1:
                h = fade * h + (1 - fade) * lrelu(self.from_rgb[stage - 1](F.avg_pool2d(x, 2)))
            for k in range(stage - 1, 0, -1):
                h = self._down(k, h)
        h = lrelu(self.conv(self.stddev(h)))
        return self.out(self.dense(h.flatten(1))).squeeze(1)


def schedule(stage_steps: int, fade: float, count: int) -> tuple[Stage, ...]:
    """``count`` stages of ``stage_steps`` steps each, the new layers fading in over ``fade`` of a stage."""
    return tuple(Stage(k * stage_steps, round(fade * stage_steps) if k else 0) for k in range(count))



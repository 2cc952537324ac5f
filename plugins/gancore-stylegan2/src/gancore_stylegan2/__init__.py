"""A small StyleGAN2 (Karras, Laine, Aittala, Hellsten, Lehtinen and Aila, 2020) as a gancore family.

* Generator: a mapping network (``mapping_layers`` equalized linear layers
  with leaky ReLU, learning rate multiplier 0.01, on the normalized ``z``)
  gives the intermediate latent ``w``; the synthesis network starts from a
  learned constant at the base resolution and, per resolution, applies
  style-modulated 3x3 convolutions with weight demodulation
  (:class:`gancore.nets.ModulatedConv2d`; the first one of a resolution
  upsamples), per-pixel noise, a bias and a leaky ReLU; every resolution has a
  toRGB layer (a modulated 1x1 convolution without demodulation) whose output
  is added to the upsampled image so far (the "skip" generator). ``w`` is
  broadcast to every layer; ``forward`` returns ``{"sample": ..., "w": ws}``
  (``ws`` is ``(n, layers, w_dim)``), which is what the ``pathlength``
  regularizer needs.
* Discriminator: StyleGAN2's residual D: fromRGB, per resolution two 3x3
  convolutions (the second halving the resolution) plus a 1x1 shortcut,
  summed and divided by sqrt(2); at the base resolution the minibatch standard
  deviation (``mbstd``), a 3x3 convolution and two linear layers.
* Every layer has an equalized learning rate (``gancore.nets.blocks``).
* Losses: the non-saturating logistic loss (``gancore.losses.logistic_d`` /
  ``logistic_g``); by default lazy R1 (``r1``, every 16 D updates) and lazy
  path length regularization (``pathlength``, every 4 G updates), and an EMA
  of G for sampling (``ema``, 10 kimg half-life), as in the paper.

Simplifications of the paper, to train on a CPU: bilinear upsampling and
average-pool downsampling instead of FIR filters, no style mixing
regularization, no truncation. By default the lazy terms join the main
updates (gancore's ``lazy_regularization = "inline"``); with ``--lazy-regularization
separate`` the training loop runs them as StyleGAN2-ADA does: D reg and G reg
updates of their own, with Adam's learning rate times ``k / (k + 1)`` and
betas to that power.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gancore import hookimpl
from gancore.nets import (LRELU_GAIN, EqualConv2d, EqualLinear, MinibatchStdDev, ModulatedConv2d,
                            NoiseInjection)
from gancore.data import DataSpec
from gancore.errors import PluginError
from gancore.generator import Generator
from gancore.losses import logistic_d, logistic_g
from gancore.declaration import NonNegativeInt, PositiveInt, declare, option
from gancore.nets import conv_plan


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """StyleGAN's activation: leaky ReLU(0.2) times sqrt(2)."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


def _check_image(data: DataSpec) -> None:
    if not data.is_image:
        raise PluginError(f"gancore-stylegan2's networks are convolutional; {data.name!r} has shape {data.shape}. "
                          "Use an image family or data set.")


def channels_at(level: int, levels: int, width: int, most: int) -> int:
    """Channels at resolution ``base * 2**level``: ``width`` at full resolution, doubling down to ``most``."""
    return min(most, width * 2 ** (levels - level))


class MappingNetwork(nn.Module):
    """``z -> w``: ``z`` normalized to unit mean square, then ``layers`` equalized linear layers with leaky ReLU."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mul: float = 0.01):
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.net = nn.Sequential(*(EqualLinear(a, b, lr_mul=lr_mul, activation="lrelu")
                                   for a, b in zip(dims, dims[1:])))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8))


class StyledConv(nn.Module):
    """Modulated 3x3 convolution (optionally upsampling) -> noise -> bias -> leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, size: int, up: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, up=up)
        self.noise = NoiseInjection()
        self.bias = nn.Parameter(torch.zeros(out_channels))
        # StyleGAN2's noise_mode="const": fixed noise when sampling (eval mode), fresh noise when training.
        self.register_buffer("noise_const", torch.randn(1, 1, size, size))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = self.conv(x, w)
        noise = None if self.training else self.noise_const.expand(x.shape[0], -1, -1, -1)
        return lrelu(self.noise(x, noise) + self.bias[None, :, None, None])


class ToRGB(nn.Module):
    """A modulated 1x1 convolution without demodulation, plus a bias: features -> image."""

    def __init__(self, in_channels: int, channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class StyleGAN2Generator(Generator):
    """Mapping network + skip synthesis network; ``forward(z)`` returns ``{"sample", "w"}``.

    The sample is the sum of every resolution's toRGB output (upsampled),
    not squashed (the paper); in eval mode (sampling) it is clipped to
    [-1, 1], as StyleGAN2 clips the images it writes.
    """

    def __init__(self, data: DataSpec, latent_dim: int, width: int, most: int, w_dim: int, mapping_layers: int):
        super().__init__(latent_dim)
        _check_image(data)
        base, levels = conv_plan(data.image_size)
        self.mapping = MappingNetwork(latent_dim, w_dim, mapping_layers)
        channels = channels_at(0, levels, width, most)
        self.const = nn.Parameter(torch.randn(1, channels, base, base))
        self.convs, self.rgbs = nn.ModuleList(), nn.ModuleList()
        self.convs.append(StyledConv(channels, channels, w_dim, base))
        self.rgbs.append(ToRGB(channels, data.channels, w_dim))
        for level in range(1, levels + 1):
            out, size = channels_at(level, levels, width, most), base * 2 ** level
            self.convs.extend([StyledConv(channels, out, w_dim, size, up=True), StyledConv(out, out, w_dim, size)])
            self.rgbs.append(ToRGB(out, data.channels, w_dim))
            channels = out
        self.num_ws = len(self.convs) + len(self.rgbs)

    def forward(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        w = self.mapping(z)
        ws = w[:, None].repeat(1, self.num_ws, 1)  # one w per layer: path lengths are taken per layer
        layer = iter(ws.unbind(1))
        x = self.const.expand(z.shape[0], -1, -1, -1)
        x = self.convs[0](x, next(layer))
        image = self.rgbs[0](x, next(layer))
        for k, rgb in enumerate(self.rgbs[1:]):
            x = self.convs[2 * k + 2](self.convs[2 * k + 1](x, next(layer)), next(layer))
            image = F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False) + rgb(x, next(layer))
        if not self.training:
            image = image.clamp(-1, 1)
        return {"sample": image, "w": ws}

    #: Latents whose mapped ``w`` average to the truncation centre (a seeded draw, the same every time).
    W_AVG_SAMPLES = 10_000

    @torch.no_grad()
    def forward_truncated(self, z: torch.Tensor, psi: float) -> dict[str, torch.Tensor]:
        """``forward(z)`` with the truncation trick: ``w = w_avg + psi (w - w_avg)`` (Karras et al.
        2019, sec. 2; StyleGAN2's ``truncation_psi``), every layer's ``w`` alike.

        The official code tracks ``w_avg`` as a moving average during training; here it is
        estimated at sampling time, the mean of the mapping network's output over
        :attr:`W_AVG_SAMPLES` latents of seed 0, and cached until the mapping weights change, so
        training and checkpoints are untouched. ``psi = 1`` is ``forward``.
        """
        if psi == 1:
            return self.forward(z)
        params = list(self.mapping.parameters())
        key = tuple((p.data_ptr(), p._version) for p in params)
        if getattr(self, "_w_avg_key", None) != key:
            draw = torch.randn(self.W_AVG_SAMPLES, self.latent_dim, generator=torch.Generator().manual_seed(0))
            device = params[0].device if params else z.device
            self._w_avg = torch.cat([self.mapping(part.to(device)) for part in draw.split(1000)]).mean(0)
            self._w_avg_key = key
        w_avg = self._w_avg
        hook = self.mapping.register_forward_hook(lambda _module, _inputs, w: w_avg + psi * (w - w_avg))
        try:
            return self.forward(z)
        finally:
            hook.remove()


class ResidualBlock(nn.Module):
    """StyleGAN2's D block: conv3x3 -> conv3x3 (halving) plus a 1x1 halving shortcut, divided by sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, down=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.skip(x) + lrelu(self.conv1(lrelu(self.conv0(x))))) * 2 ** -0.5


class StyleGAN2Discriminator(nn.Module):
    """fromRGB -> residual blocks down to the base resolution -> [mbstd] -> conv3x3 -> linear -> linear."""

    def __init__(self, data: DataSpec, width: int, most: int, mbstd: int):
        super().__init__()
        _check_image(data)
        base, levels = conv_plan(data.image_size)
        channels = channels_at(levels, levels, width, most)
        self.from_rgb = EqualConv2d(data.channels, channels, 1)
        blocks = []
        for level in range(levels, 0, -1):
            out = channels_at(level - 1, levels, width, most)
            blocks.append(ResidualBlock(channels, out))
            channels = out
        self.blocks = nn.Sequential(*blocks)
        self.mbstd = MinibatchStdDev(mbstd) if mbstd else None
        self.conv = EqualConv2d(channels + (1 if mbstd else 0), channels, 3)
        self.fc = EqualLinear(channels * base * base, channels, activation="lrelu")
        self.feature_dim = channels
        self.head = EqualLinear(channels, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(lrelu(self.from_rgb(x)))
        if self.mbstd is not None:
            h = self.mbstd(h)
        return self.fc(lrelu(self.conv(h)).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


#: The paper's training setting (config F): Adam lr 0.002, betas (0, 0.99), lazy R1 every 16 D updates,
#: path length regularization (weight 2, every 4 G updates), an EMA of G (10 kimg half-life).
_PAPER = {"optimizer": "adam", "lr_g": 0.002, "lr_d": 0.002, "betas": (0.0, 0.99), "n_critic": 1,
          "regularizers": {"r1": 10.0, "pathlength": 2.0}, "options": {"r1": {"every": 16},
                                                                       "pathlength": {"every": 4}},
          "plugins": ["ema"]}
#: Training defaults by data kind (``DataSpec.kind``); vector data is refused (the networks are convolutional).
DEFAULTS = {
    "small-image": {**_PAPER, "regularizers": {"r1": 0.1, "pathlength": 2.0}},
    "image": _PAPER,
}
#: Network sizes by data kind (the options' defaults; ``image`` is the options' own default).
NETWORKS = {"small-image": {"width": 16, "most": 64, "w_dim": 64, "mapping_layers": 4},
            "image": {"width": 64, "most": 256, "w_dim": 256, "mapping_layers": 8}}


@declare
class StyleGAN2:
    """Karras et al. 2020: style-modulated skip generator, residual D, logistic loss, lazy R1 and path length."""

    kind = "family"
    defaults = DEFAULTS
    option_defaults = NETWORKS

    width: PositiveInt = option(NETWORKS["image"]["width"], help="Channels at full resolution.")
    most: PositiveInt = option(NETWORKS["image"]["most"], help="The most channels of any resolution.")
    w_dim: PositiveInt = option(NETWORKS["image"]["w_dim"], help="Width of the intermediate latent w.")
    mapping_layers: PositiveInt = option(NETWORKS["image"]["mapping_layers"], help="Layers of the mapping network.")
    mbstd: NonNegativeInt = option(4, help="Group size of D's minibatch standard deviation (0: off).")

    @hookimpl
    def build_generator(self, config, data):
        return StyleGAN2Generator(data, config.latent_dim, self.width, self.most, self.w_dim, self.mapping_layers)

    @hookimpl
    def build_discriminator(self, data):
        return StyleGAN2Discriminator(data, self.width, self.most, self.mbstd)

    @hookimpl
    def d_loss(self, step):
        # Real and fake batches through D separately, as StyleGAN2 does: the minibatch standard
        # deviation would otherwise mix real and fake samples in one group.
        return logistic_d(step.discriminator(step.real), step.discriminator(step.fake))

    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.fake_scores())

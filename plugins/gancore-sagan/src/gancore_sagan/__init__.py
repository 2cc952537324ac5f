"""SAGAN (Zhang, Goodfellow, Metaxas and Odena, 2019) as a gancore family.

* Networks: SNGAN-style ResNets (:class:`gancore.nets.ResBlockUp` in G,
  :class:`gancore.nets.ResBlockDown` in D) with one
  :class:`gancore.nets.SelfAttention` block in each, at the resolution
  ``attention`` (half the image size by default: 4x4 on 8x8 digits, 14x14 on
  28x28). G: noise -> linear -> ``base x base`` -> up-blocks -> BN, ReLU,
  conv3x3, tanh. D: down-blocks -> one block at ``base`` without pooling ->
  ReLU -> sum over positions -> linear.
* Spectral normalization on every convolution and linear weight of **both**
  G and D (the paper), with ``gancore_sngan.apply_spectral_norm``.
* Losses: the hinge loss (``gancore_sngan.hinge_d`` / ``hinge_g``).
* Training: the two time-scale update rule, Adam with lr 1e-4 for G and 4e-4
  for D, betas (0, 0.9), one D update per G update (``DEFAULTS``); on 28x28
  and larger with an EMA of G and ``width`` 32 (36x the FID floor on ``mnist``
  at 2,000 steps: not yet good there, docs/families/sagan.md).

Unconditional: the paper's class-conditional BatchNorm and projection
discriminator (ImageNet) are not part of this family.
"""

from __future__ import annotations

import torch
from gancore_sngan import apply_spectral_norm, hinge_d, hinge_g, lipschitz_discriminator
from torch import nn

from gancore import hookimpl
from gancore.data import DataSpec
from gancore.declaration import PositiveFloat, PositiveInt, declare, option
from gancore.errors import PluginError
from gancore.generator import Generator
from gancore.nets import ResBlockDown, ResBlockUp, SelfAttention, conv_plan


def _check_image(data: DataSpec) -> None:
    if not data.is_image:
        raise PluginError(f"gancore-sagan's networks attend over the positions of images; {data.name!r} has "
                          f"shape {data.shape}. Use an image family or data set.")


def _attention_size(attention: int | None, data: DataSpec, sizes: list[int]) -> int:
    size = data.image_size // 2 if attention is None else int(attention)
    if size not in sizes:
        raise PluginError(f"gancore-sagan: attention={size} is not a feature-map size of its networks on "
                          f"{data.image_size}x{data.image_size} images; use one of {', '.join(map(str, sizes))}.")
    return size


class SAGANGenerator(Generator):
    """Noise -> linear -> ``base x base`` x ``width * 2**n`` -> n residual up-blocks (channels halving), with
    self-attention after the block that reaches ``attention`` px -> BN, ReLU, conv3x3, tanh."""

    def __init__(self, data: DataSpec, latent_dim: int, width: int, attention: int | None = None):
        super().__init__(latent_dim)
        _check_image(data)
        self.base, n = conv_plan(data.image_size)
        self.channels = width * 2 ** n
        sizes = [self.base * 2 ** k for k in range(1, n + 1)]
        at = _attention_size(attention, data, sizes[:-1] or sizes)
        self.linear = nn.Linear(latent_dim, self.channels * self.base ** 2)
        blocks, channels = [], self.channels
        for size in sizes:
            blocks.append(ResBlockUp(channels, channels // 2))
            channels //= 2
            if size == at:
                blocks.append(SelfAttention(channels))
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, data.channels, 3, 1, 1),
                                 nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.linear(z).view(z.shape[0], self.channels, self.base, self.base)
        return self.out(self.blocks(h))


class SAGANDiscriminator(nn.Module):
    """An image -> n residual down-blocks (channels ``width``, doubling), with self-attention after the block
    that reaches ``attention`` px -> one block without pooling -> ReLU -> sum over positions -> linear."""

    def __init__(self, data: DataSpec, width: int, attention: int | None = None):
        super().__init__()
        _check_image(data)
        base, n = conv_plan(data.image_size)
        sizes = [base * 2 ** k for k in range(n - 1, -1, -1)]  # after each down-block
        at = _attention_size(attention, data, sizes[:-1] or sizes)
        blocks, channels = [], data.channels
        for k, size in enumerate(sizes):
            out = width * 2 ** k
            blocks.append(ResBlockDown(channels, out, preactivate=k > 0))
            channels = out
            if size == at:
                blocks.append(SelfAttention(channels))
        blocks += [ResBlockDown(channels, channels, downsample=False), nn.ReLU()]
        self.body = nn.Sequential(*blocks)
        self.feature_dim = channels
        self.head = nn.Linear(channels, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).sum(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


#: The paper's training setting: TTUR (Heusel et al. 2017) with Adam(0, 0.9), one D step per G step.
_PAPER = {"optimizer": "adam", "lr_g": 1e-4, "lr_d": 4e-4, "betas": (0.0, 0.9), "n_critic": 1}
#: Training defaults by data kind (``DataSpec.kind``); vector data is refused (no positions to attend over).
DEFAULTS = {
    "small-image": _PAPER,
    # 28x28 and larger: the paper's TTUR with an EMA of G. SNGAN's 28x28 setting (DCGAN's recipe: batch 128,
    # lr 5e-4 for both, betas (0, 0.99), linear decay, EMA; D's scores times 10) collapsed SAGAN onto one
    # class on mnist (135x the FID floor at 2,000 steps).
    "image": {**_PAPER, "plugins": ["ema"]},
}
#: D's Lipschitz bound by data kind, over 1 (see gancore_sngan.LIPSCHITZ).
LIPSCHITZ: dict[str, float] = {}


#: Zhang et al.'s settings (``--preset paper``): hinge loss, spectral normalization in G and D, TTUR
#: (Adam (0, 0.9), lr_g 1e-4, lr_d 4e-4), constant rates, no regularizer, no average of G.
PAPER = {**_PAPER, "lr_schedule": "constant", "batch_size": 64, "latent_dim": 128, "regularizers": {},
         "options": {"gancore-sagan": {"width": 64, "lipschitz": 1.0, "n_power_iterations": 1}}}


@declare
class SAGAN:
    """Zhang et al. 2019: self-attention in spectrally normalized ResNets, hinge loss, TTUR."""

    kind = "family"
    defaults = DEFAULTS
    paper = PAPER

    # 32, not the paper's 64 (``--preset paper``): on 28x28 64 costs 1.6 s a step at batch 64 on one CPU thread.
    width: PositiveInt = option(32, help="Channels of the first (G: last) residual block.")
    attention: PositiveInt | None = option(
        None, help="Feature-map size the self-attention layer works at (none: the networks' default).")
    n_power_iterations: PositiveInt = option(1, help="Power iterations per spectral-norm estimate.")
    lipschitz: PositiveFloat = option(1.0, by_kind=LIPSCHITZ, help="D's Lipschitz bound (its scores' scale).")

    @hookimpl
    def build_generator(self, config, data):
        G = SAGANGenerator(data, config.latent_dim, self.width, self.attention)
        return apply_spectral_norm(G, self.n_power_iterations)

    @hookimpl
    def build_discriminator(self, data):
        D = SAGANDiscriminator(data, self.width, self.attention)
        return lipschitz_discriminator(D, self.n_power_iterations, self.lipschitz)

    @hookimpl
    def d_loss(self, step):
        return hinge_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return hinge_g(step.fake_scores())

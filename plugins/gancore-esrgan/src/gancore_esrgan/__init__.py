"""ESRGAN (Wang et al., 2018) as a gancore family: enhanced super-resolution.

Like SRGAN (``gancore-srgan``, whose data path it shares) the generator's
input is the real batch downsampled by ``scale`` (antialiased bicubic), and
the real batch is the target. What ESRGAN changes, each from the paper:

* G: Residual-in-Residual Dense Blocks (RRDB) and no BatchNorm. A dense block
  is five 3x3 convolutions, each seeing the block's input and every earlier
  output (``growth`` new channels each, LeakyReLU 0.2 after the first four);
  its output is scaled by ``beta = 0.2`` and added to its input. An RRDB is
  three dense blocks in sequence with its own ``beta``-scaled residual. Then
  a 3x3 convolution added to the first layer's output, per factor 2 a nearest
  up-sampling and a 3x3 convolution with LeakyReLU, a 3x3 convolution with
  LeakyReLU and a last 3x3 convolution (tanh: gancore's images are in
  ``[-1, 1]``). Residual convolutions start at 0.1 x Kaiming's scale (the
  paper's "smaller initialization").
* D: SRGAN's VGG-style discriminator (:class:`gancore_srgan.SRDiscriminator`)
  as a relativistic average discriminator ``D_Ra(a, b) = sigmoid(C(a) - E C(b))``.
* Losses (its eqs. 1-3), with ``y`` a high-resolution image, ``x`` its
  downsampled version, ``C`` D's raw score, ``phi`` a frozen feature network
  *before* its activation::

      L_D = -E log D_Ra(y, G(x)) - E log(1 - D_Ra(G(x), y))
      L_G = L_percep + lambda * L_G^Ra + eta * L_1
      L_G^Ra = -E log(1 - D_Ra(y, G(x))) - E log D_Ra(G(x), y)
      L_percep = E |phi(G(x)) - phi(y)|,   L_1 = E |G(x) - y|

  with the paper's lambda = 5e-3 and eta = 1e-2.
* ``phi``: the paper's is VGG19's conv5_4 before its ReLU, trained on
  ImageNet; no such weights ship offline and they are not trained on digits.
  Here ``phi`` is the convolutional part of gancore's own ``mnist`` classifier
  (:func:`gancore.metrics.load_classifier`, trained offline on the embedded
  digits and cached): its two 3x3 convolution blocks, the second up to and
  excluding its ReLU. It takes one-channel images of any size; on other data
  use ``--set gancore-esrgan.perceptual=none`` (L_1 and the adversarial term only).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from gancore_relativistic import ragan_d, ragan_g
from gancore_srgan import SRDiscriminator, downsample
from gancore_translation.generator import Translator
from torch import nn

from gancore import hookimpl
from gancore.declaration import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    Range,
    declare,
    option,
)
from gancore.errors import PluginError

#: Training defaults by data kind. The paper: Adam (0.9, 0.999), lr 1e-4 halved at fixed iterations,
#: batch 16, after PSNR pre-training of G; here batch 16 and lr 1e-3 decayed linearly, as SRGAN's, for
#: a CPU budget without pre-training (docs/families/esrgan.md).
_RECIPE = {"betas": (0.9, 0.999), "batch_size": 16, "lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear"}
DEFAULTS = {"vector": {}, "small-image": dict(_RECIPE), "image": dict(_RECIPE)}
#: Network sizes by data kind (over the paper's 64 channels, growth 32, 23 RRDBs, D width 64).
NETWORKS = {"small-image": {"width": 16, "growth": 8, "blocks": 1, "d_width": 8},
            "image": {"width": 32, "growth": 16, "blocks": 2, "d_width": 16}}
_PAPER = {"width": 64, "growth": 32, "blocks": 23, "d_width": 64}
#: The paper's settings (``gan train --preset paper``) for its GAN stage: Adam (0.9, 0.999), lr 1e-4, batch
#: 16, its network sizes (its step-wise halving of the rate and the PSNR pre-training are not presets).
PAPER = {"betas": (0.9, 0.999), "batch_size": 16, "lr_g": 1e-4, "lr_d": 1e-4, "lr_schedule": "constant",
         "regularizers": {}, "options": {"gancore-esrgan": {**_PAPER, "adversarial": 5e-3, "l1": 1e-2}}}


class DenseBlock(nn.Module):
    """Five 3x3 convolutions, each on the block's input and every earlier output; residual scaled by beta."""

    def __init__(self, channels: int, growth: int, beta: float):
        super().__init__()
        self.beta = beta
        self.convs = nn.ModuleList(nn.Conv2d(channels + i * growth, growth if i < 4 else channels, 3, padding=1)
                                   for i in range(5))
        self.act = nn.LeakyReLU(0.2, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for i, conv in enumerate(self.convs):
            out = conv(torch.cat(features, 1))
            if i < 4:
                features.append(self.act(out))
        return x + self.beta * out


class RRDB(nn.Module):
    """Residual in residual: three dense blocks, their sum scaled by beta and added to the input."""

    def __init__(self, channels: int, growth: int, beta: float = 0.2):
        super().__init__()
        self.beta = beta
        self.blocks = nn.Sequential(*(DenseBlock(channels, growth, beta) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.beta * self.blocks(x)


class RRDBNet(Translator):
    """ESRGAN's generator on the downsampled real images; ``gan translate`` super-resolves the
    downsampled version of each input image (as SRGAN's)."""

    def __init__(self, channels: int, width: int, growth: int, blocks: int, scale: int):
        super().__init__(("low-resolution", "super-resolved"))
        self.scale = int(scale)
        act = nn.LeakyReLU(0.2, True)
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.trunk = nn.Sequential(*(RRDB(width, growth) for _ in range(blocks)), nn.Conv2d(width, width, 3, padding=1))
        layers: list[nn.Module] = []
        for _ in range(int(math.log2(self.scale))):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, width, 3, padding=1), act]
        self.tail = nn.Sequential(*layers, nn.Conv2d(width, width, 3, padding=1), act,
                                  nn.Conv2d(width, channels, 3, padding=1), nn.Tanh())
        for module in self.trunk.modules():
            if isinstance(module, nn.Conv2d):  # the paper's smaller initialisation of the residual path
                nn.init.kaiming_normal_(module.weight, a=0.0, mode="fan_in")
                module.weight.data.mul_(0.1)
                nn.init.zeros_(module.bias)

    def latent(self, n, labels=None, batch=None, rng=None):
        """``{"source": the first n real images downsampled by scale}``; there is no noise to draw."""
        if batch is None:
            from gancore.errors import ConfigError

            raise ConfigError("ESRGAN super-resolves images: it needs low-resolution inputs made from real images, "
                              "not noise. Use `gan translate CHECKPOINT IMAGE... -o OUT` (each IMAGE at the "
                              "training size; its downsampled version is super-resolved).")
        return self.translation_latent(batch.x[:n], 1)

    def translation_latent(self, images: torch.Tensor, target: int = 1, source_domain=None):
        """The latent that super-resolves the downsampled version of ``images`` (full size, in ``[-1, 1]``)."""
        return {"source": downsample(images.to(self.latent_device()).float(), self.scale)}

    def forward(self, latent) -> torch.Tensor:
        h = self.head(latent["source"])
        return self.tail(h + self.trunk(h))


def classifier_features() -> nn.Module:
    """``phi``: the ``mnist`` classifier's two convolution blocks, the second before its ReLU; frozen, in
    eval mode (its BatchNorm uses its running statistics)."""
    from gancore.metrics import load_classifier

    body = load_classifier("mnist").net.body
    convs = [i for i, layer in enumerate(body) if isinstance(layer, nn.Conv2d)]
    # Up to the second convolution's BatchNorm: everything before the ReLU that follows it.
    features = nn.Sequential(*list(body)[: convs[1] + 2]).eval()
    features.requires_grad_(False)
    return features


def perceptual_loss(features: nn.Module, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """``E |phi(fake) - phi(real)|``, the mean over every feature of every sample."""
    return (features(fake) - features(real)).abs().mean()


@declare
class ESRGAN:
    """Wang et al. 2018: RRDB G without BatchNorm, relativistic average D, perceptual + 5e-3 adv + 1e-2 L1."""

    kind = "family"
    defaults = DEFAULTS
    option_defaults = NETWORKS
    paper = PAPER

    width: PositiveInt = option(_PAPER["width"], help="Channels of G's trunk.")
    growth: PositiveInt = option(_PAPER["growth"], help="Channels each dense-block convolution adds.")
    blocks: NonNegativeInt = option(_PAPER["blocks"], help="RRDBs in G.")
    d_width: PositiveInt = option(_PAPER["d_width"], help="Channels of D's first convolution.")
    scale: Annotated[int, Range(ge=2)] = option(2, help="Upscaling factor (a power of 2).")
    adversarial: NonNegativeFloat = option(5e-3, help="lambda, the weight of G's relativistic adversarial loss.")
    l1: NonNegativeFloat = option(1e-2, help="eta, the weight of the L1 loss.")
    perceptual: Literal["classifier", "none"] = option(
        "classifier", help="The perceptual loss's features: the mnist classifier's convolutions, or none.")

    def __attrs_post_init__(self):
        if self.scale & (self.scale - 1):
            raise ValueError(f"scale must be a power of 2 (one up-sampling per factor 2), got {self.scale}")
        self._features = None

    def _check(self, data) -> None:
        if not data.is_image:
            raise PluginError(f"ESRGAN super-resolves images; {data.name!r} has samples of shape {data.shape}.")
        if data.image_size % self.scale or data.image_size // self.scale < 2:
            raise PluginError(f"ESRGAN with scale {self.scale} needs an image size divisible by {self.scale} into "
                              f"at least 2x2 pixels; {data.name!r} is {data.image_size}x{data.image_size}.")
        if self.perceptual == "classifier" and data.channels != 1:
            raise PluginError(f"ESRGAN's perceptual features come from the mnist classifier, which reads "
                              f"one-channel images; {data.name!r} has {data.channels} channels. Use "
                              "--set gancore-esrgan.perceptual=none.")

    @hookimpl
    def build_generator(self, data):
        self._check(data)
        return RRDBNet(data.channels, self.width, self.growth, self.blocks, self.scale)

    @hookimpl
    def build_discriminator(self, data):
        self._check(data)
        return SRDiscriminator(data.channels, data.image_size, self.d_width, "batch")

    @hookimpl
    def d_loss(self, step):
        return ragan_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        # The fakes are the super-resolved versions of the batch's own images: row i's target is real[i].
        terms = {"adv": self.adversarial * ragan_g(*step.real_and_fake_scores()),
                 "l1": self.l1 * (step.fake - step.real).abs().mean()}
        if self.perceptual == "classifier":
            terms["percep"] = perceptual_loss(self._phi(step.fake.device), step.fake, step.real)
        return terms

    def _phi(self, device) -> nn.Module:
        # Loaded at G's first update, not when G is built: networks are first built on the meta device
        # (to check their size), and phi is a fixed function, not a network this run trains or saves.
        if self._features is None:
            self._features = classifier_features()
        return self._features.to(device)

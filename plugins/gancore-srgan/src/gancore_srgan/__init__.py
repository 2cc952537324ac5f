"""SRGAN (Ledig et al., 2017) as a gancore family: single-image super-resolution.

The generator's input is not noise: it is the low-resolution version of the
real batch, each image downsampled by ``scale`` (2 by default: ``mnist``
14x14 -> 28x28) with an antialiased bicubic kernel, as the paper makes its LR
images. ``G`` upsamples it back; the real batch is the high-resolution target.

* G: SRResNet, a 9x9 convolution and PReLU, ``blocks`` residual blocks
  (3x3 conv, BatchNorm, PReLU, 3x3 conv, BatchNorm, plus the identity), a
  3x3 conv and BatchNorm added to the first layer's output, one sub-pixel
  convolution block per factor 2 (3x3 conv to 4x the channels, PixelShuffle,
  PReLU), a 9x9 convolution and tanh (gancore's images are in ``[-1, 1]``).
* D: the paper's VGG-style classifier, 3x3 convolutions with LeakyReLU(0.2),
  alternately stride 2 and doubling the channels (64, 64, 128, 128, 256, 256,
  512, 512 at width 64; BatchNorm on all but the first), as many stride-2
  layers (up to the paper's four) as the image size allows, then dense
  ``16 * d_width`` (1024 at width 64), LeakyReLU, dense 1.
* Losses, with ``y`` a high-resolution image, ``x`` its downsampled version,
  ``s = D(.)`` raw scores and ``softplus(t) = -log sigmoid(-t)``::

      L_D = E softplus(-D(y)) + E softplus(D(G(x)))
      L_G = l_X + 1e-3 * l_Gen,   l_X = 1/(r^2 W H) sum (y - G(x))^2,   l_Gen = E softplus(-D(G(x)))

  the paper's perceptual loss (its eq. 3) with the pixel-wise MSE content
  loss (its eq. 4) and the non-saturating adversarial loss (its eq. 6). The
  paper's preferred content loss is the MSE between VGG19 feature maps; no
  VGG19 weights are available offline (and they are not trained on digits),
  so the content loss here is the pixel MSE, the paper's SRGAN-MSE variant.
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import nn

from gancore import hookimpl
from gancore.errors import ConfigError, PluginError
from gancore.losses import logistic_d, logistic_g
from gancore.declaration import NonNegativeFloat, NonNegativeInt, Norm, PositiveInt, Range, declare, option
from gancore.nets import norm_2d
from gancore_translation.generator import Translator

#: Training defaults by data kind: Adam with beta1 = 0.9 and batch 16 as in the paper. The paper's
#: learning rate (1e-4) follows 10^6 updates of MSE pre-training that a CPU budget does not have;
#: here 1e-3, decayed linearly to 0 over the run (docs/families/srgan.md).
_RECIPE = {"betas": (0.9, 0.999), "batch_size": 16, "lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear"}
DEFAULTS = {"vector": {}, "small-image": dict(_RECIPE), "image": dict(_RECIPE)}
#: Network sizes by data kind (option defaults, over the paper's width 64, 16 blocks, d_width 64):
#: sized to train on a CPU in minutes.
NETWORKS = {"small-image": {"width": 16, "blocks": 2, "d_width": 8},
            "image": {"width": 32, "blocks": 4, "d_width": 16}}
_PAPER = {"width": 64, "blocks": 16, "d_width": 64}


def downsample(images: torch.Tensor, scale: int) -> torch.Tensor:
    """The low-resolution input for ``images`` (``(N, C, H, W)`` in ``[-1, 1]``): an antialiased
    bicubic resize to ``H/scale x W/scale``, clamped to ``[-1, 1]``."""
    h, w = images.shape[-2:]
    low = F.interpolate(images, size=(h // scale, w // scale), mode="bicubic", align_corners=False, antialias=True)
    return low.clamp(-1, 1)


def bicubic_upsample(low: torch.Tensor, scale: int) -> torch.Tensor:
    """The baseline super-resolution: bicubic interpolation of ``low`` by ``scale``, clamped to ``[-1, 1]``."""
    h, w = low.shape[-2:]
    return F.interpolate(low, size=(h * scale, w * scale), mode="bicubic", align_corners=False).clamp(-1, 1)


def content_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """The paper's pixel-wise MSE content loss (eq. 4): the mean of ``(real - fake)^2`` over pixels
    (and channels and samples)."""
    return (real - fake).pow(2).mean()


class ResidualBlock(nn.Module):
    """SRResNet's block: 3x3 conv, norm, PReLU, 3x3 conv, norm, plus the identity."""

    def __init__(self, channels: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), norm_2d(norm, channels), nn.PReLU(),
                                  nn.Conv2d(channels, channels, 3, padding=1), norm_2d(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNet(Translator):
    """Super-resolves the downsampled real images (SRResNet); ``gan translate`` super-resolves the
    downsampled version of each input image."""

    def __init__(self, channels: int, width: int, blocks: int, scale: int, norm: str):
        super().__init__(("low-resolution", "super-resolved"))
        self.scale = int(scale)
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU())
        self.body = nn.Sequential(*(ResidualBlock(width, norm) for _ in range(blocks)),
                                  nn.Conv2d(width, width, 3, padding=1), norm_2d(norm, width))
        upsampling = []
        for _ in range(int(math.log2(self.scale))):
            # Sub-pixel convolution: 4x the channels, rearranged into a 2x larger map.
            upsampling += [nn.Conv2d(width, 4 * width, 3, padding=1), nn.PixelShuffle(2), nn.PReLU()]
        self.tail = nn.Sequential(*upsampling, nn.Conv2d(width, channels, 9, padding=4), nn.Tanh())

    def latent(self, n, labels=None, batch=None, rng=None):
        """``{"source": the first n real images downsampled by scale}``; there is no noise to draw."""
        if batch is None:
            raise ConfigError("SRGAN super-resolves images: it needs low-resolution inputs made from real images, "
                              "not noise. Use `gan translate CHECKPOINT IMAGE... -o OUT` (each IMAGE at the "
                              "training size; its downsampled version is super-resolved).")
        return self.translation_latent(batch.x[:n], 1)

    def translation_latent(self, images: torch.Tensor, target: int = 1, source_domain=None):
        """The latent that super-resolves the downsampled version of ``images`` (full size, in ``[-1, 1]``)."""
        return {"source": downsample(images.to(self.latent_device()).float(), self.scale)}

    def forward(self, latent) -> torch.Tensor:
        h = self.head(latent["source"])
        return self.tail(h + self.body(h))


class SRDiscriminator(nn.Module):
    """The paper's discriminator, with as many stride-2 layers (up to four) as keep the map >= 2x2."""

    def __init__(self, channels: int, size: int, width: int, norm: str):
        super().__init__()
        layers, ch = [nn.Conv2d(channels, width, 3, padding=1), nn.LeakyReLU(0.2, True)], width
        for stage in range(4):
            if size <= 3:
                break
            out = width * 2 ** stage
            if stage > 0:  # the stride-1 layer that doubles the channels, before each later stride-2 layer
                layers += [nn.Conv2d(ch, out, 3, padding=1, bias=norm == "none"), norm_2d(norm, out),
                           nn.LeakyReLU(0.2, True)]
                ch = out
            layers += [nn.Conv2d(ch, out, 3, 2, 1, bias=norm == "none"), norm_2d(norm, out), nn.LeakyReLU(0.2, True)]
            ch, size = out, (size + 1) // 2
        hidden = 16 * width
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(ch * size * size, hidden), nn.LeakyReLU(0.2, True))
        self.head = nn.Linear(hidden, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)


@declare
class SRGAN:
    """Ledig et al. 2017: SRResNet G on downsampled real images, VGG-style D, pixel MSE + 1e-3 x adversarial loss."""

    kind = "family"
    defaults = DEFAULTS
    option_defaults = NETWORKS

    width: PositiveInt = option(_PAPER["width"], help="Channels of G's residual blocks.")
    blocks: NonNegativeInt = option(_PAPER["blocks"], help="Residual blocks in G.")
    d_width: PositiveInt = option(_PAPER["d_width"], help="Channels of D's first convolution.")
    scale: Annotated[int, Range(ge=2)] = option(2, help="Upscaling factor (a power of 2).")
    norm: Norm = option("batch", help="Normalization in G's blocks and D.")
    adversarial: NonNegativeFloat = option(1e-3, help="Weight of the adversarial term against the pixel MSE.")

    def __attrs_post_init__(self):
        if self.scale & (self.scale - 1):
            raise ValueError(f"scale must be a power of 2 (one sub-pixel convolution per factor 2), got {self.scale}")

    def network(self, data=None) -> dict[str, int]:
        """``width``, ``blocks`` and ``d_width`` (resolved for the run's data before the family was created)."""
        return {name: getattr(self, name) for name in _PAPER}

    def _check(self, data) -> None:
        if not data.is_image:
            raise PluginError(f"SRGAN super-resolves images; {data.name!r} has samples of shape {data.shape}.")
        if data.image_size % self.scale or data.image_size // self.scale < 2:
            raise PluginError(f"SRGAN with scale {self.scale} needs an image size divisible by {self.scale} into at "
                              f"least 2x2 pixels; {data.name!r} is {data.image_size}x{data.image_size}.")

    @hookimpl
    def build_generator(self, data):
        self._check(data)
        net = self.network(data)
        return SRResNet(data.channels, net["width"], net["blocks"], self.scale, self.norm)

    @hookimpl
    def build_discriminator(self, data):
        self._check(data)
        return SRDiscriminator(data.channels, data.image_size, self.network(data)["d_width"], self.norm)

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        # The fakes are the super-resolved versions of the batch's own images: row i's target is real[i].
        return {"content": content_loss(step.fake, step.real), "adv": self.adversarial * logistic_g(step.fake_scores())}

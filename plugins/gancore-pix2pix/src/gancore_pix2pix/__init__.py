"""pix2pix (Isola et al., 2017) as a gancore family: paired image-to-image translation.

* G: a U-Net (encoder down to 1x1, mirrored skip connections, dropout 0.5 in
  the three decoder layers after the bottleneck), :class:`gancore_translation.nets.UNet`.
* D: a PatchGAN on the source image stacked with a target image (real or
  translated), scaled to the image size (70x70 patches on 256x256 images,
  16x16 on 28x28), :class:`gancore_translation.nets.PatchDiscriminator`.
* Losses, with ``x`` the source, ``y`` its paired target, ``s = D(x, .)``
  raw patch scores and ``softplus(t) = log(1 + e^t)``::

      L_D = 1/2 [ E softplus(-D(x, y)) + E softplus(D(x, G(x))) ]
      L_G = E softplus(-D(x, G(x)))  +  lambda * E |y - G(x)|_1

  i.e. the conditional GAN loss (non-saturating for G; D's objective halved
  as in the paper) plus L1 with lambda = 100.
* Defaults (the paper's): Adam, lr 2e-4, betas (0.5, 0.999), BatchNorm.
  (The paper trains with batch size 1 to 10; gancore's default is 64.)
"""

from __future__ import annotations

from typing import Annotated

import torch

from gancore import hookimpl
from gancore.losses import logistic_d, logistic_g
from gancore.declaration import NonNegativeFloat, NonNegativeInt, Norm, PositiveInt, Range, declare, option
from gancore.step import DiscriminatorView
from gancore_translation.domains import SECOND, describe_domains, require_domains
from gancore_translation.generator import Translator
from gancore_translation.nets import PatchDiscriminator, UNet


class Pix2PixGenerator(Translator):
    """Translates the source domain into the target domain with a U-Net."""

    def __init__(self, spec, width: int, norm: str, dropout: float):
        super().__init__(describe_domains(spec))
        self.net = UNet(spec.channels, spec.channels, spec.image_size, width, norm=norm, dropout=dropout)

    def forward(self, latent) -> torch.Tensor:
        return self.net(latent["source"])


@declare
class Pix2Pix:
    """Isola et al. 2017: U-Net G, PatchGAN D on (source, target), conditional GAN + 100 * L1 (paired data)."""

    kind = "family"

    width: PositiveInt = option(64, help="Channels of the U-Net's first convolution.")
    d_width: PositiveInt = option(64, help="Channels of the PatchGAN's first convolution.")
    norm: Norm = option("batch", help="Normalization in G and D.")
    l1: NonNegativeFloat = option(100.0, help="lambda, the weight of the L1 term.")
    dropout: Annotated[float, Range(ge=0, lt=1)] = option(0.5, help="Dropout in the U-Net's decoder (G's noise).")
    patch_layers: NonNegativeInt = option(0, help="Strided layers of the PatchGAN (0: by the image size).")

    @hookimpl
    def build_generator(self, data):
        require_domains(data, "pix2pix", ("paired",))
        return Pix2PixGenerator(data, self.width, self.norm, self.dropout)

    @hookimpl
    def build_discriminator(self, data):
        require_domains(data, "pix2pix", ("paired",))
        return PatchDiscriminator(2 * data.channels, data.image_size, self.d_width,
                                  layers=self.patch_layers or None, norm=self.norm)

    @staticmethod
    def _source_and_target(step):
        return step.latent["source"], step.batch.extra[SECOND]

    @hookimpl
    def d_loss(self, step):
        source, target = self._source_and_target(step)
        fake = step.fake
        pairs = torch.cat([torch.cat([source, target], 1), torch.cat([source, fake], 1)])
        real_scores, fake_scores = step.discriminator(pairs).split([len(target), len(fake)])
        step.views = (DiscriminatorView(real=target, fake=fake, parameters=step.D.parameters,
                                        score=lambda y: step.discriminator(torch.cat([source, y], 1))),)
        return 0.5 * logistic_d(real_scores, fake_scores)

    @hookimpl
    def g_loss(self, step):
        source, target = self._source_and_target(step)
        fake = step.fake
        adversarial = logistic_g(step.discriminator(torch.cat([source, fake], 1)))
        return {"adv": adversarial, "l1": self.l1 * (fake - target).abs().mean()}

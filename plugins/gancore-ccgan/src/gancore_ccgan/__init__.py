"""CCGAN (Denton et al., 2016) as a gancore family: context-conditional GAN inpainting.

G sees a real image with a square hole at a random place (half the image's
side) and fills it; the completion keeps every known pixel and takes G's pixels
in the hole (:class:`gancore_inpainting.generator.Inpainter`). D tells real
images from completed ones, so G learns fills that are plausible in their
context, with no pixel loss.

* G: an encoder-decoder with skip connections (:class:`gancore_translation.nets.UNet`)
  over the image with its hole and the hole's mask as a second input channel.
  The paper's G is the Context Encoder's encoder-decoder on the image alone;
  with holes anywhere, the mask channel tells G where to fill and the skips
  carry the context's strokes to the fill's border (our choice, measured in
  docs/families/ccgan.md).
* D: DCGAN's strided convolutional discriminator on the whole image (the
  paper's D is a VGG-style network that also classifies, for semi-supervised
  learning; the classification head is not part of this family).
* Losses, with ``x`` a real image, ``m`` its mask, ``G(.)`` the completion and
  ``softplus(t) = log(1 + e^t)`` (the paper's eq. 2, non-saturating for G)::

      L_D = E softplus(-D(x)) + E softplus(D(G(x * (1 - m), m)))
      L_G = E softplus(-D(G(x * (1 - m), m)))  [+ lambda_rec * mean over the hole of |x - G(.)|]

  The paper's G has no pixel term (``reconstruction=0``). Ours on images is
  ``reconstruction=10``: at 1,000 steps on ``mnist`` the purely adversarial fill
  was worse than filling the hole with the mean training image (hole L1 0.311
  vs 0.274 for holes at random places), with the L1 term 0.137
  (docs/families/ccgan.md; ``benchmarks/inpainting.py``).
* Defaults: the paper's Adam (0.5, 0.999) at 2e-4 for both networks, BatchNorm;
  narrower networks than the paper's.
* Not here: the paper's CC-GAN2 variant (a low-resolution copy of the whole
  image as a second input) and its semi-supervised classifier.
"""

from __future__ import annotations

from typing import Annotated

import torch
from gancore_inpainting.generator import Inpainter, require_images
from gancore_inpainting.masks import Placement, masked_l1
from gancore_translation.nets import UNet

from gancore import hookimpl
from gancore.declaration import (
    NonNegativeFloat,
    Norm,
    PositiveInt,
    Range,
    declare,
    option,
)
from gancore.losses import logistic_d, logistic_g
from gancore.nets import standard_discriminator

_PAPER = {"betas": (0.5, 0.999), "lr_g": 2e-4, "lr_d": 2e-4}
DEFAULTS = {"vector": {}, "small-image": dict(_PAPER), "image": dict(_PAPER)}
#: Option defaults by data kind: narrower networks than the paper's, and an L1 term over the hole (the
#: paper's G is purely adversarial: reconstruction 0).
NETWORKS = {"small-image": {"width": 32, "d_width": 32, "reconstruction": 10.0},
            "image": {"width": 32, "d_width": 32, "reconstruction": 10.0}}
#: The paper's settings (``gan train --preset paper``): purely adversarial G, 64-wide networks.
PAPER = {**_PAPER, "lr_schedule": "constant", "regularizers": {}, "options": {
    "gancore-ccgan": {"width": 64, "d_width": 64, "norm": "batch", "reconstruction": 0.0, "placement": "random"}}}


class ContextConditionalGenerator(Inpainter):
    """CCGAN's generator: a U-Net over the image with its hole and the mask."""

    def __init__(self, spec, width: int, norm: str, fraction: float, placement: Placement):
        super().__init__(spec.image_size, fraction, placement)
        self.net = UNet(spec.channels + 1, spec.channels, spec.image_size, width, norm=norm, dropout=0.0)

    def fill(self, source, mask):
        return self.net(torch.cat([source, mask], 1))


@declare
class CCGAN:
    """Denton et al. 2016: fill holes anywhere so that D cannot tell; U-Net G on image + mask, adversarial loss."""

    kind = "family"
    defaults = DEFAULTS
    option_defaults = NETWORKS
    paper = PAPER

    width: PositiveInt = option(64, help="Channels of G's first convolution.")
    d_width: PositiveInt = option(64, help="Channels of D's first convolution.")
    norm: Norm = option("batch", help="Normalization in G and D.")
    hole: Annotated[float, Range(gt=0, lt=1)] = option(0.5, help="Side of each square hole, as a fraction of the "
                                                                   "image's side.")
    placement: Placement = option("random", help="Where the holes are cut in training: anywhere, or the centre.")
    reconstruction: NonNegativeFloat = option(0.0, help="lambda_rec, the weight of an L1 loss over the hole "
                                                        "(0: the paper's purely adversarial G; 10 on images).")

    @hookimpl
    def build_generator(self, data):
        require_images(data, "CCGAN")
        return ContextConditionalGenerator(data, self.width, self.norm, self.hole, self.placement)

    @hookimpl
    def build_discriminator(self, data):
        require_images(data, "CCGAN")
        return standard_discriminator(data, self.d_width, norm=self.norm)

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        terms = {"adv": logistic_g(step.fake_scores())}
        if self.reconstruction:
            terms["rec"] = self.reconstruction * masked_l1(step.fake, step.real, step.latent["mask"]).mean()
        return terms

"""Context Encoder (Pathak et al., 2016) as a gancore family: inpainting the centre of an image.

G sees a real image whose central square (half the side: a quarter of the
pixels) is missing and predicts the image; the completion keeps every known
pixel and takes G's pixels in the hole (:class:`gancore_inpainting.generator.Inpainter`).

* G: an encoder-decoder — 4x4 stride-2 convolutions down to a 1x1 bottleneck
  (for the paper's 128x128 inputs a 4000-unit fully connected code; here the
  innermost 1x1 layer plays that part) and mirrored transposed convolutions
  back, no skip connections (:class:`gancore_translation.nets.UNet` with
  ``skips=False``).
* D: DCGAN's strided convolutional discriminator on the completed image
  (the paper's D sees only the predicted region of a central hole; scoring the
  whole completion works for any hole and judges the seams too).
* Losses, with ``x`` a real image, ``M`` its mask (1 in the hole),
  ``F(.)`` the completion and ``softplus(t) = log(1 + e^t)``::

      L_rec = || M * (x - F((1 - M) * x)) ||^2 / |M|          (mean over the hole's pixels)
      L_D   = E softplus(-D(x)) + E softplus(D(F((1 - M) * x)))
      L_G   = lambda_rec * L_rec + lambda_adv * E softplus(-D(F((1 - M) * x)))

  with the paper's lambda_rec = 0.999 and lambda_adv = 0.001 (its eq. 3; G's
  adversarial term is the non-saturating one).
* Defaults: the paper's Adam (betas 0.5, 0.999), lr 2e-4 for D and 2e-5 for G
  ("the context encoder's learning rate 10 times lower"), BatchNorm; the
  networks are narrower on small images (docs/families/contextencoder.md).
"""

from __future__ import annotations

from typing import Annotated

from gancore_inpainting.generator import Inpainter, require_images
from gancore_inpainting.masks import masked_l2
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

#: The paper's optimiser: Adam (0.5, 0.999), D at 2e-4 and G ten times slower.
_PAPER = {"betas": (0.5, 0.999), "lr_g": 2e-5, "lr_d": 2e-4}
DEFAULTS = {"vector": {}, "small-image": dict(_PAPER), "image": dict(_PAPER)}
NETWORKS = {"small-image": {"width": 32, "d_width": 32}, "image": {"width": 32, "d_width": 32}}
#: The paper's settings (``gan train --preset paper``): its optimiser and 64-wide networks with BatchNorm.
PAPER = {**_PAPER, "lr_schedule": "constant", "regularizers": {}, "options": {
    "gancore-contextencoder": {"width": 64, "d_width": 64, "norm": "batch", "reconstruction": 0.999,
                               "adversarial": 0.001}}}


class ContextEncoderNet(Inpainter):
    """The Context Encoder's generator: an encoder-decoder over the image with its hole."""

    def __init__(self, spec, width: int, norm: str, fraction: float):
        super().__init__(spec.image_size, fraction, "centre")
        self.net = UNet(spec.channels, spec.channels, spec.image_size, width, norm=norm, dropout=0.0, skips=False)

    def fill(self, source, mask):
        return self.net(source)


@declare
class ContextEncoder:
    """Pathak et al. 2016: fill an image's centre; encoder-decoder G, 0.999 masked L2 + 0.001 adversarial."""

    kind = "family"
    defaults = DEFAULTS
    option_defaults = NETWORKS
    paper = PAPER

    width: PositiveInt = option(64, help="Channels of G's first convolution.")
    d_width: PositiveInt = option(64, help="Channels of D's first convolution.")
    norm: Norm = option("batch", help="Normalization in G and D.")
    hole: Annotated[float, Range(gt=0, lt=1)] = option(0.5, help="Side of the central hole, as a fraction of "
                                                                   "the image's side.")
    reconstruction: NonNegativeFloat = option(0.999, help="lambda_rec, the weight of the masked L2 loss.")
    adversarial: NonNegativeFloat = option(0.001, help="lambda_adv, the weight of G's adversarial loss.")

    @hookimpl
    def build_generator(self, data):
        require_images(data, "the Context Encoder")
        return ContextEncoderNet(data, self.width, self.norm, self.hole)

    @hookimpl
    def build_discriminator(self, data):
        require_images(data, "the Context Encoder")
        return standard_discriminator(data, self.d_width, norm=self.norm)

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        # Row i of the fakes completes row i of the real batch (the latent is cut from it).
        return {"rec": self.reconstruction * masked_l2(step.fake, step.real, step.latent["mask"]),
                "adv": self.adversarial * logistic_g(step.fake_scores())}

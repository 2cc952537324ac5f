"""A hinge-loss GAN (Lim & Ye 2017, "Geometric GAN") as a gancore family.

The discriminator returns a raw score; it is trained to score real samples
above +1 and fake samples below -1, and the generator to raise the score of
its samples:

    L_D = E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]
    L_G = -E[D(G(z))]

(the margin 1 is the option ``margin``). The networks are gancore's shared ones
(``StandardNetworks``), chosen by the data's kind.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gancore import hookimpl
from gancore.declaration import PositiveFloat, declare, option
from gancore.nets import StandardNetworks


def hinge_d(real: torch.Tensor, fake: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """The discriminator's hinge loss from its scores on real and fake samples."""
    return F.relu(margin - real).mean() + F.relu(margin + fake).mean()


def hinge_g(fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss: minus the mean score of its samples."""
    return -fake.mean()


#: Training settings by data kind: Adam with beta1 = 0.5 as in DCGAN; a 64-d latent for images.
#: `data.kind` ("vector", "small-image", "image") is what defaults are chosen by: gancore itself
#: gives vector data (2-D points) an 8-d latent, under these.
DEFAULTS = {
    "vector": {"betas": (0.5, 0.999)},
    "small-image": {"betas": (0.5, 0.999), "latent_dim": 64},
    "image": {"betas": (0.5, 0.999), "latent_dim": 64},
}
#: The network options' defaults by data kind, over those StandardNetworks declares (width 64,
#: hidden 256, norm batch, arch conv): fully connected networks of 512 units on small images.
OPTION_DEFAULTS = {"small-image": {"arch": "mlp", "hidden": 512}}


@declare
class HingeGAN(StandardNetworks):
    """Lim & Ye 2017: the hinge loss, on the shared networks (an MLP for vectors, DCGAN-style
    convolutions for images)."""

    kind = "family"
    defaults = DEFAULTS
    option_defaults = OPTION_DEFAULTS

    margin: PositiveFloat = option(1.0, help="The hinge's margin: D scores real above it, fakes below minus it.")

    @hookimpl
    def d_loss(self, step):
        real, fake = step.real_and_fake_scores()
        return hinge_d(real, fake, self.margin)

    @hookimpl
    def g_loss(self, step):
        return hinge_g(step.fake_scores())

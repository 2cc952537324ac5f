"""A hinge-loss GAN (Lim & Ye 2017, "Geometric GAN") as a gancore family.

The discriminator returns a raw score; it is trained to score real samples
above +1 and fake samples below -1, and the generator to raise the score of
its samples:

    L_D = E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]
    L_G = -E[D(G(z))]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gancore import hookimpl
from gancore.declaration import PositiveInt, declare, option
from gancore.nets import MLPDiscriminator, MLPGenerator


def hinge_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's hinge loss from its scores on real and fake samples."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


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


@declare
class HingeGAN:
    """Lim & Ye 2017: MLP networks trained on the hinge loss."""

    kind = "family"
    defaults = DEFAULTS

    hidden: PositiveInt = option(256, help="Units per hidden layer of G and D.")
    layers: PositiveInt = option(3, help="Hidden layers of G and D.")

    @hookimpl
    def build_generator(self, config, data):
        return MLPGenerator(data, config.latent_dim, self.hidden, self.layers)

    @hookimpl
    def build_discriminator(self, data):
        return MLPDiscriminator(data, self.hidden, self.layers)

    @hookimpl
    def d_loss(self, step):
        real, fake = step.real_and_fake_scores()
        return hinge_d(real, fake)

    @hookimpl
    def g_loss(self, step):
        return hinge_g(step.fake_scores())

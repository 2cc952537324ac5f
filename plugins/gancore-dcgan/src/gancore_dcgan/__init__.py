"""DCGAN (Radford et al., 2016) as a gancore family.

Networks sized from the data: strided transposed convolutions with BatchNorm
and ReLU in G (tanh output, no BatchNorm on it), strided convolutions with
LeakyReLU(0.2) in D (BatchNorm everywhere but the input layer), N(0, 0.02)
initialisation. For vector data (``ring``) the same losses train MLPs.
Losses: the GAN's logistic loss with the non-saturating generator loss.
Defaults (the paper's): Adam, lr 2e-4, betas (0.5, 0.999), batch 64 here
(the paper used 128).
"""

from __future__ import annotations

from gancore import hookimpl
from gancore.losses import logistic_d, logistic_g
from gancore.nets import standard_discriminator, standard_generator
from gancore.plugins import Norm, PositiveInt


class DCGAN:
    """Radford et al. 2016: all-convolutional G and D with BatchNorm, logistic loss."""

    def __init__(self, width: PositiveInt = 64, norm: Norm = "batch"):
        self.width, self.norm = int(width), norm

    @hookimpl
    def default_config(self, data):
        return {} if data.is_image else {"latent_dim": 8}

    @hookimpl
    def build_generator(self, config, data):
        return standard_generator(data, config.latent_dim, self.width)

    @hookimpl
    def build_discriminator(self, data):
        return standard_discriminator(data, self.width, norm=self.norm)

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.fake_scores())

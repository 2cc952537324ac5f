"""DCGAN (Radford et al., 2016) as a gancore family.

Networks sized from the data: strided transposed convolutions with BatchNorm
and ReLU in G (tanh output, no BatchNorm on it), strided convolutions with
LeakyReLU(0.2) in D (BatchNorm everywhere but the input layer), N(0, 0.02)
initialisation. For vector data (``ring``) the same losses train MLPs.
Losses: the GAN's logistic loss with the non-saturating generator loss.
Defaults follow the data (``DataSpec.kind``; measurements in
docs/families/dcgan.md). The paper's: Adam, lr 2e-4, betas (0.5, 0.999),
BatchNorm in D, batch 128 (64 here). On every kind of data here: lr 1e-3
decayed linearly to 0, R1 (gamma 0.1 on images, 1 on vectors), no
normalization in D (R1 is a per-sample penalty), and on images an EMA of
G's weights for sampling; on 28x28 and larger images also 5,000 steps and
lazy R1 (every 16th D step, as StyleGAN2, to keep its cost small). At the
paper's settings DCGAN stays at 6.5x the FID floor on ``digits``, finds 1
of 8 ``ring`` modes and is at 18x on ``mnist`` after the 2,000 steps
gancore trained by default (7.2x with ours at 5,000).
"""

from __future__ import annotations

from gancore import hookimpl
from gancore.losses import logistic_d, logistic_g
from gancore.nets import by_kind, standard_discriminator, standard_generator
from gancore.plugins import Norm, PositiveInt

_RECIPE = {"lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear"}
#: Training defaults by data kind (``DataSpec.kind``).
DEFAULTS = {
    "vector": {**_RECIPE, "regularizers": {"r1": 1.0}},
    "small-image": {**_RECIPE, "regularizers": {"r1": 0.1}, "plugins": ["ema"]},
    "image": {**_RECIPE, "steps": 5000, "regularizers": {"r1": 0.1}, "options": {"r1": {"every": 16}},
              "plugins": ["ema"]},
}
#: D's normalization by data kind when ``norm`` is not set.
NORM = {"image": "none"}


class DCGAN:
    """Radford et al. 2016: all-convolutional G and D with BatchNorm, logistic loss."""

    #: A BatchNorm D sees a real batch and a fake batch, each its own forward pass, as in the paper's
    #: reference code (and then scores fakes alone in G's update): no real images through D there.
    separate_batches = True

    def __init__(self, width: PositiveInt = 64, norm: Norm | None = None):
        self.width, self.norm = int(width), norm

    @hookimpl
    def default_config(self, data):
        return DEFAULTS[data.kind]

    @hookimpl
    def build_generator(self, config, data):
        return standard_generator(data, config.latent_dim, self.width)

    @hookimpl
    def build_discriminator(self, data):
        return standard_discriminator(data, self.width, norm=by_kind(self.norm, data, NORM, "none"))

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.fake_scores())

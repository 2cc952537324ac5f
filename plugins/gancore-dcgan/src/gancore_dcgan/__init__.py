"""DCGAN (Radford et al., 2016) as a gancore family.

Networks sized from the data: strided transposed convolutions with BatchNorm
and ReLU in G (tanh output, no BatchNorm on it), strided convolutions with
LeakyReLU(0.2) in D (BatchNorm everywhere but the input layer), N(0, 0.02)
initialisation. For vector data (``ring``) the same losses train MLPs.
Losses: the GAN's logistic loss with the non-saturating generator loss.
Defaults follow the data (``DataSpec.kind``; measurements in
docs/families/dcgan.md). The paper's: Adam, lr 2e-4, betas (0.5, 0.999),
BatchNorm in D, batch 128. On ``ring`` and ``digits``: lr 1e-3 decayed
linearly to 0, R1 (gamma 0.1 on images, 1 on vectors), batch 64, no
normalization in D (R1 is a per-sample penalty), and on images an EMA of
G's weights for sampling; on 28x28 and larger images the same EMA, decay
and D with a batch of 128, lr 5e-4 with Adam's betas (0, 0.99), R1 gamma 1
at every D step and two convolutions per resolution in G and D (``depth``). At the paper's settings
DCGAN stays at 6.5x the FID floor on ``digits``, finds 1 of 8 ``ring`` modes
and is at 18x on ``mnist`` after 2,000 steps (7.2x with the small-image
recipe at 5,000).
"""

from __future__ import annotations

from gancore import hookimpl
from gancore.declaration import Norm, PositiveInt, declare, option
from gancore.losses import logistic_d, logistic_g
from gancore.nets import Depth, standard_discriminator, standard_generator
from gancore_ema import SMALL_DATA

#: Training defaults by data kind (``DataSpec.kind``): the small-data recipe on ring and digits.
DEFAULTS = {
    "vector": SMALL_DATA["vector"],
    "small-image": SMALL_DATA["small-image"],
    # Images 28x28 and larger: the recipe's EMA and linear decay with a batch of 128, lr 5e-4, betas
    # (0, 0.99), R1 gamma 1 at every D step and two convolutions per resolution (``OPTION_DEFAULTS``),
    # 2,000 steps (about 15 CPU-minutes on `mnist`). docs/families/dcgan.md has the probes, the paper's
    # settings beside these, and why we differ.
    "image": SMALL_DATA["image"],
}


#: Option defaults by data kind: convolutions per resolution (``depth``, over the paper's 1). On 28x28 G and D have two
#: resolutions each (7, 14; 14, 7), one convolution per resolution being too shallow to model `mnist`:
#: with a second 3x3 convolution at each, 1.8x the FID floor at step 2,000 of a 5,000-step run, against
#: 7.3x for one (docs/families/dcgan.md). Small images already have three resolutions (2, 4, 8).
OPTION_DEFAULTS = {"image": {"depth": 2}}
#: The paper's settings (``gan train --preset paper``): Adam lr 2e-4, betas (0.5, 0.999), batch 128,
#: BatchNorm in D, no regularizer, no average of G (its noise was 100-d uniform; gancore's is Gaussian).
PAPER = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "lr_schedule": "constant", "batch_size": 128,
         "latent_dim": 100, "n_critic": 1, "regularizers": {},
         "options": {"gancore-dcgan": {"norm": "batch", "depth": 1}}}


@declare
class DCGAN(Depth):
    """Radford et al. 2016: all-convolutional G and D with BatchNorm, logistic loss."""

    kind = "family"
    defaults = DEFAULTS
    paper = PAPER
    option_defaults = OPTION_DEFAULTS

    #: A BatchNorm D sees a real batch and a fake batch, each its own forward pass, as in the paper's
    #: reference code (and then scores fakes alone in G's update): no real images through D there.
    separate_batches = True

    width: PositiveInt = option(64, help="Channels of G's last and D's first convolution.")
    norm: Norm = option("none", help="Normalization in D's convolutions.")

    @hookimpl
    def build_generator(self, config, data):
        return standard_generator(data, config.latent_dim, self.width, depth=self.depth)

    @hookimpl
    def build_discriminator(self, data):
        return standard_discriminator(data, self.width, norm=self.norm, depth=self.depth)

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.fake_scores())

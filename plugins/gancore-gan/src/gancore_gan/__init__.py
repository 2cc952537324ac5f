"""The original GAN (Goodfellow et al., 2014) as a gancore family.

Networks: MLPs (``hidden`` units x ``layers``), as in the paper's
experiments. Losses: the discriminator maximises
``E[log D(x)] + E[log(1 - D(G(z)))]``; the generator minimises
``-E[log D(G(z))]`` (the non-saturating loss the paper recommends in
practice) or, with ``loss="saturating"``, the minimax ``E[log(1 - D(G(z)))]``.
Defaults follow the data (``DataSpec.kind``; docs/families/gan.md has the
measurements): the paper's game, one D update per G update (``--n-critic k``
is the paper's k), with Adam, betas (0.5, 0.999), at a rate of 1e-3 decayed
linearly to 0 and R1 with a small gamma (1 on vectors, 0.1 on images), plus
on images 512-unit layers and an EMA of G's weights for sampling, and on
28x28 and larger images 5,000 steps. At Adam lr 2e-4 without them the game
collapses on ``ring`` (1/8 modes), stays far from the digits (55x the FID
floor) and on ``mnist`` gives one class (147x, 2,000 steps; ours 17.6x).
"""

from __future__ import annotations

from typing import Literal

from gancore import hookimpl
from gancore.declaration import PositiveInt, declare, option
from gancore.losses import logistic_d, logistic_g
from gancore.nets import MLPDiscriminator, MLPGenerator
from gancore_ema import SMALL_DATA

LOSSES = ("non-saturating", "saturating")

#: Training defaults by data kind (``DataSpec.kind``): the small-data recipe on ring and digits.
DEFAULTS = {
    "vector": SMALL_DATA["vector"],
    "small-image": SMALL_DATA["small-image"],
    # Images 28x28 and larger: the same recipe for 5,000 steps (docs/families/gan.md: the paper's beside it).
    "image": {**SMALL_DATA["small-image"], "steps": 5000},
}
#: Option defaults by data kind, over the options' own.
OPTION_DEFAULTS = {"small-image": {"hidden": 512}, "image": {"hidden": 512}}


#: Goodfellow et al.'s MNIST settings (``--preset paper``; their pylearn2 ``mnist.yaml``): minibatch SGD, lr 0.1,
#: momentum 0.5 (its start; it rose to 0.7), batch 100, a 2-layer G of 1,200 units. Not expressible here:
#: D's maxout units with dropout, the lr decay of 1.000004 per step, the momentum ramp.
PAPER = {"optimizer": "sgd", "lr_g": 0.1, "lr_d": 0.1, "betas": (0.5, 0.999), "lr_schedule": "constant",
         "batch_size": 100, "n_critic": 1, "latent_dim": 100, "regularizers": {},
         "options": {"gancore-gan": {"hidden": 1200, "layers": 2, "loss": "non-saturating"}}}


@declare
class GAN:
    """Goodfellow et al. 2014: MLP networks, minimax game (non-saturating G loss by default)."""

    kind = "family"
    defaults = DEFAULTS
    paper = PAPER
    option_defaults = OPTION_DEFAULTS

    loss: Literal["non-saturating", "saturating"] = option(
        "non-saturating", help="G's loss: -log D(G(z)) (non-saturating) or the minimax log(1 - D(G(z))).")
    hidden: PositiveInt = option(256, help="Units per hidden layer of G and D.")
    layers: PositiveInt = option(3, help="Hidden layers of G and D.")

    @property
    def saturating(self) -> bool:
        return self.loss == "saturating"

    @hookimpl
    def build_generator(self, config, data):
        return MLPGenerator(data, config.latent_dim, self.hidden, self.layers)

    @hookimpl
    def build_discriminator(self, data):
        return MLPDiscriminator(data, self.hidden, self.layers)

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.fake_scores(), saturating=self.saturating)

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
from gancore.losses import logistic_d, logistic_g
from gancore.nets import MLPDiscriminator, MLPGenerator, by_kind
from gancore.plugins import PositiveInt

LOSSES = ("non-saturating", "saturating")

#: Training defaults by data kind (``DataSpec.kind``).
DEFAULTS = {
    "vector": {"lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear", "regularizers": {"r1": 1.0}},
    "small-image": {"lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear", "regularizers": {"r1": 0.1},
                    "plugins": ["ema"]},
    "image": {"lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear", "steps": 5000, "regularizers": {"r1": 0.1},
              "plugins": ["ema"]},
}
#: Hidden units by data kind when ``hidden`` is not set.
HIDDEN = {"small-image": 512, "image": 512}


class GAN:
    """Goodfellow et al. 2014: MLP networks, minimax game (non-saturating G loss by default)."""

    def __init__(self, loss: Literal["non-saturating", "saturating"] = "non-saturating",
                 hidden: PositiveInt | None = None, layers: PositiveInt = 3):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        self.saturating = loss == "saturating"
        self.hidden, self.layers = hidden, int(layers)

    @hookimpl
    def default_config(self, data):
        return DEFAULTS[data.kind]

    def _hidden(self, data) -> int:
        return int(by_kind(self.hidden, data, HIDDEN, 256))

    @hookimpl
    def build_generator(self, config, data):
        return MLPGenerator(data, config.latent_dim, self._hidden(data), self.layers)

    @hookimpl
    def build_discriminator(self, data):
        return MLPDiscriminator(data, self._hidden(data), self.layers)

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.fake_scores(), saturating=self.saturating)

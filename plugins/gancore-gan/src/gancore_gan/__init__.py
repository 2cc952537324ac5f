"""The original GAN (Goodfellow et al., 2014) as a gancore family.

Networks: MLPs (``hidden`` units x ``layers``), as in the paper's
experiments. Losses: the discriminator maximises
``E[log D(x)] + E[log(1 - D(G(z)))]``; the generator minimises
``-E[log D(G(z))]`` (the non-saturating loss the paper recommends in
practice) or, with ``loss="saturating"``, the minimax ``E[log(1 - D(G(z)))]``.
Defaults: Adam, lr 2e-4, betas (0.5, 0.999), one D update per G update
(``--n-critic k`` is the paper's k).
"""

from __future__ import annotations

from typing import Literal

from gancore import hookimpl
from gancore.losses import logistic_d, logistic_g
from gancore.nets import MLPDiscriminator, MLPGenerator
from gancore.plugins import PositiveInt

LOSSES = ("non-saturating", "saturating")


class GAN:
    """Goodfellow et al. 2014: MLP networks, minimax game (non-saturating G loss by default)."""

    def __init__(self, loss: Literal["non-saturating", "saturating"] = "non-saturating", hidden: PositiveInt = 256,
                 layers: PositiveInt = 3):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        self.saturating = loss == "saturating"
        self.hidden, self.layers = int(hidden), int(layers)

    @hookimpl
    def default_config(self, data):
        # 2-D toy data needs no 100-D noise; a small latent trains faster.
        return {"latent_dim": 8} if not data.is_image else {}

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

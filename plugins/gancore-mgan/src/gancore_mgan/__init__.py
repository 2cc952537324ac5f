"""MGAN (Hoang et al., 2018, "MGAN: Training generative adversarial nets with multiple generators") as a gancore family.

A mixture of k generators ``G_1..G_k`` (index ``u ~ pi``, uniform), a discriminator D (real
against fake, the usual logistic game) and a classifier C that predicts which generator made a
fake. The generators are trained to fool D *and* to be told apart by C, which pushes them onto
different modes; ``beta`` weighs the diversity term::

    min_{G, C} max_D  E_x[log D(x)] + E_{u, z}[log(1 - D(G_u(z)))] - beta * E_{u, z}[log C_u(G_u(z))]

As in the paper, the generators share all parameters but their input layer and C shares all but
its last layer with D: D's module outputs, per sample, the adversarial score (column 0) and C's
``k`` logits (the other columns). C is trained in D's update, on that update's fakes
(``beta * CE(C(G_u(z)), u)``, logged ``d/classifier``); G's update adds the same term through C
(``g/classifier``) to the non-saturating ``-log D(G(z))`` the paper trains with.

The generators live in one :class:`gancore.nets.mixture.MixtureGenerator` (``share="input"``): the
latent is ``{"z", "gen"}`` with the index drawn per sample, so a batch and ``gan sample`` are
samples of the mixture; ``gan sample --traverse gen`` shows one generator per column.

Defaults: the small-data recipe (``gancore_ema.SMALL_DATA``) on every kind (5,000 steps and lazy R1
on 28x28 images); 4 generators, ``beta`` 0.125; networks as ``gancore-gan`` on small images (MLPs of
512 units) and DCGAN's convolutions without normalization in D on larger images.
docs/families/mgan.md has the paper's settings beside ours and the measurements.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from gancore_ema import SMALL_DATA

from gancore import hookimpl
from gancore.declaration import NonNegativeFloat, PositiveInt, declare, option
from gancore.losses import logistic_d, logistic_g
from gancore.nets import (
    ConvDiscriminator,
    MLPDiscriminator,
    StandardNetworks,
    standard_generator,
    takes_mlp,
)
from gancore.nets.mixture import MixtureGenerator, Share
from gancore.step import DiscriminatorView

#: Training defaults by data kind: the small-data recipe (5,000 steps and lazy R1 on 28x28 images).
DEFAULTS = {
    "vector": SMALL_DATA["vector"],
    "small-image": SMALL_DATA["small-image"],
    "image": {**SMALL_DATA["small-image"], "steps": 5000, "options": {"r1": {"every": 16}}},
}
#: Network options by data kind, as gancore-madgan's.
OPTION_DEFAULTS = {"small-image": {"arch": "mlp", "hidden": 512, "norm": "none"}, "image": {"norm": "none"}}


def diversity_loss(classifier_logits: torch.Tensor, index: torch.Tensor, beta: float) -> torch.Tensor:
    """``-beta * E[log C_u(G_u(z))]``: beta times C's cross-entropy to each fake's generator index."""
    return beta * F.cross_entropy(classifier_logits, index)


@declare
class MGAN(StandardNetworks):
    """Hoang et al. 2018: k generators sharing all but the input layer, a classifier C on D's body, beta."""

    kind = "family"
    defaults = DEFAULTS
    option_defaults = OPTION_DEFAULTS

    generators: PositiveInt = option(4, help="k, the number of generators.")
    beta: NonNegativeFloat = option(0.125, help="Weight of the diversity term (C's cross-entropy).")
    share: Share = option("input", help="Parameters the generators share: all but the input layer, or none.")

    @hookimpl
    def build_generator(self, config, data):
        return MixtureGenerator(config.latent_dim, self.generators,
                                lambda: standard_generator(data, config.latent_dim, self.width, hidden=self.hidden,
                                                           arch=self.arch, depth=self.depth), share=self.share)

    @hookimpl
    def build_discriminator(self, data):
        if takes_mlp(data, self.arch):
            return MLPDiscriminator(data, self.hidden, outputs=1 + self.generators)
        return ConvDiscriminator(data, self.width, norm=self.norm, outputs=1 + self.generators, depth=self.depth)

    @hookimpl
    def d_loss(self, step):
        real, fake = step.real_and_fake_scores()
        D = step.discriminator
        step.views = (DiscriminatorView(real=step.real, fake=step.fake, score=lambda x: D(x)[:, 0],
                                        parameters=step.D.parameters),)
        return {"adversarial": logistic_d(real[:, 0], fake[:, 0]),
                "classifier": diversity_loss(fake[:, 1:], step.latent["gen"], self.beta)}

    @hookimpl
    def g_loss(self, step):
        fake = step.fake_scores()
        return {"adversarial": logistic_g(fake[:, 0]),
                "classifier": diversity_loss(fake[:, 1:], step.latent["gen"], self.beta)}

"""MAD-GAN (Ghosh et al., 2018, "Multi-Agent Diverse Generative Adversarial Networks") as a gancore family.

k generators ``G_1..G_k`` and one discriminator with ``k + 1`` outputs: a softmax over "made by
``G_j``" (classes ``0..k-1``) and "real" (class ``k``). D is trained by cross-entropy to the
one-hot target of each sample's source::

    L_D = -E_x[log D_{k}(x)] - E_{u, z}[log D_u(G_u(z))]

so D must tell not only real from fake but *which* generator made a fake; a generator that
drifts onto another's mode is easy to identify, which pushes the generators apart (the paper's
diversity argument). Each generator plays the usual game against the "real" class,
non-saturating by default (as the paper trains it) or the minimax ``E[log(1 - D_k(G_u(z)))]``::

    L_G = -E_{u, z}[log D_{k}(G_u(z))]

The generators live in one :class:`gancore.nets.mixture.MixtureGenerator` (one ``build_generator``):
the latent is ``{"z", "gen"}`` with the generator index drawn uniformly per sample, so a batch (and
``gan sample``) is a sample of the uniform mixture; ``gan sample --traverse gen`` shows each
generator in a column. Regularizers see D's score for "real against any generator",
``log D_k - log(1 - D_k)`` (the logit of the real class's probability), so R1 and the gradient
penalties apply unchanged.

Defaults: the small-data recipe (``gancore_ema.SMALL_DATA``) on every kind, for 5,000 steps with
lazy R1 on 28x28 images; 4 separate generators; networks as ``gancore-gan`` on small images (MLPs of
512 units) and DCGAN's convolutions without normalization in D on larger images.
docs/families/madgan.md has the paper's settings beside ours and the measurements.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from gancore_ema import SMALL_DATA

from gancore import hookimpl
from gancore.declaration import PositiveInt, declare, option
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
#: Network options by data kind (over StandardNetworks' own): MLPs of 512 units on 8x8 images, as
#: gancore-gan; DCGAN-style convolutions without normalization in D (R1 is per sample) on 28x28.
OPTION_DEFAULTS = {"small-image": {"arch": "mlp", "hidden": 512, "norm": "none"}, "image": {"norm": "none"}}


def madgan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, fake_index: torch.Tensor) -> torch.Tensor:
    """D's cross-entropy: real rows to class ``k`` (the last), each fake row to its generator's index.

    ``-E_x[log D_k(x)] - E[log D_u(G_u(z))]`` (a mean over reals plus a mean over fakes, as
    :func:`gancore.losses.logistic_d`); logits are ``(n, k + 1)``.
    """
    k = real_logits.shape[1] - 1
    real_target = torch.full((len(real_logits),), k, dtype=torch.long, device=real_logits.device)
    return F.cross_entropy(real_logits, real_target) + F.cross_entropy(fake_logits, fake_index)


def madgan_g_loss(fake_logits: torch.Tensor, saturating: bool = False) -> torch.Tensor:
    """The generators' loss against the "real" class ``k``: ``-E[log D_k(G_u(z))]`` (non-saturating),
    or the minimax ``E[log(1 - D_k(G_u(z)))]``."""
    k = fake_logits.shape[1] - 1
    total = torch.logsumexp(fake_logits, 1)
    if saturating:
        return (torch.logsumexp(fake_logits[:, :k], 1) - total).mean()
    return (total - fake_logits[:, k]).mean()


def real_logit(logits: torch.Tensor) -> torch.Tensor:
    """``log D_k - log(1 - D_k)``: the score of "real against any generator" (one per sample)."""
    k = logits.shape[1] - 1
    return logits[:, k] - torch.logsumexp(logits[:, :k], 1)


@declare
class MADGAN(StandardNetworks):
    """Ghosh et al. 2018: k generators, D with k+1 classes (which generator, or real)."""

    kind = "family"
    defaults = DEFAULTS
    option_defaults = OPTION_DEFAULTS

    generators: PositiveInt = option(4, help="k, the number of generators.")
    share: Share = option("none", help="Parameters the generators share: none, or all but the input layer.")
    loss: Literal["non-saturating", "saturating"] = option(
        "non-saturating", help="G's loss: -log D_real(G(z)), or the minimax log(1 - D_real(G(z))).")

    @hookimpl
    def build_generator(self, config, data):
        return MixtureGenerator(config.latent_dim, self.generators,
                                lambda: standard_generator(data, config.latent_dim, self.width, hidden=self.hidden,
                                                           arch=self.arch, depth=self.depth), share=self.share)

    @hookimpl
    def build_discriminator(self, data):
        if takes_mlp(data, self.arch):
            return MLPDiscriminator(data, self.hidden, outputs=self.generators + 1)
        return ConvDiscriminator(data, self.width, norm=self.norm, outputs=self.generators + 1, depth=self.depth)

    @hookimpl
    def d_loss(self, step):
        real, fake = step.real_and_fake_scores()
        D = step.discriminator
        step.views = (DiscriminatorView(real=step.real, fake=step.fake, score=lambda x: real_logit(D(x)),
                                        parameters=step.D.parameters),)
        return madgan_d_loss(real, fake, step.latent["gen"])

    @hookimpl
    def g_loss(self, step):
        return madgan_g_loss(step.fake_scores(), saturating=self.loss == "saturating")

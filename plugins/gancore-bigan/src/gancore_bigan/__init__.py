"""BiGAN (Donahue et al., 2017) / ALI (Dumoulin et al., 2017) as a gancore family.

A generator ``G: z -> x``, an encoder ``E: x -> z`` and a discriminator on
*pairs* ``D(x, z)``. D tells data pairs ``(x, E(x))`` from generated pairs
``(G(z), z)``; G and E are trained together to fool it::

    min_{G, E} max_D  V(D, E, G) = E_x[log D(x, E(x))] + E_z[log(1 - D(G(z), z))]

With ``D = sigmoid(score)``, D minimises the logistic loss with data pairs
as its real inputs. G and E use, by default (``loss="non-saturating"``), the
non-saturating form of common implementations (the ALI and BiGAN code):
the discriminator's labels swapped,

    L_GE = -E_z[log D(G(z), z)] - E_x[log(1 - D(x, E(x)))]

logged as ``g/generator`` and ``g/encoder``; ``loss="saturating"`` minimises
``V`` itself. At the optimum ``E = G^-1``, so ``G(E(x))`` reconstructs ``x``
although no reconstruction loss is ever trained.

Contract: the generator module holds G and E (:class:`BiGANGenerator`). In
training its latent carries the real batch and ``forward`` returns
``{"sample": G(z), "code": E(x)}`` (as ``gancore-aae`` does), from one pass
through the distributed-wrapped module. D is evaluated once per update on
the real and generated pairs together (one batch for any batch statistics).

Regularizers: the family publishes one discriminator view whose inputs are
the *joint* vectors ``[flatten(x), z]`` (real: ``[x, E(x)]``, fake:
``[G(z), z]``) and whose score splits such a vector and calls ``D(x, z)``.
D's input space is the pair, so a gradient penalty differentiates with
respect to both the sample and the code: R1 penalises ``||grad_(x, z)
D||^2`` at data pairs, WGAN-GP interpolates whole pairs. (Differentiating
with respect to ``x`` alone, with the code held fixed, would leave D free to
be arbitrarily steep along ``z``.)

Defaults (``DEFAULTS``, ``NORM``): on images 28x28 and larger, Adam lr 2e-4,
betas (0.5, 0.999) (the papers' optimizer) and BatchNorm in D's image branch;
on small images (``digits``) and vectors (``ring``), what trains the other
families here: lr 1e-3 decayed linearly to 0, R1 (0.1 on images, 1 on
vectors), no normalization in D, and on images an EMA of the generator
module for sampling.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from gancore import hookimpl
from gancore.declaration import Norm, PositiveInt, declare, option
from gancore.losses import logistic_d
from gancore.step import DiscriminatorView
from gancore_ema import SMALL_DATA

from gancore_bigan.nets import BiGANGenerator, JointDiscriminator

LOSSES = ("non-saturating", "saturating")
#: Training defaults by data kind (``DataSpec.kind``): the small-data recipe on ring and digits.
DEFAULTS = {
    "vector": SMALL_DATA["vector"],
    "small-image": SMALL_DATA["small-image"],
    "image": {},
}
#: Normalization of D's image branch by data kind (over none; R1 elsewhere: per-sample).
NORM = {"image": "batch"}
#: MLP width by data kind (over 256).
HIDDEN = {"vector": 128, "small-image": 256, "image": 512}


def joint(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """The pair ``(x, z)`` as one vector per sample, ``[flatten(x), z]``: D's input space for regularizers."""
    return torch.cat([x.flatten(1), z], dim=1)


def split_joint(v: torch.Tensor, shape: tuple[int, ...], code_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of :func:`joint`: ``(x shaped (n, *shape), z)``."""
    return v[:, :-code_dim].reshape(len(v), *shape), v[:, -code_dim:]


def bigan_d_loss(data_scores: torch.Tensor, generated_scores: torch.Tensor) -> torch.Tensor:
    """D's loss: ``-E[log D(x, E(x))] - E[log(1 - D(G(z), z))]`` (scores are logits)."""
    return logistic_d(data_scores, generated_scores)


def bigan_ge_loss(data_scores: torch.Tensor, generated_scores: torch.Tensor,
                  saturating: bool = False) -> dict[str, torch.Tensor]:
    """G's and E's loss, as named terms.

    Non-saturating: ``generator = -E[log D(G(z), z)]``, ``encoder = -E[log(1 - D(x, E(x)))]``.
    Saturating (the minimax ``V``): ``generator = E[log(1 - D(G(z), z))]``, ``encoder = E[log D(x, E(x))]``.
    """
    if saturating:
        return {"generator": -F.softplus(generated_scores).mean(), "encoder": -F.softplus(-data_scores).mean()}
    return {"generator": F.softplus(-generated_scores).mean(), "encoder": F.softplus(data_scores).mean()}


#: Donahue et al.'s MNIST settings (``--preset paper``): Adam lr 2e-4, beta1 0.5, batch 128, 50-d latent,
#: 1,024-unit MLPs, BatchNorm in D's image branch, no regularizer, no average of G and E (their weight
#: decay of 2.5e-5 is not a gancore setting).
PAPER = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "lr_schedule": "constant", "batch_size": 128,
         "n_critic": 1, "latent_dim": 50, "regularizers": {},
         "options": {"gancore-bigan": {"hidden": 1024, "norm": "batch"}}}


@declare
class BiGAN:
    """Donahue et al. 2017 / Dumoulin et al. 2017: G, an encoder E, and D on (x, z) pairs."""

    kind = "family"
    defaults = DEFAULTS
    paper = PAPER

    loss: Literal["non-saturating", "saturating"] = option(
        "non-saturating", help="G's and E's loss: non-saturating, or the minimax game's.")
    width: PositiveInt = option(64, help="Channels of the convolutions (images).")
    hidden: PositiveInt = option(256, by_kind=HIDDEN, help="Units per hidden layer of the MLPs.")
    norm: Norm = option("none", by_kind=NORM, help="Normalization of D's image branch.")

    @hookimpl
    def build_generator(self, config, data):
        return BiGANGenerator(data, config.latent_dim, self.width, self.hidden)

    @hookimpl
    def build_discriminator(self, config, data):
        return JointDiscriminator(data, config.latent_dim, self.width, self.hidden, norm=self.norm)

    def _scores(self, step) -> tuple[torch.Tensor, torch.Tensor]:
        """``D(x, E(x)), D(G(z), z)`` from one forward pass; publishes the joint view in phase ``"d"``."""
        x, code = step.real, step.outputs["code"]
        fake, z = step.fake, step.latent["z"]
        D = step.discriminator
        scores = D(torch.cat([x, fake]), torch.cat([code, z]))
        if step.phase == "d":
            shape, dim = tuple(x.shape[1:]), z.shape[1]
            step.views = (DiscriminatorView(real=joint(x, code), fake=joint(fake, z),
                                            score=lambda v: D(*split_joint(v, shape, dim)),
                                            parameters=step.D.parameters),)
        return scores.split([len(x), len(fake)])

    @hookimpl
    def d_loss(self, step):
        return bigan_d_loss(*self._scores(step))

    @hookimpl
    def g_loss(self, step):
        return bigan_ge_loss(*self._scores(step), saturating=self.loss == "saturating")

"""D2GAN (Nguyen, Le, Vu & Phung, 2017, "Dual Discriminator Generative Adversarial Nets") as a gancore family.

Two discriminators with positive outputs (a softplus on their scores):
``D1`` rewards real data, ``D2`` rewards the generator's samples. The game
(the paper's equation 1, with ``0 < alpha, beta <= 1``)::

    min_G max_{D1, D2}  alpha * E_x[log D1(x)] - E_z[D1(G(z))]
                        - E_x[D2(x)] + beta * E_z[log D2(G(z))]

At the optimum G minimises ``alpha * KL(P_data || P_G) + beta * KL(P_G ||
P_data)`` (the paper's theorem 2): the KL term pulls G to cover every mode,
the reverse KL keeps it off regions without data. So the discriminators
minimise ``-alpha log D1(x) + D1(G(z)) + D2(x) - beta log D2(G(z))`` (terms
``d/d1``, ``d/d2``) and G minimises ``-D1(G(z)) + beta log D2(G(z))``
(``g/d1``, ``g/d2``).

One module holds both discriminators (``D(x)`` gives both networks' raw
scores, ``D(x, 0)`` or ``D(x, 1)`` one; ``D_i`` is their softplus); the family publishes one discriminator view per
discriminator, ``d1`` and ``d2``, scoring ``D1(x)`` and ``D2(x)``, so any
regularizer applies to each (``-r r1`` logs ``d/r1_d1`` and ``d/r1_d2``).
Networks: gancore's standard ones (DCGAN-style convolutions for images, MLPs
for vectors), one each for D1 and D2.
"""

from __future__ import annotations

from typing import Annotated

import torch
import torch.nn.functional as F
from torch import nn

from gancore import hookimpl
from gancore.declaration import Norm, Range, declare, option
from gancore.nets import StandardNetworks, standard_discriminator
from gancore.step import DiscriminatorView
from gancore_ema import SMALL_DATA

#: Training defaults by data kind (``DataSpec.kind``), see docs/families/d2gan.md: the small-data recipe
#: everywhere (on 28x28 and larger DCGAN's: batch 128, lr 5e-4, betas (0, 0.99), R1 gamma 1 on each
#: discriminator, EMA, 2,000 steps).
DEFAULTS = {
    "vector": SMALL_DATA["vector"],
    "small-image": SMALL_DATA["small-image"],
    "image": SMALL_DATA["image"],
}
#: Option defaults by data kind: on images 28x28 and larger two convolutions per resolution, as DCGAN's
#: 28x28 recipe has them (one was too shallow there); no BatchNorm anywhere (R1 is a per-sample penalty).
OPTION_DEFAULTS = {"image": {"depth": 2}}
#: The paper's range of alpha and beta.
UnitInterval = Annotated[float, Range(gt=0, le=1)]
#: Below this score ``log softplus(s)`` is ``s`` to within 1e-9 (and softplus would underflow further down).
_LOG_SOFTPLUS_LINEAR = -20.0


def log_softplus(s: torch.Tensor) -> torch.Tensor:
    """``log(softplus(s))``, finite (with a finite gradient) for very negative ``s``."""
    return torch.where(s < _LOG_SOFTPLUS_LINEAR, s, torch.log(F.softplus(s.clamp(min=_LOG_SOFTPLUS_LINEAR))))


class DualDiscriminator(nn.Module):
    """D1 and D2 in one module. ``forward(x)`` gives both networks' raw scores, ``(n, 2)``;
    ``forward(x, i)`` network ``i``'s, ``(n,)``. The discriminators' outputs are their softplus:
    ``D1(x) = softplus(D(x)[:, 0])``, ``D2(x) = softplus(D(x)[:, 1])``."""

    def __init__(self, d1: nn.Module, d2: nn.Module):
        super().__init__()
        self.nets = nn.ModuleList([d1, d2])

    def forward(self, x: torch.Tensor, which: int | None = None) -> torch.Tensor:
        if which is not None:
            return self.nets[which](x)
        return torch.stack([net(x) for net in self.nets], dim=1)


def d_loss_terms(real_scores: torch.Tensor, fake_scores: torch.Tensor, alpha: float, beta: float
                 ) -> dict[str, torch.Tensor]:
    """The discriminators' losses from raw ``(n, 2)`` scores (``D_i = softplus(score_i)``).

    ``d1 = -alpha E[log D1(x)] + E[D1(G(z))]``, ``d2 = E[D2(x)] - beta E[log D2(G(z))]``.
    """
    d1 = -alpha * log_softplus(real_scores[:, 0]).mean() + F.softplus(fake_scores[:, 0]).mean()
    d2 = F.softplus(real_scores[:, 1]).mean() - beta * log_softplus(fake_scores[:, 1]).mean()
    return {"d1": d1, "d2": d2}


def g_loss_terms(fake_scores: torch.Tensor, beta: float) -> dict[str, torch.Tensor]:
    """The generator's loss from raw ``(n, 2)`` scores: ``-E[D1(G(z))] + beta E[log D2(G(z))]``."""
    return {"d1": -F.softplus(fake_scores[:, 0]).mean(), "d2": beta * log_softplus(fake_scores[:, 1]).mean()}


#: Nguyen et al.'s settings (``--preset paper``): Adam lr 2e-4, beta1 0.5, alpha 0.2, beta 0.1, DCGAN
#: discriminators with BatchNorm, no regularizer, no average of G.
PAPER = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "lr_schedule": "constant", "batch_size": 64,
         "n_critic": 1, "latent_dim": 100, "regularizers": {},
         "options": {"gancore-d2gan": {"alpha": 0.2, "beta": 0.1, "norm": "batch", "depth": 1}}}


@declare
class D2GAN(StandardNetworks):
    """Nguyen et al. 2017: D1 rewards real data (alpha log D1(x) - D1(G(z))), D2 rewards samples
    (-D2(x) + beta log D2(G(z))); G minimises -D1(G(z)) + beta log D2(G(z))."""

    kind = "family"
    defaults = DEFAULTS
    paper = PAPER
    option_defaults = OPTION_DEFAULTS

    alpha: UnitInterval = option(0.2, help="Weight of log D1(x) in D1's loss (the paper's range: (0, 1]).")
    beta: UnitInterval = option(0.1, help="Weight of log D2(G(z)) in D2's and G's losses ((0, 1]).")
    norm: Norm = option("none", help="Normalization in the discriminators' convolutions.")

    @hookimpl
    def build_discriminator(self, data):
        return DualDiscriminator(*(standard_discriminator(data, self.width, self.hidden, self.norm, self.arch,
                                                            depth=self.depth) for _ in range(2)))

    @hookimpl
    def d_loss(self, step):
        real, fake, D = step.real, step.fake, step.discriminator
        # One pass over real+fake, so a BatchNorm D normalises them with one batch's statistics.
        real_scores, fake_scores = D(torch.cat([real, fake])).split([len(real), len(fake)])
        step.views = tuple(DiscriminatorView(real=real, fake=fake, score=lambda x, i=i: F.softplus(D(x, i)),
                                             parameters=step.D.nets[i].parameters, name=f"d{i + 1}")
                           for i in range(2))
        return d_loss_terms(real_scores, fake_scores, self.alpha, self.beta)

    @hookimpl
    def g_loss(self, step):
        return g_loss_terms(step.fake_scores(), self.beta)

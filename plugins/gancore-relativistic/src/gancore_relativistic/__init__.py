"""Relativistic average GANs (Jolicoeur-Martineau, 2019) as a gancore family.

With ``C`` the discriminator's raw score, ``C_r = C(x)``, ``C_f = C(G(z))``
and the relativistic average scores ``r = C_r - E[C_f]``, ``f = C_f - E[C_r]``
(expectations over the batch):

* ``loss="ragan"`` (RaSGAN, the paper's standard-GAN variant)::

      L_D = -E[log sigmoid(r)] - E[log(1 - sigmoid(f))]
      L_G = -E[log sigmoid(f)] - E[log(1 - sigmoid(r))]

* ``loss="ralsgan"``::

      L_D = E[(r - 1)^2] + E[(f + 1)^2]
      L_G = E[(f - 1)^2] + E[(r + 1)^2]

The generator's loss depends on real data too: its gradient reaches G
through ``E[C_f]`` in ``r`` as well as through ``f``. Networks: DCGAN-style
for images (without BatchNorm in D on small images, where R1 is on), MLPs
for vector data. Defaults follow the data (``DataSpec.kind``): on images
28x28 and larger DCGAN's recipe there (``SMALL_DATA["image"]``: batch 128,
lr 5e-4 decayed linearly, betas (0, 0.99), R1 gamma 1, an EMA of G) with two
convolutions per resolution, for 3,000 steps (2.0x the FID floor on
``mnist``; the paper's CIFAR-10 setting gave 16x); on ``ring`` and small
images lr 1e-3 decayed linearly to 0 with R1 (gamma 1 on vectors, 0.1 on
images) and, on images, an EMA of G (docs/families/relativistic.md has the
measurements).
"""

from __future__ import annotations

from typing import Literal

import torch

from gancore import hookimpl
from gancore.declaration import declare, option
from gancore.losses import least_squares_d, logistic_d
from gancore.nets import StandardNetworks
from gancore_ema import SMALL_DATA

LOSSES = ("ragan", "ralsgan")


def relativistic_average(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(C_r - E[C_f], C_f - E[C_r])``."""
    return real_scores - fake_scores.mean(), fake_scores - real_scores.mean()


def ragan_d(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``-E[log sigmoid(r)] - E[log(1 - sigmoid(f))]``: the logistic loss on relativistic scores."""
    r, f = relativistic_average(real_scores, fake_scores)
    return logistic_d(r, f)


def ragan_g(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``-E[log sigmoid(f)] - E[log(1 - sigmoid(r))]``: real and fake swap roles."""
    r, f = relativistic_average(real_scores, fake_scores)
    return logistic_d(f, r)


def ralsgan_d(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``E[(r - 1)^2] + E[(f + 1)^2]``."""
    r, f = relativistic_average(real_scores, fake_scores)
    return 2 * least_squares_d(r, f, a=-1.0, b=1.0)


def ralsgan_g(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``E[(f - 1)^2] + E[(r + 1)^2]``."""
    r, f = relativistic_average(real_scores, fake_scores)
    return 2 * least_squares_d(f, r, a=-1.0, b=1.0)


#: Training defaults by data kind (``DataSpec.kind``), over gancore's own: the small-data recipe on ring
#: and digits; on images 28x28 and larger DCGAN's recipe there for 3,000 steps (mnist: 3.7x the FID floor
#: at 2,000 steps, 2.0x at 3,000; the paper's settings 16x at 2,000).
DEFAULTS = {
    "vector": SMALL_DATA["vector"],
    "small-image": SMALL_DATA["small-image"],
    "image": {**SMALL_DATA["image"], "steps": 3000},
}
#: Option defaults by data kind: no BatchNorm in D on images, where R1 (a per-sample penalty) is on
#: (digits: 1.8x the FID floor), and two convolutions per resolution on 28x28 and larger.
OPTION_DEFAULTS = {"small-image": {"norm": "none"}, "image": {"norm": "none", "depth": 2}}


#: Jolicoeur-Martineau's CIFAR-10 setting (``--preset paper``): RaGAN, Adam lr 2e-4, betas (0.5, 0.999), one
#: D step per G step, DCGAN networks with BatchNorm in D, no regularizer, no average of G.
PAPER = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "lr_schedule": "constant", "batch_size": 64,
         "n_critic": 1, "latent_dim": 100, "regularizers": {},
         "options": {"gancore-relativistic": {"loss": "ragan", "norm": "batch", "depth": 1}}}


@declare
class Relativistic(StandardNetworks):
    """Jolicoeur-Martineau 2019: relativistic average losses, loss=ragan|ralsgan."""

    kind = "family"
    defaults = DEFAULTS
    paper = PAPER
    option_defaults = OPTION_DEFAULTS

    loss: Literal["ragan", "ralsgan"] = option("ragan", help="Relativistic average GAN or least-squares GAN.")

    def __attrs_post_init__(self):
        self._d, self._g = (ragan_d, ragan_g) if self.loss == "ragan" else (ralsgan_d, ralsgan_g)

    @hookimpl
    def d_loss(self, step):
        return self._d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        # In phase "g" D's parameters are frozen; real scores enter through E[C_r].
        return self._g(*step.real_and_fake_scores())

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
for images, MLPs for vector data. Defaults (the paper's CIFAR-10 setting):
Adam, lr 2e-4, betas (0.5, 0.999), one D update per G update.
"""

from __future__ import annotations

from typing import Literal

import torch

from gancore import hookimpl
from gancore.losses import least_squares_d, logistic_d
from gancore.nets import StandardNetworks, check_arch
from gancore.plugins import Arch, Norm, PositiveInt

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


class Relativistic(StandardNetworks):
    """Jolicoeur-Martineau 2019: relativistic average losses, loss=ragan|ralsgan."""

    def __init__(self, loss: Literal["ragan", "ralsgan"] = "ragan", width: PositiveInt = 64,
                 hidden: PositiveInt = 256, norm: Norm = "batch", arch: Arch = "conv"):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        self.loss = loss
        self._d, self._g = (ragan_d, ragan_g) if loss == "ragan" else (ralsgan_d, ralsgan_g)
        self.width, self.hidden, self.norm = int(width), int(hidden), norm
        self.arch = check_arch(arch)

    @hookimpl
    def default_config(self, data):
        defaults = {"optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "n_critic": 1}
        if not data.is_image:
            defaults["latent_dim"] = 8
        return defaults

    @hookimpl
    def d_loss(self, step):
        return self._d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        # In phase "g" D's parameters are frozen; real scores enter through E[C_r].
        return self._g(*step.real_and_fake_scores())

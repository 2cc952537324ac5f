"""SNGAN (Miyato et al., 2018) and spectral normalization for any family.

* ``gancore-sngan``: every convolution and linear weight of D is divided by
  its largest singular value, estimated by one power iteration per forward
  pass (``W_SN = W / sigma(W)``); D has no BatchNorm. Losses: the hinge
  loss::

      L_D = E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]
      L_G = -E[D(G(z))]

  Networks: DCGAN-style G (BatchNorm, ReLU, tanh) and a strided-convolution
  D with LeakyReLU(0.2), for images; MLPs for vector data. Defaults follow
  the data (``DEFAULTS``, ``LIPSCHITZ``, ``OPTION_DEFAULTS``): on images 28x28 and
  larger DCGAN's recipe there without its R1 (batch 128, lr 5e-4 decayed
  linearly, betas (0, 0.99), an EMA of G, 2,000 steps), two convolutions
  per resolution and D's scores times 10 (2.3x the FID floor on ``mnist``;
  the paper's standard-CNN setting gave 18x); on small images a linear
  decay, an EMA of G and D's scores times 10; on vector data lr 1e-3,
  linear decay and D's scores times 30 (docs/families/sngan.md).
* ``spectral-norm``: an add-on (``--plugin spectral-norm``) that wraps any
  family's ``build_discriminator`` (``@hookimpl(wrapper=True)``) and applies
  ``torch.nn.utils.parametrizations.spectral_norm`` to every convolution and
  linear weight of the discriminator the family built. It implements no
  plain family hook, so it never counts as a second family.

The power-iteration vectors ``u`` and ``v`` are buffers of the
parametrization, so they are in D's state dict and every checkpoint holds
and restores them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from gancore import hookimpl
from gancore.declaration import PositiveFloat, PositiveInt, declare, option
from gancore.nets import Depth, standard_discriminator, standard_generator
from gancore_ema import SMALL_DATA

#: Layers whose ``weight`` gets spectral normalization.
LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Spectrally normalize every convolution and linear weight of ``module`` in place.

    Layers already parametrized (a family that normalizes its own D, run
    with the add-on too) are left as they are. Returns ``module``.
    """
    for layer in list(module.modules()):
        if isinstance(layer, LAYERS) and getattr(layer, "weight", None) is not None \
                and not parametrize.is_parametrized(layer, "weight"):
            spectral_norm(layer, n_power_iterations=n_power_iterations)
    return module


def hinge_d(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]``."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def hinge_g(fake_scores: torch.Tensor) -> torch.Tensor:
    """``-E[D(G(z))]``."""
    return -fake_scores.mean()


class ScaledScores(nn.Module):
    """``lipschitz * D(x)``: a spectrally normalized D whose Lipschitz bound is ``lipschitz`` rather than 1."""

    def __init__(self, discriminator: nn.Module, lipschitz: float):
        super().__init__()
        self.discriminator, self.lipschitz = discriminator, float(lipschitz)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lipschitz * self.discriminator(x)


def lipschitz_discriminator(discriminator: nn.Module, n_power_iterations: int, lipschitz: float) -> nn.Module:
    """``discriminator`` spectrally normalized, its scores scaled to the Lipschitz bound ``lipschitz``."""
    normalized = apply_spectral_norm(discriminator, n_power_iterations)
    return normalized if lipschitz == 1 else ScaledScores(normalized, lipschitz)


#: D's Lipschitz bound by data kind (over 1). On ``ring`` a 1-Lipschitz D can
#: change its score by at most 0.06 across a mode (std 0.02), far below the hinge's margin of 1: its
#: scores stay near 0 (D's loss stays at 2) and G collapses (0/8 modes); with a bound of 30, 8/8. On
#: the 8x8 digits a bound of 10 takes the FID from 9.3x the floor to 1.3x; 28x28 images take it too.
LIPSCHITZ = {"vector": 30.0, "small-image": 10.0, "image": 10.0}
#: Option defaults by data kind: convolutions per resolution in G and D (``depth``, over the paper's 1),
#: two on 28x28 and larger, where one per resolution (7, 14) is too shallow (DCGAN's finding,
#: docs/families/dcgan.md).
OPTION_DEFAULTS = {"image": {"depth": 2}}
#: Training defaults by data kind (``DataSpec.kind``), over gancore's own, which are the paper's
#: (Adam, lr 2e-4, betas (0.5, 0.999), one D step per G step). On mnist the paper's gave 18.0x the FID
#: floor at 2,000 steps, the 28x28 recipe below 2.3x.
DEFAULTS = {
    "vector": {"lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear"},
    "small-image": {"lr_schedule": "linear", "plugins": ["ema"]},
    # 28x28 and larger: DCGAN's measured recipe there (batch 128, lr 5e-4, betas (0, 0.99), linear decay,
    # EMA, 2,000 steps) with spectral normalization in place of its R1.
    "image": {**SMALL_DATA["image"], "regularizers": {}},
}


#: Miyato et al.'s standard-CNN setting (``--preset paper``): Adam lr 2e-4, betas (0.5, 0.999), one D step
#: per G step, batch 64, Lipschitz bound 1, one power iteration.
PAPER = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "lr_schedule": "constant", "batch_size": 64,
         "n_critic": 1, "latent_dim": 128, "regularizers": {},
         "options": {"gancore-sngan": {"lipschitz": 1.0, "n_power_iterations": 1, "depth": 1}}}


@declare
class SNGAN(Depth):
    """Miyato et al. 2018: spectrally normalized D, hinge loss."""

    kind = "family"
    defaults = DEFAULTS
    paper = PAPER
    option_defaults = OPTION_DEFAULTS

    width: PositiveInt = option(64, help="Channels of the convolutions (images).")
    hidden: PositiveInt = option(256, help="Units per hidden layer of the MLPs (vector data).")
    n_power_iterations: PositiveInt = option(1, help="Power iterations per spectral-norm estimate.")
    lipschitz: PositiveFloat = option(1.0, by_kind=LIPSCHITZ, help="D's Lipschitz bound (its scores' scale).")

    @hookimpl
    def build_generator(self, config, data):
        return standard_generator(data, config.latent_dim, self.width, hidden=self.hidden, depth=self.depth)

    @hookimpl
    def build_discriminator(self, data):
        D = standard_discriminator(data, self.width, hidden=self.hidden, norm="none", depth=self.depth)
        return lipschitz_discriminator(D, self.n_power_iterations, self.lipschitz)

    @hookimpl
    def d_loss(self, step):
        return hinge_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return hinge_g(step.fake_scores())


@declare
class SpectralNorm:
    """Miyato et al. 2018: spectral normalization of any family's discriminator (an add-on)."""

    kind = "add-on"

    n_power_iterations: PositiveInt = option(1, help="Power iterations per spectral-norm estimate.")

    @hookimpl(wrapper=True)
    def build_discriminator(self):
        discriminator = yield
        if isinstance(discriminator, nn.Module):
            apply_spectral_norm(discriminator, self.n_power_iterations)
        return discriminator

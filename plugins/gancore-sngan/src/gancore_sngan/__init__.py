"""SNGAN (Miyato et al., 2018) and spectral normalization for any family.

* ``gancore-sngan``: every convolution and linear weight of D is divided by
  its largest singular value, estimated by one power iteration per forward
  pass (``W_SN = W / sigma(W)``); D has no BatchNorm. Losses: the hinge
  loss::

      L_D = E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]
      L_G = -E[D(G(z))]

  Networks: DCGAN-style G (BatchNorm, ReLU, tanh) and a strided-convolution
  D with LeakyReLU(0.2), for images; MLPs for vector data. Defaults follow
  the data (``DEFAULTS``, ``LIPSCHITZ``): on images 28x28 and larger the
  paper's setting for its standard CNN (Adam, lr 2e-4, betas (0.5, 0.999),
  one D update per G update, a 1-Lipschitz D); on small images a linear
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
from gancore.nets import ConvDiscriminator, ConvGenerator, MLPDiscriminator, MLPGenerator, by_kind
from gancore.plugins import PositiveFloat, PositiveInt

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


def _check_iterations(n_power_iterations) -> int:
    if int(n_power_iterations) != n_power_iterations or n_power_iterations < 1:
        raise ValueError(f"n_power_iterations must be a whole number >= 1, got {n_power_iterations!r}")
    return int(n_power_iterations)


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


#: D's Lipschitz bound by data kind when ``lipschitz`` is not set. On ``ring`` a 1-Lipschitz D can
#: change its score by at most 0.06 across a mode (std 0.02), far below the hinge's margin of 1: its
#: scores stay near 0 (D's loss stays at 2) and G collapses (0/8 modes); with a bound of 30, 8/8. On
#: the 8x8 digits a bound of 10 takes the FID from 9.3x the floor to 1.3x.
LIPSCHITZ = {"vector": 30.0, "small-image": 10.0}
#: Training defaults by data kind (``DataSpec.kind``), over gancore's own, which are the paper's
#: (Adam, lr 2e-4, betas (0.5, 0.999), one D step per G step).
DEFAULTS = {
    "vector": {"lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear"},
    "small-image": {"lr_schedule": "linear", "plugins": ["ema"]},
    "image": {},
}


class SNGAN:
    """Miyato et al. 2018: spectrally normalized D, hinge loss."""

    def __init__(self, width: PositiveInt = 64, hidden: PositiveInt = 256, n_power_iterations: PositiveInt = 1,
                 lipschitz: PositiveFloat | None = None):
        self.width, self.hidden = int(width), int(hidden)
        self.n_power_iterations = _check_iterations(n_power_iterations)
        if lipschitz is not None and not lipschitz > 0:
            raise ValueError(f"lipschitz must be > 0, got {lipschitz}")
        self.lipschitz = lipschitz

    @hookimpl
    def default_config(self, data):
        return DEFAULTS[data.kind]

    @hookimpl
    def build_generator(self, config, data):
        if not data.is_image:
            return MLPGenerator(data, config.latent_dim, self.hidden)
        return ConvGenerator(data, config.latent_dim, self.width)

    @hookimpl
    def build_discriminator(self, data):
        if not data.is_image:
            D = MLPDiscriminator(data, self.hidden)
        else:
            D = ConvDiscriminator(data, self.width, norm="none")
        return lipschitz_discriminator(D, self.n_power_iterations, by_kind(self.lipschitz, data, LIPSCHITZ, 1.0))

    @hookimpl
    def d_loss(self, step):
        return hinge_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return hinge_g(step.fake_scores())


class SpectralNorm:
    """Miyato et al. 2018: spectral normalization of any family's discriminator (an add-on)."""

    def __init__(self, n_power_iterations: PositiveInt = 1):
        self.n_power_iterations = _check_iterations(n_power_iterations)

    @hookimpl(wrapper=True)
    def build_discriminator(self):
        discriminator = yield
        if isinstance(discriminator, nn.Module):
            apply_spectral_norm(discriminator, self.n_power_iterations)
        return discriminator

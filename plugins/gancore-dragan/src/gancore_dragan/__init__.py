"""DRAGAN (Kodali et al., 2017) as a gancore family, and its penalty for any family.

* ``dragan`` (a regularizer any family may use): a gradient penalty in a
  neighbourhood of the real data::

      lambda * E[(||grad_x D(x_hat)||_2 - k)^2]
      x_p   = x + 0.5 * std(x) * u,        u ~ U[0, 1) per element
      x_hat = x + alpha * (x_p - x),       alpha ~ U[0, 1) per sample

  ``std(x)`` is the standard deviation of the whole real batch, as in the
  authors' code; ``alpha`` is drawn once per sample (never per pixel), so
  every ``x_hat`` lies on the segment between ``x`` and its perturbation.
  ``interpolate=False`` penalizes at ``x_p`` itself. ``weight`` is lambda
  (10), ``center`` is k (1). The gradient is taken with respect to the
  perturbed input with ``create_graph=True``, through the discriminator
  views, so it works with every family and reaches D's parameters.
* ``gancore-dragan`` (the family): the GAN's logistic losses (non-saturating
  G loss) with the ``dragan`` penalty by default; DCGAN-style networks with
  LayerNorm instead of BatchNorm in D (the penalty is per sample; none on
  28x28 and larger), MLPs for vector data. Defaults follow the data
  (``DEFAULTS``, ``OPTION_DEFAULTS``): on 28x28 and larger DCGAN's recipe
  there (batch 128, lr 5e-4 decayed linearly, betas (0, 0.99), an EMA of G,
  2,000 steps, two convolutions per resolution) with a zero-centred penalty
  (k = 0, lambda = 0.5) in the paper's neighbourhood; on small images the
  paper's penalty and betas (0.5, 0.9), with lr 1e-3 decayed linearly and
  an EMA of G; on vector data a zero-centred local penalty at the modes' scale
  (docs/families/dragan.md). The authors' settings are ``--preset paper``.
"""

from __future__ import annotations

import torch

from gancore import hookimpl
from gancore.losses import gradient_norm, input_gradient, logistic_d, logistic_g
from gancore.declaration import NonNegativeFloat, Norm, PositiveFloat, declare, option
from gancore.nets import StandardNetworks
from gancore_ema import SMALL_DATA


def perturb(real: torch.Tensor, noise: torch.Tensor | None = None, alpha: torch.Tensor | None = None,
            scale: float = 0.5) -> torch.Tensor:
    """``x + alpha * scale * std(x) * u`` with ``u ~ U[0, 1)`` per element, ``alpha ~ U[0, 1)`` per sample.

    ``noise`` (``u``, shaped like ``real``) and ``alpha`` (one value per
    sample) are drawn, in that order, when not given; ``alpha`` all ones is
    the plain perturbation ``x_p``.
    """
    real = real.detach()
    if noise is None:
        noise = torch.rand_like(real)
    if alpha is None:
        alpha = torch.rand(real.shape[0], device=real.device, dtype=real.dtype)
    alpha = alpha.reshape(-1, *([1] * (real.dim() - 1)))
    return real + alpha * (scale * real.std(correction=0) * noise)


@declare
class DraganPenalty:
    """Kodali et al. 2017: weight * E[(||grad D(x_hat)|| - 1)^2] around perturbed real data (lambda = 10)."""

    kind = "regularizer"
    #: The penalty differentiates an input gradient: no torch.compile (gancore refuses --compile).
    needs_double_backward = True

    weight: NonNegativeFloat = option(10.0, help="lambda, the penalty's weight.")
    center: NonNegativeFloat = option(1.0, help="k, the gradient norm the penalty pulls toward.")
    scale: PositiveFloat = option(0.5, help="Perturbations of scale * std(x) around the real samples.")
    interpolate: bool = option(True, help="Penalize between x and its perturbation (false: at the perturbation).")

    @hookimpl
    def regularize(self, step, phase):
        if phase == "d":
            return step.per_view("dragan", self.penalty)

    def penalty(self, view):
        real = view.real
        alpha = None if self.interpolate else torch.ones(real.shape[0], device=real.device, dtype=real.dtype)
        _, grad = input_gradient(view.score, perturb(real, alpha=alpha, scale=self.scale))
        return self.weight * ((gradient_norm(grad) - self.center) ** 2).mean()


#: The authors' settings, over gancore's own (Adam, one D step per G step, as in the paper).
_PAPER = {"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9), "regularizers": {"dragan": None}}
#: Training defaults by data kind (``DataSpec.kind``); on images 28x28 and larger, the authors'.
DEFAULTS = {
    # On ``ring`` the paper's penalty (k = 1, perturbations of 0.5 * std(x) = 0.7, 35x a mode's
    # std) holds D's slope near 1 across the gaps between modes, too flat to separate them: 0/8
    # modes (3/8 with scale 0.02, 0/8 with k = 10). A zero-centred local penalty (k = 0) on
    # perturbations of the modes' size, lambda = 1, trains: 8/8 modes, 87% high quality.
    "vector": {**_PAPER, "lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear", "regularizers": {"dragan": 1.0},
               "options": {"dragan": {"center": 0.0, "scale": 0.02}}},
    "small-image": {**_PAPER, "lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear", "plugins": ["ema"]},
    # DCGAN's 28x28 recipe (batch 128, lr 5e-4, betas (0, 0.99), EMA, 2,000 steps) with the penalty in
    # R1's place: with the paper's (lambda 10, k 1) 40.4x the FID floor on mnist; zero-centred (k 0) at
    # R1 gamma 1's weight (lambda 0.5: 0.5 ||grad||^2), in the paper's neighbourhood of the data, 1.8x.
    "image": {**SMALL_DATA["image"], "regularizers": {"dragan": 0.5}, "options": {"dragan": {"center": 0.0}}},
}
#: Option defaults by data kind: on images 28x28 and larger two convolutions per resolution in G and D,
#: as DCGAN's 28x28 recipe has them, and no normalization in D.
OPTION_DEFAULTS = {"image": {"depth": 2, "norm": "none"}}


#: Kodali et al.'s settings (``--preset paper``, the authors' code): Adam lr 1e-4, betas (0.5, 0.9), the
#: penalty with lambda 10, k 1, perturbations of 0.5 std(x), one D step per G step.
PAPER = {**_PAPER, "lr_schedule": "constant", "batch_size": 64, "n_critic": 1, "latent_dim": 100,
         "regularizers": {"dragan": 10.0}, "options": {"dragan": {"center": 1.0, "scale": 0.5, "interpolate": True},
                     "gancore-dragan": {"norm": "layer", "depth": 1}}}


@declare
class DRAGAN(StandardNetworks):
    """Kodali et al. 2017: the GAN's logistic losses with the dragan penalty (lambda = 10)."""

    kind = "family"
    defaults = DEFAULTS
    paper = PAPER
    option_defaults = OPTION_DEFAULTS

    norm: Norm = option("layer", help="Normalization in D's convolutions (per sample, beside the penalty).")

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.fake_scores())

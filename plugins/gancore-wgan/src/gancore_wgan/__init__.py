"""WGAN (Arjovsky et al., 2017) and its Lipschitz regularizers for gancore.

* ``gancore-wgan``: a critic without sigmoid trained on the Wasserstein
  losses, critic ``E[D(G(z))] - E[D(x)]``, generator ``-E[D(G(z))]``;
  5 critic updates per generator update. With weight clipping (the default
  regularizer on vector data) it trains with RMSprop at lr 5e-5, as in the
  paper; with any other regularizer (``-r gp``: WGAN-GP, the default on
  images, ``GP_BY_KIND``) with Adam, lr 1e-4, betas (0.5, 0.9), as in
  Gulrajani et al., adjusted by data kind (on 28x28 and larger: one critic
  update per G update inside DCGAN's 28x28 recipe, 3,000 steps).
* ``clip``: weight clipping of every discriminator parameter to
  ``[-c, c]`` after each critic update; ``weight`` is c (0.01).
* ``gp``: WGAN-GP's penalty ``lambda * E[(||grad D(x_hat)||_2 - 1)^2]``,
  ``x_hat = eps * x + (1 - eps) * G(z)``, ``eps ~ U[0, 1]`` per sample;
  ``weight`` is lambda (10).
* ``div``: WGAN-div's penalty ``k/2 * (E||grad D(x)||^p + E||grad D(G(z))||^p)``
  (Wu et al., 2018), ``weight`` is k (2), option ``p`` (6).

The penalties work with any family through the discriminator views the
family publishes (:class:`gancore.step.DiscriminatorView`).
"""

from __future__ import annotations

from gancore import hookimpl
from gancore.declaration import NonNegativeFloat, PositiveFloat, PositiveInt, declare, option
from gancore.losses import gradient_norm, input_gradient, interpolate, wasserstein_d, wasserstein_g
from gancore.nets import StandardNetworks
from gancore_ema import SMALL_DATA


_CLIP = {"optimizer": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5}
#: Gulrajani et al.'s settings, over gancore's own (Adam, as in the paper).
_GP = {"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9)}
#: Settings by data kind (``DataSpec.kind``) under Gulrajani et al.'s (``_GP``) when the critic is not
#: clipped. On small images WGAN trains as WGAN-GP by default: with clipping it stays at 9.4x the FID
#: floor on ``digits``; WGAN-GP with lr 5e-4, a linear decay and an EMA of G reaches 1.27x. On ``ring``
#: clipping (the paper) covers 8/8 modes (4.2% high quality) in 166 s, where WGAN-GP with a linear
#: decay covered 2/8 in 1,472 s (70.5% at an earlier stop: seed-sensitive). On 28x28 and larger images
#: WGAN-GP as ProGAN trains it (one critic update per G update, Adam (0, 0.99)) inside DCGAN's measured
#: recipe there (batch 128, lr 5e-4 decayed linearly, EMA), the penalty in R1's place, for 3,000 steps
#: (1.95x the FID floor on mnist; 3.32x at the recipe's 2,000): clipping with 5 critic updates had barely
#: moved after hundreds of steps (issue 26).
GP_BY_KIND = {
    "vector": {"lr_schedule": "linear"},
    "small-image": {"lr_g": 5e-4, "lr_d": 5e-4, "lr_schedule": "linear", "plugins": ["ema"]},
    "image": {**{key: value for key, value in SMALL_DATA["image"].items() if key != "regularizers"},
              "n_critic": 1, "steps": 3000},
}


def wgan_defaults(data, regularizers):
    """WGAN's settings: the paper's (clipping, RMSprop) where the critic is clipped, Gulrajani et al.'s
    (``_GP``, then ``GP_BY_KIND``) otherwise; the user's ``-r`` decides, else the data's kind (clipping on
    vectors, the gradient penalty on images)."""
    clipped = tuple(regularizers) == ("clip",) if regularizers is not None else data.kind == "vector"
    if clipped:
        return {"n_critic": 5, **_CLIP, **({"regularizers": {"clip": None}} if regularizers is None else {})}
    defaults = {"n_critic": 5, **_GP, **GP_BY_KIND[data.kind]}
    if regularizers is None:
        defaults["regularizers"] = {"gp": None}
    return defaults


#: Option defaults by data kind: no norm in the critic on images (a gradient penalty is defined per
#: sample, and BatchNorm mixes the samples of a batch; small images: 1.3x the FID floor on digits), and
#: on 28x28 and larger two convolutions per resolution (``depth``, DCGAN's finding there).
OPTION_DEFAULTS = {"small-image": {"norm": "none"}, "image": {"norm": "none", "depth": 2}}


#: Arjovsky et al.'s settings (``--preset paper``): weight clipping at 0.01, RMSprop lr 5e-5, 5 critic
#: updates per G update, batch 64, a DCGAN critic with BatchNorm. (WGAN-GP's: ``-r gp`` and its flags.)
PAPER = {"optimizer": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5, "lr_schedule": "constant", "batch_size": 64,
         "n_critic": 5, "latent_dim": 100, "regularizers": {"clip": 0.01},
         "options": {"gancore-wgan": {"norm": "batch", "depth": 1}}}


@declare
class WGAN(StandardNetworks):
    """Arjovsky et al. 2017: Wasserstein critic and generator losses (weight clipping by default, the
    gradient penalty on small images)."""

    kind = "family"
    defaults = staticmethod(wgan_defaults)
    paper = PAPER
    option_defaults = OPTION_DEFAULTS

    hidden: PositiveInt = option(512, help="Units per hidden layer of the MLPs (vector data, or arch mlp).")

    @hookimpl
    def d_loss(self, step):
        return wasserstein_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return wasserstein_g(step.fake_scores())


@declare
class WeightClipping:
    """Arjovsky et al. 2017: clamp every discriminator parameter to [-weight, weight] after each D update."""

    kind = "regularizer"

    weight: PositiveFloat = option(0.01, help="The clipping bound c: every D parameter stays in [-c, c].")

    @property
    def bound(self) -> float:
        return self.weight

    @hookimpl
    def post_step(self, step, phase):
        if phase == "d":
            for param in step.D.parameters():
                param.clamp_(-self.bound, self.bound)


@declare
class GradientPenalty:
    """Gulrajani et al. 2017 (WGAN-GP): weight * E[(||grad D(x_hat)||_2 - 1)^2] on per-sample interpolates."""

    kind = "regularizer"
    #: The penalty differentiates an input gradient: no torch.compile (gancore refuses --compile).
    needs_double_backward = True

    weight: NonNegativeFloat = option(10.0, help="lambda, the penalty's weight.")
    center: NonNegativeFloat = option(1.0, help="The gradient norm the penalty pulls toward (1: WGAN-GP).")

    @hookimpl
    def regularize(self, step, phase):
        if phase == "d":
            return step.per_view("gp", self.penalty)

    def penalty(self, view):
        _, grad = input_gradient(view.score, interpolate(view.real, view.fake))
        return self.weight * ((gradient_norm(grad) - self.center) ** 2).mean()


@declare
class DivergencePenalty:
    """Wu et al. 2018 (WGAN-div): weight/2 * (E||grad D(x)||^p + E||grad D(G(z))||^p), k=2, p=6."""

    kind = "regularizer"
    needs_double_backward = True

    weight: NonNegativeFloat = option(2.0, help="k, the penalty's weight (the paper's 2).")
    p: PositiveFloat = option(6.0, help="The power of the gradient norms (the paper's 6).")

    @hookimpl
    def regularize(self, step, phase):
        if phase == "d":
            return step.per_view("div", self.penalty)

    def penalty(self, view):
        _, real_grad = input_gradient(view.score, view.real)
        _, fake_grad = input_gradient(view.score, view.fake)
        norms = gradient_norm(real_grad).pow(self.p).mean() + gradient_norm(fake_grad).pow(self.p).mean()
        return self.weight / 2 * norms

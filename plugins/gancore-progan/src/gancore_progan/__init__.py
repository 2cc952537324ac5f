"""ProGAN (Karras, Aila, Laine and Lehtinen, 2018): progressive growing of GANs, as a gancore family.

G and D start at a low resolution and grow, one resolution doubling per stage; the new layers
fade in linearly (:mod:`gancore_progan.nets`). Pixel norm in G, the minibatch standard deviation
in D, an equalized learning rate everywhere. The stages are a schedule of data that the core
runs (:mod:`gancore.growth`): the generator states it (``growth``, one
:class:`gancore.growth.Stage` per resolution: stage ``k`` starts at step ``k * stage_steps``,
its layers fading in over ``fade * stage_steps`` steps), the core calls this family's ``grow``
hook when the stage or fade changes and keeps the stage in the checkpoint. Every stage's layers
are built up front (so a checkpoint's generator loads anywhere, and DDP sees all parameters);
``grow`` switches them on.

Loss: the paper's WGAN-GP, with the drift term that keeps D's scores near 0::

    L_D = E[D(G(z))] - E[D(x)] + drift * E[D(x)^2]     (+ the gp regularizer, lambda 10)
    L_G = -E[D(G(z))]

Real images are shown to D as G draws them at the current stage (pooled to its resolution and,
during a fade-in, blended with the previous resolution's; :func:`gancore_progan.nets.real_at`).
"""

from __future__ import annotations

import torch

from gancore import hookimpl
from gancore.declaration import Fraction, NonNegativeFloat, PositiveInt, declare, option
from gancore.step import DiscriminatorView
from gancore_progan.nets import (
    ProDiscriminator,
    ProGenerator,
    real_at,
    resolutions,
    schedule,
)

#: Training settings by data kind. The paper's Adam (lr 1e-3, betas (0, 0.99)), one D update per
#: G update, WGAN-GP (lambda 10) and an average of G's weights for sampling.
_SETTINGS = {"lr_g": 1e-3, "lr_d": 1e-3, "betas": (0.0, 0.99), "n_critic": 1, "latent_dim": 128,
             "regularizers": {"gp": None}, "plugins": ["ema"]}
DEFAULTS = {"small-image": _SETTINGS, "image": {**_SETTINGS, "steps": 5000}}


def drift_wgan_d(real_scores: torch.Tensor, fake_scores: torch.Tensor, drift: float) -> dict[str, torch.Tensor]:
    """``E[D(G(z))] - E[D(x)]`` and ``drift * E[D(x)^2]`` (the paper's epsilon_drift term)."""
    return {"wasserstein": fake_scores.mean() - real_scores.mean(), "drift": drift * real_scores.pow(2).mean()}


#: Channels at the lowest resolution by data kind: on 28x28 images 32 (7x7: 32, 14x14 and 28x28: 16), so
#: that 5,000 steps fit on a shared CPU; the paper's 512 (halved from 64x64 on) is for GPUs.
WIDTH = {"image": 32}


@declare
class ProGAN:
    """Karras et al. 2018: progressive growing, pixel norm, minibatch stddev, equalized lr (WGAN-GP)."""

    kind = "family"
    defaults = DEFAULTS

    width: PositiveInt = option(64, by_kind=WIDTH,
                                help="Channels at the first (lowest) resolution, halved at each doubling (>= 16).")
    stage_steps: PositiveInt = option(1000, help="Steps per stage (one resolution doubling each).")
    fade: Fraction = option(0.5, help="Share of a stage over which its new layers fade in.")
    drift: NonNegativeFloat = option(0.001, help="epsilon_drift: weight of E[D(x)^2] in D's loss.")
    group: PositiveInt = option(4, help="Group size of the minibatch standard deviation.")

    @hookimpl
    def build_generator(self, config, data):
        count = len(resolutions(data.image_size)) if data.is_image else 0
        return ProGenerator(data, config.latent_dim, self.width, schedule(self.stage_steps, self.fade, count))

    @hookimpl
    def build_discriminator(self, data):
        return ProDiscriminator(data, self.width, self.group)

    @hookimpl
    def grow(self, stage, fade, generator, discriminator):
        for network in (generator, discriminator):
            staged = getattr(network, "staged", None)
            if staged is not None:
                staged.set_stage(stage, fade)

    @hookimpl
    def d_loss(self, step):
        D = step.discriminator
        stage, fade = step.G.staged.position()
        real = real_at(step.real, step.G.sizes, stage, fade)
        fake = step.fake
        real_scores, fake_scores = D(torch.cat([real, fake])).split([len(real), len(fake)])
        step.views = (DiscriminatorView(real=real, fake=fake, score=D, parameters=step.D.parameters),)
        return drift_wgan_d(real_scores, fake_scores, self.drift)

    @hookimpl
    def g_loss(self, step):
        return -step.discriminator(step.fake).mean()

"""An exponential moving average of the generator's weights, as a gancore add-on.

``--plugin ema`` keeps ``G_ema``, the average StyleGAN2-ADA (Karras et al.,
2020) samples with: after every generator update,

    theta_ema <- beta * theta_ema + (1 - beta) * theta,
    beta = 0.5 ** (batch_images / half_life_images),

so the weight of an update halves every ``ema_kimg * 1000`` training images
whatever the batch size (``batch_images`` is the global batch: the batch
size times the number of processes). Buffers (BatchNorm statistics) are
copied, not averaged. With ``ema_rampup = r > 0`` the half-life is
``min(ema_kimg * 1000, r * images_seen)``, so early weights are forgotten
quickly. ``G_ema`` starts as the generator's initial weights.

The average lives in the plugin's checkpointed state (``state.safetensors``,
under ``plugins/ema``), and the add-on offers it through the core's
``sampling_generator`` hook, so the trainer's sample grids, ``gan sample``
and everything that loads a generator for sampling use it. Training never
does: the generator's own weights are what the optimizer updates.

Defaults: ``ema_kimg = 10`` (StyleGAN2-ADA's half-life), ramp-up off
(``ema_rampup = 0``; StyleGAN2-ADA's ``auto`` and ``cifar`` configurations
use 0.05).
"""

from __future__ import annotations

import copy

from gancore import hookimpl
from gancore.checkpoint import load_weights
from gancore.declaration import NonNegativeFloat, PositiveFloat, declare, option

_SMALL_RATE = {"lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear"}
#: The small-data recipe, defined once and taken by the families that train with it (in their
#: ``defaults``: ``"vector": SMALL_DATA["vector"]``): on vector data (``ring``) and small images
#: (``digits``) a 1e-3 learning rate decayed linearly to 0 and R1 (gamma 1 on vectors, 0.1 on
#: images), plus on small images this add-on's average of G's weights for sampling. On images 28x28
#: and larger (``"image"``) the same average and decay with a batch of 128, lr 5e-4, Adam's betas
#: (0, 0.99), R1 gamma 1 at every D step and 2,000 steps: DCGAN's measured recipe there, taken with
#: two convolutions per resolution (the network option ``depth`` 2; docs/families/dcgan.md). It lives
#: here, with one of the plugins it turns on, so that the core names no plugin.
SMALL_DATA = {
    "vector": {**_SMALL_RATE, "regularizers": {"r1": 1.0}},
    "small-image": {**_SMALL_RATE, "regularizers": {"r1": 0.1}, "plugins": ["ema"]},
    "image": {**_SMALL_RATE, "lr_g": 5e-4, "lr_d": 5e-4, "betas": (0.0, 0.99), "batch_size": 128, "steps": 2000,
              "regularizers": {"r1": 1.0}, "plugins": ["ema"]},
}


@declare
class EMA:
    """Karras et al. 2020 (StyleGAN2-ADA): sample with a moving average of G's weights, half-life in images."""

    kind = "add-on"

    ema_kimg: PositiveFloat = option(10.0, help="Half-life of the average, in thousands of training images.")
    ema_rampup: NonNegativeFloat = option(
        0.0, help="Ramp-up: the half-life is at most this times the images seen so far (0: off).")

    def __attrs_post_init__(self):
        self.half_life = float(self.ema_kimg) * 1000.0
        self.rampup = float(self.ema_rampup)

    def beta(self, batch_images: int, images_seen: int) -> float:
        """The decay of one update of ``batch_images`` images after ``images_seen`` images."""
        half_life = self.half_life
        if self.rampup > 0:
            half_life = min(half_life, images_seen * self.rampup)
        return 0.5 ** (batch_images / max(half_life, 1e-8))

    @hookimpl
    def post_step(self, step, phase):
        state = step.state_for(self)
        weights = step.G.state_dict()
        if not state:
            # The first call comes after the first discriminator update, before G ever changed.
            state.update({name: value.detach().clone() for name, value in weights.items()})
        if phase != "g":
            return
        batch = step.config.batch_size * step.accelerator.num_processes
        beta = self.beta(batch, step.index * batch)
        parameters = {name for name, _ in step.G.named_parameters()}
        for name, value in weights.items():
            if name in parameters and value.is_floating_point():
                state[name].lerp_(value.detach(), 1.0 - beta)
            else:
                state[name].copy_(value)
        step.log("ema/beta", beta)

    @hookimpl
    def sampling_generator(self, generator, state_for):
        state = state_for(self)
        if not state:
            return None
        average = copy.deepcopy(generator)
        load_weights(average, state, "moving average (ema)")  # copies onto generator's device
        return average

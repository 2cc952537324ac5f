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
from gancore.plugins import NonNegativeFloat, PositiveFloat


class EMA:
    """Karras et al. 2020 (StyleGAN2-ADA): sample with a moving average of G's weights, half-life in images."""

    def __init__(self, ema_kimg: PositiveFloat = 10.0, ema_rampup: NonNegativeFloat = 0.0):
        if not ema_kimg > 0:
            raise ValueError(f"ema_kimg (the half-life in thousands of images) must be > 0, got {ema_kimg}")
        if not ema_rampup >= 0:
            raise ValueError(f"ema_rampup must be >= 0 (0 turns the ramp-up off), got {ema_rampup}")
        self.half_life = float(ema_kimg) * 1000.0
        self.rampup = float(ema_rampup)

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

"""Adaptive discriminator augmentation (Karras et al. 2020, "Training Generative Adversarial Networks
with Limited Data", StyleGAN2-ADA) as a gancore add-on for any family with an image discriminator.

Every image D sees, real or fake, in D's update and in G's (and in regularizers' calls of D),
first goes through the augmentation pipeline of :mod:`gancore_ada.augment`, each transformation
applied with probability ``p``. ``p`` adapts to D's overfitting: over every ``interval`` (N)
discriminator updates the add-on averages ``r_t = E[sign(D(x_real))]`` on the (augmented) real
batches and then moves ``p`` by ``sign(r_t - target) * (batch * N) / ramp_images``, clamped to
[0, 1]; ``ramp_images`` is the number of images in which ``p`` can go from 0 to 1. The paper
uses 500k images in runs of ~25M; ours are ~100x shorter (5,000 steps of 64 = 320k images), so
the ramp is a share of the run's images instead: ``ramp = 0.1`` (p can go from 0 to 1 in a tenth
of the run: 500 steps of a 5,000-step run).

State: ``p``, the running sums of signs and the update counter are tensors in
``step.state_for(self)`` (saved in every checkpoint, restored exactly on resume); ``ada/p`` and
``ada/rt`` are logged. Mechanism: a ``build_discriminator`` wrapper registers a forward pre-hook
on the family's D (as ``gancore-diffaugment`` does) that augments D's first input while D is in
training mode; ``d_loss`` and ``g_loss`` wrappers hand the hook the run's current ``p`` before
the family's loss calls D, and after D's loss measure the signs with one extra forward of D over
the real batch (no gradients). Vector data is refused with a clear error. With several
processes each process adapts ``p`` from its own batches.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gancore import hookimpl
from gancore.declaration import Fraction, PositiveInt, declare, option
from gancore.errors import PluginError
from gancore_ada.augment import TRANSFORMS, adjusted_p, augment, parse_transforms

__all__ = ["ADA", "TRANSFORMS", "adjusted_p", "attach", "augment", "parse_transforms"]


def attach(discriminator: nn.Module, transforms: tuple[str, ...], probability) -> nn.Module:
    """Make ``discriminator`` augment its first input with ``transforms`` at ``probability()`` (a
    callable returning p, a float or a 0-d tensor) while training; returns it."""

    def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]):
        if not module.training or not args:
            return None
        p = probability()
        if p is None or float(p) == 0.0:
            return None
        images = args[0]
        if not isinstance(images, torch.Tensor) or images.dim() != 4:
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise PluginError(f"gancore-ada augments images (n, C, H, W), but this family's discriminator was "
                              f"given {shape}: use it with families whose D scores images.")
        return (augment(images, p, transforms), *args[1:]), kwargs

    discriminator.register_forward_pre_hook(hook, with_kwargs=True)
    return discriminator


@declare
class ADA:
    """Karras et al. 2020: augment every image D sees with probability p, p adapted from E[sign(D(real))]."""

    kind = "add-on"

    target: Fraction = option(0.6, help="The r_t = E[sign(D(x_real))] that p is adjusted toward.")
    interval: PositiveInt = option(4, help="N: discriminator updates between adjustments of p.")
    ramp: Fraction = option(0.1, help="Share of the run's images in which p can go from 0 to 1 "
                                      "(the paper: 500k images).")
    transforms: str = option(",".join(TRANSFORMS), help=f"Comma-separated, of: {', '.join(TRANSFORMS)}.")
    initial_p: Fraction = option(0.0, help="p at the start of training.")

    def __attrs_post_init__(self):
        if self.ramp == 0:
            raise ValueError("ramp must be > 0 (p would jump straight to 0 or 1).")
        self.operations = parse_transforms(self.transforms)
        # The run's state mapping (not a number or tensor of its own: what must survive a resume is in it).
        self._live: dict[str, Any] = {}

    def _state(self, step) -> dict[str, torch.Tensor]:
        state = step.state_for(self)
        if "p" not in state:
            device = step.accelerator.device
            state["p"] = torch.tensor(float(self.initial_p), device=device)
            state["sign_sum"] = torch.zeros((), device=device)
            state["sign_count"] = torch.zeros((), device=device)
            state["updates"] = torch.zeros((), dtype=torch.long, device=device)
        self._live["state"] = state
        return state

    def probability(self):
        state = self._live.get("state")
        return None if state is None else state["p"]

    @hookimpl(wrapper=True)
    def build_discriminator(self, data):
        if not data.is_image:
            raise PluginError(f"gancore-ada augments images; {data.name!r} is vector data of shape "
                              f"{tuple(data.shape)}. Drop --plugin gancore-ada for it.")
        discriminator = yield
        if isinstance(discriminator, nn.Module):
            attach(discriminator, self.operations, self.probability)
        return discriminator

    @hookimpl(wrapper=True)
    def d_loss(self, step):
        state = self._state(step)
        result = yield
        with torch.no_grad():
            for view in step.discriminator_views():
                signs = torch.sign(view.score(view.real).float())
                state["sign_sum"] += signs.sum()
                state["sign_count"] += signs.numel()
        return result

    @hookimpl(wrapper=True)
    def g_loss(self, step):
        self._state(step)
        return (yield)

    @hookimpl
    def post_step(self, step, phase):
        if phase != "d":
            return
        state = self._state(step)
        state["updates"] += 1
        if int(state["updates"]) % self.interval == 0 and float(state["sign_count"]) > 0:
            r_t = state["sign_sum"] / state["sign_count"]
            ramp_images = self.ramp * step.config.steps * step.config.n_critic * step.config.batch_size
            images = self.interval * len(step.real)
            state["p"] = adjusted_p(state["p"], r_t, self.target, images, ramp_images)
            state["sign_sum"].zero_()
            state["sign_count"].zero_()
            step.log("ada/rt", r_t)
        step.log("ada/p", state["p"])

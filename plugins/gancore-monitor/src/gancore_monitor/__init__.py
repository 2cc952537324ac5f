"""Training-health monitor: an add-on that warns when a GAN run goes wrong.

It works with every family: it reads only what every run has (the networks'
gradients after each update, the logged loss terms, the discriminator views
of phase ``"d"`` and the generator's latent protocol), and reports through
``step.warn`` (shown above the progress bar, appended to
``<run>/warnings.jsonl``) and ``step.log`` (``monitor/*`` columns of
``metrics.jsonl``). Its statistics live in checkpointed plugin state.

Checks (every ``every`` steps after ``warmup``; a warning of one kind is
repeated at most once per ``quiet`` steps):

* ``discriminator-wins``: D separates real from fake almost perfectly (the
  AUC of its scores, real above fake, averaged over checks, is at least
  ``auc``) while the generator's gradient norm (a running mean) has fallen
  below ``vanish`` times its peak: G no longer learns.
* ``mode-collapse``: the generator's samples from a fixed latent batch are
  far less diverse than real data: their mean pairwise distance is below
  ``collapse`` times that of the real batch. Identical samples (below
  ``IGNORED`` times) are reported as "samples do not depend on the latent".
* ``exploding-gradients``: a network's gradient norm is non-finite or above
  ``explode`` (checked after every update, from step 0).
* ``oscillation``: over the last ``window`` steps, D's total loss swings
  slowly around its linear trend: its 5-step moving average crosses its
  mean at least ``swings`` times (three periods), with a spread at least
  ``amplitude`` times the step-to-step noise around it.
"""

from __future__ import annotations

import math
from typing import Annotated

import torch

from gancore import hookimpl
from gancore.generator import samples_of
from gancore.declaration import (Fraction, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, Range,
                                 declare, option)

CODES = ("discriminator-wins", "mode-collapse", "exploding-gradients", "oscillation")
SMOOTH = 5
#: Samples this much less diverse than real data (relative mean pairwise distance) are identical up to
#: rounding: the generator does not depend on its latent at all.
IGNORED = 1e-6


def grad_norm(module: torch.nn.Module) -> torch.Tensor:
    """The L2 norm of all of ``module``'s parameter gradients (0 without gradients)."""
    norms = [p.grad.detach().float().norm() for p in module.parameters() if p.grad is not None]
    return torch.stack(norms).norm().cpu() if norms else torch.zeros(())


def auc(real: torch.Tensor, fake: torch.Tensor) -> float:
    """The fraction of (real, fake) pairs that D orders correctly (real scored higher); ties count half."""
    real, fake = real.reshape(len(real), -1).mean(1), fake.reshape(len(fake), -1).mean(1)
    diff = real[:, None] - fake[None, :]
    return float((diff > 0).float().mean() + 0.5 * (diff == 0).float().mean())


def diversity(x: torch.Tensor) -> float:
    """Mean pairwise Euclidean distance between the samples of a batch."""
    flat = x.detach().float().reshape(len(x), -1)
    return float(torch.pdist(flat).mean()) if len(flat) > 1 else 0.0


def oscillation(values: torch.Tensor) -> tuple[int, float]:
    """``(crossings, ratio)`` of a loss series: mean crossings of its moving average, and that
    average's spread over the step-to-step noise around it."""
    t = torch.arange(len(values), dtype=values.dtype)
    t = t - t.mean()
    values = values - (values * t).sum() / (t * t).sum() * t  # remove a linear trend: drift is not a swing
    smooth = values.unfold(0, SMOOTH, 1).mean(1)
    centred = smooth - smooth.mean()
    signs = torch.sign(centred)
    signs = signs[signs != 0]
    crossings = int((signs[1:] != signs[:-1]).sum())
    noise = (values[SMOOTH // 2: SMOOTH // 2 + len(smooth)] - smooth).std()
    return crossings, float(centred.std() / noise.clamp_min(1e-12))


@declare
class Monitor:
    """Warns when training goes wrong: D wins, mode collapse, exploding gradients, oscillation."""

    kind = "add-on"

    every: PositiveInt = option(25, help="Steps between checks.")
    warmup: NonNegativeInt = option(200, help="Steps before the first check.")
    quiet: PositiveInt = option(500, help="Steps before a warning of one kind may repeat.")
    auc: Fraction = option(0.99, help="discriminator-wins: the AUC of D's scores (real above fake) at least this ...")
    vanish: NonNegativeFloat = option(0.05, help="... while G's gradient norm is below this times its peak.")
    collapse: NonNegativeFloat = option(
        0.1, help="mode-collapse: samples' mean pairwise distance below this times the real batch's.")
    explode: PositiveFloat = option(1e4, help="exploding-gradients: a gradient norm above this (or non-finite).")
    window: Annotated[int, Range(gt=2 * SMOOTH)] = option(100, help="oscillation: the steps of D's loss it reads ...")
    swings: PositiveInt = option(6, help="... in which D's smoothed loss crosses its mean at least this often ...")
    amplitude: PositiveFloat = option(5.0, help="... with a spread at least this times its step-to-step noise.")

    # -- state -----------------------------------------------------------------
    def _state(self, step) -> dict[str, torch.Tensor]:
        state = step.state_for(self)
        if "d_losses" not in state:
            state.update({"d_losses": torch.zeros(self.window), "seen": torch.zeros((), dtype=torch.int64),
                          "g_norm": torch.zeros(()), "g_peak": torch.zeros(()), "auc": torch.full((), 0.5),
                          "diversity": torch.ones(()),
                          "warned": torch.full((len(CODES),), -10 ** 9, dtype=torch.int64)})
        return state

    def _warn(self, step, state, code: str, message: str) -> None:
        index = CODES.index(code)
        if step.index - int(state["warned"][index]) >= self.quiet:
            state["warned"][index] = step.index
            step.warn(code, message, self)

    def _checking(self, step) -> bool:
        return step.index >= self.warmup and step.index % self.every == 0

    # -- the hook --------------------------------------------------------------
    @hookimpl
    def post_step(self, step, phase):
        state = self._state(step)
        net = step.D if phase == "d" else step.G
        norm = grad_norm(net)
        if not math.isfinite(float(norm)) or float(norm) > self.explode:
            self._warn(step, state, "exploding-gradients",
                       f"the {'discriminator' if phase == 'd' else 'generator'}'s gradient norm is {float(norm):.3g} "
                       f"(limit {self.explode:g}); lower the learning rate or add a gradient penalty.")
        if phase == "d":
            if self._checking(step):
                self._update_auc(step, state)
            return
        if math.isfinite(float(norm)):
            state["g_norm"] = 0.9 * state["g_norm"] + 0.1 * norm if int(state["seen"]) else norm
            state["g_peak"] = torch.maximum(state["g_peak"], state["g_norm"])
        d_total = sum(float(v) for k, v in step.logs.items() if k.startswith("d/"))
        state["d_losses"] = torch.cat([state["d_losses"][1:], torch.tensor([d_total])])
        state["seen"] = state["seen"] + 1
        # Logged every step (the latest check's values), so interval averages stay meaningful.
        step.log("monitor/g_grad_norm", state["g_norm"])
        step.log("monitor/auc", state["auc"])
        step.log("monitor/diversity", state["diversity"])
        if not self._checking(step):
            return
        if float(state["auc"]) >= self.auc and float(state["g_norm"]) < self.vanish * float(state["g_peak"]):
            self._warn(step, state, "discriminator-wins",
                       f"the discriminator wins: it ranks real above fake {float(state['auc']):.1%} of the time and "
                       f"G's gradient norm fell to {float(state['g_norm']):.2g} "
                       f"({float(state['g_norm']) / float(state['g_peak']):.1%} "
                       "of its peak). Try a lower D learning rate, fewer D updates, a gradient penalty, or the "
                       "non-saturating loss.")
        self._check_collapse(step, state)
        if int(state["seen"]) >= self.window:
            crossings, ratio = oscillation(state["d_losses"])
            if crossings >= self.swings and ratio >= self.amplitude:
                self._warn(step, state, "oscillation",
                           f"D's loss oscillates: {crossings} slow swings in {self.window} steps, {ratio:.1f}x the "
                           "step-to-step noise. Try lower learning rates, a gradient penalty, or EMA of G.")

    def _update_auc(self, step, state) -> None:
        view = step.discriminator_views()[0]
        D = step.D
        buffers = [b.clone() for b in D.buffers()]  # a forward may move BatchNorm statistics: put them back
        try:
            both = view.score(torch.cat([view.real, view.fake]).detach())
            real, fake = both.split([len(view.real), len(view.fake)])
            value = auc(real.float(), fake.float())
        finally:
            for buffer, saved in zip(D.buffers(), buffers):
                buffer.copy_(saved)
        state["auc"] = 0.5 * state["auc"] + 0.5 * value

    def _check_collapse(self, step, state) -> None:
        G = step.G
        n = min(64, len(step.batch))
        rng = torch.Generator().manual_seed(step.config.seed + 104729)
        was_training = G.training
        G.eval()
        try:
            samples = samples_of(G(G.latent(n, batch=step.batch, rng=rng)))
        finally:
            G.train(was_training)
        real = diversity(step.real[:n])
        fake = diversity(samples)
        ratio = fake / real if real > 1e-8 else 1.0
        state["diversity"] = torch.tensor(float(ratio))
        if ratio < IGNORED:
            # Identical samples from different latents: the generator ignores its input, which no
            # penalty or loss cures; say so instead of advising them.
            self._warn(step, state, "mode-collapse",
                       f"samples do not depend on the latent: {n} samples from different latents are identical "
                       f"(their diversity is {ratio:.1e} of real data's). The generator's forward ignores its input; "
                       "check that it uses the latent it is given (the conformance kit, gancore.testing."
                       "check_plugin, tests this).")
        elif ratio < self.collapse:
            self._warn(step, state, "mode-collapse",
                       f"mode collapse: samples from a fixed latent batch are {ratio:.1%} as diverse as real data "
                       f"(threshold {self.collapse:.0%}). Try a gradient penalty, minibatch features, or another loss.")

"""ScriptedStep carries what a stateful family's loss reads: per-plugin state, logging and the data spec."""

from __future__ import annotations

import pytest
import torch

from gancore import hookimpl
from gancore.data import DataSpec
from gancore.declaration import PositiveFloat, declare, option
from gancore.errors import PluginError
from gancore.testing import ScriptedStep


@declare
class Constrained:
    """A Fisher-GAN-like critic loss: IPM plus a Lagrange multiplier on the second moments."""

    kind = "family"
    rho: PositiveFloat = option(0.1)

    @hookimpl
    def d_loss(self, step):
        real, fake = step.real_and_fake_scores()
        state = step.state_for(self)
        lam = state.setdefault("lam", torch.zeros((), device=step.accelerator.device))
        constraint = 1 - 0.5 * (real.pow(2).mean() + fake.pow(2).mean())
        state["constraint"] = constraint.detach()
        scale = 2.0 if step.data.kind == "vector" else 1.0  # reads the data spec
        return -(scale * (real.mean() - fake.mean()) + lam * constraint - self.rho / 2 * constraint ** 2)

    @hookimpl
    def post_step(self, step, phase):
        state = step.state_for(self)
        state["lam"] = state["lam"] + self.rho * state["constraint"]
        step.log("lambda", state["lam"])


def test_a_stateful_family_by_hand_over_two_steps():
    family = Constrained(rho=0.1)
    first = ScriptedStep([1.0, 3.0], [0.0, -2.0])
    assert first.data.kind == "vector" and first.phase == "d" and first.accelerator.device.type == "cpu"
    # E_P = 2, E_Q = -1; Omega = (5 + 2) / 2 = 3.5, constraint = -2.5; lam = 0:
    # -(2 * 3 + 0 - 0.05 * 6.25) = -5.6875
    assert family.d_loss(step=first).item() == pytest.approx(-5.6875)
    family.post_step(step=first, phase="d")
    assert first.state_for(family)["lam"].item() == pytest.approx(-0.25)  # 0 + 0.1 * -2.5
    assert first.logs["lambda"].item() == pytest.approx(-0.25)
    # The next step keeps the state: real [1, 1], fake [1, -1] on images (scale 1):
    # E_P - E_Q = 1; Omega = (1 + 1) / 2 = 1, constraint 0: -(1 + 0 - 0) = -1; lam unchanged.
    second = ScriptedStep([1.0, 1.0], [1.0, -1.0], data=DataSpec("digits", (1, 8, 8), 10), state=first.state)
    assert second.data.kind == "small-image"
    assert family.d_loss(step=second).item() == pytest.approx(-1.0)
    family.post_step(step=second, phase="d")
    assert second.state_for(family)["lam"].item() == pytest.approx(-0.25)


def test_scripted_state_refuses_what_a_checkpoint_cannot_hold():
    step = ScriptedStep([1.0], [0.0])
    with pytest.raises(PluginError, match="must be a tensor"):
        step.state_for(object())["lam"] = 0.5


def test_scripted_log_keeps_the_last_value_per_name_and_the_phase_is_settable():
    step = ScriptedStep([], [2.0, -1.0], phase="g", index=7)
    step.log("x", 1.0)
    step.log("x", torch.tensor(3.0))
    assert step.logs == {"x": torch.tensor(3.0)} and step.index == 7
    assert step.fake_scores().tolist() == [2.0, -1.0]

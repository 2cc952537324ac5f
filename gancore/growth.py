"""Networks that change during training: stages as data, the stage in the checkpoint, optimizers kept.

A generator whose networks change during training (progressive growing) states its schedule as
data, the generator attribute ``growth``: a sequence of :class:`Stage` rows, each the step at
which the stage begins and the steps over which its new layers fade in. At the start of every
training step the trainer asks :class:`Growth` for the stage and fade of that step
(:func:`position`, a function of the step index alone); when either changed, every active plugin
implementing the ``grow`` hook (see :mod:`gancore.hookspecs`) brings the networks to them, in
place: it adds modules, or switches on modules built up front, and sets the fade. Then each
optimizer is extended with the parameters of its network that it does not hold yet
(:func:`extend_optimizer`: one new parameter group, the optimizer's settings; the state of the
parameters it held, Adam's moments, is kept).

The stage is part of the checkpointed training state (``{"growth": {"stage": s}}``). On resume
:meth:`Growth.load_state_dict` brings the freshly built networks to the checkpoint's stage, and
the optimizers to its parameters, *before* the weights and optimizer states are loaded, so that
both match the checkpoint's (stage by stage, so that each stage's new parameters form the
optimizer group they formed in training); training across a stage change therefore resumes exactly. Nothing
here knows a family: a generator without ``growth`` (every family but a growing one) costs one
attribute lookup per run.

Under distributed training, parameters added after the networks were wrapped are not
synchronised by DDP: a growing family that trains on several processes builds every stage's
modules up front and only switches them on in ``grow``.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import torch
from torch import nn

from gancore.errors import CheckpointError, PluginError

#: The generator attribute holding the schedule (a sequence of :class:`Stage`).
GROWTH = "growth"


@attrs.frozen
class Stage:
    """One row of a growth schedule.

    :param start: the training step (generator updates done) at which the stage begins; the first
        stage starts at 0.
    :param fade: steps over which the stage's new layers fade in, from 0 to 1 (``0``: at once).
    """

    start: int
    fade: int = 0


def check_stages(stages: Any, owner: str = "the generator") -> tuple[Stage, ...]:
    """``stages`` as a tuple of :class:`Stage`, checked: the first starts at 0, starts increase,
    fades are whole numbers >= 0. An empty schedule is a network that does not change."""
    stages = tuple(stages or ())
    problem = None
    if not all(isinstance(s, Stage) for s in stages):
        problem = "its rows must be gancore.growth.Stage(start, fade)"
    elif not all(isinstance(v, int) and not isinstance(v, bool) for s in stages for v in (s.start, s.fade)):
        problem = "starts and fades must be whole numbers"
    elif stages and stages[0].start != 0:
        problem = f"the first stage must start at step 0, not {stages[0].start}"
    elif any(b.start <= a.start for a, b in itertools.pairwise(stages)):
        problem = "stage starts must increase"
    elif any(s.fade < 0 for s in stages):
        problem = "fades must be >= 0"
    if problem:
        raise PluginError(f"{owner}'s {GROWTH} schedule is malformed: {problem}; got {stages!r:.200}.")
    return stages


def position(stages: Sequence[Stage], index: int) -> tuple[int, float]:
    """``(stage, fade)`` of training step ``index``: the last stage started by then, and how far its
    new layers have faded in (``(index - start) / fade``, at most 1; 1 when ``fade`` is 0)."""
    stage = bisect.bisect_right([s.start for s in stages], index) - 1
    row = stages[stage]
    return stage, 1.0 if row.fade == 0 else min(1.0, (index - row.start) / row.fade)


def extend_optimizer(optimizer: torch.optim.Optimizer, module: nn.Module) -> int:
    """Add to ``optimizer`` the parameters of ``module`` it does not hold, as one new parameter group
    with the settings of its first group (learning rate, betas, ...). The state of the parameters it
    already held is untouched. Returns how many parameters were added."""
    optimizer = getattr(optimizer, "optimizer", optimizer)  # Accelerate's wrapper shares its groups
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    new = [p for p in module.parameters() if id(p) not in held]
    if new:
        settings = {key: value for key, value in optimizer.param_groups[0].items() if key != "params"}
        optimizer.add_param_group({**settings, "params": new})
    return len(new)


class Growth:
    """The stage of a run's networks, kept in step with the schedule, the optimizers and the checkpoint.

    :param networks: ``{"g": generator, "d": discriminator}``, the bare modules.
    :param optimizers: the optimizer of each network, by the same keys.
    :param grow: the ``grow`` hook caller (``run.hook.grow``).
    """

    def __init__(self, networks: Mapping[str, nn.Module], optimizers: Mapping[str, Any],
                 grow: Callable[..., Any]):
        self.networks, self.optimizers, self._grow = dict(networks), dict(optimizers), grow
        self.stages = check_stages(getattr(self.networks["g"], GROWTH, ()))
        #: ``(stage, fade)`` the networks are at; ``None`` until first brought to a step.
        self.now: tuple[int, float] | None = None

    def _bring(self, stage: int, fade: float) -> None:
        self._grow(stage=stage, fade=fade, generator=self.networks["g"], discriminator=self.networks["d"])
        self.now = (stage, fade)
        for key, optimizer in self.optimizers.items():
            extend_optimizer(optimizer, self.networks[key])

    def update(self, index: int) -> None:
        """Bring the networks to the stage and fade of step ``index`` (at the start of that step)."""
        if not self.stages:
            return
        now = position(self.stages, index)
        if now == self.now:
            return
        if self.now is not None and now[0] < self.now[0]:
            raise CheckpointError(f"the networks are at growth stage {self.now[0]}, but the schedule puts step "
                                  f"{index} in stage {now[0]}: a network cannot shrink. Resume with the "
                                  "options (stage lengths, steps) the checkpoint was trained with.")
        self._bring(*now)

    def state_dict(self) -> dict[str, Any]:
        """``{"growth": {"stage": s}}`` for the training state, or ``{}`` when the networks do not grow."""
        return {"growth": {"stage": self.now[0] if self.now else 0}} if self.stages else {}

    def load_state_dict(self, state: Mapping[str, Any], index: int) -> None:
        """Bring the networks and optimizers to the stage of a checkpoint's ``state`` (of step ``index``)
        before its weights and optimizer states are loaded. A value read from a checkpoint is checked."""
        saved = state.get("growth")
        if not self.stages:
            if saved is not None:
                raise CheckpointError("the checkpoint's networks grew in stages, but this run's generator has no "
                                      f"{GROWTH} schedule: resume with the family and options it was trained with.")
            return
        stage, fade = position(self.stages, index)
        if saved is not None:
            value = saved.get("stage") if isinstance(saved, dict) else None
            if not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(self.stages)):
                raise CheckpointError(f"the checkpoint's growth stage {value!r:.40} is not one of this run's "
                                      f"stages 0..{len(self.stages) - 1}.")
            if value != stage:
                fade = 1.0  # a schedule changed since: the saved stage, complete; update() moves on from it
            stage = value
        # Stage by stage, as the run grew: each stage's new parameters form the optimizer group they
        # formed then, so that the checkpoint's optimizer states fit.
        for earlier in range(stage):
            self._bring(earlier, 1.0)
        self._bring(stage, fade)
        # The weights loaded next overwrite what grow kept in buffers (a fade of the step before): the
        # first step after the resume calls grow again with its own stage and fade.
        self.now = (stage, -1.0)

"""Guards that keep a run's work safe while it trains.

* :class:`NanGuard` checks every update's loss terms and gradients for
  NaN/Inf after the backward pass, before the optimizer step. With ``--nan stop`` (the default) the
  run stops with a message naming the phase, the step and the terms, and the
  last good checkpoint is left as it is; with ``--nan skip`` the update is
  dropped (no optimizer step, no ``post_step``) and counted, up to
  ``--nan-limit`` times.
* :class:`StopSignals` turns SIGINT and SIGTERM into a request that the
  training loop honours after the current step by writing a final checkpoint.
  A second signal of the same kind stops at once.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from gancore.errors import TrainingError

PHASES = {"d": "discriminator", "g": "generator"}


class NonFiniteError(TrainingError):
    """A loss term or gradient is NaN or infinite."""


class NanGuard:
    """Per-update NaN/Inf checks.

    :param mode: ``"stop"`` or ``"skip"``.
    :param limit: the most updates ``"skip"`` may drop in a run.
    :param checkpoints: the run's checkpoint directory, named in messages.
    """

    def __init__(self, mode: str, limit: int, checkpoints: Path):
        self.mode, self.limit, self.checkpoints = mode, limit, Path(checkpoints)
        self.skipped = 0

    def update_ok(self, terms: Mapping[str, torch.Tensor], module: nn.Module | None, phase: str, index: int) -> bool:
        """``True`` when every loss term and every gradient of ``module`` is finite.

        ``module=None`` checks the loss terms only.

        Called after the backward pass, before the optimizer step: one fused
        norm per gradient and one device sync per update. A norm is finite
        iff every element is (barring an overflow of the norm itself, which is
        no usable gradient either).
        """
        values = torch.stack([value.detach().float().reshape(()) for value in terms.values()])
        grads = [p.grad for p in module.parameters() if p.grad is not None] if module is not None else []
        checked = torch.cat([values, torch.stack(torch._foreach_norm(grads)).float()]) if grads else values
        if bool(checked.isfinite().all()):
            return True
        values = values.tolist()
        shown = ", ".join(f"{name} = {value:.4g}" for name, value in zip(terms, values))
        bad = [name for name, value in zip(terms, values) if value != value or abs(value) == float("inf")]
        if bad:
            return self._failed(f"non-finite loss term(s) {', '.join(map(repr, bad))} at step {index} in phase "
                                f"{phase!r} ({PHASES.get(phase, phase)} update); the terms were {shown}")
        names = [name for name, p in module.named_parameters()
                 if p.grad is not None and not bool(p.grad.isfinite().all())]
        return self._failed(f"non-finite gradient at step {index} in phase {phase!r} "
                            f"({PHASES.get(phase, phase)} update) in {len(names)} parameter(s), first "
                            f"{names[0]!r}, from the loss terms {shown}")

    def _failed(self, what: str) -> bool:
        if self.mode == "skip" and self.skipped < self.limit:
            self.skipped += 1
            return False
        from gancore.checkpoint import list_checkpoints

        found = list_checkpoints(self.checkpoints)
        kept = (f"The last good checkpoint, {str(found[-1])!r}, is intact; `gan train --resume "
                f"{str(self.checkpoints.parent)!r}` continues from it." if found else
                "No checkpoint had been written yet.")
        limit = (f" after skipping the allowed {self.limit} non-finite update(s) (--nan-limit)"
                 if self.mode == "skip" else "")
        raise NonFiniteError(f"{what}. Training stopped{limit}. {kept} Try a lower learning rate, a different "
                             "regularizer weight, fp32 precision, or --nan skip to drop such updates.")


class StopSignals:
    """Context manager: SIGINT/SIGTERM ask for a clean stop instead of killing.

    ``received`` is the first signal's number (``None`` until one arrives).
    Handlers are installed only in the main thread, and the previous ones
    are restored on exit.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame):
        if self.received == signum:  # asked twice: stop now
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
            raise KeyboardInterrupt
        self.received = signum

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received else ""

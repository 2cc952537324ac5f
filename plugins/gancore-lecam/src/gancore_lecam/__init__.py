"""LeCam regularization (Tseng et al. 2021, "Regularizing Generative Adversarial Networks under
Limited Data").

A regularizer (``--regularizer lecam`` or ``lecam=LAMBDA``) for any family, on
any data. In D's update::

    R_LC = E_x ||D(x) - alpha_F||^2 + E_z ||D(G(z)) - alpha_R||^2

``alpha_R`` and ``alpha_F`` are exponential moving averages (``decay`` 0.99,
the paper's) of D's mean score on real and on generated samples. Each D
update first folds this update's mean scores into the averages, then
penalises with them (the order of the authors' code); the first update sets
the averages to its means, rather than averaging from an arbitrary start.
The averages are not differentiated (the penalty's gradient reaches D only
through ``D(x)`` and ``D(G(z))``) and are kept in the plugin's checkpointed
state (``alpha_real``, ``alpha_fake``; ``alpha_real_<view>`` for families
with several discriminators), so a resumed run continues them.

``D`` is the adversarial score of each discriminator view
(:class:`gancore.step.DiscriminatorView`); ``||.||^2`` is the mean over a
score's values (one for most families, a patch map for PatchGAN Ds).
``weight`` (lambda) defaults to 0.01, the paper's value with StyleGAN2 (0.3
with BigGAN): measured with DCGAN (whose defaults include R1, as StyleGAN2's)
on a tenth of ``digits``, 0.01 lowered FID / floor from 5.5 to 4.8 and 0.3
raised it to 8.8 (docs/families/lecam.md).
"""

from __future__ import annotations

from typing import Annotated

import torch

from gancore import hookimpl
from gancore.declaration import NonNegativeFloat, Range, declare, option


def ema_update(average: torch.Tensor | None, value: torch.Tensor, decay: float) -> torch.Tensor:
    """``decay * average + (1 - decay) * value``; ``value`` itself when there is no average yet."""
    value = value.detach().float()
    return value.clone() if average is None else decay * average + (1 - decay) * value


def lecam_penalty(real_scores: torch.Tensor, fake_scores: torch.Tensor, alpha_real: torch.Tensor,
                  alpha_fake: torch.Tensor) -> torch.Tensor:
    """``E||D(x) - alpha_F||^2 + E||D(G(z)) - alpha_R||^2`` (the paper's Eq. 3)."""
    return (real_scores - alpha_fake).pow(2).mean() + (fake_scores - alpha_real).pow(2).mean()


@declare
class LeCam:
    """Tseng et al. 2021: D's real/fake scores pulled towards moving averages of the other side's (lambda 0.01)."""

    kind = "regularizer"

    weight: NonNegativeFloat = option(0.01, help="lambda, the penalty's weight.")
    decay: Annotated[float, Range(ge=0, lt=1)] = option(0.99, help="Decay of the scores' moving averages.")

    @hookimpl
    def regularize(self, step, phase):
        if phase != "d":
            return None
        state = step.state_for(self)
        return step.per_view("lecam", lambda view: self.weight * self.penalty(view, state))

    def penalty(self, view, state: dict[str, torch.Tensor]) -> torch.Tensor:
        """This update's penalty for ``view``, after folding its mean scores into the averages in ``state``."""
        suffix = "" if view.name == "d" else f"_{view.name}"
        real_scores, fake_scores = view.score(view.real), view.score(view.fake)
        for side, scores in (("real", real_scores), ("fake", fake_scores)):
            key = f"alpha_{side}{suffix}"
            state[key] = ema_update(state.get(key), scores.mean(), self.decay)
        return lecam_penalty(real_scores, fake_scores, state[f"alpha_real{suffix}"], state[f"alpha_fake{suffix}"])

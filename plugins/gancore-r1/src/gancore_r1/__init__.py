"""R1 and R2 gradient penalties (Mescheder et al., 2018) for any gancore family.

* ``r1``: ``gamma/2 * E_x[||grad_x D(x)||^2]`` on real data;
* ``r2``: ``gamma/2 * E_z[||grad D(G(z))||^2]`` on fake data.

``weight`` is gamma (10). Option ``every`` (k, default 1) is StyleGAN2's lazy
regularization, which the training loop applies (the plugin declares it as
``lazy_every = {"d": k}``, see :mod:`gancore.hookspecs`): the penalty is
computed on one discriminator update in k, counted from the start of the run,
and multiplied by k, so its average strength is unchanged. By default the
term joins that update's loss; ``--lazy-regularization separate`` gives it an
update of its own with Adam's learning rate and betas rescaled (StyleGAN2's).
The gradient is taken with ``create_graph=True`` through the family's
discriminator views, so it works with every family and reaches D's
parameters.
"""

from __future__ import annotations

import torch

from gancore import hookimpl
from gancore.losses import input_gradient
from gancore.declaration import NonNegativeFloat, PositiveInt, declare, option


@declare
class _InputGradientPenalty:
    kind = "regularizer"
    term = ""
    #: The penalty differentiates an input gradient: no torch.compile (gancore refuses --compile).
    needs_double_backward = True

    weight: NonNegativeFloat = option(10.0, help="gamma: the penalty is gamma/2 * E||grad D||^2.")
    every: PositiveInt = option(1, help="Lazy regularization: the penalty on one D update in k, times k "
                                        "(StyleGAN2 uses 16).")

    def inputs(self, view) -> torch.Tensor:
        raise NotImplementedError

    @property
    def lazy_every(self) -> dict[str, int]:
        """The trainer calls the penalty on one D update in ``every`` and multiplies it by ``every``."""
        return {"d": self.every}

    @hookimpl
    def regularize(self, step, phase):
        if phase != "d":
            return None
        return step.per_view(self.term, self.penalty)

    def penalty(self, view):
        _, grad = input_gradient(view.score, self.inputs(view))
        return self.weight / 2 * grad.pow(2).flatten(1).sum(1).mean()


@declare
class R1(_InputGradientPenalty):
    """Mescheder et al. 2018: weight/2 * E||grad D(x)||^2 on real data (gamma = 10; lazy with every=k)."""

    term = "r1"

    def inputs(self, view):
        return view.real


@declare
class R2(_InputGradientPenalty):
    """Mescheder et al. 2018: weight/2 * E||grad D(G(z))||^2 on fake data (gamma = 10; lazy with every=k)."""

    term = "r2"

    def inputs(self, view):
        return view.fake

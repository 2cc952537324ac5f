"""StyleGAN2's path length regularizer (Karras et al. 2020, section 3.2) for any gancore family.

In the generator's phase, with ``J_w = d g(w) / d w`` the Jacobian of the
samples with respect to the intermediate latent ``w`` and ``y`` a random
image with ``N(0, 1)`` pixels divided by ``sqrt(H * W)``::

    L_pl = E_{w, y} ( ||J_w^T y||_2 - a )^2

where ``a`` is an exponential moving average of the lengths
``||J_w^T y||`` (``a <- a + decay * (mean length - a)``, decay 0.01, from 0).
``J_w^T y`` is one backward pass: the gradient of ``sum(g(w) * y)`` with
respect to ``w``. The moving average is in the plugin's checkpointed state
(``step.state_for(self)["pl_mean"]``), so a resumed run continues it exactly.

The contract with the generator (any family may meet it): ``forward``
returns a mapping with the samples under ``"sample"`` and the intermediate
latent they were made from under ``"w"``, a tensor in the autograd graph of
the samples, shaped ``(n, w_dim)`` or ``(n, layers, w_dim)`` (one ``w`` per
synthesis layer, as StyleGAN2's broadcast ``ws``; the squared length is then
summed over ``w_dim`` and averaged over the layers, as StyleGAN2 does). A
run whose generator does not provide it stops with a one-line error.

``weight`` is StyleGAN2's 2; ``every`` (4) is its lazy regularization, which
the training loop applies (declared as ``lazy_every = {"g": every}``, see
:mod:`gancore.hookspecs`): the penalty is computed on one generator update in
``every``, counted from the start of the run, and multiplied by ``every``; by
default it joins that update's loss, and ``--lazy-regularization separate``
gives it an update of its own on fresh samples, with Adam's learning rate and
betas rescaled (StyleGAN2's). The lengths are taken on the generator phase's
samples (StyleGAN2 draws a separate batch of half the size).
"""

from __future__ import annotations

import math
from typing import Annotated, Mapping

import torch

from gancore import hookimpl
from gancore.errors import PluginError
from gancore.declaration import NonNegativeFloat, PositiveInt, Range, declare, option

#: The key of the intermediate latent in a generator's named outputs.
W_KEY = "w"


def path_lengths(sample: torch.Tensor, w: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``||J_w^T y||`` per sample, with the graph kept so a loss on it trains the generator.

    :param sample: the generator's samples ``g(w)``, ``(n, ...)``.
    :param w: the intermediate latent, ``(n, w_dim)`` or ``(n, layers, w_dim)``, in ``sample``'s graph.
    :param y: the random projection, shaped like ``sample``.
    :return: ``(n,)`` lengths; for per-layer ``w``, the root of the layer-averaged squared norms.
    """
    (grad,) = torch.autograd.grad((sample * y).sum(), w, create_graph=True)
    squared = grad.pow(2).sum(dim=-1)
    if squared.dim() > 1:
        squared = squared.flatten(1).mean(dim=1)
    return squared.sqrt()


def projection(sample: torch.Tensor) -> torch.Tensor:
    """``y``: ``N(0, 1)`` entries divided by the square root of the pixels per channel (1 for vectors)."""
    return torch.randn_like(sample) / math.sqrt(math.prod(sample.shape[2:]))


@declare
class PathLength:
    """Karras et al. 2020: ``weight * E(||J_w^T y|| - a)^2``, ``a`` an EMA of the lengths (lazy with ``every``)."""

    kind = "regularizer"
    #: The penalty differentiates a gradient (the lengths are gradients of the samples).
    needs_double_backward = True

    weight: NonNegativeFloat = option(2.0, help="The penalty's weight (StyleGAN2: 2).")
    every: PositiveInt = option(4, help="Lazy regularization: the penalty on one G update in k, times k.")
    decay: Annotated[float, Range(gt=0, le=1)] = option(0.01, help="The EMA decay of the target length a.")

    @property
    def lazy_every(self) -> dict[str, int]:
        """The trainer calls the penalty on one G update in ``every`` and multiplies it by ``every``."""
        return {"g": self.every}

    @hookimpl
    def regularize(self, step, phase):
        if phase != "g":
            return None
        state = step.state_for(self)
        sample, w = self._sample_and_w(step.outputs)
        lengths = path_lengths(sample, w, projection(sample))
        before = state.get("pl_mean", torch.zeros((), device=lengths.device)).to(lengths.device)
        # As StyleGAN2: the penalty is taken against the updated average (its gradient included).
        pl_mean = before + self.decay * (lengths.mean() - before)
        state["pl_mean"] = pl_mean.detach().float()
        step.log("pl_mean", pl_mean)
        return {"pl": self.weight * (lengths - pl_mean).pow(2).mean()}

    @staticmethod
    def _sample_and_w(outputs) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(outputs, Mapping) or W_KEY not in outputs or "sample" not in outputs:
            got = f"outputs {', '.join(map(repr, outputs))}" if isinstance(outputs, Mapping) else "a tensor"
            raise PluginError(f"regularizer 'pathlength' needs a generator whose forward returns its intermediate "
                              f"latent under 'w' beside 'sample' (as gancore-stylegan2's does); this run's returns "
                              f"{got}. Use such a family, or drop -r pathlength.")
        w = outputs[W_KEY]
        if not isinstance(w, torch.Tensor) or not w.requires_grad:
            raise PluginError("regularizer 'pathlength': the generator's 'w' output is not in the autograd graph of "
                              "its samples (it must be computed in forward, from trainable layers or the latent).")
        return outputs["sample"], w

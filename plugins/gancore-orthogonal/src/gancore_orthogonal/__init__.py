"""Orthogonal regularization (Brock, Donahue and Simonyan 2019, BigGAN section 3.1) for any family.

BigGAN's variant of orthogonal regularization drops the diagonal of the Gram matrix, so that
it pushes the generator's filters towards pairwise orthogonality without constraining their
norms::

    R_beta(W) = beta * || W^T W  (*)  (1 - I) ||_F^2

summed over every weight matrix of G. ``W^T W`` is the Gram matrix of the layer's filters: here
each weight is read as a matrix with one row per output unit (a convolution's
``(out, in, k, k)`` weight as ``(out, in * k * k)``), ``W`` in the formula is its transpose, and
the Gram matrix is ``W W^T`` of the rows (``out x out``), as in the authors' BigGAN-PyTorch. The
weights are those of G's linear and convolutional layers (with spectral norm, the raw weight
that the normalization divides; embeddings are left out, as BigGAN leaves out its shared class
embedding). ``-r orthogonal=1e-4`` sets beta (the paper's 1e-4). The term joins G's loss in
phase ``"g"``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from gancore import hookimpl
from gancore.declaration import NonNegativeFloat, declare, option

#: Layers whose weight is regularized.
LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def weights_of(module: nn.Module) -> list[torch.Tensor]:
    """The weights of ``module``'s linear and convolutional layers (a parametrized weight's original)."""
    found = []
    for layer in module.modules():
        if isinstance(layer, LAYERS) and getattr(layer, "weight", None) is not None:
            found.append(layer.parametrizations.weight.original if parametrize.is_parametrized(layer, "weight")
                         else layer.weight)
    return found


def off_diagonal_gram(weight: torch.Tensor) -> torch.Tensor:
    """``||W W^T (*) (1 - I)||_F^2`` of ``weight`` read as one row per output unit."""
    rows = weight.flatten(1)
    gram = rows @ rows.T
    return (gram * (1 - torch.eye(len(gram), dtype=gram.dtype, device=gram.device))).pow(2).sum()


def orthogonal_penalty(weights: list[torch.Tensor], beta: float) -> torch.Tensor:
    """``beta * sum over weights of ||W W^T (*) (1 - I)||_F^2``."""
    return beta * sum(off_diagonal_gram(w) for w in weights)


@declare
class Orthogonal:
    """Brock et al. 2019: beta * ||W^T W (*) (1 - I)||_F^2 over G's weights (BigGAN's orthogonal regularization)."""

    kind = "regularizer"

    weight: NonNegativeFloat = option(1e-4, help="beta (the paper's 1e-4).")

    @hookimpl
    def regularize(self, step, phase):
        if phase != "g":
            return None
        weights = weights_of(step.G)
        if not weights:
            return None
        return {"orthogonal": orthogonal_penalty(weights, self.weight)}

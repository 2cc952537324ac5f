"""A mixture of k generators in one generator module (MAD-GAN, MGAN and any other multi-generator family).

:class:`MixtureGenerator` holds the k generators as one ``nn.Module`` (one optimizer, one distributed
wrapper, one EMA copy). Its latent is ``{"z": z, "gen": u}``: noise and, per sample, the index ``u``
of the generator that makes it, drawn uniformly (the mixture weights ``pi_u = 1/k`` of both papers).
Sample ``i`` is ``G_{u_i}(z_i)``, so a batch of latents is already a sample of the mixture, which is
how both papers sample; ``gan sample --traverse gen`` shows one row per latent, one column per
generator (``gen`` is declared as a categorical latent code).

Two ways of sharing parameters (``share``):

* ``"none"``: k whole generators (:func:`mixture_of`'s ``build`` called k times); each sample goes
  through its own generator only, so a step costs about what one generator's does.
* ``"input"``: the generators share everything but their input layer (MGAN's scheme, Hoang et al.
  2018): a per-generator affine map of the noise, ``z -> A_u z + b_u``, then one shared generator.
  The shared network's first layer is linear in its input, so ``G_u`` has its own first layer
  ``W A_u`` (of at most the noise's rank) and shares the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from gancore.generator import Generator, LatentCode, draw

SHARES = ("none", "input")
Share = Literal["none", "input"]


def route(members: nn.ModuleList, z: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``members[index[i]](z[i])`` for every row ``i``: each member runs once, on its own rows."""
    out = None
    for j, member in enumerate(members):
        rows = (index == j).nonzero().squeeze(1)
        if not len(rows):
            continue
        part = member(z[rows])
        if out is None:
            out = part.new_zeros(len(z), *part.shape[1:])
        out = out.index_copy(0, rows, part)
    if out is None:  # an empty batch
        return members[0](z)
    return out


class InputMaps(nn.Module):
    """k affine maps of the noise, ``z -> A_u z + b_u``, applied per sample by its index ``u``;
    each starts at the identity, so the mixture starts as one generator and parts as it trains."""

    def __init__(self, k: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.eye(dim).repeat(k, 1, 1) + 0.1 * torch.randn(k, dim, dim))
        self.bias = nn.Parameter(torch.zeros(k, dim))

    def forward(self, z: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return torch.bmm(self.weight[index], z.unsqueeze(2)).squeeze(2) + self.bias[index]


class MixtureGenerator(Generator):
    """k generators in one module; latent ``{"z", "gen"}``; sample ``i`` is ``G_{gen_i}(z_i)``."""

    def __init__(self, latent_dim: int, k: int, build: Callable[[], nn.Module], share: Share = "none"):
        super().__init__(latent_dim)
        if k < 1:
            raise ValueError(f"a mixture needs at least one generator, got k = {k}")
        if share not in SHARES:
            raise ValueError(f"share must be one of {', '.join(SHARES)}, got {share!r}")
        self.k, self.share = int(k), share
        if share == "none":
            self.members = nn.ModuleList(build() for _ in range(self.k))
        else:
            self.maps, self.shared = InputMaps(self.k, self.latent_dim), build()

    @property
    def latent_codes(self):
        return {"gen": LatentCode("categorical", self.k)}

    def latent(self, n, labels=None, batch=None, rng=None):
        device = self.latent_device()
        return {"z": draw(torch.randn, (n, self.latent_dim), rng=rng, device=device),
                "gen": draw(torch.randint, 0, self.k, (n,), rng=rng, device=device)}

    def forward(self, latent) -> torch.Tensor:
        z, index = latent["z"], latent["gen"]
        if self.share == "none":
            return route(self.members, z, index)
        return self.shared(self.maps(z, index))

"""The generator protocol: a generator knows how to draw its own input.

The trainer never builds latent vectors itself. It asks the generator for
``latent(n, ...)`` and feeds the result back to ``forward``. That one rule lets
the same loop, sample grids and ``gan sample --label`` serve noise-only
families, conditional ones (noise + labels), latent-code ones (noise + codes)
and translating ones (a source image from the batch) alike.

A latent is a tensor or a dict of tensors whose first dimension is the
sample index; :func:`map_latent` applies a function to every tensor in it.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch
from torch import nn

Latent = Any  # torch.Tensor | Mapping[str, torch.Tensor]


class Generator(nn.Module):
    """Base class for generators: Gaussian noise, plus labels when conditional.

    Subclasses implement ``forward(latent)`` and may override :meth:`latent`.

    :param latent_dim: size of the noise vector ``z``.
    :param num_classes: ``0`` for an unconditional generator; otherwise the
        latent is ``{"z": z, "labels": labels}`` and ``forward`` must honour
        ``labels``, which makes ``gan sample --label`` work.
    """

    def __init__(self, latent_dim: int, num_classes: int = 0):
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.num_classes = int(num_classes)

    @property
    def conditional(self) -> bool:
        """True when :meth:`latent` honours ``labels``."""
        return self.num_classes > 0

    def latent_device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        return torch.device("cpu")

    def latent(
        self,
        n: int,
        labels: torch.Tensor | None = None,
        batch: Any = None,
        rng: torch.Generator | None = None,
    ) -> Latent:
        """Draw the input for ``n`` samples.

        :param n: number of samples.
        :param labels: class labels to generate (conditional generators only);
            drawn uniformly when ``None``.
        :param batch: the current real :class:`gancore.data.Batch`, for
            generators whose input comes from data (translation families).
        :param rng: a CPU ``torch.Generator`` for reproducible draws (fixed
            sample grids); ``None`` uses the global RNG.
        """
        device = self.latent_device()
        z = draw(torch.randn, (n, self.latent_dim), rng=rng, device=device)
        if not self.conditional:
            return z
        if labels is None:
            labels = draw(torch.randint, 0, self.num_classes, (n,), rng=rng, device=device)
        return {"z": z, "labels": labels.to(device)}


def draw(sampler: Callable[..., torch.Tensor], *args, rng: torch.Generator | None = None,
         device: torch.device | str | None = None) -> torch.Tensor:
    """``sampler(*args)`` on ``device``; from ``rng`` (a CPU generator) when given, else the global RNG."""
    if rng is None:
        return sampler(*args, device=device)
    return sampler(*args, generator=rng).to(device)


def map_latent(latent: Latent, fn: Callable[[torch.Tensor], torch.Tensor]) -> Latent:
    """Apply ``fn`` to every tensor of a latent (a tensor or a dict of them)."""
    if isinstance(latent, torch.Tensor):
        return fn(latent)
    if isinstance(latent, Mapping):
        return {key: map_latent(value, fn) for key, value in latent.items()}
    return latent


def check_generator(module: Any, family: str) -> None:
    """Raise a clear error when a family's generator breaks the protocol."""
    if not isinstance(module, nn.Module) or not callable(getattr(module, "latent", None)):
        from gancore.errors import PluginError

        raise PluginError(
            f"plugin {family!r}: build_generator must return an nn.Module with a "
            f"latent(n, labels=None, batch=None, rng=None) method (subclass "
            f"gancore.generator.Generator); got {type(module).__name__}."
        )

"""The generator protocol: a generator knows how to draw its own input.

The trainer never builds latent vectors itself. It asks the generator for
``latent(n, ...)`` and feeds the result back to ``forward``. That one rule lets
the same loop, sample grids and ``gan sample --label`` serve noise-only
families, conditional ones (noise + labels), latent-code ones (noise + codes)
and translating ones (a source image from the batch) alike.

A latent is a tensor or a dict of tensors whose first dimension is the
sample index; :func:`map_latent` applies a function to every tensor in it.

Two optional extensions of the protocol, both general:

* **Named outputs.** ``forward`` may return a mapping instead of a tensor:
  the samples under ``"sample"`` plus any other named tensors the family's
  losses need from the same forward pass (an encoder's code and the
  reconstruction for AAE, an inferred latent for BiGAN/ALI). The trainer and
  ``gan sample`` use only ``"sample"`` (:func:`samples_of`); a family's loss
  reads the rest from ``step.outputs``. Keeping them in one forward pass
  through the (distributed-wrapped) generator is what keeps gradient
  synchronisation correct for every sub-network it holds.
* **Latent codes.** A generator whose latent dict holds interpretable parts
  (InfoGAN's categorical and continuous codes) declares them in
  :attr:`Generator.latent_codes`; ``gan sample --traverse NAME`` then draws
  the grid that varies one code while the rest of each row's latent stays
  fixed (:func:`traverse_latent`).

* **Truncation.** A generator that supports the truncation trick defines
  ``forward_truncated(self, *inputs, psi: float)``: exactly ``forward``'s
  inputs plus ``psi``, ``forward``'s output (``psi = 1`` gives ``forward``'s
  samples; smaller values trade diversity for fidelity). Sampling calls it
  through :func:`truncated` (``gan sample --truncation PSI``,
  ``LoadedGenerator.sample(..., truncation=psi)``); training never does.

The attributes the core reads from a generator (``conditional``,
``num_classes``, ``latent_codes``, ``labels_from_batch``, ``translates``,
``forward_truncated``) are
listed, with their defaults, in :mod:`gancore.hookspecs`, the plugin contract;
:class:`Generator` sets them for its subclasses.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import attrs
import torch
from torch import nn

Latent = Any  # torch.Tensor | Mapping[str, torch.Tensor]


@attrs.frozen
class LatentCode:
    """One named, interpretable part of a generator's latent dict.

    :param kind: ``"categorical"`` (the latent holds ``int64`` category
        indices of shape ``(n,)``) or ``"continuous"`` (``float`` values of
        shape ``(n,)``).
    :param size: number of categories (categorical codes).
    :param low, high: the range a traversal sweeps (continuous codes).
    """

    kind: str = attrs.field(validator=attrs.validators.in_(("categorical", "continuous")))
    size: int = 0
    low: float = -1.0
    high: float = 1.0

    def sweep(self, steps: int) -> torch.Tensor:
        """The values a traversal shows: every category, or ``steps`` evenly spaced values."""
        if self.kind == "categorical":
            return torch.arange(self.size)
        return torch.linspace(self.low, self.high, steps)


class Generator(nn.Module):
    """Base class for generators: Gaussian noise, plus labels when conditional.

    Subclasses implement ``forward(latent)`` and may override :meth:`latent`.

    :param latent_dim: size of the noise vector ``z``.
    :param num_classes: ``0`` for an unconditional generator; otherwise the
        latent is ``{"z": z, "labels": labels}`` and ``forward`` must honour
        ``labels``, which makes ``gan sample --label`` work.
    """

    #: When True, a training latent drawn for a real batch with labels
    #: (``latent(n, batch=batch)``) takes the batch's labels instead of
    #: uniform ones, so real and fake samples of a step share their labels
    #: (a label-conditioned discriminator then scores both with the same
    #: labels, and its regularizer view stays well defined).
    labels_from_batch: bool = False

    def __init__(self, latent_dim: int, num_classes: int = 0):
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.num_classes = int(num_classes)

    @property
    def latent_codes(self) -> Mapping[str, LatentCode]:
        """The interpretable codes in this generator's latent dict, by key (none by default)."""
        return {}

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
        if labels is None and self.labels_from_batch and batch is not None and batch.labels is not None:
            labels = batch.labels[:n]
        if labels is None:
            labels = draw(torch.randint, 0, self.num_classes, (n,), rng=rng, device=device)
        return {"z": z, "labels": labels.to(device)}


def draw(sampler: Callable[..., torch.Tensor], *args, rng: torch.Generator | None = None,
         device: torch.device | str | None = None) -> torch.Tensor:
    """``sampler(*args)`` on ``device``; from ``rng`` (a CPU generator) when given, else the global RNG."""
    if rng is None:
        return sampler(*args, device=device)
    return sampler(*args, generator=rng).to(device)


def samples_of(output: Any) -> torch.Tensor:
    """The samples in a generator's output: the tensor itself, or its ``"sample"`` entry."""
    if isinstance(output, Mapping):
        return output["sample"]
    return output


def traverse_latent(generator: Any, code: str, rows: int, steps: int = 10,
                    rng: torch.Generator | None = None) -> tuple[Latent, int]:
    """A latent for the grid that varies ``code`` along each row.

    Draws ``rows`` latents, repeats each one for every value of the code's
    :meth:`LatentCode.sweep` and overwrites the code with those values, so a
    row shows one fixed latent with only ``code`` changing.

    :return: the latent (``rows * columns`` samples, row-major) and the
        number of columns.
    """
    from gancore.errors import ConfigError

    codes = dict(getattr(generator, "latent_codes", {}) or {})
    if code not in codes:
        if not codes:
            raise ConfigError("--traverse needs a generator with latent codes; this one declares none.")
        raise ConfigError(f"--traverse {code!r} is not a latent code of this generator: use one of "
                          f"{', '.join(codes)}.")
    values = codes[code].sweep(steps)
    columns = len(values)
    base = generator.latent(rows, rng=rng)
    latent = map_latent(base, lambda t: t.repeat_interleave(columns, dim=0))
    latent[code] = values.repeat(rows).to(device=latent[code].device, dtype=latent[code].dtype)
    return latent, columns


def map_latent(latent: Latent, fn: Callable[[torch.Tensor], torch.Tensor]) -> Latent:
    """Apply ``fn`` to every tensor of a latent (a tensor or a dict of them)."""
    if isinstance(latent, torch.Tensor):
        return fn(latent)
    if isinstance(latent, Mapping):
        return {key: map_latent(value, fn) for key, value in latent.items()}
    return latent


#: The optional generator method of the truncation trick (see the module docstring).
TRUNCATED = "forward_truncated"


def supports_truncation(generator: Any) -> bool:
    """Whether ``generator`` defines :data:`TRUNCATED`."""
    return callable(getattr(generator, TRUNCATED, None))


def truncated(generator: Any, psi: float | None, family: str = "this family") -> Callable[..., Any]:
    """What to call in place of ``generator(...)`` to sample with truncation ``psi``: the generator
    itself when ``psi`` is ``None``, else its ``forward_truncated`` with ``psi`` bound.

    :raises gancore.errors.ConfigError: ``psi`` is not a finite number, or the generator has no
        ``forward_truncated``.
    """
    import math

    from gancore.errors import ConfigError

    if psi is None:
        return generator
    if isinstance(psi, bool) or not isinstance(psi, (int, float)) or not math.isfinite(psi):
        raise ConfigError(f"bad truncation psi {psi!r}: give a finite number (1 = no truncation, 0 = the "
                          "average; 0.5-0.8 is usual).")
    if not supports_truncation(generator):
        raise ConfigError(f"--truncation: {family}'s generator ({type(generator).__name__}) does not support the "
                          f"truncation trick (it defines no {TRUNCATED}(..., psi)); sample without --truncation.")
    method = getattr(generator, TRUNCATED)
    return lambda *inputs: method(*inputs, psi=float(psi))


def check_generator(module: Any, family: str) -> None:
    """Raise a clear error when a family's generator breaks the protocol."""
    if not isinstance(module, nn.Module) or not callable(getattr(module, "latent", None)):
        from gancore.errors import PluginError

        raise PluginError(
            f"plugin {family!r}: build_generator must return an nn.Module with a "
            f"latent(n, labels=None, batch=None, rng=None) method (subclass "
            f"gancore.generator.Generator); got {type(module).__name__}."
        )


#: The most parameters and buffers (entries) one network may have: 4 GB of float32 weights, 16 GB
#: with Adam's moments. Checked before any memory is allocated (docs/reliability.md, "Limits").
MAX_PARAMETERS = 1_000_000_000


def build_within_limits(build: Callable[[], nn.Module], what: str, family: str) -> nn.Module:
    """``build()``, after building it once on PyTorch's ``meta`` device (no memory) and refusing a
    network larger than :data:`MAX_PARAMETERS`, such as one of width 10^8 from ``--set``.

    Random states are restored after the probe, so the real build draws what it always drew. A
    network that cannot be built on the ``meta`` device is built as it is, unchecked.
    """
    import random

    import numpy as np

    from gancore.errors import ConfigError

    states = random.getstate(), np.random.get_state()
    count = None
    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            probe = build()
            if isinstance(probe, nn.Module):
                count = sum(t.numel() for t in probe.parameters()) + sum(t.numel() for t in probe.buffers())
    except Exception:  # noqa: BLE001 -- the real build below reports what is wrong, as it always did
        count = None
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
    if count is not None and count > MAX_PARAMETERS:
        raise ConfigError(f"family {family!r}: this configuration's {what} would have {count:,} parameters, more "
                          f"than gancore's limit of {MAX_PARAMETERS:,} (see docs/reliability.md); choose smaller "
                          "widths, latent_dim or image size.")
    return build()

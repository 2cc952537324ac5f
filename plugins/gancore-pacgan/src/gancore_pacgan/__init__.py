"""PacGAN (Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial networks").

An add-on (``--plugin gancore-pacgan``, option ``packing = m``, the paper's
m = 2 by default) for any family whose discriminator scores a batch of
samples as ``D(x)``: D judges *packs* of m samples of one kind (all real or
all fake) concatenated along the channel (images) or feature (vectors) axis,
so a generator that puts its samples in few modes is seen as such by D. The
family's loss is unchanged; with ``x_1..x_m`` i.i.d.::

    L_D = E[f(D(x_1, ..., x_m))] + E[h(D(G(z_1), ..., G(z_m)))]

Mechanism. The packed D needs m times the input channels, so it must be
built for the packed data shape, and a pluggy wrapper cannot change the
arguments the family's ``build_discriminator`` receives. So this add-on's
wrapper (``@hookimpl(wrapper=True, trylast=True)``: the innermost wrapper)
sets aside the D the family built for the plain shape, activates the family
once more in a plugin manager of its own (the run's own family name and
options, :meth:`gancore.plugins.Registry.activate`) and asks it for D with
``attrs.evolve(data, shape=(m * C, H, W))`` (or ``(m * d,)``). That D is the
family's own architecture for the packed shape (its spectral norm, its
BatchNorm, its auto-encoder), which no surgery on the first layer of the
plain D could promise. Wrappers outside this one (``spectral-norm``,
``gancore-diffaugment``) then apply to the packed D, which is what the
paper does: augment each sample, then pack.

:class:`Packed` reshapes D's input ``(n, *shape)`` to ``(n/m, m * C, ...)``,
consecutive samples forming a pack, and repeats each pack's score m times,
so every loss and ``Step.real_and_fake_scores``'s split still see one score
per sample. Real and fake are never mixed in one pack because the batch
size must be a multiple of m (checked when D is built, and on every call).

Only families whose D takes the samples alone are supported: a D given
further inputs (labels, a domain) refuses with a clear error, since a label
per sample has no meaning for a pack.
"""

from __future__ import annotations

from typing import Any

import attrs
import torch
from torch import nn

from gancore import hookimpl
from gancore.errors import PluginError
from gancore.declaration import PositiveInt, declare, option


def packed_spec(data, packing: int):
    """``data`` with each sample ``packing`` samples wide: ``(m * C, H, W)`` or ``(m * d,)``."""
    first, *rest = data.shape
    return attrs.evolve(data, shape=(packing * first, *rest))


def pack(x: torch.Tensor, packing: int) -> torch.Tensor:
    """``(n, C, ...)`` -> ``(n / m, m * C, ...)``: samples ``k*m .. k*m + m - 1`` form pack ``k``,
    sample ``k*m + j`` in channels ``j*C .. j*C + C - 1``."""
    n = x.shape[0]
    if n % packing:
        raise PluginError(f"gancore-pacgan: the discriminator was given {n} samples, not a multiple of packing "
                          f"= {packing}; use a batch size that is a multiple of {packing}.")
    return x.reshape(n // packing, packing * x.shape[1], *x.shape[2:])


def unpack_scores(scores: Any, packing: int) -> Any:
    """Each pack's score (row) repeated ``packing`` times: one score per sample again."""
    if isinstance(scores, tuple):
        return tuple(unpack_scores(part, packing) for part in scores)
    return scores.repeat_interleave(packing, dim=0)


class UnpackableAccess(PluginError, AttributeError):
    """A family reached past ``D(x)`` into its discriminator (``D.error_and_code``): a packed D cannot offer that.

    Also an ``AttributeError``, so ``getattr(D, name, default)`` still returns the default."""


class Packed(nn.Module):
    """``D`` built for packed samples, called with plain ones: packs them, and gives each sample its pack's score."""

    def __init__(self, discriminator: nn.Module, packing: int):
        super().__init__()
        self.discriminator, self.packing = discriminator, int(packing)

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            raise PluginError("gancore-pacgan packs the samples D scores, but this family's discriminator takes "
                              "further inputs (labels, a domain, a paired image): PacGAN has no meaning for a "
                              "per-sample condition. Use it with an unconditional family.")
        return unpack_scores(self.discriminator(pack(x, self.packing)), self.packing)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("_") or not hasattr(self.discriminator, name):
                raise
        raise UnpackableAccess(f"gancore-pacgan: this family uses its discriminator's {name!r} directly, not only "
                               f"D(x); a packed D scores packs through D(x) alone. Use PacGAN with a family whose "
                               f"losses call D(x) (not, for example, EBGAN or D2GAN).")


def family_discriminator(config, data):
    """The run's family's ``build_discriminator`` for ``data``, from a second activation of that family."""
    from gancore.plugins import Registry

    registry = Registry.discover()
    try:
        family = registry.family_of(config.plugins)
    except PluginError as exc:
        raise PluginError(f"gancore-pacgan builds the family's discriminator for packed samples and needs the "
                          f"family installed as a plugin (an entry point): {exc}") from None
    run = registry.activate([family.name], {family.name: dict(config.options.get(family.name, {}))})
    return run.hook.build_discriminator(config=config, data=data)


@declare
class PacGAN:
    """Lin et al. 2018: D judges packs of m samples (all real or all fake), against mode collapse."""

    kind = "add-on"

    packing: PositiveInt = option(2, help="m, the samples D judges together (1: off).")

    @hookimpl(wrapper=True, trylast=True)
    def build_discriminator(self, config, data):
        plain = yield  # the family's D for single samples: built (so the family checked the data), set aside
        if self.packing == 1 or not isinstance(plain, nn.Module):
            return plain
        if config.batch_size % self.packing:
            raise PluginError(f"gancore-pacgan: --batch-size {config.batch_size} is not a multiple of packing = "
                              f"{self.packing}; a pack must hold real or fake samples only.")
        return Packed(family_discriminator(config, packed_spec(data, self.packing)), self.packing)

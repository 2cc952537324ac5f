"""The networks most families share, chosen per data kind: :func:`standard_generator`,
:func:`standard_discriminator` and the :class:`StandardNetworks` family mixin."""

from __future__ import annotations

from torch import nn

from gancore.data import DataSpec
from gancore.generator import Generator
from gancore.hookspecs import hookimpl
from gancore.nets.conv import ConvDiscriminator, ConvGenerator
from gancore.nets.mlp import MLPDiscriminator, MLPGenerator


def by_kind(value, data: DataSpec, choices, fallback):
    """A network option's value: ``value`` as the user gave it, or, when it is ``None``, the
    family's choice for the data's kind (``choices[data.kind]``, else ``fallback``).

    Families take options such as ``hidden=None`` so that their networks follow the data
    (wider MLPs for small images, say) while ``--set FAMILY.hidden=N`` still wins.
    """
    if value is not None:
        return value
    return choices.get(data.kind, fallback)


#: Network kinds of :func:`standard_generator` / :func:`standard_discriminator` for images.
ARCHS = ("conv", "mlp")


def check_arch(arch: str) -> str:
    """``arch`` if it is one of :data:`ARCHS`; a ``ValueError`` naming them otherwise (plugin options)."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    return arch


def standard_generator(spec: DataSpec, latent_dim: int, width: int = 64, hidden: int = 256,
                       arch: str = "conv") -> Generator:
    """The generator most unconditional families share: DCGAN-style convolutions for images
    (``arch="conv"``), an MLP for vector data (``ring``) or for images with ``arch="mlp"`` (the
    fully connected networks of Goodfellow et al. and of the WGAN paper's MLP experiments)."""
    if not spec.is_image or check_arch(arch) == "mlp":
        return MLPGenerator(spec, latent_dim, hidden)
    return ConvGenerator(spec, latent_dim, width)


def standard_discriminator(spec: DataSpec, width: int = 64, hidden: int = 256, norm: str = "batch",
                           arch: str = "conv") -> nn.Module:
    """The discriminator matching :func:`standard_generator`: strided convolutions with ``norm`` for
    images, an MLP for vector data or with ``arch="mlp"``."""
    if not spec.is_image or check_arch(arch) == "mlp":
        return MLPDiscriminator(spec, hidden)
    return ConvDiscriminator(spec, width, norm=norm)


#: gancore's own values of the standard networks' options, under a family's :attr:`StandardNetworks.NETWORKS`.
STANDARD = {"width": 64, "hidden": 256, "norm": "batch", "arch": "conv"}


class StandardNetworks:
    """A family mixin: the ``build_generator`` and ``build_discriminator`` hook implementations
    over :func:`standard_generator` / :func:`standard_discriminator`, from the family's ``width``,
    ``hidden``, ``norm`` and ``arch`` attributes (set from its options in ``__init__``). An
    attribute left ``None`` takes the family's choice for the data's kind, from :attr:`NETWORKS`."""

    #: Data kind -> network option -> value, for options the user left unset (``None``).
    NETWORKS: dict[str, dict[str, object]] = {}

    def network(self, data: DataSpec) -> dict[str, object]:
        """The network options for ``data``: the user's, else this family's for the data's kind."""
        return {name: by_kind(getattr(self, name), data, {kind: table[name] for kind, table in self.NETWORKS.items()
                                                          if name in table}, STANDARD[name])
                for name in STANDARD}

    @hookimpl
    def build_generator(self, config, data):
        net = self.network(data)
        return standard_generator(data, config.latent_dim, net["width"], hidden=net["hidden"], arch=net["arch"])

    @hookimpl
    def build_discriminator(self, data):
        net = self.network(data)
        return standard_discriminator(data, net["width"], hidden=net["hidden"], norm=net["norm"], arch=net["arch"])

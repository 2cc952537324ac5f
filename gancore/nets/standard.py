"""The networks most families share, chosen per data kind: the chooser :func:`takes_mlp`,
:func:`standard_generator`, :func:`standard_discriminator` and the family mixins
:class:`StandardNetworks` and :class:`Depth` (its ``depth`` option alone)."""

from __future__ import annotations

from torch import nn

from gancore.data import DataSpec
from gancore.declaration import Arch, Norm, PositiveInt, declare, option
from gancore.generator import Generator
from gancore.hookspecs import hookimpl
from gancore.nets.conv import ConvDiscriminator, ConvGenerator
from gancore.nets.mlp import MLPDiscriminator, MLPGenerator


def by_kind(value, data: DataSpec, choices, fallback):
    """A network option's value: ``value`` as the user gave it, or, when it is ``None``, the
    family's choice for the data's kind (``choices[data.kind]``, else ``fallback``).

    For plugins whose options are ``__init__`` arguments resolved in their build hooks; a
    declared plugin states its defaults per data kind in its declaration (``option(by_kind=...)``
    or ``option_defaults``), resolved before it is created (:mod:`gancore.declaration`).
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


def takes_mlp(spec: DataSpec, arch: str = "conv") -> bool:
    """The network chooser by data kind, for every family: an MLP for vector data (``ring``) or for
    images with ``arch="mlp"``; convolutions for images otherwise."""
    return not spec.is_image or check_arch(arch) == "mlp"


def standard_generator(spec: DataSpec, latent_dim: int, width: int = 64, hidden: int = 256,
                       arch: str = "conv", depth: int = 1) -> Generator:
    """The generator most unconditional families share: DCGAN-style convolutions for images
    (``arch="conv"``), an MLP for vector data (``ring``) or for images with ``arch="mlp"`` (the
    fully connected networks of Goodfellow et al. and of the WGAN paper's MLP experiments).
    ``depth``: convolutions per resolution (:class:`gancore.nets.ConvGenerator`)."""
    if takes_mlp(spec, arch):
        return MLPGenerator(spec, latent_dim, hidden)
    return ConvGenerator(spec, latent_dim, width, depth=depth)


def standard_discriminator(spec: DataSpec, width: int = 64, hidden: int = 256, norm: str = "batch",
                           arch: str = "conv", depth: int = 1) -> nn.Module:
    """The discriminator matching :func:`standard_generator`: strided convolutions with ``norm`` for
    images (``depth`` convolutions per resolution), an MLP for vector data or with ``arch="mlp"``."""
    if takes_mlp(spec, arch):
        return MLPDiscriminator(spec, hidden)
    return ConvDiscriminator(spec, width, norm=norm, depth=depth)


@declare
class Depth:
    """A family mixin: the one ``depth`` option, convolutions per resolution in G and D (images, conv
    networks; each after the first 3x3, stride 1), for families that build their networks themselves
    with the constructors of :mod:`gancore.nets`. Default 1 (DCGAN's networks); a family sets its
    value by data kind with ``option_defaults = {"image": {"depth": 2}}``. :class:`StandardNetworks`
    has it."""

    depth: PositiveInt = option(1, help="Convolutions per resolution in G and D on images (conv networks; "
                                        "each after the first 3x3, stride 1).")


@declare
class StandardNetworks(Depth):
    """A family mixin: the network options and the two build hooks, so that a family writes its losses only.

    What it provides:

    * the declared options ``width``, ``hidden``, ``norm``, ``arch`` and ``depth`` (types and help in the table
      above; ``gan plugins`` lists them under the family, ``--set FAMILY.width=32`` sets them);
    * the ``build_generator`` hook: :func:`standard_generator` with ``config.latent_dim`` (an MLP
      for vector data or with ``arch="mlp"``, DCGAN-style convolutions for images);
    * the ``build_discriminator`` hook: :func:`standard_discriminator`, one raw score per sample,
      with ``features(x)`` (the body) and ``head`` (the last layer) for auxiliary heads.

    What the family must state itself: ``@declare`` on the subclass (the mixin's options are
    inherited), ``kind = "family"``, the ``d_loss`` and ``g_loss`` hooks, and usually ``defaults``
    (training settings by data kind). It may set the network options' defaults by data kind with
    ``option_defaults = {"small-image": {"arch": "mlp", "hidden": 512}, "image": {"norm": "none"}}``,
    and declare options of its own beside them. A family that needs other networks (a conditional
    generator, two discriminators) implements the build hooks itself instead, with the
    constructors of :mod:`gancore.nets` and :func:`takes_mlp` to choose by data kind::

        @declare
        class LSGAN(StandardNetworks):
            kind = "family"
            defaults = {"vector": {"lr_g": 1e-3, "lr_d": 1e-3}, "small-image": {}, "image": {}}
            option_defaults = {"small-image": {"arch": "mlp", "hidden": 512}}

            @hookimpl
            def d_loss(self, step):
                return least_squares_d(*step.real_and_fake_scores())

            @hookimpl
            def g_loss(self, step):
                return least_squares_g(step.fake_scores())
    """

    width: PositiveInt = option(64, help="Channels of the first convolution (images, arch conv).")
    hidden: PositiveInt = option(256, help="Units per hidden layer of the MLPs (vector data, or arch mlp).")
    norm: Norm = option("batch", help="Normalization in D's convolutions.")
    arch: Arch = option("conv", help="Networks for images: conv, or mlp (vector data always takes an MLP).")

    def network(self, data: DataSpec | None = None) -> dict[str, object]:
        """The network options (resolved for the run's data before the family was created)."""
        return {"width": self.width, "hidden": self.hidden, "norm": self.norm, "arch": self.arch,
                "depth": self.depth}

    @hookimpl
    def build_generator(self, config, data):
        """The hook: ``standard_generator(data, config.latent_dim, width, hidden=, arch=, depth=)``."""
        return standard_generator(data, config.latent_dim, self.width, hidden=self.hidden, arch=self.arch,
                                  depth=self.depth)

    @hookimpl
    def build_discriminator(self, data):
        """The hook: ``standard_discriminator(data, width, hidden=, norm=, arch=, depth=)``."""
        return standard_discriminator(data, self.width, hidden=self.hidden, norm=self.norm, arch=self.arch,
                                      depth=self.depth)

"""All-convolutional networks for images of any size ``base * 2**n`` with ``base`` in 3..7
(8, 28, 32, 64, ...): strided transposed convolutions with BatchNorm and ReLU in the generator
(tanh output), strided convolutions with LeakyReLU in the discriminator (no normalization on
its input layer)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gancore.data import SMALL_IMAGE_MAX, DataSpec
from gancore.errors import PluginError
from gancore.nets.layers import _LabelledNoise, init_weights, norm_2d


def conv_plan(size: int) -> tuple[int, int]:
    """``(base, n)`` with ``size == base * 2**n``, ``base`` in 3..7 (2..7 on small images) and n >= 1.

    Small images (at most :data:`gancore.data.SMALL_IMAGE_MAX` px) go down to
    ``base`` 2: an 8x8 image is 2 * 2**2, so networks on it have three
    resolutions (2, 4, 8) rather than one 4 -> 8 step, which is too shallow
    to model the 8x8 digits (classifier-FID 7.3x the floor against 3.9x,
    3,000 steps; see docs/results.md).
    """
    smallest = 2 if size <= SMALL_IMAGE_MAX else 3
    base, n = size, 0
    while base % 2 == 0 and (base > 7 or base // 2 >= smallest):
        base, n = base // 2, n + 1
    if n == 0 or not smallest <= base <= 7:
        raise PluginError(f"convolutional networks need an image size base * 2**n with base in 3..7 "
                          f"(8, 28, 32, 64, ...); got {size}. Use --image-size.")
    return base, n


def refinements(channels: int, depth: int, norm: str, act: Callable[[], nn.Module], bias: bool) -> list[nn.Module]:
    """The further convolutions at one resolution of a ``depth`` network (the ``depth`` option): ``depth - 1``
    3x3 stride-1 convolutions of ``channels`` channels, each followed by ``norm`` and a new ``act()``."""
    return [module for _ in range(depth - 1)
            for module in (nn.Conv2d(channels, channels, 3, 1, 1, bias=bias), norm_2d(norm, channels), act())]


class ConvGenerator(_LabelledNoise):
    """Noise (+ label embedding) -> transposed convolutions -> an image in [-1, 1] (DCGAN's generator).

    A :class:`gancore.generator.Generator` (it draws its own latent). The image size must be
    ``base * 2**n`` (:func:`conv_plan`); vector data raises :class:`gancore.errors.PluginError`
    (the kit skips a data shape whose networks refuse it that way).

    :param spec: the run's :class:`gancore.data.DataSpec` (image size and channels).
    :param latent_dim: the noise's size (``config.latent_dim``).
    :param width: channels of the last hidden layer; the first has ``width * 2**(n-1)``.
    :param num_classes: > 0 makes it conditional (a learned label embedding joins the noise).
    :param norm: normalization after each hidden transposed convolution (:data:`NORMS`).
    :param depth: convolutions per hidden resolution: 1 is DCGAN's (one transposed convolution each);
        each further one is a 3x3 stride-1 convolution with the same normalization and ReLU. Why: at
        28x28 G has only two resolutions (7, 14) before its output, and one layer each is too little
        (docs/families/dcgan.md: depth 2 takes DCGAN on ``mnist`` from 4.7x the FID floor to under 2x).
    """

    def __init__(self, spec: DataSpec, latent_dim: int, width: int = 64, num_classes: int = 0,
                 norm: str = "batch", depth: int = 1):
        super().__init__(latent_dim, num_classes, embed_dim=min(50, max(num_classes, 1) * 2))
        if not spec.is_image:
            raise PluginError(f"convolutional generators need image data; {spec.name!r} has shape {spec.shape}.")
        base, n = conv_plan(spec.image_size)
        channels = width * 2 ** (n - 1)
        def refine(c: int) -> list[nn.Module]:
            return refinements(c, depth, norm, lambda: nn.ReLU(True), bias=False)

        layers = [nn.ConvTranspose2d(self.input_dim, channels, base, 1, 0, bias=False), norm_2d(norm, channels),
                  nn.ReLU(True), *refine(channels)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                       norm_2d(norm, channels // 2), nn.ReLU(True), *refine(channels // 2)]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, spec.channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, latent) -> torch.Tensor:
        h = self.noise_input(latent)
        return self.net(h.view(h.shape[0], -1, 1, 1))


class ConvDiscriminator(nn.Module):
    """An image -> strided convolutions -> one score (or ``outputs`` scores).

    ``features(x)`` is the body (flattened, ``feature_dim`` wide), ``head`` the last linear
    layer. Vector data raises :class:`gancore.errors.PluginError`.

    :param spec: the run's :class:`gancore.data.DataSpec` (image size and channels).
    :param width: channels of the first convolution, doubled at each further one.
    :param norm: normalization after every convolution but the first:
        ``batch`` (the classic choice), ``layer`` or ``none`` (for gradient
        penalties, which are defined per sample), ``instance``.
    :param outputs: scores per sample (squeezed to ``(N,)`` when 1).
    :param in_channels: input channels when they are not ``spec.channels`` (two images stacked).
    :param depth: convolutions per resolution: 1 is DCGAN's (one strided convolution each); each further
        one is a 3x3 stride-1 convolution with ``norm`` and LeakyReLU, after the strided one.
    """

    def __init__(self, spec: DataSpec, width: int = 64, norm: str = "batch", outputs: int = 1,
                 in_channels: int | None = None, depth: int = 1):
        super().__init__()
        if not spec.is_image:
            raise PluginError(f"convolutional discriminators need image data; {spec.name!r} has shape {spec.shape}.")
        base, n = conv_plan(spec.image_size)
        channels = width
        def refine(c: int) -> list[nn.Module]:
            return refinements(c, depth, norm, lambda: nn.LeakyReLU(0.2, True), bias=norm == "none")

        layers = [nn.Conv2d(in_channels or spec.channels, channels, 4, 2, 1), nn.LeakyReLU(0.2, True),
                  *refine(channels)]
        for _ in range(n - 1):
            layers += [nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=norm == "none"), norm_2d(norm, channels * 2),
                       nn.LeakyReLU(0.2, True), *refine(channels * 2)]
            channels *= 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.feature_dim = channels * base * base
        self.head = nn.Linear(self.feature_dim, outputs)
        init_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)

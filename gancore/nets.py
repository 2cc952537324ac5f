"""Reusable network bodies sized from a :class:`gancore.data.DataSpec`.

Families differ mostly in losses; many share these two architectures:

* MLPs for vector data (and small images): ``MLPGenerator``,
  ``MLPDiscriminator``.
* All-convolutional networks for images of any size ``base * 2**n`` with
  ``base`` in 3..7 (8, 28, 32, 64, ...): strided transposed convolutions with
  BatchNorm and ReLU in the generator (tanh output), strided convolutions with
  LeakyReLU in the discriminator (no normalization on its input layer).

Discriminators expose ``features(x)`` (the body) and ``head`` (the last
layer) so families can add auxiliary heads on the shared body.
Conditional generators (``num_classes > 0``) concatenate a learned label
embedding to the noise.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gancore.data import DataSpec
from gancore.errors import PluginError
from gancore.generator import Generator

NORMS = ("batch", "instance", "layer", "none")


def conv_plan(size: int) -> tuple[int, int]:
    """``(base, n)`` with ``size == base * 2**n``, ``base`` in 3..7 and n >= 1."""
    base, n = size, 0
    while base % 2 == 0 and base > 7:
        base, n = base // 2, n + 1
    if n == 0 or not 3 <= base <= 7:
        raise PluginError(f"convolutional networks need an image size base * 2**n with base in 3..7 "
                          f"(8, 28, 32, 64, ...); got {size}. Use --image-size.")
    return base, n


def norm_2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise PluginError(f"unknown normalization {kind!r}; use one of {', '.join(NORMS)}.")


def init_weights(module: nn.Module) -> None:
    """N(0, 0.02) convolution and linear weights, N(1, 0.02) norm scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class _LabelledNoise(Generator):
    def __init__(self, latent_dim: int, num_classes: int, embed_dim: int):
        super().__init__(latent_dim, num_classes)
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.input_dim = latent_dim + (embed_dim if num_classes else 0)

    def noise_input(self, latent) -> torch.Tensor:
        if self.embed is None:
            return latent
        return torch.cat([latent["z"], self.embed(latent["labels"])], dim=1)


class MLPGenerator(_LabelledNoise):
    """Noise (+ label embedding) -> ``hidden`` x ``layers`` ReLU MLP -> a sample."""

    def __init__(self, spec: DataSpec, latent_dim: int, hidden: int = 256, layers: int = 3,
                 num_classes: int = 0, batch_norm: bool = False):
        super().__init__(latent_dim, num_classes, embed_dim=min(50, max(num_classes, 1) * 2))
        self.shape = tuple(spec.shape)
        blocks, width = [], self.input_dim
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden)] + ([nn.BatchNorm1d(hidden)] if batch_norm else []) + [nn.ReLU(True)]
            width = hidden
        blocks.append(nn.Linear(width, math.prod(self.shape)))
        if spec.is_image:
            blocks.append(nn.Tanh())
        self.net = nn.Sequential(*blocks)

    def forward(self, latent) -> torch.Tensor:
        out = self.net(self.noise_input(latent))
        return out.view(out.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    """A sample -> ``hidden`` x ``layers`` LeakyReLU MLP -> one score."""

    def __init__(self, spec: DataSpec, hidden: int = 256, layers: int = 3, outputs: int = 1,
                 input_dim: int | None = None):
        super().__init__()
        blocks, width = [nn.Flatten()], input_dim or math.prod(spec.shape)
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.LeakyReLU(0.2, True)]
            width = hidden
        self.body = nn.Sequential(*blocks)
        self.feature_dim = width
        self.head = nn.Linear(width, outputs)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


class ConvGenerator(_LabelledNoise):
    """Noise (+ label embedding) -> transposed convolutions -> an image in [-1, 1]."""

    def __init__(self, spec: DataSpec, latent_dim: int, width: int = 64, num_classes: int = 0,
                 norm: str = "batch"):
        super().__init__(latent_dim, num_classes, embed_dim=min(50, max(num_classes, 1) * 2))
        if not spec.is_image:
            raise PluginError(f"convolutional generators need image data; {spec.name!r} has shape {spec.shape}.")
        base, n = conv_plan(spec.image_size)
        channels = width * 2 ** (n - 1)
        layers = [nn.ConvTranspose2d(self.input_dim, channels, base, 1, 0, bias=False), norm_2d(norm, channels),
                  nn.ReLU(True)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                       norm_2d(norm, channels // 2), nn.ReLU(True)]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, spec.channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, latent) -> torch.Tensor:
        h = self.noise_input(latent)
        return self.net(h.view(h.shape[0], -1, 1, 1))


class ConvDiscriminator(nn.Module):
    """An image -> strided convolutions -> one score (or ``outputs`` scores).

    :param norm: normalization after every convolution but the first:
        ``batch`` (the classic choice), ``layer`` or ``none`` (for gradient
        penalties, which are defined per sample), ``instance``.
    """

    def __init__(self, spec: DataSpec, width: int = 64, norm: str = "batch", outputs: int = 1,
                 in_channels: int | None = None):
        super().__init__()
        if not spec.is_image:
            raise PluginError(f"convolutional discriminators need image data; {spec.name!r} has shape {spec.shape}.")
        base, n = conv_plan(spec.image_size)
        channels = width
        layers = [nn.Conv2d(in_channels or spec.channels, channels, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(n - 1):
            layers += [nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=norm == "none"), norm_2d(norm, channels * 2),
                       nn.LeakyReLU(0.2, True)]
            channels *= 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.feature_dim = channels * base * base
        self.head = nn.Linear(self.feature_dim, outputs)
        init_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


# --- auto-encoders (discriminators whose score is a reconstruction error) ---

ACTIVATIONS = ("leaky_relu", "elu", "relu")


def activation(kind: str) -> nn.Module:
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.2, True)
    if kind == "elu":
        return nn.ELU(inplace=True)
    if kind == "relu":
        return nn.ReLU(True)
    raise PluginError(f"unknown activation {kind!r}; use one of {', '.join(ACTIVATIONS)}.")


class ConvEncoder(nn.Module):
    """An image -> strided convolutions -> a ``code_dim`` vector (a linear layer at the end)."""

    def __init__(self, spec: DataSpec, code_dim: int, width: int = 64, norm: str = "batch",
                 act: str = "leaky_relu"):
        super().__init__()
        if not spec.is_image:
            raise PluginError(f"convolutional encoders need image data; {spec.name!r} has shape {spec.shape}.")
        base, n = conv_plan(spec.image_size)
        channels = width
        layers = [nn.Conv2d(spec.channels, channels, 4, 2, 1), activation(act)]
        for _ in range(n - 1):
            layers += [nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=norm == "none"), norm_2d(norm, channels * 2),
                       activation(act)]
            channels *= 2
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * base * base, code_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """A ``code_dim`` vector -> a linear layer -> transposed convolutions -> an image (no output activation)."""

    def __init__(self, spec: DataSpec, code_dim: int, width: int = 64, norm: str = "batch",
                 act: str = "leaky_relu"):
        super().__init__()
        if not spec.is_image:
            raise PluginError(f"convolutional decoders need image data; {spec.name!r} has shape {spec.shape}.")
        base, n = conv_plan(spec.image_size)
        channels = width * 2 ** (n - 1)
        layers = [nn.Linear(code_dim, channels * base * base), nn.Unflatten(1, (channels, base, base)),
                  norm_2d(norm, channels), activation(act)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=norm == "none"),
                       norm_2d(norm, channels // 2), activation(act)]
            channels //= 2
        layers.append(nn.ConvTranspose2d(channels, spec.channels, 4, 2, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.net(code)


def mlp_coder(in_dim: int, out_dim: int, hidden: int, layers: int, act: str) -> nn.Sequential:
    """``layers`` hidden layers of ``hidden`` units with ``act``, then a linear output layer."""
    blocks, width = [nn.Flatten()], in_dim
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), activation(act)]
        width = hidden
    return nn.Sequential(*blocks, nn.Linear(width, out_dim))


class AutoEncoder(nn.Module):
    """An encoder to a ``code_dim`` code and a decoder back, sized from the data.

    Images use :class:`ConvEncoder`/:class:`ConvDecoder`; vectors (``ring``)
    use MLPs of ``hidden`` units x ``layers``. ``forward(x)`` returns
    ``(reconstruction, code)``.
    """

    def __init__(self, spec: DataSpec, code_dim: int = 64, width: int = 64, hidden: int = 256, layers: int = 2,
                 norm: str = "batch", act: str = "leaky_relu"):
        super().__init__()
        self.shape = tuple(spec.shape)
        if spec.is_image:
            self.encoder = ConvEncoder(spec, code_dim, width, norm, act)
            self.decoder = ConvDecoder(spec, code_dim, width, norm, act)
            init_weights(self)
        else:
            self.encoder = mlp_coder(math.prod(self.shape), code_dim, hidden, layers, act)
            self.decoder = mlp_coder(code_dim, math.prod(self.shape), hidden, layers, act)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder(x)
        return self.decoder(code).view(x.shape[0], *self.shape), code


RECONSTRUCTION_ERRORS = ("mse", "l1")


class AutoEncoderDiscriminator(nn.Module):
    """A discriminator whose score is an auto-encoder's per-sample reconstruction error.

    ``forward(x)`` returns one value per sample: the mean squared (``"mse"``)
    or absolute (``"l1"``) error over the sample's elements, so the default
    discriminator view (and every gradient penalty) works on it.
    :meth:`error_and_code` also returns the encoder's codes.
    """

    def __init__(self, autoencoder: nn.Module, error: str = "mse"):
        super().__init__()
        if error not in RECONSTRUCTION_ERRORS:
            raise PluginError(f"unknown reconstruction error {error!r}; use one of {', '.join(RECONSTRUCTION_ERRORS)}.")
        self.autoencoder, self.error = autoencoder, error

    def reconstruction_error(self, x: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
        diff = (reconstruction - x).flatten(1)
        return (diff.pow(2) if self.error == "mse" else diff.abs()).mean(1)

    def error_and_code(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        reconstruction, code = self.autoencoder(x)
        return self.reconstruction_error(x, reconstruction), code

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.error_and_code(x)[0]

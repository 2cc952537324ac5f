"""Auto-encoders, and discriminators whose score is a reconstruction error (EBGAN, BEGAN)."""

from __future__ import annotations

import math

import torch
from torch import nn

from gancore.data import DataSpec
from gancore.errors import PluginError
from gancore.nets.conv import conv_plan, refinements
from gancore.nets.layers import activation, init_weights, norm_2d


class ConvEncoder(nn.Module):
    """An image -> strided convolutions (``depth`` per resolution, as in
    :class:`gancore.nets.ConvDiscriminator`) -> a ``code_dim`` vector (a linear layer at the end)."""

    def __init__(self, spec: DataSpec, code_dim: int, width: int = 64, norm: str = "batch",
                 act: str = "leaky_relu", depth: int = 1):
        super().__init__()
        if not spec.is_image:
            raise PluginError(f"convolutional encoders need image data; {spec.name!r} has shape {spec.shape}.")
        base, n = conv_plan(spec.image_size)
        channels = width
        def refine(c: int) -> list[nn.Module]:
            return refinements(c, depth, norm, lambda: activation(act), bias=norm == "none")

        layers = [nn.Conv2d(spec.channels, channels, 4, 2, 1), activation(act), *refine(channels)]
        for _ in range(n - 1):
            layers += [nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=norm == "none"), norm_2d(norm, channels * 2),
                       activation(act), *refine(channels * 2)]
            channels *= 2
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * base * base, code_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """A ``code_dim`` vector -> a linear layer -> transposed convolutions (``depth`` per hidden resolution,
    as in :class:`gancore.nets.ConvGenerator`) -> an image (no output activation)."""

    def __init__(self, spec: DataSpec, code_dim: int, width: int = 64, norm: str = "batch",
                 act: str = "leaky_relu", depth: int = 1):
        super().__init__()
        if not spec.is_image:
            raise PluginError(f"convolutional decoders need image data; {spec.name!r} has shape {spec.shape}.")
        base, n = conv_plan(spec.image_size)
        channels = width * 2 ** (n - 1)
        def refine(c: int) -> list[nn.Module]:
            return refinements(c, depth, norm, lambda: activation(act), bias=norm == "none")

        layers = [nn.Linear(code_dim, channels * base * base), nn.Unflatten(1, (channels, base, base)),
                  norm_2d(norm, channels), activation(act), *refine(channels)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=norm == "none"),
                       norm_2d(norm, channels // 2), activation(act), *refine(channels // 2)]
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
    ``(reconstruction, code)``. ``depth``: convolutions per resolution of the
    encoder and the decoder (images).
    """

    def __init__(self, spec: DataSpec, code_dim: int = 64, width: int = 64, hidden: int = 256, layers: int = 2,
                 norm: str = "batch", act: str = "leaky_relu", depth: int = 1):
        super().__init__()
        self.shape = tuple(spec.shape)
        if spec.is_image:
            self.encoder = ConvEncoder(spec, code_dim, width, norm, act, depth=depth)
            self.decoder = ConvDecoder(spec, code_dim, width, norm, act, depth=depth)
            if norm != "none":
                # DCGAN's N(0, 0.02) weights assume normalization layers to restore the scale; without
                # them the signal shrinks through every layer (0.02 * sqrt(fan-in) < 1) and the
                # auto-encoder barely learns (BEGAN on digits: reconstruction error 0.33 after 1,500
                # steps against 0.09 with PyTorch's default initialisation).
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

"""Building blocks of gancore's networks: normalizations, activations, DCGAN initialisation,
and the noise-plus-label input of conditional generators."""

from __future__ import annotations

import torch
from torch import nn

from gancore.errors import PluginError
from gancore.generator import Generator

#: The normalizations :func:`norm_2d` makes (the option type :data:`gancore.declaration.Norm`).
NORMS = ("batch", "instance", "layer", "none")


def norm_2d(kind: str, channels: int) -> nn.Module:
    """A 2-D normalization of ``channels`` channels: ``batch`` (BatchNorm2d), ``instance``
    (affine InstanceNorm2d), ``layer`` (GroupNorm with one group) or ``none`` (Identity); any
    other name raises :class:`gancore.errors.PluginError` naming :data:`NORMS`."""
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

#: The activations :func:`activation` makes.
ACTIVATIONS = ("leaky_relu", "elu", "relu")


def activation(kind: str) -> nn.Module:
    """An activation module: ``leaky_relu`` (slope 0.2), ``elu`` or ``relu``; any other name raises
    :class:`gancore.errors.PluginError` naming :data:`ACTIVATIONS`."""
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.2, True)
    if kind == "elu":
        return nn.ELU(inplace=True)
    if kind == "relu":
        return nn.ReLU(True)
    raise PluginError(f"unknown activation {kind!r}; use one of {', '.join(ACTIVATIONS)}.")


class _LabelledNoise(Generator):
    def __init__(self, latent_dim: int, num_classes: int, embed_dim: int):
        super().__init__(latent_dim, num_classes)
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.input_dim = latent_dim + (embed_dim if num_classes else 0)

    def noise_input(self, latent) -> torch.Tensor:
        if self.embed is None:
            return latent
        return torch.cat([latent["z"], self.embed(latent["labels"])], dim=1)

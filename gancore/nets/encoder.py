"""The encoder most inference families share (x -> a code), chosen per data kind like G and D.

:func:`standard_encoder` is to an encoder what :func:`gancore.nets.standard.standard_generator` is to
a generator: strided convolutions (:class:`gancore.nets.autoencoder.ConvEncoder`) for images, an MLP
(:func:`gancore.nets.autoencoder.mlp_coder`, LeakyReLU) for vector data or with ``arch="mlp"``. BiGAN
builds the same pair inline; ClusterGAN uses this one, and :class:`PartsEncoder` splits its output into
named parts (ClusterGAN's continuous and categorical latents).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gancore.data import DataSpec
from gancore.nets.autoencoder import ConvEncoder, mlp_coder
from gancore.nets.standard import takes_mlp


def standard_encoder(spec: DataSpec, code_dim: int, width: int = 64, hidden: int = 256, norm: str = "none",
                     arch: str = "conv", layers: int = 3) -> nn.Module:
    """``x -> code`` (``(n, code_dim)``): convolutions for images (``arch="conv"``), else an MLP."""
    if takes_mlp(spec, arch):
        return mlp_coder(math.prod(spec.shape), code_dim, hidden, layers, "leaky_relu")
    return ConvEncoder(spec, code_dim, width, norm=norm)


class PartsEncoder(nn.Module):
    """One encoder whose output is split into named parts: ``forward(x) -> {name: (n, size)}``."""

    def __init__(self, spec: DataSpec, parts: dict[str, int], **network):
        super().__init__()
        self.parts = {name: int(size) for name, size in parts.items()}
        self.net = standard_encoder(spec, sum(self.parts.values()), **network)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(self.parts, self.net(x).split(list(self.parts.values()), dim=1)))

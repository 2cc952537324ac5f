"""Fully connected networks for vector data (and small images): ``MLPGenerator``, ``MLPDiscriminator``."""

from __future__ import annotations

import math

import torch
from torch import nn

from gancore.data import DataSpec
from gancore.nets.layers import _LabelledNoise


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

"""Fully connected networks for vector data (and small images): ``MLPGenerator``, ``MLPDiscriminator``."""

from __future__ import annotations

import math

import torch
from torch import nn

from gancore.data import DataSpec
from gancore.nets.layers import _LabelledNoise


class MLPGenerator(_LabelledNoise):
    """Noise (+ label embedding) -> ``hidden`` x ``layers`` ReLU MLP -> a sample of ``spec.shape``.

    A :class:`gancore.generator.Generator`: it draws its own latent (``latent(n, labels=None)``, a
    ``latent_dim``-d standard normal, with labels when ``num_classes > 0``). Image samples pass a
    final tanh (values in [-1, 1]); vector samples are unbounded.

    :param spec: the run's :class:`gancore.data.DataSpec` (the output shape).
    :param latent_dim: the noise's size (``config.latent_dim`` in ``build_generator``).
    :param hidden: units per hidden layer.
    :param layers: hidden layers.
    :param num_classes: > 0 makes it conditional: a learned label embedding joins the noise.
    :param batch_norm: BatchNorm after every hidden layer.
    """

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
    """A sample -> ``hidden`` x ``layers`` LeakyReLU(0.2) MLP -> one raw score per sample (shape ``(N,)``).

    ``features(x)`` is the body (``feature_dim`` wide), ``head`` the last linear layer, so a family
    can add heads (an auxiliary classifier) on the shared body.

    :param spec: the run's :class:`gancore.data.DataSpec` (the input shape).
    :param hidden: units per hidden layer.
    :param layers: hidden layers.
    :param outputs: scores per sample (the output is squeezed to ``(N,)`` when 1).
    :param input_dim: the flattened input size, when it is not ``spec``'s (an input with a label
        or a second image concatenated).
    """

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

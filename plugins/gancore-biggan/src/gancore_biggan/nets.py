"""BigGAN's networks (Brock et al. 2019), small: residual blocks, conditional BatchNorm, projection.

Generator: the latent ``z`` is split into ``blocks + 1`` chunks (hierarchical latents). The first
chunk is mapped by a linear layer to a ``base x base`` feature map; each up block receives its
own chunk concatenated with the shared class embedding ``e(y)`` (one embedding for every block)
as its conditioning vector ``c``. A block is BigGAN's: CBN -> ReLU -> 2x nearest upsampling ->
3x3 convolution -> CBN -> ReLU -> 3x3 convolution, plus an upsampled 1x1-convolution shortcut.
Conditional BatchNorm normalizes with the batch statistics and no affine parameters of its own,
then scales and shifts by ``(1 + gain(c))`` and ``bias(c)``, two linear maps of ``c``. Last:
BatchNorm, ReLU, a 3x3 convolution to the image's channels, tanh.

Discriminator: residual down blocks (the first without its leading ReLU), ReLU, a sum over the
pixels giving ``phi(x)``, and the projection head of Miyato & Koyama (2018)::

    D(x, y) = psi(phi(x)) + <embed(y), phi(x)>

Spectral norm on every linear, convolutional and embedding weight of both networks (BigGAN's
G is spectrally normalized too; its shared embedding is not).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gancore.data import DataSpec
from gancore.errors import ConfigError, PluginError
from gancore.generator import Generator
from gancore.nets import conv_plan

#: The seed of the resampling in :meth:`BigGenerator.forward_truncated`: truncation is a function of
#: its inputs alone.
TRUNCATION_SEED = 0


def sn(layer: nn.Module) -> nn.Module:
    return spectral_norm(layer)


def split_sizes(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` chunks as equal as possible, the first ones larger."""
    if total < parts:
        raise PluginError(f"gancore-biggan splits the latent into {parts} chunks (one per G block and one for the "
                          f"first layer); --latent-dim {total} is too small. Use at least {parts}.")
    return [total // parts + (1 if k < total % parts else 0) for k in range(parts)]


def truncate(z: torch.Tensor, psi: float, seed: int = TRUNCATION_SEED) -> torch.Tensor:
    """The truncation trick: every entry of ``z`` with ``|z| > psi`` redrawn from N(0, 1) until it lies within,
    from a generator seeded with ``seed`` (the same ``z`` and ``psi`` give the same result)."""
    if isinstance(psi, bool) or not isinstance(psi, (int, float)) or not math.isfinite(psi) or psi <= 0:
        raise ConfigError(f"truncation psi must be a number > 0; got {psi!r}.")
    rng = torch.Generator().manual_seed(seed)
    out = z.detach().cpu().clone()
    outside = out.abs() > psi
    while outside.any():
        out[outside] = torch.randn(int(outside.sum()), generator=rng, dtype=out.dtype)
        outside = out.abs() > psi
    return out.to(z.device)


class ConditionalBatchNorm(nn.Module):
    """BatchNorm without its own affine parameters, scaled by ``1 + gain(c)`` and shifted by ``bias(c)``."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = sn(nn.Linear(cond_dim, channels, bias=False))
        self.bias = sn(nn.Linear(cond_dim, channels, bias=False))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.norm(x) * (1 + self.gain(c))[:, :, None, None] + self.bias(c)[:, :, None, None]


class GBlock(nn.Module):
    def __init__(self, cin: int, cout: int, cond_dim: int):
        super().__init__()
        self.bn1, self.bn2 = ConditionalBatchNorm(cin, cond_dim), ConditionalBatchNorm(cout, cond_dim)
        self.conv1, self.conv2 = sn(nn.Conv2d(cin, cout, 3, padding=1)), sn(nn.Conv2d(cout, cout, 3, padding=1))
        self.shortcut = sn(nn.Conv2d(cin, cout, 1))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, c)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), c)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class BigGenerator(Generator):
    """Hierarchical latents, a shared class embedding, conditional BatchNorm residual up blocks.

    ``forward(latent)`` takes ``{"z": z, "labels": y}``; ``forward_truncated(latent, psi=...)`` the
    same with ``z`` truncated (:func:`truncate`).
    """

    def __init__(self, spec: DataSpec, latent_dim: int, num_classes: int, width: int, shared_dim: int):
        super().__init__(latent_dim, num_classes)
        if not spec.is_image:
            raise PluginError(f"gancore-biggan's networks are convolutional; {spec.name!r} has shape {spec.shape}.")
        self.base, blocks = conv_plan(spec.image_size)
        self.chunks = split_sizes(latent_dim, blocks + 1)
        widths = [width * 2 ** max(0, blocks - 1 - k) for k in range(blocks + 1)]
        self.shared = nn.Embedding(num_classes, shared_dim)
        self.linear = sn(nn.Linear(self.chunks[0], widths[0] * self.base ** 2))
        self.blocks = nn.ModuleList(GBlock(widths[k], widths[k + 1], self.chunks[k + 1] + shared_dim)
                                    for k in range(blocks))
        self.out_norm = nn.BatchNorm2d(widths[-1])
        self.out = sn(nn.Conv2d(widths[-1], spec.channels, 3, padding=1))
        self.labels_from_batch = True

    def forward(self, latent) -> torch.Tensor:
        z, labels = latent["z"], latent["labels"]
        chunks = z.split(self.chunks, dim=1)
        shared = self.shared(labels)
        h = self.linear(chunks[0]).view(len(z), -1, self.base, self.base)
        for block, chunk in zip(self.blocks, chunks[1:]):
            h = block(h, torch.cat([chunk, shared], dim=1))
        return torch.tanh(self.out(F.relu(self.out_norm(h))))

    def forward_truncated(self, latent, *, psi: float) -> torch.Tensor:
        """``forward`` on ``latent`` with every ``|z|`` entry above ``psi`` redrawn (the truncation trick).

        The redraws come from a generator seeded with :data:`TRUNCATION_SEED`, so the same latent and
        ``psi`` give the same samples. Smaller ``psi``: samples closer to the mode, less varied."""
        return self.forward({**latent, "z": truncate(latent["z"], psi)})


class DBlock(nn.Module):
    def __init__(self, cin: int, cout: int, preactivation: bool = True):
        super().__init__()
        self.preactivation = preactivation
        self.conv1, self.conv2 = sn(nn.Conv2d(cin, cout, 3, padding=1)), sn(nn.Conv2d(cout, cout, 3, padding=1))
        self.shortcut = sn(nn.Conv2d(cin, cout, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x) if self.preactivation else x
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(h))), 2)
        if self.preactivation:
            return h + F.avg_pool2d(self.shortcut(x), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class ProjectionDiscriminator(nn.Module):
    """Residual down blocks, ReLU, sum pooling, then ``psi(phi) + <embed(y), phi>`` (Miyato & Koyama 2018)."""

    def __init__(self, spec: DataSpec, num_classes: int, width: int):
        super().__init__()
        _, blocks = conv_plan(spec.image_size)
        widths = [spec.channels] + [width * 2 ** k for k in range(blocks)]
        self.blocks = nn.Sequential(*(DBlock(widths[k], widths[k + 1], preactivation=k > 0) for k in range(blocks)))
        self.linear = sn(nn.Linear(widths[-1], 1))
        self.embed = sn(nn.Embedding(num_classes, widths[-1]))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        phi = F.relu(self.blocks(x)).sum(dim=(2, 3))
        return self.linear(phi).squeeze(1) + (self.embed(labels) * phi).sum(1)

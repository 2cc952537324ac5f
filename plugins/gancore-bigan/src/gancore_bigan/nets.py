"""BiGAN's networks: a generator module holding G and the encoder E, and a discriminator on (x, z) pairs.

Built from :mod:`gancore.nets`: G is the standard generator (DCGAN-style
transposed convolutions for images, an MLP for vectors), E the standard
convolutional encoder (an MLP for vectors), and D's image branch the body of
the standard convolutional discriminator. Only the joint discriminator is new.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gancore.data import DataSpec
from gancore.generator import Generator
from gancore.nets import ConvDiscriminator, ConvEncoder, MLPDiscriminator, mlp_coder, standard_generator, takes_mlp


class BiGANGenerator(Generator):
    """G: ``z -> x`` and E: ``x -> z`` in one module (one optimizer, one distributed wrapper).

    ``latent(n)`` is noise ``z ~ N(0, I)`` and ``forward`` returns ``G(z)``.
    In training the trainer passes the real batch, so the latent also holds
    ``"x"`` and ``forward`` returns ``{"sample": G(z), "code": E(x)}``:
    both halves of the discriminator's input from one pass.
    """

    def __init__(self, spec: DataSpec, latent_dim: int, width: int, hidden: int, norm: str = "batch"):
        super().__init__(latent_dim)
        self.shape = tuple(spec.shape)
        self.generator = standard_generator(spec, latent_dim, width, hidden)
        if not takes_mlp(spec):
            self.encoder = ConvEncoder(spec, latent_dim, width, norm=norm)
        else:
            self.encoder = mlp_coder(math.prod(spec.shape), latent_dim, hidden, 3, "leaky_relu")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """E(x): the inferred latent of real samples ``x``."""
        return self.encoder(x)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """G(E(x)): BiGAN's reconstruction (never trained for directly; it comes from inverting G)."""
        return self.generator(self.encode(x))

    def latent(self, n, labels=None, batch=None, rng=None):
        z = super().latent(n, labels=labels, batch=batch, rng=rng)
        if batch is None:
            return z
        return {"z": z, "x": batch.x[:n]}

    def forward(self, latent):
        if isinstance(latent, torch.Tensor):
            return self.generator(latent)
        sample = self.generator(latent["z"])
        if "x" not in latent:
            return sample
        return {"sample": sample, "code": self.encode(latent["x"])}


class JointDiscriminator(nn.Module):
    """D(x, z): an x branch and a z branch, concatenated, then a joint MLP to one score (ALI's layout).

    The x branch is the standard convolutional discriminator's body for images
    (normalization ``norm`` after every convolution but the first) and an MLP
    body for vectors; the z branch is a 2-layer LeakyReLU MLP of ``hidden``
    units; the joint part one hidden layer of ``hidden`` units and a linear
    score. ``forward(x, z)`` returns one logit per pair.
    """

    def __init__(self, spec: DataSpec, code_dim: int, width: int, hidden: int, norm: str = "none"):
        super().__init__()
        if not takes_mlp(spec):
            conv = ConvDiscriminator(spec, width, norm=norm)
            self.x_body, x_dim = conv.body, conv.feature_dim
        else:
            mlp = MLPDiscriminator(spec, hidden, layers=2)
            self.x_body, x_dim = mlp.body, mlp.feature_dim
        self.z_body = nn.Sequential(nn.Linear(code_dim, hidden), nn.LeakyReLU(0.2, True),
                                    nn.Linear(hidden, hidden), nn.LeakyReLU(0.2, True))
        self.joint = nn.Sequential(nn.Linear(x_dim + hidden, hidden), nn.LeakyReLU(0.2, True), nn.Linear(hidden, 1))
        self.code_dim = int(code_dim)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.joint(torch.cat([self.x_body(x), self.z_body(z)], dim=1)).squeeze(1)

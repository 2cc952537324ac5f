"""VAE-GAN's generator module: a Gaussian encoder and the decoder (which is the GAN's generator).

The encoder is the standard convolutional encoder of :mod:`gancore.nets`
(an MLP for vectors) with ``2 * latent_dim`` outputs, ``(mu, log sigma^2)``;
the decoder is the standard generator. The discriminator needs no new
network: the standard discriminators already expose ``features(x)`` (the
body, Larsen et al.'s ``Dis_l``) and ``head`` (the score on top of it).
"""

from __future__ import annotations

import math

import torch

from gancore.data import DataSpec
from gancore.generator import Generator
from gancore.nets import ConvEncoder, mlp_coder, standard_generator, takes_mlp


class VAEGANGenerator(Generator):
    """Encoder ``x -> (mu, log sigma^2)`` and decoder ``z -> x``; samples are ``Dec(z)``, ``z ~ N(0, I)``.

    In training the latent also holds the real batch (``"x"``) and ``forward``
    returns, from one pass through the module::

        {"sample": Dec(z_p),                     prior samples
         "mu": mu, "logvar": log sigma^2,        q(z | x)
         "reconstruction": Dec(z),               z = mu + sigma * eps: gradients to encoder and decoder
         "decoder_reconstruction": Dec(z.detach())}   the same values, gradients to the decoder only

    The two reconstructions let one backward pass give the encoder and the
    decoder different losses (see the family's ``g_loss``). Each is a separate
    decoder call, so BatchNorm statistics never mix rows across them: a term
    on one cannot leak into another's gradient through the batch statistics,
    and the two reconstructions see the same batch and are equal.
    ``decoder_reconstruction`` is only computed when gradients are on (the
    discriminator's phase does not need it).
    """

    def __init__(self, spec: DataSpec, latent_dim: int, width: int, hidden: int):
        super().__init__(latent_dim)
        self.shape = tuple(spec.shape)
        self.decoder = standard_generator(spec, latent_dim, width, hidden)
        if not takes_mlp(spec):
            self.encoder = ConvEncoder(spec, 2 * latent_dim, width)
        else:
            self.encoder = mlp_coder(math.prod(spec.shape), 2 * latent_dim, hidden, 3, "leaky_relu")

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, log sigma^2)`` of ``q(z | x)``."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``Dec(mu(x))``: the deterministic reconstruction (the posterior mean decoded)."""
        return self.decoder(self.encode(x)[0])

    def latent(self, n, labels=None, batch=None, rng=None):
        z = super().latent(n, labels=labels, batch=batch, rng=rng)
        if batch is None:
            return z
        return {"z": z, "x": batch.x[:n]}

    def forward(self, latent):
        if isinstance(latent, torch.Tensor):
            return self.decoder(latent)
        if "x" not in latent:
            return self.decoder(latent["z"])
        mu, logvar = self.encode(latent["x"])
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # the reparameterisation trick
        out = {"mu": mu, "logvar": logvar, "reconstruction": self.decoder(z)}
        if torch.is_grad_enabled():
            out["decoder_reconstruction"] = self.decoder(z.detach())
        # Prior samples last: BatchNorm's running statistics (used in eval mode) end closest to theirs.
        out["sample"] = self.decoder(latent["z"])
        return out

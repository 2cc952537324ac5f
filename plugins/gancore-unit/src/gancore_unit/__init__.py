"""UNIT (Liu, Breuel & Kautz, *Unsupervised Image-to-Image Translation Networks*, 2017) as a gancore family.

Two VAE-GANs, one per domain, coupled by a **shared latent space**: an image
of either domain encodes to a code ``z`` that both decoders can render. The
encoders share their last layer and the decoders their first, so the high-
level code means the same in both domains.

* Encoders ``E_A``, ``E_B`` (:class:`gancore.nets.translation.ImageEncoder`:
  ``c7s1-w``, two strided convolutions, residual blocks, instance norm) and a
  shared residual block; decoders: a shared residual block, then ``G_A``,
  ``G_B`` (:class:`gancore.nets.translation.ImageDecoder`). The encoders'
  posterior is ``N(mu, I)``: ``z = mu + eps`` while training, ``mu`` when
  translating (``gan translate``). All in one generator module.
* D: two PatchGANs (no normalization), least-squares GAN.
* Losses, for ``x`` from domain ``s`` translated into ``t`` (both directions
  in each batch; ``KL(mu) = mean(mu^2)``, the authors' code's form of the KL
  to ``N(0, I)`` for a unit-variance posterior, up to 1/2 and the count of
  code elements)::

      L_D_t = 1/2 [ E (D_t(x_t) - 1)^2 + E D_t(G_t(z))^2 ]
      L_G   = lambda_0 E (D_t(G_t(z)) - 1)^2                         (GAN)
            + lambda_1 KL(mu) + lambda_2 E |G_s(z) - x|_1             (VAE)
            + lambda_3 KL(mu') + lambda_4 E |G_s(z') - x|_1           (cycle)

  with ``z = E_s(x) + eps``, ``mu' = E_t(G_t(z))``, ``z' = mu' + eps'``, and
  the paper's weights lambda_0..4 = 10, 0.1, 100, 0.1, 100.
* Defaults (the paper's): Adam, lr 1e-4, betas (0.5, 0.999).
"""

from __future__ import annotations

import torch
from gancore_translation.domains import describe_domains, require_domains
from gancore_translation.generator import Translator
from gancore_translation.nets import PatchDiscriminator, PerDomainDiscriminator
from torch import nn

from gancore import hookimpl
from gancore.declaration import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    declare,
    option,
)
from gancore.nets.translation import (
    ImageDecoder,
    ImageEncoder,
    ResidualBlock,
    crop,
    pad_to,
    per_domain_l1,
    route,
    two_domain_d_loss,
    two_domain_g_adversarial,
)

#: The paper's settings.
DEFAULTS = {kind: {"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.999)} for kind in ("vector", "small-image", "image")}


def unit_kl(mu: torch.Tensor) -> torch.Tensor:
    """The KL term of a unit-variance Gaussian posterior as UNIT's code has it: ``mean(mu^2)``."""
    return mu.pow(2).mean()


class UNITGenerator(Translator):
    """Both encoders and decoders with their shared layers; translates either way.

    A training latent (from :meth:`latent`) carries ``"parts"``; ``forward`` then returns a mapping
    with the translation (``"sample"``) and what the losses need: ``"mu"``, ``"recon"``, ``"mu_cycle"``,
    ``"cycle"``. A translation latent (``gan translate``) gives the translated images alone.
    """

    def __init__(self, spec, width: int, blocks: int):
        super().__init__(describe_domains(spec), both_ways=True)
        deep = 4 * width
        self.encoders = nn.ModuleList(ImageEncoder(spec.channels, width, 2, blocks) for _ in range(2))
        self.shared_encoder = ResidualBlock(deep)
        self.shared_decoder = ResidualBlock(deep)
        self.decoders = nn.ModuleList(ImageDecoder(deep, spec.channels, 2, blocks) for _ in range(2))

    def latent(self, n, labels=None, batch=None, rng=None):
        latent = super().latent(n, labels, batch, rng)
        latent["parts"] = torch.ones(len(latent["source"]), dtype=torch.bool, device=latent["source"].device)
        return latent

    def encode(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        """The code means ``mu`` of padded images ``x``."""
        return self.shared_encoder(route(self.encoders, x, domain))

    def decode(self, z: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        return route(self.decoders, self.shared_decoder(z), domain)

    def sample_code(self, mu: torch.Tensor) -> torch.Tensor:
        return mu + torch.randn_like(mu) if self.training else mu

    def forward(self, latent):
        source, origin, target = latent["source"], latent["source_domain"], latent["target"]
        x, pad = pad_to(source, 4)
        mu = self.encode(x, origin)
        z = self.sample_code(mu)
        translated = self.decode(z, target)
        if "parts" not in latent:
            return crop(translated, pad)
        mu_cycle = self.encode(translated, target)
        return {"sample": crop(translated, pad), "mu": mu, "recon": crop(self.decode(z, origin), pad),
                "mu_cycle": mu_cycle, "cycle": crop(self.decode(self.sample_code(mu_cycle), origin), pad)}


@declare
class UNIT:
    """Liu et al. 2017: coupled VAE-GANs with a shared latent space (shared last encoder / first decoder layer)."""

    kind = "family"
    defaults = DEFAULTS

    width: PositiveInt = option(64, help="Channels of the encoders' first convolution (the code has 4x as many).")
    blocks: NonNegativeInt = option(3, help="Residual blocks in each domain's encoder and decoder "
                                            "(besides the shared ones).")
    d_width: PositiveInt = option(64, help="Channels of the PatchGAN discriminators' first convolution.")
    patch_layers: NonNegativeInt = option(0, help="Strided layers of the PatchGANs (0: by the image size).")
    gan: NonNegativeFloat = option(10.0, help="lambda_0, the weight of the GAN terms.")
    kl: NonNegativeFloat = option(0.1, help="lambda_1, the weight of the VAE's KL term.")
    recon: NonNegativeFloat = option(100.0, help="lambda_2, the weight of the VAE's L1 reconstruction.")
    cycle_kl: NonNegativeFloat = option(0.1, help="lambda_3, the weight of the cycle's KL term.")
    cycle: NonNegativeFloat = option(100.0, help="lambda_4, the weight of the cycle's L1 reconstruction.")

    @hookimpl
    def build_generator(self, data):
        require_domains(data, "UNIT", ("unpaired", "paired"))
        return UNITGenerator(data, self.width, self.blocks)

    @hookimpl
    def build_discriminator(self, data):
        require_domains(data, "UNIT", ("unpaired", "paired"))
        return PerDomainDiscriminator([PatchDiscriminator(data.channels, data.image_size, self.d_width,
                                                          self.patch_layers or None, "none") for _ in range(2)])

    @hookimpl
    def d_loss(self, step):
        return two_domain_d_loss(step)

    @hookimpl
    def g_loss(self, step):
        out, latent = step.outputs, step.latent
        source, origin = latent["source"], latent["source_domain"]
        return {"adv": self.gan * two_domain_g_adversarial(step),
                "kl": self.kl * unit_kl(out["mu"]),
                "recon": self.recon * per_domain_l1(out["recon"], source, origin),
                "cycle_kl": self.cycle_kl * unit_kl(out["mu_cycle"]),
                "cycle": self.cycle * per_domain_l1(out["cycle"], source, origin)}

"""BicycleGAN (Zhu, Zhang, Pathak, Darrell, Efros, Wang & Shechtman, *Toward Multimodal
Image-to-Image Translation*, 2017) as a gancore family: paired translation with many outputs
per input.

A generator ``G(A, z)`` and an encoder ``E(B)`` of the target's "style" are
trained by two cycles at once:

* **cVAE-GAN** (B -> z -> B'): ``z ~ E(B) = N(mu, sigma^2)`` (reparameterized),
  ``B' = G(A, z)`` must match ``B`` (L1) and fool ``D_VAE``; ``E``'s posterior
  is pulled to ``N(0, I)`` (KL);
* **cLR-GAN** (z -> B' -> z'): a random ``z ~ N(0, I)``, ``B'' = G(A, z)`` must
  fool ``D_LR`` and give ``z`` back through ``E`` (the latent regression
  ``|E(B'')_mu - z|_1``, which trains ``G`` only, as in the authors' code).

Networks: ``G`` a U-Net (:class:`gancore_translation.nets.UNet`, no dropout: ``z``
is the noise) with ``z`` tiled onto its input channels; ``E``
:class:`gancore.nets.translation.VectorEncoder`; ``D_VAE``, ``D_LR`` two
PatchGANs on ``B`` alone (the authors' default, unconditional D), least
squares. Losses (``KL = mean_i 1/2 sum_j (mu^2 + sigma^2 - 1 - log sigma^2)``)::

    L_D_VAE = E (D_VAE(B) - 1)^2 + E D_VAE(B')^2          (L_D_LR alike with B'')
    L_G,E   = E (D_VAE(B') - 1)^2 + E (D_LR(B'') - 1)^2
              + lambda_img E |B - B'|_1 + lambda_kl KL
    L_G    += lambda_z E |mu(B'') - z|_1                  (G only)

with the paper's lambda_img = 10, lambda_kl = 0.01, lambda_z = 0.5 and an
8-d ``z``. Defaults (the paper's): Adam, lr 2e-4, betas (0.5, 0.999).
The generator's samples are ``B'`` then ``B''`` (two images per input);
``gan translate`` draws a random ``z`` per image.
"""

from __future__ import annotations

import torch
from gancore_translation.domains import SECOND, describe_domains, require_domains
from gancore_translation.generator import Translator
from gancore_translation.nets import PatchDiscriminator, PerDomainDiscriminator, UNet
from torch.func import functional_call

from gancore import hookimpl
from gancore.declaration import (
    NonNegativeFloat,
    NonNegativeInt,
    Norm,
    PositiveInt,
    declare,
    option,
)
from gancore.generator import draw
from gancore.nets.translation import (
    VectorEncoder,
    domain_views,
    gaussian_kl,
    least_squares_g,
    reparameterize,
)

#: The paper's settings.
DEFAULTS = {kind: {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)} for kind in ("vector", "small-image", "image")}


def least_squares_d_unhalved(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``E (real - 1)^2 + E fake^2`` (BicycleGAN's D loss; no factor 1/2)."""
    return (real - 1).pow(2).mean() + fake.pow(2).mean()


class BicycleGenerator(Translator):
    """``G(A, z)`` and the encoder ``E`` in one module.

    Its latent carries ``"z"`` (drawn from ``N(0, I)``; a translation latent without it draws one in
    ``forward``). A training latent also carries ``"target_image"`` (the batch's ``B``); ``forward``
    then runs both cycles and returns ``{"sample": [B', B''], "mu", "logvar", "z", "mu_lr"}``.
    """

    def __init__(self, spec, width: int, code_dim: int, norm: str, e_width: int):
        super().__init__(describe_domains(spec))
        self.code_dim = code_dim
        self.net = UNet(spec.channels + code_dim, spec.channels, spec.image_size, width, norm=norm, dropout=0.0)
        downs = max(1, min(4, spec.image_size.bit_length() - 3))  # 28 px: 2, 64: 4
        self.encoder = VectorEncoder(spec.channels, code_dim, e_width, downs)

    def latent(self, n, labels=None, batch=None, rng=None):
        latent = super().latent(n, labels, batch, rng)
        rows, device = len(latent["source"]), latent["source"].device
        latent["z"] = draw(torch.randn, (rows, self.code_dim), rng=rng, device=device)
        second = batch.extra.get(SECOND) if batch is not None and batch.extra else None
        if second is not None:
            latent["target_image"] = second[:rows].to(device)
        return latent

    def generate(self, source: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        tiled = z[:, :, None, None].expand(-1, -1, *source.shape[-2:])
        return self.net(torch.cat([source, tiled], 1))

    def forward(self, latent):
        source, z = latent["source"], latent.get("z")
        if z is None:
            z = torch.randn(len(source), self.code_dim, device=source.device)
        if "target_image" not in latent:
            return self.generate(source, z)
        mu, logvar = self.encoder(latent["target_image"])
        vae = self.generate(source, reparameterize(mu, logvar))
        lr = self.generate(source, z)
        # The latent regression trains G only: E's weights enter detached.
        frozen = {name: p.detach() for name, p in self.encoder.named_parameters()}
        mu_lr, _ = functional_call(self.encoder, frozen, (lr,))
        return {"sample": torch.cat([vae, lr]), "mu": mu, "logvar": logvar, "mu_lr": mu_lr}


def split_cycles(sample: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B', B'')``: the cVAE-GAN and cLR-GAN halves of a training sample."""
    return sample.chunk(2)


@declare
class BicycleGAN:
    """Zhu et al. 2017: U-Net G(A, z), encoder E(B), cVAE-GAN + cLR-GAN with two PatchGAN D (paired data)."""

    kind = "family"
    defaults = DEFAULTS

    width: PositiveInt = option(64, help="Channels of the U-Net's first convolution.")
    e_width: PositiveInt = option(64, help="Channels of the encoder's first convolution.")
    d_width: PositiveInt = option(64, help="Channels of the PatchGANs' first convolution.")
    code_dim: PositiveInt = option(8, help="Size of the latent code z.")
    norm: Norm = option("batch", help="Normalization in G and D (pix2pix's BatchNorm: on small images the "
                                      "U-Net's inner maps are 2x2, where instance norm leaves next to nothing).")
    patch_layers: NonNegativeInt = option(0, help="Strided layers of the PatchGANs (0: by the image size).")
    l1: NonNegativeFloat = option(10.0, help="lambda_img, the weight of the cVAE-GAN's L1 term.")
    kl: NonNegativeFloat = option(0.01, help="lambda_kl, the weight of the encoder's KL term.")
    latent_l1: NonNegativeFloat = option(0.5, help="lambda_z, the weight of the latent regression.")

    @hookimpl
    def build_generator(self, data):
        require_domains(data, "BicycleGAN", ("paired",))
        return BicycleGenerator(data, self.width, self.code_dim, self.norm, self.e_width)

    @hookimpl
    def build_discriminator(self, data):
        require_domains(data, "BicycleGAN", ("paired",))
        return PerDomainDiscriminator([PatchDiscriminator(data.channels, data.image_size, self.d_width,
                                                          self.patch_layers or None, self.norm) for _ in range(2)])

    @hookimpl
    def d_loss(self, step):
        real = step.batch.extra[SECOND]
        fakes = split_cycles(step.fake)
        step.views = domain_views(step, (real, real), fakes)
        terms = {}
        for index, name in enumerate(("d_vae", "d_lr")):
            scores = step.discriminator(torch.cat([real, fakes[index]]), index)
            terms[name] = least_squares_d_unhalved(*scores.split([len(real), len(fakes[index])]))
        return terms

    @hookimpl
    def g_loss(self, step):
        out, latent = step.outputs, step.latent
        vae, lr = split_cycles(out["sample"])
        target = latent["target_image"]
        return {"adv_vae": least_squares_g(step.discriminator(vae, 0)),
                "adv_lr": least_squares_g(step.discriminator(lr, 1)),
                "l1": self.l1 * (vae - target).abs().mean(),
                "kl": self.kl * gaussian_kl(out["mu"], out["logvar"]),
                "latent": self.latent_l1 * (out["mu_lr"] - latent["z"]).abs().mean()}


__all__ = ["BicycleGAN", "BicycleGenerator", "least_squares_d_unhalved", "split_cycles"]

"""DualGAN (Yi, Zhang, Tan & Gong, *DualGAN: Unsupervised Dual Learning for Image-to-Image
Translation*, 2017, arXiv 1704.02510) as a gancore family.

The primal task ``G_A: A -> B`` and the dual task ``G_B: B -> A`` are trained
as a closed loop on unpaired images: each translation must fool its domain's
Wasserstein critic, and each image must come back to itself through both.

* G: two U-Nets (pix2pix's, :class:`gancore_translation.nets.UNet`, dropout
  0.5 as the generators' noise) in one
  :class:`gancore_translation.nets.PerTargetTranslator`.
* D: two PatchGAN critics (raw patch scores, no sigmoid) in one
  :class:`gancore_translation.nets.PerDomainDiscriminator`; ``D_B`` scores
  domain B (real ``b`` against ``G_A(a)``), ``D_A`` domain A.
* Losses (``a`` from A, ``b`` from B, ``D`` averages its patch scores)::

      L_D_B = E D_B(G_A(a)) - E D_B(b)            (L_D_A alike, with G_B(b) and a)
      L_G   = - E D_B(G_A(a)) - E D_A(G_B(b))
              + lambda_A E |a - G_B(G_A(a))|_1 + lambda_B E |b - G_A(G_B(b))|_1

  with ``lambda_A = lambda_B = recon`` (default 100; the paper uses 100 to
  1,000 by task).
* The critics are kept Lipschitz by weight clipping (gancore-wgan's ``clip``
  regularizer, c = 0.01, the paper's) with RMSprop at lr 5e-5 and 2 critic
  updates per generator update (the paper's settings); ``-r gp`` trains with
  WGAN-GP's penalty instead (then Adam, lr 1e-4, betas (0.5, 0.9)).
"""

from __future__ import annotations

import torch
from gancore_translation.domains import SECOND, describe_domains, require_domains
from gancore_translation.nets import (
    PatchDiscriminator,
    PerDomainDiscriminator,
    PerTargetTranslator,
    UNet,
)

from gancore import hookimpl
from gancore.declaration import (
    NonNegativeFloat,
    NonNegativeInt,
    Norm,
    PositiveInt,
    declare,
    option,
)
from gancore.losses import wasserstein_d, wasserstein_g

#: The paper's settings with clipped critics.
CLIPPED = {"optimizer": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5, "n_critic": 2}
#: With a gradient penalty instead (``-r gp``): Gulrajani et al.'s optimizer.
PENALIZED = {"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9), "n_critic": 2}


def dualgan_defaults(data, regularizers):
    """The paper's settings (clipping, RMSprop) unless the user chose other regularizers (``-r``)."""
    if regularizers is None:
        return {**CLIPPED, "regularizers": {"clip": None}}
    return dict(CLIPPED) if tuple(regularizers) == ("clip",) else dict(PENALIZED)


@declare
class DualGAN:
    """Yi et al. 2017: two U-Net G, two PatchGAN Wasserstein critics (clipped), L1 reconstruction both ways."""

    kind = "family"
    defaults = staticmethod(dualgan_defaults)

    width: PositiveInt = option(64, help="Channels of the U-Nets' first convolution.")
    d_width: PositiveInt = option(64, help="Channels of the PatchGAN critics' first convolution.")
    norm: Norm = option("batch", help="Normalization in G and the critics.")
    recon: NonNegativeFloat = option(100.0, help="lambda_A = lambda_B, the weight of the L1 reconstruction terms.")
    dropout: float = option(0.5, help="Dropout in the U-Nets' decoders.")
    patch_layers: NonNegativeInt = option(0, help="Strided layers of the PatchGAN critics (0: by the image size).")

    def __attrs_post_init__(self):
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout}.")

    @hookimpl
    def build_generator(self, data):
        require_domains(data, "DualGAN", ("unpaired", "paired"))
        nets = [UNet(data.channels, data.channels, data.image_size, self.width, norm=self.norm, dropout=self.dropout)
                for _ in range(2)]
        return PerTargetTranslator(describe_domains(data), nets)

    @hookimpl
    def build_discriminator(self, data):
        require_domains(data, "DualGAN", ("unpaired", "paired"))
        return PerDomainDiscriminator([PatchDiscriminator(data.channels, data.image_size, self.d_width,
                                                          self.patch_layers or None, self.norm)
                                       for _ in range(2)])

    @hookimpl
    def d_loss(self, step):
        real_a, real_b = step.batch.x, step.batch.extra[SECOND]
        target = step.latent["target"]
        fake_a, fake_b = step.fake[target == 0], step.fake[target == 1]
        step.views = PerDomainDiscriminator.views(step, (real_a, real_b), (fake_a, fake_b))
        terms = {}
        for domain, name, real, fake in ((0, "d_a", real_a, fake_a), (1, "d_b", real_b, fake_b)):
            scores = step.discriminator(torch.cat([real, fake]), domain).flatten(1).mean(1)
            terms[name] = wasserstein_d(*scores.split([len(real), len(fake)]))
        return terms

    @hookimpl
    def g_loss(self, step):
        latent, fake = step.latent, step.fake
        target, origin, source = latent["target"], latent["source_domain"], latent["source"]
        adversarial = sum(wasserstein_g(step.discriminator(fake[target == d], d)) for d in (0, 1))
        back = step.generator({"source": fake, "source_domain": target, "target": origin})
        recon = sum((back[origin == d] - source[origin == d]).abs().mean() for d in (0, 1))
        return {"adv": adversarial, "recon": self.recon * recon}

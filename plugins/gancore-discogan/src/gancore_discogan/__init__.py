"""DiscoGAN (Kim et al., 2017) as a gancore family: unpaired cross-domain translation.

The reconstruction-loss cousin of CycleGAN, with the plain GAN loss and no
identity term or image pool.

* Two encoder-decoder generators ``G_AB``, ``G_BA`` (4x4 convolutions with
  stride 2 down to 1x1, LeakyReLU 0.2 / BatchNorm in the encoder, ReLU in
  the decoder, no skip connections: :class:`gancore_translation.nets.UNet` with
  ``skips=False``), and two convolutional discriminators ``D_A``, ``D_B``
  (:class:`gancore.nets.ConvDiscriminator`, BatchNorm), each in one module.
* Losses (``a`` from A, ``b`` from B, scores are logits,
  ``softplus(t) = log(1 + e^t)``)::

      L_D = E softplus(-D_A(a)) + E softplus(D_A(G_BA(b)))
          + E softplus(-D_B(b)) + E softplus(D_B(G_AB(a)))
      L_G = E softplus(-D_B(G_AB(a))) + E softplus(-D_A(G_BA(b)))
          + recon * [ E ||G_BA(G_AB(a)) - a||^2 + E ||G_AB(G_BA(b)) - b||^2 ]

  (the paper's L_GAN + L_CONST in both directions, distance d = mean squared
  error, recon = 1).
* Defaults (the paper's): Adam, lr 2e-4, betas (0.5, 0.999), BatchNorm.
"""

from __future__ import annotations

import torch

from gancore import hookimpl
from gancore.losses import logistic_d, logistic_g
from gancore.nets import ConvDiscriminator
from gancore.declaration import NonNegativeFloat, Norm, PositiveInt, declare, option
from gancore_translation.domains import SECOND, describe_domains, require_domains
from gancore_translation.nets import PerDomainDiscriminator, PerTargetTranslator, UNet


@declare
class DiscoGAN:
    """Kim et al. 2017: two encoder-decoder G, two conv D, GAN loss + reconstruction (MSE) in both directions."""

    kind = "family"

    width: PositiveInt = option(64, help="Channels of the generators' first convolution.")
    d_width: PositiveInt = option(64, help="Channels of the discriminators' first convolution.")
    norm: Norm = option("batch", help="Normalization in the generators and discriminators.")
    recon: NonNegativeFloat = option(1.0, help="Weight of the reconstruction (MSE) terms.")

    @hookimpl
    def build_generator(self, data):
        require_domains(data, "DiscoGAN", ("unpaired", "paired"))
        nets = [UNet(data.channels, data.channels, data.image_size, self.width, norm=self.norm, dropout=0.0,
                     skips=False) for _ in range(2)]
        return PerTargetTranslator(describe_domains(data), nets)

    @hookimpl
    def build_discriminator(self, data):
        require_domains(data, "DiscoGAN", ("unpaired", "paired"))
        return PerDomainDiscriminator([ConvDiscriminator(data, self.d_width, norm=self.norm) for _ in range(2)])

    @hookimpl
    def d_loss(self, step):
        real_a, real_b = step.batch.x, step.batch.extra[SECOND]
        target = step.latent["target"]
        fake_a, fake_b = step.fake[target == 0], step.fake[target == 1]
        step.views = PerDomainDiscriminator.views(step, (real_a, real_b), (fake_a, fake_b))
        terms = {}
        for domain, name, real, fake in ((0, "d_a", real_a, fake_a), (1, "d_b", real_b, fake_b)):
            scores = step.discriminator(torch.cat([real, fake]), domain)
            terms[name] = logistic_d(*scores.split([len(real), len(fake)]))
        return terms

    @hookimpl
    def g_loss(self, step):
        latent, fake = step.latent, step.fake
        target, origin, source = latent["target"], latent["source_domain"], latent["source"]
        adversarial = logistic_g(step.discriminator(fake[target == 0], 0)) + \
            logistic_g(step.discriminator(fake[target == 1], 1))
        back = step.generator({"source": fake, "source_domain": target, "target": origin})
        recon = sum(((back[origin == d] - source[origin == d]) ** 2).mean() for d in (0, 1))
        return {"adv": adversarial, "recon": self.recon * recon}

"""CycleGAN (Zhu et al., 2017) as a gancore family: unpaired image-to-image translation.

* Two ResNet generators ``G: A -> B`` and ``F: B -> A`` (Johnson et al.'s
  network, instance norm; 6 residual blocks below 256 pixels, 9 from 256,
  as in the paper) in one :class:`gancore_translation.nets.PerTargetTranslator`, and two
  PatchGAN discriminators ``D_A``, ``D_B`` (instance norm, scaled to the
  image size) in one :class:`gancore_translation.nets.PerDomainDiscriminator`.
* Losses (least-squares GAN, ``a`` from A, ``b`` from B)::

      L_D_B = 1/2 [ E (D_B(b) - 1)^2 + E D_B(pool(G(a)))^2 ]      (and L_D_A alike)
      L_G   = E (D_B(G(a)) - 1)^2 + E (D_A(F(b)) - 1)^2
              + lambda [ E |F(G(a)) - a|_1 + E |G(F(b)) - b|_1 ]
              + identity * lambda [ E |F(a) - a|_1 + E |G(b) - b|_1 ]

  with lambda = 10, identity = 0.5, and ``pool`` the history of the last 50
  generated images (Shrivastava et al.): once full, each new image is, with
  probability 1/2, swapped for a random stored one (which D sees instead).
  The pool lives in ``step.state_for(self)``, so checkpoints keep it.
* Defaults (the paper's): Adam, lr 2e-4, betas (0.5, 0.999). (The paper
  trains with batch size 1; gancore's default is 64.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gancore import hookimpl
from gancore.declaration import NonNegativeFloat, NonNegativeInt, Norm, PositiveInt, declare, option
from gancore_translation.domains import SECOND, describe_domains, require_domains
from gancore_translation.nets import PatchDiscriminator, PerDomainDiscriminator, PerTargetTranslator, ResnetGenerator


def query_pool(state: dict, key: str, images: torch.Tensor, capacity: int = 50) -> torch.Tensor:
    """Shrivastava et al.'s image history buffer, as CycleGAN uses it.

    Returns the images D should see: while the pool (``state[key]``) holds
    fewer than ``capacity`` images, each new image is stored and returned;
    afterwards each new image is, with probability 1/2, returned as it is,
    or else stored in place of a random pooled image, which is returned
    instead. Draws use the global torch RNG (checkpointed with the run).
    """
    if capacity <= 0:
        return images
    images = images.detach()
    pool = state.get(key)
    out = []
    for image in images:
        if pool is None or len(pool) < capacity:
            pool = image[None].clone() if pool is None else torch.cat([pool, image[None]])
            out.append(image)
        elif torch.rand(()) < 0.5:
            j = int(torch.randint(0, capacity, ()))
            out.append(pool[j].clone())
            pool[j] = image
        else:
            out.append(image)
    state[key] = pool
    return torch.stack(out)


def split_directions(latent, output):
    """``(into_a, into_b)``: the rows of ``output`` whose target domain is A (0) or B (1)."""
    target = latent["target"]
    return output[target == 0], output[target == 1]


@declare
class CycleGAN:
    """Zhu et al. 2017: two ResNet G, two PatchGAN D, LSGAN + 10 * cycle + 5 * identity, 50-image pool."""

    kind = "family"

    width: PositiveInt = option(64, help="Channels of the generators' first convolution.")
    blocks: NonNegativeInt = option(0, help="Residual blocks per generator (0: 9 at 256 px and up, else 6).")
    d_width: PositiveInt = option(64, help="Channels of the PatchGAN discriminators' first convolution.")
    norm: Norm = option("instance", help="Normalization in the generators and discriminators.")
    cycle: NonNegativeFloat = option(10.0, help="lambda, the weight of the cycle-consistency terms.")
    identity: NonNegativeFloat = option(0.5, help="Weight of the identity terms, times lambda.")
    pool: NonNegativeInt = option(50, help="Fakes in each image history buffer (0: none).")
    patch_layers: NonNegativeInt = option(0, help="Strided layers of the PatchGAN (0: by the image size).")

    @hookimpl
    def build_generator(self, data):
        require_domains(data, "CycleGAN", ("unpaired", "paired"))
        blocks = self.blocks or (9 if data.image_size >= 256 else 6)
        nets = [ResnetGenerator(data.channels, data.channels, data.image_size, self.width, blocks, self.norm)
                for _ in range(2)]
        return PerTargetTranslator(describe_domains(data), nets)

    @hookimpl
    def build_discriminator(self, data):
        require_domains(data, "CycleGAN", ("unpaired", "paired"))
        return PerDomainDiscriminator([PatchDiscriminator(data.channels, data.image_size, self.d_width,
                                                          self.patch_layers or None, self.norm)
                                       for _ in range(2)])

    @hookimpl
    def d_loss(self, step):
        real_a, real_b = step.batch.x, step.batch.extra[SECOND]
        fake_a, fake_b = split_directions(step.latent, step.fake)
        state = step.state_for(self)
        fake_a, fake_b = query_pool(state, "a", fake_a, self.pool), query_pool(state, "b", fake_b, self.pool)
        step.views = PerDomainDiscriminator.views(step, (real_a, real_b), (fake_a, fake_b))
        terms = {}
        for domain, name, real, fake in ((0, "d_a", real_a, fake_a), (1, "d_b", real_b, fake_b)):
            real_scores, fake_scores = step.discriminator(torch.cat([real, fake]), domain).split([len(real), len(fake)])
            terms[name] = 0.5 * (F.mse_loss(real_scores, torch.ones_like(real_scores))
                                 + F.mse_loss(fake_scores, torch.zeros_like(fake_scores)))
        return terms

    @hookimpl
    def g_loss(self, step):
        latent, fake = step.latent, step.fake
        fake_a, fake_b = split_directions(latent, fake)
        adversarial = sum(F.mse_loss(s, torch.ones_like(s)) for s in
                          (step.discriminator(fake_a, 0), step.discriminator(fake_b, 1)))
        source, origin = latent["source"], latent["source_domain"]
        back = {"source": fake, "source_domain": latent["target"], "target": origin}
        terms = {"adv": adversarial}
        if self.identity:
            # Reconstruction and identity in one generator pass: fakes back to their origin,
            # real images "translated" into their own domain.
            both = step.generator({"source": torch.cat([fake, source]), "source_domain": origin.repeat(2),
                                   "target": origin.repeat(2)})
            reconstructed, same = both.split([len(fake), len(source)])
        else:
            reconstructed, same = step.generator(back), None
        terms["cycle"] = self.cycle * per_domain_l1(reconstructed, source, origin)
        if same is not None:
            terms["identity"] = self.identity * self.cycle * per_domain_l1(same, source, origin)
        return terms


def per_domain_l1(output: torch.Tensor, reference: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
    """The sum over domains of the mean absolute difference of that domain's rows."""
    return sum((output[domain == d] - reference[domain == d]).abs().mean() for d in domain.unique())

"""CoGAN (Liu & Tuzel, *Coupled Generative Adversarial Networks*, 2016) as a gancore family.

Two GANs, one per domain, whose generators share their first layers and whose
discriminators share their last layers. Trained on the two domains' images
*without* pairs (each discriminator sees only its own domain), the shared
layers make one noise vector decode into a corresponding pair: the joint
distribution of the two domains is learned from the marginals.

* G: :class:`gancore.nets.translation.CoupledGenerator`: ``z`` (100-d) ->
  shared linear + up-sampling layers -> one head per domain. Its output for
  ``n`` latents is ``2n`` images interleaved ``a_0, b_0, a_1, b_1, ...`` (so
  sample grids show each pair side by side; :func:`split_pairs` splits them).
* D: :class:`gancore.nets.translation.CoupledDiscriminator`: one front per
  domain, the rest shared.
* Losses (``a``, ``b`` real images of A and B, ``(G_A(z), G_B(z))`` a
  generated pair, scores are logits, ``softplus(t) = log(1 + e^t)``)::

      L_D = E softplus(-D_A(a)) + E softplus(D_A(G_A(z)))
          + E softplus(-D_B(b)) + E softplus(D_B(G_B(z)))
      L_G = E softplus(-D_A(G_A(z))) + E softplus(-D_B(G_B(z)))

  (the paper's minimax game; non-saturating for G, as the authors' code).
* Defaults: Adam, lr 2e-4, betas (0.5, 0.999) (gancore's; the paper's code
  uses Adam at 2e-4 too, batch 128).
"""

from __future__ import annotations

import torch
from gancore_translation.domains import SECOND, describe_domains, require_domains

from gancore import hookimpl
from gancore.declaration import Norm, PositiveInt, declare, option
from gancore.generator import Generator
from gancore.losses import logistic_d, logistic_g
from gancore.nets.translation import (
    CoupledDiscriminator,
    CoupledGenerator,
    domain_views,
)


def split_pairs(output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The domain-A and domain-B images of a CoGAN output (rows interleaved ``a, b, a, b, ...``)."""
    return output[0::2], output[1::2]


class CoGANGenerator(Generator):
    """Noise in, a corresponding pair of images out (interleaved rows)."""

    def __init__(self, spec, latent_dim: int, width: int, norm: str):
        super().__init__(latent_dim)
        self.domains = describe_domains(spec)
        self.net = CoupledGenerator(latent_dim, spec.channels, spec.image_size, width, norm)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        a, b = self.net(z)
        return torch.stack([a, b], 1).flatten(0, 1)


@declare
class CoGAN:
    """Liu & Tuzel 2016: coupled G (shared first layers) and D (shared last layers), two domains, no pairs."""

    kind = "family"

    latent_dim: PositiveInt = option(100, help="Size of the noise vector shared by the two generators.")
    width: PositiveInt = option(64, help="Channels of the generators' heads (their trunk has twice as many).")
    d_width: PositiveInt = option(64, help="Channels of the discriminators' fronts.")
    norm: Norm = option("batch", help="Normalization in G and in D's shared layers.")

    @hookimpl
    def build_generator(self, data):
        require_domains(data, "CoGAN", ("unpaired", "paired"))
        return CoGANGenerator(data, self.latent_dim, self.width, self.norm)

    @hookimpl
    def build_discriminator(self, data):
        require_domains(data, "CoGAN", ("unpaired", "paired"))
        return CoupledDiscriminator(data.channels, data.image_size, self.d_width, self.norm)

    @staticmethod
    def _reals(step):
        # Paired data is used as two marginals: each D sees its own domain, never a pair.
        return step.batch.x, step.batch.extra[SECOND]

    @hookimpl
    def d_loss(self, step):
        reals = self._reals(step)
        fakes = split_pairs(step.fake)
        step.views = domain_views(step, reals, fakes)
        terms = {}
        for domain, (real, fake) in enumerate(zip(reals, fakes)):
            scores = step.discriminator(torch.cat([real, fake]), domain)
            terms[f"d_{'ab'[domain]}"] = logistic_d(*scores.split([len(real), len(fake)]))
        return terms

    @hookimpl
    def g_loss(self, step):
        reals = self._reals(step)
        terms = {}
        for domain, (real, fake) in enumerate(zip(reals, split_pairs(step.fake))):
            # Scored inside a real+fake batch, as D's update sees them (its BatchNorm statistics).
            scores = step.discriminator(torch.cat([real, fake]), domain)[len(real):]
            terms[f"adv_{'ab'[domain]}"] = logistic_g(scores)
        return terms

"""BigGAN (Brock, Donahue and Simonyan, 2019) as a class-conditional gancore family.

* G: hierarchical latents (``z`` split into one chunk per block plus one for the first layer),
  one shared class embedding concatenated to each block's chunk, conditional BatchNorm whose
  gains and biases are linear maps of that vector, residual up blocks (:mod:`gancore_biggan.nets`).
* D: residual down blocks and the projection head of Miyato & Koyama (2018),
  ``D(x, y) = psi(phi(x)) + <embed(y), phi(x)>``.
* Spectral norm on every weight of G and D; the hinge loss::

      L_D = E[max(0, 1 - D(x, y))] + E[max(0, 1 + D(G(z, y), y))]
      L_G = -E[D(G(z, y), y)]

* Orthogonal regularization is its own regularizer (``-r orthogonal=1e-4``, the distribution
  ``gancore-orthogonal``), usable by any family; the truncation trick is the generator's
  ``forward_truncated(latent, psi=...)`` (``gan sample --truncation PSI``).

In training the fakes of a step take the real batch's labels, so both halves of D's batch carry
the same labels and a gradient penalty scores every input with one label vector.
"""

from __future__ import annotations

import torch
from gancore_sngan import hinge_d, hinge_g

from gancore import hookimpl
from gancore.declaration import PositiveInt, declare, option
from gancore.step import DiscriminatorView
from gancore_biggan.nets import BigGenerator, ProjectionDiscriminator, truncate

#: Training settings by data kind. The paper (ImageNet 128x128): Adam lr_g 1e-4, lr_d 4e-4, betas
#: (0, 0.999), 2 D steps per G step, batch 2048, an average of G's weights. On the CPU and small images:
#: lr 2e-4 for both (the BigGAN-PyTorch CIFAR setting), betas (0, 0.999), one D step, batch 64, the EMA.
_SETTINGS = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.0, 0.999), "n_critic": 1, "latent_dim": 60,
             "plugins": ["ema"]}
DEFAULTS = {"small-image": _SETTINGS, "image": {**_SETTINGS, "steps": 5000}}

__all__ = ["BigGAN", "BigGenerator", "ProjectionDiscriminator", "truncate"]


def require_labels(data, family: str = "gancore-biggan") -> int:
    from gancore.errors import PluginError

    if data.num_classes < 1:
        raise PluginError(f"{family} is class-conditional and needs labelled data; {data.name!r} has no labels "
                          "(use digits, mnist or an image folder with class subfolders).")
    return data.num_classes


@declare
class BigGAN:
    """Brock et al. 2019: shared embedding, hierarchical latents, CBN, projection D, hinge, SN in G and D."""

    kind = "family"
    defaults = DEFAULTS

    width: PositiveInt = option(32, help="Channels of the last G block and first D block (doubled per resolution).")
    shared_dim: PositiveInt = option(32, help="Size of the shared class embedding.")

    @hookimpl
    def build_generator(self, config, data):
        return BigGenerator(data, config.latent_dim, require_labels(data), self.width, self.shared_dim)

    @hookimpl
    def build_discriminator(self, data):
        return ProjectionDiscriminator(data, require_labels(data), self.width)

    @hookimpl
    def d_loss(self, step):
        real, fake, labels = step.real, step.fake, step.latent["labels"]
        D = step.discriminator
        scores = D(torch.cat([real, fake]), torch.cat([step.labels, labels]))
        real_scores, fake_scores = scores.split([len(real), len(fake)])
        # Fakes carry the real batch's labels, so one label vector scores any input.
        step.views = (DiscriminatorView(real=real, fake=fake, score=lambda x: D(x, labels),
                                        parameters=step.D.parameters),)
        return hinge_d(real_scores, fake_scores)

    @hookimpl
    def g_loss(self, step):
        return hinge_g(step.discriminator(step.fake, step.latent["labels"]))

"""StarGAN (Choi et al., 2018) as a gancore family: multi-domain image-to-image translation.

* One generator ``G(x, c)`` for every pair of domains: the target domain
  ``c`` enters as one-hot maps stacked on the image (as in the paper). Instance
  norm erases constant maps, so by default (``condition = "norm"``) every
  instance norm of G is conditional, ``IN(h) * (1 + gamma_c) + beta_c``, its
  per-domain weights learning ``cond_lr_mul`` (10) times faster than the rest
  (:class:`gancore_translation.nets.ConditionalResnetGenerator`);
  ``condition = "shift"`` is the network of runs written before 2026-12-07 (a
  learned shift of the bottleneck, :class:`gancore_translation.nets.ResnetGenerator`,
  which the later norms erase too). The paper's layers otherwise: two stride-2
  down-sampling convolutions, residual blocks, two up-sampling convolutions.
  Option ``mix`` (0: off, as in the paper; needs ``condition = "shift"``) adds a
  fully connected block over the bottleneck map for translations that move
  pixels far, such as the rotations of ``mnist-rotations``.
* One discriminator with two heads on a shared body of stride-2 4x4
  convolutions (LeakyReLU 0.01, no normalization, so the gradient penalty is
  per sample): ``D_src`` a patch map of critic scores, ``D_cls`` domain
  logits.
* Losses (``x`` real with domain ``c'``, target ``c`` drawn uniformly)::

      L_D = -E D_src(x) + E D_src(G(x, c)) + lambda_cls * E[-log D_cls(c' | x)]
            + lambda_gp * E (||grad D_src(x_hat)||_2 - 1)^2
      L_G = -E D_src(G(x, c)) + lambda_cls * E[-log D_cls(c | G(x, c))]
            + lambda_rec * E |x - G(G(x, c), c')|_1

  WGAN-GP's adversarial loss: the penalty is the ``gp`` regularizer of
  ``gancore-wgan`` (the family's default, weight 10) applied through the
  discriminator view ``D_src``; lambda_cls = 1, lambda_rec = 10.
* Defaults (the paper's): Adam, lr 1e-4 for both networks, betas
  (0.5, 0.999), 5 discriminator updates per generator update.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from gancore_translation.domains import describe_domains, require_domains
from gancore_translation.generator import Translator
from gancore_translation.nets import ConditionalResnetGenerator, ResnetGenerator
from torch import nn

from gancore import hookimpl
from gancore.declaration import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    declare,
    option,
)
from gancore.errors import PluginError
from gancore.losses import wasserstein_d, wasserstein_g
from gancore.nets import init_weights
from gancore.step import DiscriminatorView


class StarGenerator(Translator):
    """``G(x, c)``: the image with the target domain's one-hot maps stacked on it, through a ResNet."""

    def __init__(self, spec, width: int, blocks: int, mix: int, condition: str = "norm", cond_lr_mul: float = 10.0):
        super().__init__(describe_domains(spec), choose_target=True)
        if condition == "norm":
            if mix:
                raise PluginError("gancore-stargan: mix needs condition = \"shift\" (the mixing block belongs to "
                                  "that network).")
            self.net = ConditionalResnetGenerator(spec.channels + len(self.domains), spec.channels, width, blocks,
                                                  len(self.domains), cond_lr_mul)
        else:
            self.net = ResnetGenerator(spec.channels + len(self.domains), spec.channels, spec.image_size, width,
                                       blocks, "instance", mix, cond_dim=len(self.domains))

    def forward(self, latent) -> torch.Tensor:
        source = latent["source"]
        onehot = F.one_hot(latent["target"], len(self.domains)).to(source.dtype)
        maps = onehot[:, :, None, None].expand(-1, -1, *source.shape[-2:])
        return self.net(torch.cat([source, maps], 1), onehot)


class StarDiscriminator(nn.Module):
    """Shared body, ``src`` head (patch critic scores) and ``cls`` head (domain logits).

    The body halves the image until it is at most 4 pixels wide (128 -> 2 in
    the paper with 6 layers; 28 -> 3 here with 3), doubling the width each
    time. ``forward`` returns ``(src, cls)``.
    """

    def __init__(self, spec, num_domains: int, width: int = 64, max_width: int = 2048):
        super().__init__()
        layers, channels, size = [], spec.channels, spec.image_size
        w = width
        while size > 4 or not layers:
            layers += [nn.Conv2d(channels, w, 4, 2, 1), nn.LeakyReLU(0.01, True)]
            channels, size, w = w, size // 2, min(2 * w, max_width)
        self.body = nn.Sequential(*layers)
        self.src = nn.Conv2d(channels, 1, 3, 1, 1, bias=False)
        self.cls = nn.Conv2d(channels, num_domains, size, bias=False)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.src(h), self.cls(h).flatten(1)


#: The paper's settings (WGAN-GP, five critic updates per G update), whatever the data.
_PAPER = {"n_critic": 5, "lr_g": 1e-4, "lr_d": 1e-4, "regularizers": {"gp": None}}


@declare
class StarGAN:
    """Choi et al. 2018: one target-conditioned G, D with critic + domain heads, WGAN-GP, cls and rec losses."""

    kind = "family"
    defaults = {"vector": _PAPER, "small-image": _PAPER, "image": _PAPER}

    width: PositiveInt = option(64, help="Channels of G's first convolution.")
    blocks: PositiveInt = option(6, help="Residual blocks in G.")
    d_width: PositiveInt = option(64, help="Channels of D's first convolution.")
    cls: NonNegativeFloat = option(1.0, help="lambda_cls, the weight of the domain classification terms.")
    rec: NonNegativeFloat = option(10.0, help="lambda_rec, the weight of the reconstruction term.")
    mix: NonNegativeInt = option(0, help="Width of a global mixing block in G (0: none, the paper's); needs "
                                         "condition = \"shift\".")
    condition: Literal["norm", "shift"] = option(
        "norm", help="How G sees the target beyond the paper's input maps, which instance norm erases: norm "
                     "(every instance norm scaled and shifted per target) or shift (one shift at the bottleneck, "
                     "the network of runs written before 2026-12-07).")

    cond_lr_mul: PositiveFloat = option(
        10.0, help="With condition = norm: the per-domain scales and shifts learn this many times faster than "
                   "G's other weights (Adam moves a weight by about lr per step; at lr 1e-4 a domain's scale "
                   "could change by 0.15 in 1,500 steps).")

    @hookimpl
    def build_generator(self, data):
        require_domains(data, "StarGAN", ("",))
        return StarGenerator(data, self.width, self.blocks, self.mix, self.condition, self.cond_lr_mul)

    @hookimpl
    def build_discriminator(self, data):
        require_domains(data, "StarGAN", ("",))
        return StarDiscriminator(data, data.num_classes, self.d_width)

    @hookimpl
    def d_loss(self, step):
        real, fake = step.real, step.fake
        src, cls = step.discriminator(torch.cat([real, fake]))
        real_src, fake_src = src.split([len(real), len(fake)])
        step.views = (DiscriminatorView(real=real, fake=fake, parameters=step.D.parameters,
                                        score=lambda x: step.discriminator(x)[0]),)
        return {"adv": wasserstein_d(real_src, fake_src),
                "cls": self.cls * F.cross_entropy(cls[:len(real)], step.labels)}

    @hookimpl
    def g_loss(self, step):
        latent, fake = step.latent, step.fake
        src, cls = step.discriminator(fake)
        back = step.generator({"source": fake, "source_domain": latent["target"],
                               "target": latent["source_domain"]})
        return {"adv": wasserstein_g(src), "cls": self.cls * F.cross_entropy(cls, latent["target"]),
                "rec": self.rec * (back - latent["source"]).abs().mean()}


__all__ = ["StarDiscriminator", "StarGAN", "StarGenerator"]

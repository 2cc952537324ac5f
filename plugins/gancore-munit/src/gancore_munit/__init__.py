"""MUNIT (Huang, Liu, Belongie & Kautz, *Multimodal Unsupervised Image-to-Image Translation*, 2018)
as a gancore family.

An image is a **content** code (a spatial map, shared by the domains) and a
**style** code (a small vector, specific to its domain). Translating ``x``
from domain ``s`` into ``t`` keeps ``x``'s content and draws a style of
``t`` from ``N(0, I)``: one input has many translations.

* Per domain: a content encoder ``E^c`` (:class:`gancore.nets.translation.ImageEncoder`,
  instance norm), a style encoder ``E^s`` (:class:`gancore.nets.translation.StyleEncoder`,
  no norm, global pooling, 8-d code) and a decoder ``G``
  (:class:`gancore.nets.translation.AdaINDecoder`: residual blocks whose
  adaptive instance norms take their scales and shifts from the style
  through an MLP, then up-sampling with layer norm). All in one generator
  module; ``gan translate`` draws a new style for each image.
* D: two PatchGANs (no normalization), least-squares GAN.
* Losses, for ``x`` of domain ``s`` (both directions in each batch), ``c =
  E^c_s(x)``, ``s_x = E^s_s(x)``, ``s_t ~ N(0, I)`` and the translation ``y =
  G_t(c, s_t)``::

      L_D_t = 1/2 [ E (D_t(x_t) - 1)^2 + E D_t(y)^2 ]
      L_G   = E (D_t(y) - 1)^2                                   (GAN)
            + lambda_x E |G_s(c, s_x) - x|_1                     (image reconstruction)
            + lambda_c E |E^c_t(y) - c|_1                        (content reconstruction)
            + lambda_s E |E^s_t(y) - s_t|_1                      (style reconstruction)

  with the paper's lambda_x = 10, lambda_c = lambda_s = 1. Its optional
  style-augmented cycle, ``lambda_cyc E |G_s(E^c_t(y), s_x) - x|_1``, is the
  option ``cycle`` (0, off, as the paper's default).
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
from gancore.generator import draw
from gancore.nets.translation import (
    AdaINDecoder,
    ImageEncoder,
    StyleEncoder,
    crop,
    pad_to,
    per_domain_l1,
    route,
    two_domain_d_loss,
    two_domain_g_adversarial,
)

#: The paper's settings.
DEFAULTS = {kind: {"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.999)} for kind in ("vector", "small-image", "image")}


class MUNITGenerator(Translator):
    """Content encoders, style encoders and AdaIN decoders of both domains.

    The latent carries ``"style"``, the target styles (drawn from ``N(0, I)``; a translation latent
    without it draws them in ``forward``). A training latent (from :meth:`latent`) also carries
    ``"parts"``; ``forward`` then returns a mapping with the translation (``"sample"``) and what the
    losses need: ``"recon"``, ``"content"``, ``"content_recon"``, ``"style_recon"``.
    """

    def __init__(self, spec, width: int, blocks: int, style_dim: int, mlp: int, cycle: bool = False):
        super().__init__(describe_domains(spec), both_ways=True)
        self.style_dim, self.cycle = style_dim, cycle
        self.content = nn.ModuleList(ImageEncoder(spec.channels, width, 2, blocks) for _ in range(2))
        self.styles = nn.ModuleList(StyleEncoder(spec.channels, style_dim, width) for _ in range(2))
        self.decoders = nn.ModuleList(AdaINDecoder(4 * width, spec.channels, style_dim, 2, blocks, mlp)
                                      for _ in range(2))

    def latent(self, n, labels=None, batch=None, rng=None):
        latent = super().latent(n, labels, batch, rng)
        rows, device = len(latent["source"]), latent["source"].device
        latent["style"] = draw(torch.randn, (rows, self.style_dim), rng=rng, device=device)
        latent["parts"] = torch.ones(rows, dtype=torch.bool, device=device)
        return latent

    def forward(self, latent):
        source, origin, target = latent["source"], latent["source_domain"], latent["target"]
        style = latent.get("style")
        if style is None:
            style = torch.randn(len(source), self.style_dim, device=source.device)
        x, pad = pad_to(source, 4)
        content = route(self.content, x, origin)
        translated = route(self.decoders, content, target, style)
        if "parts" not in latent:
            return crop(translated, pad)
        own_style = route(self.styles, source, origin)
        content_recon = route(self.content, translated, target)
        out = {"sample": crop(translated, pad), "recon": crop(route(self.decoders, content, origin, own_style), pad),
               "content": content, "content_recon": content_recon,
               "style_recon": route(self.styles, crop(translated, pad), target)}
        if self.cycle:  # the paper's style-augmented cycle: back with the recovered content and x's own style
            out["cycle"] = crop(route(self.decoders, content_recon, origin, own_style), pad)
        return out


@declare
class MUNIT:
    """Huang et al. 2018: content/style decomposition, AdaIN decoders, image + content + style reconstruction."""

    kind = "family"
    defaults = DEFAULTS

    width: PositiveInt = option(64, help="Channels of the encoders' first convolution (the content has 4x as many).")
    blocks: NonNegativeInt = option(4, help="Residual blocks in each content encoder and decoder.")
    style_dim: PositiveInt = option(8, help="Size of the style code.")
    mlp: PositiveInt = option(256, help="Units of the MLP that maps a style to the AdaIN parameters.")
    d_width: PositiveInt = option(64, help="Channels of the PatchGAN discriminators' first convolution.")
    patch_layers: NonNegativeInt = option(0, help="Strided layers of the PatchGANs (0: by the image size).")
    image: NonNegativeFloat = option(10.0, help="lambda_x, the weight of the image reconstruction (L1).")
    content: NonNegativeFloat = option(1.0, help="lambda_c, the weight of the content reconstruction (L1).")
    style: NonNegativeFloat = option(1.0, help="lambda_s, the weight of the style reconstruction (L1).")
    cycle: NonNegativeFloat = option(0.0, help="lambda_cyc, the weight of the style-augmented cycle (L1; 0: off, "
                                                "the paper's default).")

    @hookimpl
    def build_generator(self, data):
        require_domains(data, "MUNIT", ("unpaired", "paired"))
        return MUNITGenerator(data, self.width, self.blocks, self.style_dim, self.mlp, cycle=self.cycle > 0)

    @hookimpl
    def build_discriminator(self, data):
        require_domains(data, "MUNIT", ("unpaired", "paired"))
        return PerDomainDiscriminator([PatchDiscriminator(data.channels, data.image_size, self.d_width,
                                                          self.patch_layers or None, "none") for _ in range(2)])

    @hookimpl
    def d_loss(self, step):
        return two_domain_d_loss(step)

    @hookimpl
    def g_loss(self, step):
        out, latent = step.outputs, step.latent
        source, origin = latent["source"], latent["source_domain"]
        terms = {"adv": two_domain_g_adversarial(step),
                 "image": self.image * per_domain_l1(out["recon"], source, origin),
                 "content": self.content * (out["content_recon"] - out["content"]).abs().mean(),
                 "style": self.style * (out["style_recon"] - latent["style"]).abs().mean()}
        if self.cycle:
            terms["cycle"] = self.cycle * per_domain_l1(out["cycle"], source, origin)
        return terms

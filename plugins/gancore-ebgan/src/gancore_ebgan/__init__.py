"""EBGAN (Zhao, Mathieu and LeCun, 2017) as a gancore family.

The discriminator is an auto-encoder whose reconstruction error is an
energy, low on the data and high elsewhere:

    D(x) = mean over x's elements of (Dec(Enc(x)) - x)^2      (one value per sample)
    L_D  = E[D(x)] + E[max(0, m - D(G(z)))]                   (margin m)
    L_G  = E[D(G(z))] + lambda_PT * PT(S)

where ``S`` are the encoder's codes of the fake batch and the pulling-away
term ``PT(S) = 1/(N(N-1)) * sum_{i != j} cos^2(s_i, s_j)`` pushes the
generator's samples apart in the encoder's space (EBGAN-PT).

Networks: a convolutional auto-encoder for images (strided convolutions with
BatchNorm and LeakyReLU(0.2) down to a ``code_dim`` code, transposed
convolutions back, as the paper's EBGAN-PT models; no BatchNorm by default
on images), MLPs for vector data (``ring``); a DCGAN generator. Defaults
follow the data (``DEFAULTS``, ``OPTION_DEFAULTS``):
on images m = 0.1 (the paper grid-searches m; the energy here is a
per-element mean, so m does not depend on the image size), ``pt_weight =
0.1`` (the paper's lambda_PT), Adam, lr 5e-4 decayed linearly, betas (0.5,
0.999), an EMA of G, and on 28x28 and larger a batch of 128, 2,000 steps and
two convolutions per resolution (``depth``) in G and in the auto-encoder;
on vector data m = 1 and a linear decay (docs/families/ebgan.md). The
paper's settings are ``--preset paper``.
"""

from __future__ import annotations

import torch

from gancore import hookimpl
from gancore.declaration import NonNegativeFloat, Norm, PositiveFloat, PositiveInt, declare, option
from gancore.nets import AutoEncoder, AutoEncoderDiscriminator, ConvGenerator, Depth, MLPGenerator, takes_mlp


def margin_d_loss(real_energy: torch.Tensor, fake_energy: torch.Tensor, margin: float) -> torch.Tensor:
    """EBGAN's discriminator loss ``E[D(x)] + E[max(0, m - D(G(z)))]`` on per-sample energies."""
    return real_energy.mean() + torch.relu(margin - fake_energy).mean()


def pulling_away(codes: torch.Tensor) -> torch.Tensor:
    """``1/(N(N-1)) * sum_{i != j} cos^2(s_i, s_j)`` over a batch of codes (0 for fewer than 2)."""
    n = codes.shape[0]
    if n < 2:
        return codes.sum() * 0.0
    s = torch.nn.functional.normalize(codes.flatten(1), dim=1)
    cos2 = (s @ s.T).pow(2)
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))


#: Training defaults by data kind (``DataSpec.kind``): on images, lr 5e-4 decayed linearly and an EMA of
#: G (the small images' measured recipe), on 28x28 and larger with a batch of 128 for 2,000 steps, as
#: DCGAN's 28x28 recipe has them.
_SMALL_IMAGE = {"lr_g": 5e-4, "lr_d": 5e-4, "lr_schedule": "linear", "plugins": ["ema"]}
DEFAULTS = {
    "vector": {"lr_schedule": "linear"},
    "small-image": _SMALL_IMAGE,
    "image": {**_SMALL_IMAGE, "batch_size": 128, "steps": 2000},
}
#: Option defaults by data kind, over the options' own (margin 1, BatchNorm, depth 1):
#:
#: * ``margin`` 0.1 on images. The energy is a per-element mean squared error of images in [-1, 1]:
#:   m = 1 asks D to reconstruct fakes worse than an all-zero image would. On the 8x8 digits (no
#:   BatchNorm, EMA, linear decay) m = 0.3 gives 5.5x the FID floor, m = 0.1 4.8x, and m = 0.1 with
#:   lr 5e-4 1.7x.
#: * ``norm`` none in the auto-encoder on images: BatchNorm there keeps EBGAN on the 8x8 digits at 101x
#:   the FID floor whatever the margin (5.5x without it).
#: * ``depth`` 2 in G and in D's encoder and decoder on 28x28 and larger, where one convolution per
#:   resolution is too shallow (DCGAN's finding, docs/families/dcgan.md).
OPTION_DEFAULTS = {"small-image": {"margin": 0.1, "norm": "none"},
                   "image": {"margin": 0.1, "norm": "none", "depth": 2}}


#: Zhao et al.'s settings where the paper states them (``--preset paper``): the pulling-away term at 0.1,
#: BatchNorm in the auto-encoder, no regularizer, no average of G; Adam at DCGAN's lr 2e-4, beta1 0.5 and
#: margin 1 (the paper grid-searched both per data set, for its own energy scale).
PAPER = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "lr_schedule": "constant", "batch_size": 64,
         "n_critic": 1, "latent_dim": 100, "regularizers": {},
         "options": {"gancore-ebgan": {"margin": 1.0, "pt_weight": 0.1, "norm": "batch", "depth": 1}}}


@declare
class EBGAN(Depth):
    """Zhao et al. 2017: auto-encoder discriminator (energy = reconstruction MSE), margin loss, pulling-away term."""

    kind = "family"
    defaults = DEFAULTS
    paper = PAPER
    option_defaults = OPTION_DEFAULTS

    margin: PositiveFloat = option(1.0, help="m: D pushes the energy of fakes up to m.")
    pt_weight: NonNegativeFloat = option(0.1, help="Weight of the pulling-away term in G's loss.")
    code_dim: PositiveInt = option(64, help="Size of the auto-encoder's code.")
    width: PositiveInt = option(64, help="Channels of the convolutions (images).")
    hidden: PositiveInt = option(256, help="Units per hidden layer of the MLPs (vector data).")
    norm: Norm = option("batch", help="Normalization in the auto-encoder.")

    @hookimpl
    def build_generator(self, config, data):
        if takes_mlp(data):
            return MLPGenerator(data, config.latent_dim, self.hidden)
        return ConvGenerator(data, config.latent_dim, self.width, depth=self.depth)

    @hookimpl
    def build_discriminator(self, data):
        return AutoEncoderDiscriminator(
            AutoEncoder(data, self.code_dim, self.width, self.hidden, norm=self.norm, depth=self.depth), error="mse")

    @hookimpl
    def d_loss(self, step):
        real_energy, fake_energy = step.real_and_fake_scores()
        step.log("ebgan/energy_real", real_energy.mean())
        step.log("ebgan/energy_fake", fake_energy.mean())
        return margin_d_loss(real_energy, fake_energy, self.margin)

    @hookimpl
    def g_loss(self, step):
        # In phase "g", step.D is the frozen discriminator module itself. Its BatchNorm must see the
        # fakes inside a real+fake batch, as in D's own update: scored alone, each fake batch is
        # normalised by its own statistics and its energy says little about D's (digits: 2/10 classes).
        energy, codes = step.fake_scores(step.D.error_and_code)
        terms = {"loss": energy.mean()}
        if self.pt_weight:
            terms["pt"] = self.pt_weight * pulling_away(codes)
        return terms

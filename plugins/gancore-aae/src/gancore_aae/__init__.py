"""Adversarial autoencoder (Makhzani et al., 2016) as a gancore family.

An encoder ``q(z | x)`` and a decoder ``p(x | z)`` are trained as an
autoencoder while a discriminator on the *code* makes the aggregated
posterior ``q(z)`` match a prior ``p(z) = N(0, I)``. Per step:

* regularisation, discriminator: ``max_D E_{z ~ p(z)}[log D(z)] + E_x[log(1 - D(E(x)))]``
  (prior samples are D's "real" inputs, codes its "fake" ones);
* reconstruction + regularisation, encoder and decoder::

      L = reconstruction_weight * E_x ||Dec(E(x)) - x||^2      (mean squared error)
        + adversarial_weight    * -E_x[log D(E(x))]             (non-saturating)

  The paper alternates a reconstruction phase and a regularisation phase;
  here both terms enter the one generator update of the step (logged as
  ``g/reconstruction`` and ``g/adversarial``).

``variant="supervised"`` is the paper's supervised AAE: the decoder also
gets the label (a learned embedding of it), so the code only has to carry
style; sampling is then conditional and ``gan sample --label`` works.

Contract: the generator module holds encoder and decoder. Its latent for
the prior samples is ``{"z": z}`` (plus ``"labels"``); in training the trainer
passes the real batch, so the latent also carries ``"x"`` and ``forward``
returns named outputs ``{"sample": Dec(z), "code": E(x), "reconstruction":
Dec(E(x))}`` (see :mod:`gancore.generator`), which the losses read from
``step.outputs``. No trainer special case is needed.

Defaults: encoder, decoder and discriminator are MLPs with two hidden layers
of 1000 units (the paper's MNIST networks), an 8-dimensional Gaussian code
(2 on vector data), Adam lr 2e-4, betas (0.5, 0.999) (the paper used SGD
with momentum); ``reconstruction_weight`` 10 on images and lr 5e-4 on small
images (``DEFAULTS``, ``RECONSTRUCTION_WEIGHT``). On ``ring`` the defaults do
not reach the modes: the encoder maps the 8 modes to 8 tight clusters of
codes that the code discriminator does not tell from the prior, and prior
samples decode from between them (docs/families/aae.md).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from gancore import hookimpl
from gancore.data import DataSpec
from gancore.errors import PluginError
from gancore.generator import Generator
from gancore.losses import logistic_d, logistic_g
from gancore.nets import MLPDiscriminator, MLPGenerator
from gancore.declaration import NonNegativeFloat, PositiveFloat, PositiveInt, declare, option
from gancore.step import DiscriminatorView

VARIANTS = ("unsupervised", "supervised")
#: Training defaults by data kind (``DataSpec.kind``): an 8-d code for images, a 2-d one for vectors.
#: On small images a 2.5x higher rate: ``digits`` 3.9x the FID floor against 5.3x at 2e-4 (a linear
#: decay to 0 from 1e-3 gives the same 3.9x; with an EMA of G at 2e-4, 9.5x).
DEFAULTS = {
    "vector": {"latent_dim": 2},
    "small-image": {"latent_dim": 8, "lr_g": 5e-4, "lr_d": 5e-4},
    "image": {"latent_dim": 8},
}
#: reconstruction_weight by data kind (1 on vectors). The pixel MSE is a mean over
#: pixels (0.014 at the end of a `digits` run) against an adversarial term near 0.75: at weight 1 the
#: encoder serves the prior match far more than the reconstruction, and the decoder's samples are
#: blurred (`digits` 3.9x the classifier-FID floor at 5,000 steps); at 10: 2.8x (2,000 samples), 2.47x with
#: benchmarks/quality.py (5,000 samples). On `mnist` 13.1x -> 10.7x (docs/families/aae.md).
RECONSTRUCTION_WEIGHT = {"small-image": 10.0, "image": 10.0}


class AdversarialAutoencoder(Generator):
    """Encoder ``E: x -> z`` and decoder ``Dec: z (+ label) -> x``; samples are ``Dec(z)``, ``z ~ N(0, I)``."""

    labels_from_batch = True  # reconstructions decode E(x) with x's own label

    def __init__(self, spec: DataSpec, code_dim: int, hidden: int = 1000, layers: int = 2, num_classes: int = 0):
        super().__init__(code_dim, num_classes)
        self.encoder = MLPDiscriminator(spec, hidden, layers, outputs=code_dim)
        self.decoder = MLPGenerator(spec, code_dim, hidden, layers, num_classes=num_classes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.head(self.encoder.features(x))

    def latent(self, n, labels=None, batch=None, rng=None):
        latent = super().latent(n, labels=labels, batch=batch, rng=rng)
        if batch is None:
            return latent
        latent = dict(latent) if isinstance(latent, dict) else {"z": latent}
        latent["x"] = batch.x[:n]
        return latent

    def _decode(self, z: torch.Tensor, latent) -> torch.Tensor:
        return self.decoder({"z": z, "labels": latent["labels"]} if self.conditional else z)

    def forward(self, latent):
        if isinstance(latent, torch.Tensor):
            return self.decoder(latent)
        sample = self._decode(latent["z"], latent)
        if "x" not in latent:
            return sample
        code = self.encode(latent["x"])
        return {"sample": sample, "code": code, "reconstruction": self._decode(code, latent)}


@declare
class AAE:
    """Makhzani et al. 2016: autoencoder + adversarial D on the code (Gaussian prior); supervised variant."""

    kind = "family"
    defaults = DEFAULTS
    option_defaults = {data_kind: {"reconstruction_weight": weight}
                       for data_kind, weight in RECONSTRUCTION_WEIGHT.items()}

    variant: Literal["unsupervised", "supervised"] = option(
        "unsupervised", help="unsupervised, or supervised (the label joins the code in the decoder).")
    hidden: PositiveInt = option(1000, help="Units per hidden layer of the encoder, decoder and D.")
    layers: PositiveInt = option(2, help="Hidden layers of the encoder, decoder and D.")
    reconstruction_weight: PositiveFloat = option(1.0, help="Weight of the reconstruction term.")
    adversarial_weight: NonNegativeFloat = option(1.0, help="Weight of the adversarial term on the code.")

    @hookimpl
    def build_generator(self, config, data):
        classes = 0
        if self.variant == "supervised":
            if data.num_classes < 1:
                raise PluginError(f"gancore-aae variant 'supervised' needs labelled data; {data.name!r} has none.")
            classes = data.num_classes
        return AdversarialAutoencoder(data, config.latent_dim, self.hidden, self.layers, classes)

    @hookimpl
    def build_discriminator(self, config, data):
        return MLPDiscriminator(DataSpec("code", (config.latent_dim,)), self.hidden, self.layers)

    @hookimpl
    def d_loss(self, step):
        prior, code, D = step.latent["z"], step.outputs["code"], step.discriminator
        scores = D(torch.cat([prior, code]))
        step.views = (DiscriminatorView(real=prior, fake=code, score=D, parameters=step.D.parameters),)
        return logistic_d(*scores.split([len(prior), len(code)]))

    @hookimpl
    def g_loss(self, step):
        outputs = step.outputs
        return {"reconstruction": self.reconstruction_weight * F.mse_loss(outputs["reconstruction"], step.real),
                "adversarial": self.adversarial_weight * logistic_g(step.discriminator(outputs["code"]))}

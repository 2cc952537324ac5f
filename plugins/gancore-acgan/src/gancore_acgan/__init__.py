"""AC-GAN (Odena, Olah & Shlens, 2017) as a gancore family.

The generator maps noise and a class ``c ~ p(c)`` to a sample; the
discriminator sees only the sample and outputs both a source score
``P(S | x)`` and class logits ``P(C | x)`` from one shared body. With the
paper's log-likelihoods of the correct source and of the correct class::

    L_S = E[log P(S = real | x_real)] + E[log P(S = fake | x_fake)]
    L_C = E[log P(C = c | x_real)]    + E[log P(C = c | x_fake)]

D maximises ``L_S + L_C`` and G maximises ``L_C - L_S``; G's source term
is written in its non-saturating form ``-E[log P(S = real | x_fake)]``.
Both class terms are weighted by ``class_weight`` (1 in the paper), D's
class term on fakes also by ``fake_class_weight`` (1 in the paper; 0 by
default on images 28x28 and larger, see ``FAKE_CLASS_WEIGHT``). Terms
are logged as ``d/source``, ``d/class``, ``g/source``, ``g/class``.

Defaults: DCGAN-style convolutional networks for images (MLPs for vector
data), Adam lr 2e-4, betas (0.5, 0.999), as the paper's MNIST/CIFAR setups;
on images the rate decays linearly to 0 and G is sampled from an EMA of its
weights, and on 28x28 and larger D sees DiffAugment's augmented images
(``DEFAULTS``).
Regularizers see D's source score only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gancore import hookimpl
from gancore.declaration import NonNegativeFloat, Norm, PositiveInt, declare, option
from gancore.errors import PluginError
from gancore.losses import logistic_d, logistic_g
from gancore.nets import ConvDiscriminator, ConvGenerator, MLPDiscriminator, MLPGenerator, takes_mlp
from gancore.step import DiscriminatorView


def source_and_class(outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split D's ``(n, 1 + classes)`` output into the source logit and the class logits."""
    return outputs[:, 0], outputs[:, 1:]


#: Training defaults by data kind (``DataSpec.kind``): the paper's Adam 2e-4 everywhere, with a
#: linear decay and an EMA of G on images, and DiffAugment on images 28x28 and larger. Without it, on
#: the 5,000 ``mnist`` images, D's classifier (trained on real images only, ``FAKE_CLASS_WEIGHT``)
#: is fooled by G: it gives 100% of G's samples their requested class while a classifier of real
#: data gives 94% at 1,000 steps and less later (68% at 5,000). With D seeing only augmented images
#: (``gancore-diffaugment``: translation, cutout, brightness/contrast), G cannot win D's class by
#: features no real digit has: 100% at every evaluation (docs/families/acgan.md).
DEFAULTS = {
    "vector": {},
    "small-image": {"lr_schedule": "linear", "plugins": ["ema"]},
    "image": {"lr_schedule": "linear", "plugins": ["ema", "gancore-diffaugment"]},
}
#: The weight of D's class loss on fakes by data kind (over the paper's 1). The
#: paper trains D's classifier on fakes too (weight 1); on 28x28 ``mnist`` D then learns to tell the
#: fakes' intended classes from artefacts, G follows D there, and GAN-test accuracy stays at
#: 20-40%; trained on real images only (0), D's classifier tells G what real digits of a class
#: look like (89% at 1,000 steps with the paper's schedule; 92% with a linear decay and EMA).
FAKE_CLASS_WEIGHT = {"image": 0.0}


@declare
class ACGAN:
    """Odena et al. 2017: D outputs real/fake and class logits; source + class log-likelihoods."""

    kind = "family"
    defaults = DEFAULTS

    width: PositiveInt = option(64, help="Channels of the convolutions (images).")
    norm: Norm = option("batch", help="Normalization in D's convolutions.")
    hidden: PositiveInt = option(256, help="Units per hidden layer of the MLPs (vector data).")
    layers: PositiveInt = option(3, help="Hidden layers of the MLPs.")
    class_weight: NonNegativeFloat = option(1.0, help="Weight of the class log-likelihood terms.")
    fake_class_weight: NonNegativeFloat = option(
        1.0, by_kind=FAKE_CLASS_WEIGHT, help="Weight of D's class term on fakes (0: D's classifier learns from "
                                             "real images only).")

    @staticmethod
    def _classes(data) -> int:
        if data.num_classes < 2:
            raise PluginError(f"gancore-acgan needs labelled data with at least 2 classes; {data.name!r} has "
                              f"{data.num_classes}.")
        return data.num_classes

    @hookimpl
    def build_generator(self, config, data):
        classes = self._classes(data)
        if takes_mlp(data):
            return MLPGenerator(data, config.latent_dim, self.hidden, self.layers, num_classes=classes)
        return ConvGenerator(data, config.latent_dim, self.width, num_classes=classes)

    @hookimpl
    def build_discriminator(self, data):
        outputs = 1 + self._classes(data)
        if takes_mlp(data):
            return MLPDiscriminator(data, self.hidden, self.layers, outputs=outputs)
        return ConvDiscriminator(data, self.width, norm=self.norm, outputs=outputs)

    @hookimpl
    def d_loss(self, step):
        real, fake, D = step.real, step.fake, step.discriminator
        if step.labels is None:
            raise PluginError("gancore-acgan needs the real batch's labels; this data set has none.")
        source, logits = source_and_class(D(torch.cat([real, fake])))
        n = len(real)
        step.views = (DiscriminatorView(real=real, fake=fake, score=lambda x: D(x)[:, 0],
                                        parameters=step.D.parameters),)
        class_nll = (F.cross_entropy(logits[:n], step.labels)
                     + self.fake_class_weight * F.cross_entropy(logits[n:], step.latent["labels"]))
        return {"source": logistic_d(source[:n], source[n:]), "class": self.class_weight * class_nll}

    @hookimpl
    def g_loss(self, step):
        # D scores the fakes inside a real+fake batch, as in its own update, so a BatchNorm
        # discriminator normalises them with the same kind of batch statistics in both phases.
        out = step.discriminator(torch.cat([step.real, step.fake]))
        source, logits = source_and_class(out[len(step.real):])
        return {"source": logistic_g(source),
                "class": self.class_weight * F.cross_entropy(logits, step.latent["labels"])}

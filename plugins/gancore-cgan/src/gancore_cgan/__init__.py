"""Conditional GAN (Mirza & Osindero, 2014) as a gancore family.

Both networks see the class label ``y``: the generator maps ``(z, y)`` to a
sample (a learned label embedding concatenated to the noise), the
discriminator scores ``(x, y)`` (the one-hot label concatenated to the
flattened sample for MLPs, or as constant extra image channels for
convolutional networks). The objective is the GAN's, conditioned on ``y``::

    min_G max_D  E[log D(x | y)] + E[log(1 - D(G(z | y) | y))]

with the non-saturating generator loss ``-E[log D(G(z | y) | y)]``. In
training, the fakes of a step are generated for the real batch's labels, so
both halves of D's batch carry the same labels and gradient penalties (which
interpolate real and fake) score every input with one label vector.

Defaults: DCGAN-style convolutional networks for images (``arch="conv"``)
and MLPs for vector data; ``arch="mlp"`` gives images the paper's kind of
network, MLPs (ReLU/LeakyReLU rather than the paper's maxout units, and
without its dropout: on ``digits`` that MLP pair collapses to one image
within a few hundred steps, while the convolutional pair draws every class).
Adam with lr 2e-4 and betas (0.5, 0.999) (the paper used SGD with momentum); on
images 28x28 and larger also a linear decay, an EMA of G and DiffAugment
(``DEFAULTS``): GAN-test on ``mnist`` 84% at 2,000 steps without them, 95% with.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gancore import hookimpl
from gancore.data import DataSpec
from gancore.declaration import Arch, Norm, PositiveInt, declare, option
from gancore.errors import PluginError
from gancore.losses import logistic_d, logistic_g
from gancore.nets import (
    ConvDiscriminator,
    ConvGenerator,
    MLPDiscriminator,
    MLPGenerator,
    takes_mlp,
)
from gancore.step import DiscriminatorView


def require_labels(data: DataSpec, family: str) -> int:
    if data.num_classes < 1:
        raise PluginError(f"{family} is conditional and needs labelled data; {data.name!r} has no labels "
                          "(use digits, mnist, ring or an image folder with class subfolders).")
    return data.num_classes


class LabelDiscriminator(nn.Module):
    """``D(x, y)``: a discriminator body that sees the one-hot label with the sample.

    For vectors (MLP) the one-hot label is concatenated to the flattened
    sample; for images (convolutional) it is broadcast to ``num_classes``
    constant channels concatenated to the image.
    """

    def __init__(self, spec: DataSpec, num_classes: int, arch: str = "mlp", hidden: int = 256, layers: int = 3,
                 width: int = 64, norm: str = "batch"):
        super().__init__()
        self.num_classes = num_classes
        self.spatial = arch == "conv"
        if self.spatial:
            self.net = ConvDiscriminator(spec, width, norm=norm, in_channels=spec.channels + num_classes)
        else:
            self.net = MLPDiscriminator(spec, hidden, layers, input_dim=math.prod(spec.shape) + num_classes)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(labels, self.num_classes).to(x.dtype)
        if self.spatial:
            onehot = onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])
            return self.net(torch.cat([x, onehot], dim=1))
        return self.net(torch.cat([x.flatten(1), onehot], dim=1))


#: Training defaults by data kind (``DataSpec.kind``): the paper's kind of optimizer (Adam 2e-4)
#: everywhere; on images 28x28 and larger a linear decay, an EMA of G for sampling and DiffAugment for
#: D, as ACGAN (docs/families/cgan.md has the measurements).
DEFAULTS = {
    "vector": {},
    "small-image": {},
    "image": {"lr_schedule": "linear", "plugins": ["ema", "gancore-diffaugment"]},
}


@declare
class CGAN:
    """Mirza & Osindero 2014: the label conditions both G and D (logistic loss)."""

    kind = "family"
    defaults = DEFAULTS

    arch: Arch = option("conv", help="Networks for images: conv, or mlp (vector data always takes an MLP).")
    hidden: PositiveInt = option(256, help="Units per hidden layer of the MLPs.")
    layers: PositiveInt = option(3, help="Hidden layers of the MLPs.")
    width: PositiveInt = option(64, help="Channels of the convolutions.")
    norm: Norm = option("batch", help="Normalization in D's convolutions.")

    def _conv(self, data: DataSpec) -> bool:
        return not takes_mlp(data, self.arch)

    @hookimpl
    def build_generator(self, config, data):
        classes = require_labels(data, "gancore-cgan")
        if self._conv(data):
            G = ConvGenerator(data, config.latent_dim, self.width, num_classes=classes)
        else:
            G = MLPGenerator(data, config.latent_dim, self.hidden, self.layers, num_classes=classes)
        G.labels_from_batch = True
        return G

    @hookimpl
    def build_discriminator(self, data):
        classes = require_labels(data, "gancore-cgan")
        arch = "conv" if self._conv(data) else "mlp"
        return LabelDiscriminator(data, classes, arch, self.hidden, self.layers, self.width, self.norm)

    @hookimpl
    def d_loss(self, step):
        real, fake, labels = step.real, step.fake, step.latent["labels"]
        D = step.discriminator
        scores = D(torch.cat([real, fake]), torch.cat([step.labels, labels]))
        real_scores, fake_scores = scores.split([len(real), len(fake)])
        # Fakes carry the real batch's labels, so one label vector scores any input.
        step.views = (DiscriminatorView(real=real, fake=fake, score=lambda x: D(x, labels),
                                        parameters=step.D.parameters),)
        return logistic_d(real_scores, fake_scores)

    @hookimpl
    def g_loss(self, step):
        # D scores the fakes inside a real+fake batch, as in its own update, so a BatchNorm
        # discriminator normalises them with the same kind of batch statistics in both phases.
        labels, n = step.latent["labels"], len(step.real)
        scores = step.discriminator(torch.cat([step.real, step.fake]), torch.cat([step.labels, labels]))
        return logistic_g(scores[n:])

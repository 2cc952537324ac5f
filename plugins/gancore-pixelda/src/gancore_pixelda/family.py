"""The PixelDA family (see the package docstring); kept apart so that installing the distribution's
``mnist-negative`` task (:mod:`gancore_pixelda.tasks`) does not import torch at ``gan --help``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from gancore_translation.domains import SECOND, describe_domains, require_domains
from gancore_translation.generator import Translator
from torch import nn

from gancore import hookimpl
from gancore.declaration import (
    NonNegativeFloat,
    NonNegativeInt,
    Norm,
    PositiveInt,
    declare,
    option,
)
from gancore.errors import PluginError
from gancore.generator import draw
from gancore.losses import logistic_d, logistic_g
from gancore.nets import ConvDiscriminator
from gancore.nets.translation import ConvClassifier, ResidualBlock
from gancore.step import DiscriminatorView


class PixelDAGenerator(Translator):
    """``G(x_s, z)`` and the task classifier ``T`` in one module.

    Its latent carries ``"noise"`` (``U(-1, 1)``; a translation latent without it draws one in
    ``forward``). A training latent of a labelled batch also carries ``"task_labels"``; ``forward`` then
    returns ``{"sample": adapted, "logits": T(adapted), "source_logits": T(source)}``.
    """

    def __init__(self, spec, width: int, blocks: int, noise_dim: int, norm: str, c_width: int, c_norm: str = "layer"):
        super().__init__(describe_domains(spec))
        self.noise_dim, self.size = noise_dim, spec.image_size
        self.noise = nn.Linear(noise_dim, spec.image_size ** 2)
        self.body = nn.Sequential(nn.Conv2d(spec.channels + 1, width, 3, 1, 1), nn.ReLU(True),
                                  *[ResidualBlock(width, norm) for _ in range(blocks)],
                                  nn.Conv2d(width, spec.channels, 3, 1, 1), nn.Tanh())
        self.classifier = ConvClassifier(spec.channels, spec.num_classes, spec.image_size, c_width, norm=c_norm)

    def latent(self, n, labels=None, batch=None, rng=None):
        latent = super().latent(n, labels, batch, rng)
        rows, device = len(latent["source"]), latent["source"].device
        latent["noise"] = draw(torch.rand, (rows, self.noise_dim), rng=rng, device=device) * 2 - 1
        if batch is not None and batch.labels is not None:
            latent["task_labels"] = batch.labels[:rows].to(device)
        return latent

    def adapt(self, source: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        plane = self.noise(noise).view(len(source), 1, self.size, self.size)
        return self.body(torch.cat([source, plane], 1))

    def forward(self, latent):
        source, noise = latent["source"], latent.get("noise")
        if noise is None:
            noise = torch.rand(len(source), self.noise_dim, device=source.device) * 2 - 1
        adapted = self.adapt(source, noise)
        if "task_labels" not in latent:
            return adapted
        return {"sample": adapted, "logits": self.classifier(adapted), "source_logits": self.classifier(source)}


def require_labelled_source(data) -> None:
    require_domains(data, "PixelDA", ("unpaired", "paired"))
    if data.num_classes < 2:
        raise PluginError(f"PixelDA trains a task classifier on the source domain's labels; {data.name!r} has none. "
                          "Use two domains whose first one is labelled (e.g. --data mnist-negative).")


@declare
class PixelDA:
    """Bousmalis et al. 2017: G adapts labelled source images to the target domain; a task classifier learns on them."""

    kind = "family"

    width: PositiveInt = option(64, help="Channels of G's convolutions.")
    blocks: NonNegativeInt = option(6, help="Residual blocks of G (the paper's 6).")
    noise_dim: PositiveInt = option(10, help="Size of the noise vector z.")
    c_width: PositiveInt = option(32, help="Channels of the task classifier's first convolution.")
    c_norm: Norm = option("layer", help="Normalization in the task classifier (per sample: it sees source and "
                                        "adapted images in separate batches, so batch statistics would mix them).")
    d_width: PositiveInt = option(64, help="Channels of the discriminator's first convolution.")
    norm: Norm = option("batch", help="Normalization in G and D.")
    adv: NonNegativeFloat = option(0.013, help="alpha, the weight of the adversarial term.")
    task: NonNegativeFloat = option(0.011, help="beta, the weight of the task classifier's cross-entropy.")

    @hookimpl
    def build_generator(self, data):
        require_labelled_source(data)
        return PixelDAGenerator(data, self.width, self.blocks, self.noise_dim, self.norm, self.c_width, self.c_norm)

    @hookimpl
    def build_discriminator(self, data):
        require_labelled_source(data)
        return ConvDiscriminator(data, self.d_width, norm=self.norm)

    @hookimpl
    def d_loss(self, step):
        real, fake = step.batch.extra[SECOND], step.fake
        step.views = (DiscriminatorView(real=real, fake=fake, score=step.discriminator, parameters=step.D.parameters),)
        return logistic_d(*step.discriminator(torch.cat([real, fake])).split([len(real), len(fake)]))

    @hookimpl
    def g_loss(self, step):
        out, labels = step.outputs, step.latent["task_labels"]
        real = step.batch.extra[SECOND]
        # Scored inside a real+fake batch, as D's update sees them (its BatchNorm statistics).
        scores = step.discriminator(torch.cat([real, out["sample"]]))[len(real):]
        task = F.cross_entropy(out["logits"], labels) + F.cross_entropy(out["source_logits"], labels)
        step.log("task_accuracy", (out["logits"].argmax(1) == labels).float().mean())
        return {"adv": self.adv * logistic_g(scores), "task": self.task * task}


__all__ = ["PixelDA", "PixelDAGenerator", "require_labelled_source"]

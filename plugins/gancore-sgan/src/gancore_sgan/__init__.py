"""Semi-supervised GAN (Odena 2016; Salimans et al. 2016) as a gancore family.

D is a ``K + 1``-way classifier: the ``K`` classes of the real data and
"fake". As in Salimans et al. ("Improved Techniques for Training GANs",
section 5) it outputs ``K`` logits ``l_1 .. l_K`` and the fake class's logit
is fixed at 0, so with ``Z(x) = sum_k exp(l_k(x))``::

    D(x) = P(real | x) = Z(x) / (Z(x) + 1) = sigmoid(logsumexp_k l_k(x))

D minimises ``L_supervised + L_unsupervised`` with::

    L_supervised   = -E_{(x, y) labelled}[log p(y | x, y < K + 1)]      (cross-entropy on the K logits)
    L_unsupervised = -E_x[log D(x)] - E_z[log(1 - D(G(z)))]

i.e. the GAN's logistic loss on the score ``logsumexp_k l_k`` (so every
regularizer sees that score through the discriminator view). G minimises
the non-saturating ``-E_z[log D(G(z))]``, or with
``generator_loss="feature-matching"`` Salimans et al.'s feature matching
``|| E_x f(x) - E_z f(G(z)) ||^2`` on D's features (the layer before its
head).

Labelled examples: ``labels`` of the training data, balanced per class
(``labels // K`` each, the remainder to the first classes): the first ones of
each class the run draws, in the seeded data order (so ``--seed`` fixes
them). D's supervised term each update is on a batch drawn (with replacement,
as large as the real batch) from them, as the papers train on a labelled
batch beside the unlabelled one; the real batch's own labels are never used.
The chosen examples (images and labels) are the family's checkpointed state
(``step.state_for``), so a resumed run keeps them and a benchmark can read
them back. D's ``K``-class head is the classifier: ``D(x).argmax(1)``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from gancore import hookimpl
from gancore.declaration import NonNegativeFloat, Norm, PositiveInt, declare, option
from gancore.errors import PluginError
from gancore.losses import logistic_d, logistic_g
from gancore.nets import ConvDiscriminator, MLPDiscriminator, StandardNetworks, takes_mlp
from gancore.step import DiscriminatorView
from gancore_ema import SMALL_DATA

GENERATOR_LOSSES = ("non-saturating", "feature-matching")

#: Training defaults by data kind (``DataSpec.kind``), see docs/families/sgan.md: the small-data recipe
#: on ring and digits, DCGAN's 28x28 one on larger images (mnist: 0.67x the FID floor, was 9.0x).
DEFAULTS = {
    "vector": SMALL_DATA["vector"],
    "small-image": SMALL_DATA["small-image"],
    "image": SMALL_DATA["image"],
}
#: Option defaults by data kind: two convolutions per resolution on 28x28 and larger (DCGAN's finding).
OPTION_DEFAULTS = {"image": {"depth": 2}}


def real_score(logits: torch.Tensor) -> torch.Tensor:
    """The logit of ``D(x) = Z / (Z + 1)``: ``log Z = logsumexp`` of the ``K`` class logits."""
    return logits.logsumexp(dim=1)


def supervised_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``-E[log p(y | x, y < K + 1)]``: the cross-entropy of the ``K`` logits (the fake class drops out)."""
    return F.cross_entropy(logits, labels)


def unsupervised_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``-E[log D(x)] - E[log(1 - D(G(z)))]`` with ``D = Z / (Z + 1)``."""
    return logistic_d(real_score(real_logits), real_score(fake_logits))


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """Salimans et al.: ``|| E f(x) - E f(G(z)) ||_2^2`` over a batch of each."""
    return (real_features.mean(0) - fake_features.mean(0)).pow(2).sum()


def quotas(labels: int, classes: int) -> list[int]:
    """How many labelled examples each class gets: ``labels // classes``, the remainder to the first."""
    return [labels // classes + (c < labels % classes) for c in range(classes)]


#: Salimans et al.'s MNIST settings (``--preset paper``): 100 labels, G trained by feature matching, Adam
#: lr 3e-4, beta1 0.5, batch 100, no regularizer, no average of G (their MLPs with weight normalization
#: and noise are not gancore's networks).
PAPER = {"lr_g": 3e-4, "lr_d": 3e-4, "betas": (0.5, 0.999), "lr_schedule": "constant", "batch_size": 100,
         "n_critic": 1, "latent_dim": 100, "regularizers": {},
         "options": {"gancore-sgan": {"depth": 1, "labels": 100, "generator_loss": "feature-matching"}}}


@declare
class SGAN(StandardNetworks):
    """Odena 2016 / Salimans et al. 2016: D is a K+1-class classifier (fake logit fixed at 0) trained on
    ``labels`` labelled examples and the unlabelled real batch against G's samples."""

    kind = "family"
    defaults = DEFAULTS
    paper = PAPER
    option_defaults = OPTION_DEFAULTS

    labels: PositiveInt = option(100, help="Labelled examples D's supervised term sees, balanced per class.")
    generator_loss: Literal["non-saturating", "feature-matching"] = option(
        "non-saturating", help="G's loss: the non-saturating one, or Salimans et al.'s feature matching.")
    supervised_weight: NonNegativeFloat = option(1.0, help="Weight of D's supervised (cross-entropy) term.")
    norm: Norm = option("none", help="Normalization in D's convolutions.")

    def _classes(self, data) -> int:
        if data.num_classes < 2:
            raise PluginError(f"gancore-sgan needs labelled data with at least 2 classes; {data.name!r} has "
                              f"{data.num_classes}.")
        if self.labels < data.num_classes:
            raise PluginError(f"gancore-sgan: labels={self.labels} gives some of the {data.num_classes} classes "
                              f"no labelled example; use --set gancore-sgan.labels={data.num_classes} or more.")
        return data.num_classes

    @hookimpl
    def build_discriminator(self, data):
        classes = self._classes(data)
        if takes_mlp(data, self.arch):
            return MLPDiscriminator(data, self.hidden, outputs=classes)
        return ConvDiscriminator(data, self.width, norm=self.norm, outputs=classes, depth=self.depth)

    # -- the labelled examples ----------------------------------------------------------------
    def labelled(self, step) -> tuple[torch.Tensor, torch.Tensor]:
        """The labelled examples chosen so far, ``(x, y)``, topping them up from this step's real batch.

        Until every class has its quota, each real sample of a class short of its quota joins
        unless it is already in (a class with fewer samples than its quota stays short; its
        samples come again in the next epoch).
        """
        state = step.state_for(self)
        if "y" not in state:
            state["x"] = torch.zeros(self.labels, *step.data.shape, device=step.real.device)
            state["y"] = torch.full((self.labels,), -1, dtype=torch.int64, device=step.real.device)
        x, y = state["x"], state["y"]
        if bool((y < 0).any()):
            if step.labels is None:
                raise PluginError("gancore-sgan chooses its labelled examples from the real batch's labels; "
                                  "this data set has none.")
            if step.accelerator is not None and step.accelerator.num_processes > 1:
                raise PluginError("gancore-sgan chooses its labelled examples in one process; train it in one "
                                  "process (several would each choose their own).")
            counts = torch.bincount(y[y >= 0], minlength=step.data.num_classes).tolist()
            limits = quotas(self.labels, step.data.num_classes)
            free = (y < 0).nonzero().flatten().tolist()
            for row, label in enumerate(step.labels.tolist()):
                if free and counts[label] < limits[label] and not self._chosen(x, y, step.real[row], label):
                    slot = free.pop(0)
                    x[slot], y[slot] = step.real[row].detach(), label
                    counts[label] += 1
        chosen = y >= 0
        return x[chosen], y[chosen]

    @staticmethod
    def _chosen(x: torch.Tensor, y: torch.Tensor, sample: torch.Tensor, label: int) -> bool:
        same_class = x[y == label]
        return bool((same_class == sample).flatten(1).all(1).any()) if len(same_class) else False

    # -- losses --------------------------------------------------------------------------------
    @hookimpl
    def d_loss(self, step):
        lab_x, lab_y = self.labelled(step)
        # The supervised batch: as many labelled examples as real samples, drawn with replacement
        # (on the CPU, so the draw is the same on every device and resumes exactly).
        pick = torch.randint(0, len(lab_y), (len(step.real),)).to(lab_y.device)
        lab_x, lab_y = lab_x[pick], lab_y[pick]
        real, fake, D = step.real, step.fake, step.discriminator
        # One pass over the three batches: BatchNorm (if chosen) sees one batch per update.
        logits = D(torch.cat([real, fake, lab_x])).split([len(real), len(fake), len(lab_x)])
        step.views = (DiscriminatorView(real=real, fake=fake, score=lambda x: real_score(D(x)),
                                        parameters=step.D.parameters),)
        with torch.no_grad():
            step.log("d/accuracy_labelled", (logits[2].argmax(1) == lab_y).float().mean())
        return {"unsupervised": unsupervised_loss(logits[0], logits[1]),
                "supervised": self.supervised_weight * supervised_loss(logits[2], lab_y)}

    @hookimpl
    def g_loss(self, step):
        if self.generator_loss == "feature-matching":
            features = step.discriminator.features(torch.cat([step.real, step.fake]))
            real_features, fake_features = features.split([len(step.real), len(step.fake)])
            return {"feature_matching": feature_matching(real_features.detach(), fake_features)}
        return {"non_saturating": logistic_g(real_score(step.fake_scores()))}

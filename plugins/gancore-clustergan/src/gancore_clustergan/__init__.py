"""ClusterGAN (Mukherjee et al., 2019, "ClusterGAN: Latent Space Clustering in Generative Adversarial Networks").

G's latent is a continuous part and a categorical part, ``z = (z_n, z_c)``, ``z_n ~ N(0, sigma^2 I)``
(``sigma`` 0.1) and ``z_c`` one-hot of ``k`` clusters drawn uniformly; G sees their concatenation.
An encoder ``E`` inverts G onto both parts, ``E(x) = (E_n(x), softmax(E_c(x)))``, and is trained
with G (one module, one optimizer) on the cycle losses at generated samples::

    min_{G, E} max_D  adversarial(D, G) + beta_n E||z_n - E_n(G(z))||^2 + beta_c E[CE(E_c(G(z)), z_c)]

(``||.||^2`` summed over the code's dimensions, averaged over the batch). After training,
``argmax E_c(x)`` clusters real data: :meth:`ClusterGenerator.cluster` (``benchmarks/clustering.py``
measures its accuracy on ``mnist`` against k-means on pixels).

The adversarial game is the logistic one with R1 by default (``adversarial="logistic"``, the recipe
the other families here train with); the paper's is WGAN-GP (``adversarial="wasserstein"`` with
``-r gp``). Networks: standard G and D per data kind; E is :class:`gancore.nets.encoder.PartsEncoder`
(convolutions without normalization for images, an MLP for vectors). Training contract as BiGAN's:
the generator module holds G and E; a training latent (drawn with the real batch) makes ``forward``
return ``{"sample": G(z), "zn": E_n(G(z)), "logits": E_c(G(z))}`` from one pass; otherwise it
returns the samples. ``gan sample --traverse cluster`` shows one cluster per column.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from gancore_ema import SMALL_DATA

from gancore import hookimpl
from gancore.declaration import (
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    declare,
    option,
)
from gancore.errors import PluginError
from gancore.generator import Generator, LatentCode, draw
from gancore.losses import logistic_d, logistic_g, wasserstein_d, wasserstein_g
from gancore.nets import StandardNetworks, standard_generator
from gancore.nets.encoder import PartsEncoder

#: Training defaults by data kind: the small-data recipe; on 28x28 images the paper's 30-d z_n,
#: 5,000 steps and lazy R1.
DEFAULTS = {
    "vector": SMALL_DATA["vector"],
    "small-image": {**SMALL_DATA["small-image"], "latent_dim": 30},
    "image": {**SMALL_DATA["small-image"], "latent_dim": 30, "steps": 5000, "options": {"r1": {"every": 16}}},
}
#: Network options by data kind (over StandardNetworks' own).
OPTION_DEFAULTS = {"small-image": {"arch": "mlp", "hidden": 512, "norm": "none"}, "image": {"norm": "none"}}


def cycle_losses(zn: torch.Tensor, cluster: torch.Tensor, zn_hat: torch.Tensor, logits: torch.Tensor,
                 beta_n: float, beta_c: float) -> dict[str, torch.Tensor]:
    """ClusterGAN's cycle terms: ``beta_n * E||z_n - E_n(G(z))||^2`` (summed over dimensions,
    averaged over samples) and ``beta_c * E[CE(E_c(G(z)), z_c)]`` (``cluster`` holds z_c's indices)."""
    return {"cycle_n": beta_n * (zn - zn_hat).pow(2).sum(1).mean(),
            "cycle_c": beta_c * F.cross_entropy(logits, cluster)}


def cluster_accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    """Clustering accuracy: the share of samples whose cluster maps to their label under the best
    one-to-one mapping of clusters to labels (the Hungarian method, ``scipy.optimize.linear_sum_assignment``,
    on the contingency table; clusters left without a label count as wrong)."""
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError:
        raise PluginError("clustering accuracy needs scipy (pip install 'gancore-clustergan[metrics]').") from None
    predicted, labels = predicted.long().flatten(), labels.long().flatten()
    if len(predicted) != len(labels) or not len(labels):
        raise PluginError(f"clustering accuracy needs one cluster per label, got {len(predicted)} and {len(labels)}.")
    table = torch.zeros(int(predicted.max()) + 1, int(labels.max()) + 1, dtype=torch.long)
    table.index_put_((predicted, labels), torch.ones_like(labels), accumulate=True)
    rows, cols = linear_sum_assignment(table.numpy(), maximize=True)
    return float(table[torch.as_tensor(rows), torch.as_tensor(cols)].sum()) / len(labels)


class ClusterGenerator(Generator):
    """G on ``(z_n, one-hot z_c)`` and the encoder E back to both, in one module."""

    def __init__(self, spec, latent_dim: int, clusters: int, sigma: float, network: dict):
        super().__init__(latent_dim)
        self.clusters, self.sigma = int(clusters), float(sigma)
        self.generator = standard_generator(spec, latent_dim + self.clusters, network["width"],
                                            hidden=network["hidden"], arch=network["arch"], depth=network["depth"])
        self.encoder = PartsEncoder(spec, {"zn": latent_dim, "logits": self.clusters}, width=network["width"],
                                    hidden=network["hidden"], norm="none", arch=network["arch"])

    @property
    def latent_codes(self):
        return {"cluster": LatentCode("categorical", self.clusters)}

    def latent(self, n, labels=None, batch=None, rng=None):
        # Unsupervised: labels are never read; the batch only marks a training latent.
        device = self.latent_device()
        latent = {"z": self.sigma * draw(torch.randn, (n, self.latent_dim), rng=rng, device=device),
                  "cluster": draw(torch.randint, 0, self.clusters, (n,), rng=rng, device=device)}
        if batch is not None:
            latent["x"] = batch.x[:n]
        return latent

    def forward(self, latent):
        z = latent["z"]
        sample = self.generator(torch.cat([z, F.one_hot(latent["cluster"], self.clusters).to(z.dtype)], 1))
        if "x" not in latent:
            return sample
        code = self.encoder(sample)
        return {"sample": sample, "zn": code["zn"], "logits": code["logits"]}

    def encode(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"zn": E_n(x), "logits": E_c(x)}`` for samples ``x``."""
        return self.encoder(x)

    @torch.no_grad()
    def cluster(self, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Each sample's cluster, ``argmax E_c(x)`` (``int64``, ``(n,)``)."""
        return torch.cat([self.encoder(part)["logits"].argmax(1) for part in x.split(batch_size)])


@declare
class ClusterGAN(StandardNetworks):
    """Mukherjee et al. 2019: normal + one-hot latent, an encoder inverting G, cycle losses; E clusters data."""

    kind = "family"
    defaults = DEFAULTS
    option_defaults = OPTION_DEFAULTS

    clusters: PositiveInt = option(10, help="k, the categories of the one-hot latent z_c.")
    sigma: PositiveFloat = option(0.1, help="Standard deviation of the normal latent z_n.")
    beta_n: NonNegativeFloat = option(10.0, help="Weight of the cycle loss on z_n.")
    beta_c: NonNegativeFloat = option(10.0, help="Weight of the cycle loss on z_c.")
    adversarial: Literal["logistic", "wasserstein"] = option(
        "logistic", help="The adversarial game: logistic (ours, with R1) or wasserstein (the paper's, with -r gp).")

    @hookimpl
    def build_generator(self, config, data):
        return ClusterGenerator(data, config.latent_dim, self.clusters, self.sigma, self.network(data))

    @hookimpl
    def d_loss(self, step):
        loss = wasserstein_d if self.adversarial == "wasserstein" else logistic_d
        return loss(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        fake = step.fake_scores()
        adversarial = wasserstein_g(fake) if self.adversarial == "wasserstein" else logistic_g(fake)
        latent, outputs = step.latent, step.outputs
        return {"adversarial": adversarial, **cycle_losses(latent["z"], latent["cluster"], outputs["zn"],
                                                          outputs["logits"], self.beta_n, self.beta_c)}

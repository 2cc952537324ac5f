"""Precision/recall and density/coverage: fidelity and diversity as separate numbers.

FID folds sample quality and coverage of the data into one number. These
metrics split them, on the same features as FID (the embedded classifier's on
``digits``/``mnist``, Inception-v3's on other images, the points themselves on
vector data), using k-nearest-neighbour balls around feature vectors:

* **precision / recall** (Kynkäänniemi et al. 2019, "Improved Precision and
  Recall Metric for Assessing Generative Models", k = 3): precision is the share
  of generated samples inside the real manifold (the union of balls around
  each real feature reaching its k-th nearest real neighbour); recall the share
  of real samples inside the generated manifold. Computed by torch-fidelity
  (:func:`torch_fidelity.metric_prc.prc_features_to_metric`).
* **density / coverage** (Naeem et al. 2020, "Reliable Fidelity and Diversity
  Metrics for Generative Models", k = 5): density counts, per generated sample,
  how many real balls hold it, divided by ``k`` and averaged (about 1 when the
  two distributions match, above 1 when samples crowd the real modes);
  coverage is the share of real balls that hold at least one generated sample.
  No maintained library computes them (the authors' ``prdc`` package is
  NumPy-only and unreleased since 2020), so they are computed here, from the
  same ball radii.

Balls are closed (``distance <= radius``), as in torch-fidelity; with
continuous features ties have probability zero. ``gan eval -m pr -m dc`` (and
:func:`gancore.evaluate`) measure them on a generator with FID's features
(:func:`gancore.evaluation.evaluate`).
"""

from __future__ import annotations

import torch

from gancore.errors import ConfigError

PRECISION_K = 3
DENSITY_K = 5
BATCH = 1024


def _matrix(features, name: str) -> torch.Tensor:
    x = torch.as_tensor(features).detach().cpu().double()
    if x.ndim != 2:
        raise ValueError(f"{name} features must be (N, D); got shape {tuple(x.shape)}")
    return x


def _check(fake: torch.Tensor, real: torch.Tensor, k: int, sets: str = "each set") -> None:
    """``sets``: whose neighbours are counted, ``"each set"`` or ``"the real set"``."""
    if fake.shape[1] != real.shape[1]:
        raise ValueError(f"fake and real features differ in size: {fake.shape[1]} vs {real.shape[1]}")
    smallest = min(len(fake), len(real)) if sets == "each set" else len(real)
    if not 1 <= k < smallest or not len(fake):
        raise ValueError(f"k = {k} nearest neighbours need more than k samples in {sets}; got "
                         f"{len(fake)} fake, {len(real)} real")


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of ``x`` to its ``k``-th nearest other row (``(N,)``)."""
    # Each row's distance to itself (0) is the smallest, so the k-th other row is the (k+1)-th value.
    return torch.cat([torch.cdist(part, x).kthvalue(k + 1, dim=1).values for part in x.split(BATCH)])


def precision_recall(fake, real, k: int = PRECISION_K) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of ``fake`` against ``real`` features.

    :param fake, real: ``(N, D)`` feature matrices (tensors or arrays).
    :return: ``{"precision", "recall", "f_score", "k"}``.
    """
    fake, real = _matrix(fake, "fake"), _matrix(real, "real")
    _check(fake, real, k)
    try:
        from torch_fidelity.metric_prc import prc_features_to_metric
    except ImportError:
        raise ConfigError("precision/recall are computed by torch-fidelity: pip install 'gancore[inception]' "
                          "(or pip install torch-fidelity).") from None
    # torch-fidelity's convention: the first set is the generated one.
    out = prc_features_to_metric(fake, real, prc_neighborhood=k, prc_batch_size=BATCH, save_cpu_ram=True,
                                 verbose=False)
    return {"precision": float(out["precision"]), "recall": float(out["recall"]), "f_score": float(out["f_score"]),
            "k": k}


def density_coverage(fake, real, k: int = DENSITY_K) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020) of ``fake`` against ``real`` features.

    ``density = 1/(k M) sum_j sum_i [fake_j in B(real_i, r_i)]``,
    ``coverage = 1/N sum_i [exists j: fake_j in B(real_i, r_i)]``, with ``r_i``
    the distance from ``real_i`` to its ``k``-th nearest real neighbour, ``M``
    fake and ``N`` real samples.

    :return: ``{"density", "coverage", "k"}``.
    """
    fake, real = _matrix(fake, "fake"), _matrix(real, "real")
    _check(fake, real, k, "the real set")
    radii = knn_radii(real, k)
    inside = 0.0
    covered = torch.zeros(len(real), dtype=torch.bool)
    for part in fake.split(BATCH):
        within = torch.cdist(part, real) <= radii  # (batch, N): fake j inside real ball i
        inside += float(within.sum())
        covered |= within.any(dim=0)
    return {"density": inside / (k * len(fake)), "coverage": float(covered.double().mean()), "k": k}


def fidelity(fake, real, precision_k: int = PRECISION_K, density_k: int = DENSITY_K) -> dict[str, float]:
    """All four on the same features: ``precision``, ``recall``, ``f_score``, ``density``, ``coverage``."""
    pr = precision_recall(fake, real, precision_k)
    dc = density_coverage(fake, real, density_k)
    return {"precision": pr["precision"], "recall": pr["recall"], "f_score": pr["f_score"],
            "density": dc["density"], "coverage": dc["coverage"], "precision_k": precision_k, "density_k": density_k}


def subset(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """``x`` itself, or a seeded random ``n`` of its rows when it has more.

    Both papers compare sets of equal size: the k-NN balls shrink as a set grows, so a real
    set far larger than the generated one would lower precision by its size alone.
    """
    if len(x) <= n:
        return x
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]]


__all__ = ["DENSITY_K", "PRECISION_K", "density_coverage", "fidelity", "knn_radii", "precision_recall", "subset"]

"""Offline evaluation: classifier features, Fréchet distance, mode metrics.

Everything here is deterministic and recorded: a number means nothing
without the feature extractor, the real split and the sample counts it was
measured with, so every metric function returns those alongside the value.

**Classifiers for the embedded image data** (``digits``, ``mnist``) are
trained and cached by :mod:`gancore.classifier` (its names are importable
from here too).

**Classifier-FID** is the Fréchet distance between Gaussians fitted to the
classifier's penultimate-layer features (the "Fréchet LeNet distance" used
for MNIST-like data). Its *floor* is the distance between the features of
the classifier's training split and of its held-out split: two real samples
of the same data, so a generator cannot be expected to do much better.

**Mode metrics**: for ``ring``, modes covered and the share of high-quality
samples (within 3 std of a mode); for labelled images, the class histogram of
samples under the classifier (classes covered, KL to uniform) and, for
conditional generators, the classifier's accuracy on samples generated for
requested labels ("GAN-test").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from gancore.classifier import (  # noqa: F401  (re-exported: they were metrics' before)
    CLASSIFIER_DATA, HELD_OUT, RECIPES, SPLIT_SEED, Classifier, ClassifierNet, cache_dir, classifier_path,
    load_classifier, real_split, recipe_hash, recipe_of, train_classifier)


# --- Fréchet distance -----------------------------------------------------------------

def _as64(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=np.float64)


def _clamp(values: np.ndarray) -> np.ndarray:
    """Eigenvalues of a PSD matrix with rounding noise removed.

    Eigenvalues below ``d * eps * max|eigenvalue|`` cannot be told from 0 in
    float64 (and may come out negative); taking their square root would add
    ``sqrt(eps)``-sized garbage, so they are set to 0.
    """
    if values.size == 0:
        return values
    tolerance = values.size * np.finfo(np.float64).eps * np.abs(values).max()
    return np.where(values > tolerance, values, 0.0)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by its eigendecomposition.

    Negligible and (rounding-)negative eigenvalues become 0, so the result is
    real and symmetric even for singular or near-singular matrices.
    """
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(_clamp(values))) @ vectors.T


def trace_sqrt_product(sigma1, sigma2) -> float:
    """``tr(sqrt(sigma1 @ sigma2))`` for covariance matrices, computed stably.

    ``sigma1 @ sigma2`` is not symmetric, and a general matrix square root
    (``scipy.linalg.sqrtm``) goes complex or fails when it is near singular.
    With ``A = sqrt(sigma1)``, ``sigma1 @ sigma2`` is similar to the symmetric
    PSD matrix ``A @ sigma2 @ A``, whose eigenvalues are therefore those of
    the product, so the trace is the sum of their clamped square roots.
    """
    root = _psd_sqrt(_as64(sigma1))
    middle = root @ _as64(sigma2) @ root
    values = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(_clamp(values)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Squared Fréchet (2-Wasserstein) distance between two Gaussians, in float64.

    ``||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrt(sigma1 sigma2))``
    (Dowson & Landau 1982; the FID of Heusel et al. 2017). Inputs may be
    NumPy arrays or tensors; a 0-d or 1-d ``sigma`` of a 1-d mean is not
    accepted: pass ``(D, D)`` matrices.
    """
    mu1, mu2, sigma1, sigma2 = map(_as64, (mu1, mu2, sigma1, sigma2))
    if mu1.ndim != 1 or mu1.shape != mu2.shape or sigma1.shape != (len(mu1),) * 2 or sigma2.shape != sigma1.shape:
        raise ValueError(f"frechet_distance needs means (D,) and covariances (D, D); got {mu1.shape}, "
                         f"{sigma1.shape}, {mu2.shape}, {sigma2.shape}")
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2))
    return max(value, 0.0)  # tiny negative values are rounding


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, ``N - 1``) covariance of ``(N, D)`` features, in float64."""
    x = _as64(features)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"need at least 2 feature vectors of shape (N, D); got {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def fid_from_features(features1, features2) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets."""
    return frechet_distance(*gaussian_stats(features1), *gaussian_stats(features2))


# --- KID and IS (on any features / class probabilities) -----------------------------

def kernel_distance(features1, features2, subsets: int = 100, subset_size: int = 1000, seed: int = 0
                    ) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski et al. 2018) on given features.

    The unbiased estimate of the squared MMD with the cubic polynomial kernel
    ``k(x, y) = (x.y / d + 1)^3``, averaged over ``subsets`` random subsets
    of ``min(subset_size, N1, N2)`` samples drawn without replacement from
    each set (seeded). Returns ``(mean, std)`` over the subsets.
    """
    x, y = _as64(features1), _as64(features2)
    d = x.shape[1]
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise ValueError("kernel_distance needs at least 2 samples in each set")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        values.append(_mmd2_unbiased(a, b, d))
    return float(np.mean(values)), float(np.std(values))


def _mmd2_unbiased(a: np.ndarray, b: np.ndarray, d: int) -> float:
    # torch float64 rather than NumPy: NumPy's BLAS threads thrash on a busy machine.
    a, b = torch.from_numpy(a), torch.from_numpy(b)
    kxx, kyy, kxy = ((a @ a.T) / d + 1) ** 3, ((b @ b.T) / d + 1) ** 3, ((a @ b.T) / d + 1) ** 3
    m = len(a)
    return float((kxx.sum() - kxx.trace()) / (m * (m - 1)) + (kyy.sum() - kyy.trace()) / (m * (m - 1))
                 - 2 * kxy.mean())


def inception_score(probabilities, splits: int = 1) -> tuple[float, float]:
    """Inception Score (Salimans et al. 2016) from class probabilities ``(N, C)``.

    ``exp(E_x KL(p(y|x) || p(y)))`` with ``p(y)`` the mean over each split;
    returns ``(mean, std)`` over ``splits`` consecutive splits. It ranges from
    1 (every sample gets the same distribution) to ``C`` (confident and
    uniform over classes).
    """
    p = _as64(probabilities)
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.where(part > 0,
                      part * (np.log(np.clip(part, 1e-300, None)) - np.log(np.clip(marginal, 1e-300, None))), 0)
        scores.append(math.exp(kl.sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


# --- class and mode metrics ----------------------------------------------------------

def class_histogram(labels, num_classes: int) -> dict[str, Any]:
    """Histogram of predicted labels: counts, classes covered, KL(histogram || uniform).

    A class counts as covered when it receives at least one sample. The KL
    divergence is in nats: 0 for a uniform histogram, ``log C`` when every
    sample falls in one class.
    """
    labels = torch.as_tensor(labels).long().flatten()
    if len(labels) == 0:
        raise ValueError("class_histogram needs at least one label")
    counts = torch.bincount(labels, minlength=num_classes)[:num_classes].double()
    p = counts / counts.sum()
    nonzero = p > 0
    kl = float((p[nonzero] * (p[nonzero] * num_classes).log()).sum())
    return {"counts": [int(c) for c in counts], "classes_covered": int(nonzero.sum()), "kl_uniform": kl}


def gan_test_accuracy(predicted, requested) -> float:
    """"GAN-test" (Shmelkov et al. 2018): the share of samples generated for a
    requested label that the real-data classifier assigns to that label."""
    predicted, requested = torch.as_tensor(predicted).flatten(), torch.as_tensor(requested).flatten()
    if predicted.shape != requested.shape or len(predicted) == 0:
        raise ValueError("gan_test_accuracy needs as many predictions as requested labels (at least one)")
    return float((predicted == requested).double().mean())


def ring_modes_metrics(samples: torch.Tensor) -> dict[str, Any]:
    """Mode metrics of ``ring`` samples ``(N, 2)``.

    ``modes``: of the 8 modes, how many have at least one sample within 3
    std (:data:`gancore.data.RING_STD`) of their centre; ``high_quality``:
    the share of samples within 3 std of some centre;
    ``median_distance_std``: the median distance to the nearest centre, in std.
    """
    from gancore.data import RING_STD, ring_modes

    distances = torch.cdist(samples.detach().float().cpu(), ring_modes())
    near = distances < 3 * RING_STD
    nearest = distances.min(dim=1).values
    return {"modes": int(near.any(dim=0).sum()), "high_quality": float(near.any(dim=1).float().mean()),
            "median_distance_std": float(nearest.median() / RING_STD)}


# --- classifier-FID and its floor --------------------------------------------------------

_REFERENCE: dict[str, dict[str, Any]] = {}


def reference_stats(classifier: Classifier) -> dict[str, Any]:
    """Feature statistics of the real splits under ``classifier``, and the floor.

    :return: ``{"mu", "sigma"}`` of the training split (the reference every
        generator is compared with), ``n_real`` (its size), ``floor``: the
        classifier-FID of the held-out split against it, and ``n_floor``
        (the held-out size).
    """
    key = f"{classifier.name}-{classifier.recipe_hash}"
    if key not in _REFERENCE:
        split = real_split(classifier.name)
        mu, sigma = gaussian_stats(classifier.features(split["train_x"]))
        held_out = classifier.features(split["test_x"])
        floor = frechet_distance(mu, sigma, *gaussian_stats(held_out))
        _REFERENCE[key] = {"mu": mu, "sigma": sigma, "n_real": len(split["train_x"]), "floor": floor,
                           "n_floor": len(held_out)}
    return _REFERENCE[key]


def classifier_fid(classifier: Classifier, samples: torch.Tensor) -> dict[str, Any]:
    """Classifier-FID of ``samples`` against the training split, with the floor.

    :return: ``{"fid", "floor", "ratio", "n_fake", "n_real", "n_floor", "real_split"}``.
    """
    ref = reference_stats(classifier)
    fid = frechet_distance(*gaussian_stats(classifier.features(samples)), ref["mu"], ref["sigma"])
    return {"fid": fid, "floor": ref["floor"], "ratio": fid / ref["floor"] if ref["floor"] > 0 else math.inf,
            "n_fake": len(samples), "n_real": ref["n_real"], "n_floor": ref["n_floor"],
            "real_split": f"{classifier.name} train split ({1 - HELD_OUT:.0%}, seed {SPLIT_SEED}); floor: held-out "
                          f"{HELD_OUT:.0%} vs train"}

"""Offline evaluation: classifier features, Fréchet distance, mode metrics.

Everything here is deterministic and recorded: a number means nothing
without the feature extractor, the real split and the sample counts it was
measured with, so every metric function returns those alongside the value.

**Classifiers for the embedded image data** (``digits``, ``mnist``): a small
CNN trained on a fixed training split with a fixed seed and cached as
safetensors in the user cache directory (``$GANCORE_CACHE``, else
``~/.cache/gancore``), under a name that holds a hash of its whole training
recipe (architecture, optimiser, epochs, seed, split and the data's bytes).
A missing or corrupt file is retrained; a changed recipe gets a new file.
Other code asks for one with :func:`load_classifier` and uses
:class:`Classifier`'s ``logits``/``predict``/``features`` on samples in
``[-1, 1]`` shaped like the data.

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

import hashlib
import json
import math
import os
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

from gancore.errors import ConfigError, DataError

CLASSIFIER_DATA = ("digits", "mnist")
#: Share of each embedded data set held out from the classifier's training.
HELD_OUT = 0.2
SPLIT_SEED = 20240611

# The training recipe of each classifier. Everything that changes the
# trained weights belongs here: it is hashed into the cache file name.
RECIPES: dict[str, dict[str, Any]] = {
    "digits": {"arch": "cnn-v1", "channels": [32, 64], "features": 64, "epochs": 25, "batch_size": 64,
               "lr": 2e-3, "weight_decay": 1e-4, "shift": 1, "seed": 0},
    "mnist": {"arch": "cnn-v1", "channels": [32, 64], "features": 128, "epochs": 12, "batch_size": 64,
              "lr": 2e-3, "weight_decay": 1e-4, "shift": 2, "seed": 0},
}


def cache_dir() -> Path:
    """The user cache directory: ``$GANCORE_CACHE``, else ``~/.cache/gancore``."""
    env = os.environ.get("GANCORE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gancore"


# --- real splits -----------------------------------------------------------------

def real_split(name: str) -> dict[str, torch.Tensor]:
    """The fixed train / held-out split of an embedded labelled image data set.

    :return: ``{"train_x", "train_y", "test_x", "test_y"}``; images are
        ``float32`` in ``[-1, 1]``, labels ``int64``. The split is a seeded
        permutation (seed :data:`SPLIT_SEED`), the same on every machine.
    """
    from gancore.data import load_data

    if name not in CLASSIFIER_DATA:
        raise ConfigError(f"no classifier for data {name!r}: classifier metrics exist for "
                          f"{', '.join(CLASSIFIER_DATA)}; use Inception metrics for other image data.")
    dataset = load_data(name)
    n = len(dataset)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_test = int(round(HELD_OUT * n))
    test, train = order[:n_test], order[n_test:]
    x = dataset.x.float().div(127.5).sub(1.0)
    return {"train_x": x[train], "train_y": dataset.labels[train], "test_x": x[test], "test_y": dataset.labels[test]}


def _data_fingerprint(name: str) -> str:
    from gancore.data import load_data

    dataset = load_data(name)
    digest = hashlib.sha256(dataset.x.contiguous().numpy().tobytes())
    digest.update(dataset.labels.contiguous().numpy().tobytes())
    return digest.hexdigest()


def recipe_of(name: str) -> dict[str, Any]:
    """The full training recipe of ``name``'s classifier, data fingerprint included."""
    if name not in RECIPES:
        raise ConfigError(f"no classifier for data {name!r}: classifier metrics exist for "
                          f"{', '.join(CLASSIFIER_DATA)}.")
    return {"data": name, **RECIPES[name], "split_seed": SPLIT_SEED, "held_out": HELD_OUT,
            "data_sha256": _data_fingerprint(name), "torch_major_minor": ".".join(torch.__version__.split(".")[:2])}


def recipe_hash(recipe: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


# --- the network --------------------------------------------------------------------

class ClassifierNet(nn.Module):
    """Two 3x3 convolution blocks (the second one strided twice on 28x28
    inputs), then a fully connected penultimate layer and a linear head."""

    def __init__(self, shape: tuple[int, ...], num_classes: int, channels: tuple[int, int], features: int):
        super().__init__()
        c, h, _w = shape
        c1, c2 = channels
        layers: list[nn.Module] = []
        if h >= 16:
            # Large inputs: stride down first so training stays cheap on a CPU.
            layers += [nn.Conv2d(c, c1, 3, 2, 1), nn.BatchNorm2d(c1), nn.ReLU(True)]
            h = (h + 1) // 2
        else:
            layers += [nn.Conv2d(c, c1, 3, 1, 1), nn.BatchNorm2d(c1), nn.ReLU(True)]
        layers += [nn.Conv2d(c1, c2, 3, 1, 1), nn.BatchNorm2d(c2), nn.ReLU(True), nn.MaxPool2d(2)]
        h //= 2
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Dropout(0.25), nn.Linear(c2 * h * h, features),
                                  nn.ReLU(True))
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(features, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _build(name: str, recipe: Mapping[str, Any]) -> ClassifierNet:
    shape = {"digits": (1, 8, 8), "mnist": (1, 28, 28)}[name]
    return ClassifierNet(shape, 10, tuple(recipe["channels"]), int(recipe["features"]))


def _shift(x: torch.Tensor, max_shift: int, rng: torch.Generator) -> torch.Tensor:
    """Translate each image by up to ``max_shift`` pixels (background -1 fills in)."""
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (max_shift,) * 4, value=-1.0)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=rng)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=rng)
    rows = (dy[:, None] + torch.arange(h)[None, :])  # (n, h)
    cols = (dx[:, None] + torch.arange(w)[None, :])  # (n, w)
    index = torch.arange(n)[:, None, None]
    return padded[:, 0][index, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


def train_classifier(name: str, recipe: Mapping[str, Any] | None = None,
                     log: Callable[[str], None] | None = None) -> tuple[ClassifierNet, float]:
    """Train ``name``'s classifier from its recipe; returns it (in eval mode) and its held-out accuracy."""
    recipe = dict(recipe or recipe_of(name))
    split = real_split(name)
    torch.manual_seed(int(recipe["seed"]))
    rng = torch.Generator().manual_seed(int(recipe["seed"]))
    net = _build(name, recipe)
    epochs, batch = int(recipe["epochs"]), int(recipe["batch_size"])
    optimizer = torch.optim.AdamW(net.parameters(), lr=float(recipe["lr"]), weight_decay=float(recipe["weight_decay"]))
    x, y = split["train_x"], split["train_y"]
    steps_per_epoch = math.ceil(len(x) / batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=float(recipe["lr"]), epochs=epochs,
                                                   steps_per_epoch=steps_per_epoch)
    net.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=rng)
        for start in range(0, len(x), batch):
            index = order[start:start + batch]
            inputs = _shift(x[index], int(recipe["shift"]), rng)
            loss = nn.functional.cross_entropy(net(inputs), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        if log is not None:
            log(f"classifier {name}: epoch {epoch + 1}/{epochs}, loss {loss.item():.4f}")
    net.eval()
    with torch.no_grad():
        accuracy = float((_batched(net, split["test_x"]).argmax(1) == split["test_y"]).float().mean())
    return net, accuracy


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, size: int = 1000) -> torch.Tensor:
    return torch.cat([fn(x[i:i + size]) for i in range(0, len(x), size)]) if len(x) else fn(x)


class Classifier:
    """A trained classifier for one embedded data set.

    All methods take samples shaped like the data spec (``(N, 1, 8, 8)`` for
    ``digits``, ``(N, 1, 28, 28)`` for ``mnist``) with values in ``[-1, 1]``,
    on any device (they are moved to the CPU), and work in batches without
    gradients.

    :ivar name: the data set's name.
    :ivar accuracy: test accuracy on the held-out split, measured after training.
    :ivar recipe: the training recipe; :ivar recipe_hash: its hash (the cache key).
    :ivar path: the safetensors file it was loaded from.
    """

    def __init__(self, name: str, net: ClassifierNet, accuracy: float, recipe: Mapping[str, Any], path: Path):
        self.name, self.net, self.accuracy = name, net.eval(), float(accuracy)
        self.recipe, self.recipe_hash, self.path = dict(recipe), recipe_hash(recipe), path
        self.shape = {"digits": (1, 8, 8), "mnist": (1, 28, 28)}[name]

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.shape:
            raise DataError(f"the {self.name} classifier takes samples of shape {self.shape}; got "
                            f"{tuple(x.shape[1:])}.")
        return x.detach().float().cpu()

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores, ``(N, 10)``."""
        return _batched(self.net, self._check(x))

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted labels, ``(N,)`` ``int64``."""
        return self.logits(x).argmax(dim=1)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer activations, ``(N, F)``: the space classifier-FID is measured in."""
        return _batched(self.net.body, self._check(x))

    @property
    def feature_dim(self) -> int:
        return int(self.recipe["features"])

    def describe(self) -> dict[str, Any]:
        """Provenance for reports: what this feature extractor is."""
        return {"name": f"classifier-{self.name}", "recipe_hash": self.recipe_hash, "test_accuracy": self.accuracy,
                "feature_dim": self.feature_dim, "path": str(self.path)}


def classifier_path(name: str, digest: str) -> Path:
    return cache_dir() / "classifiers" / f"{name}-{digest}.safetensors"


def _read_cached(name: str, recipe: Mapping[str, Any], path: Path) -> Classifier | None:
    """The cached classifier, or ``None`` when the file is missing, corrupt or not this recipe."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        if json.loads(meta.get("recipe", "null")) != json.loads(json.dumps(dict(recipe))):
            return None
        net = _build(name, recipe)
        net.load_state_dict(tensors, strict=True)
        accuracy = float(meta["accuracy"])
    except Exception:  # any damage means "retrain": the file is only a cache
        return None
    return Classifier(name, net, accuracy, recipe, path)


def _write_cached(net: ClassifierNet, accuracy: float, recipe: Mapping[str, Any], path: Path) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tensors = {key: value.detach().cpu().contiguous() for key, value in net.state_dict().items()}
    try:
        save_file(tensors, str(tmp), metadata={"recipe": json.dumps(dict(recipe), sort_keys=True),
                                               "accuracy": repr(float(accuracy))})
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


_LOADED: dict[tuple[str, str], Classifier] = {}


def load_classifier(name: str, log: Callable[[str], None] | None = None) -> Classifier:
    """The classifier for embedded data set ``name`` (``digits`` or ``mnist``).

    Read from the cache when a valid file for the current recipe is there;
    otherwise trained (a few seconds to a minute on a CPU) and cached. The
    result is also kept in memory for the life of the process.
    """
    recipe = recipe_of(name)
    digest = recipe_hash(recipe)
    path = classifier_path(name, digest)
    key = (str(path), digest)
    if key in _LOADED and path.is_file():
        return _LOADED[key]
    classifier = _read_cached(name, recipe, path)
    if classifier is None:
        net, accuracy = train_classifier(name, recipe, log)
        try:
            _write_cached(net, accuracy, recipe, path)
        except OSError as exc:
            if log is not None:
                log(f"could not cache the {name} classifier at {str(path)!r}: {exc.strerror}")
        classifier = Classifier(name, net, accuracy, recipe, path)
    _LOADED[key] = classifier
    return classifier



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
        kl = np.where(part > 0, part * (np.log(np.clip(part, 1e-300, None)) - np.log(np.clip(marginal, 1e-300, None))), 0)
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

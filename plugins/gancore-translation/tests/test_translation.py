"""Translation data (paired, unpaired, multi-domain), the Translator protocol, image-to-image nets."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from gancore_translation.domains import (
    SECOND,
    STYLES,
    dilate,
    edges,
    erode,
    mnist_digits,
    mnist_task,
    rotate,
    style,
)
from gancore_translation.generator import Translator
from gancore_translation.nets import (
    PatchDiscriminator,
    PerDomainDiscriminator,
    PerTargetTranslator,
    ResnetGenerator,
    UNet,
    patch_layers,
    patch_receptive_field,
)
from PIL import Image

import gancore.data
from gancore.data import Batch
from gancore.errors import ConfigError, DataError
from gancore.installed import installed_data

#: The data loader as a run calls it: with the readers the installed plugins (this one) register.
load_data = functools.partial(gancore.data.load_data, readers=installed_data)


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_transforms_by_hand():
    x = torch.zeros(1, 1, 5, 5, dtype=torch.uint8)
    x[0, 0, 2, 2] = 200
    assert dilate(x)[0, 0, 1:4, 1:4].eq(200).all() and dilate(x).sum() == 9 * 200
    assert erode(x).sum() == 0
    assert torch.equal(edges(x), dilate(x))  # erosion of a single pixel is empty
    y = torch.arange(4, dtype=torch.uint8).view(1, 1, 2, 2)  # [[0, 1], [2, 3]]
    assert rotate(y, 1)[0, 0].tolist() == [[1, 3], [0, 2]]  # 90 degrees counter-clockwise
    assert torch.equal(rotate(rotate(y, 1), 3), y)


def test_embedded_paired_task_really_pairs():
    data = load_data("mnist-edges")
    assert data.spec.pairing == "paired" and data.spec.domains == ("digit", "edges") and len(data) == 4500
    rows = torch.tensor([7, 3, 4000])
    batch = data.batch(rows)
    digits, _ = mnist_digits("train")
    # Each target is the edge map of exactly its own source, and of no other row of the batch.
    expected = edges(digits[rows]).float() / 127.5 - 1
    assert torch.allclose(batch.extra[SECOND], expected) and torch.allclose(batch.x, digits[rows].float() / 127.5 - 1)
    assert not torch.allclose(batch.extra[SECOND][0], batch.extra[SECOND][1])


def test_held_out_split_is_disjoint_from_training():
    train, _ = mnist_digits("train")
    test, labels = mnist_digits("test")
    assert len(train) == 4500 and len(test) == 500 and len(labels) == 500
    flat_train = {bytes(row.numpy().tobytes()) for row in train.flatten(1)}
    assert sum(bytes(row.numpy().tobytes()) in flat_train for row in test.flatten(1)) <= 2  # MNIST duplicates


def test_unpaired_task_draws_the_second_domain_independently():
    data = load_data("mnist-thick")
    assert data.spec.pairing == "unpaired" and len(data) == 2250
    rows = torch.arange(8)
    torch.manual_seed(0)
    first = data.batch(rows).extra[SECOND]
    second = data.batch(rows).extra[SECOND]
    assert not torch.equal(first, second)  # same x rows, other B images
    torch.manual_seed(0)
    assert torch.equal(data.batch(rows).extra[SECOND], first)  # the global (checkpointed) RNG decides
    thin = data.batch(rows).x
    assert not torch.allclose(dilate(((thin + 1) * 127.5).round().to(torch.uint8)).float() / 127.5 - 1,
                              data.batch(rows).extra[SECOND])


def test_rotation_task_labels_are_the_rotation():
    data, digits = mnist_task("mnist-rotations")
    upright, same = mnist_digits("train")
    assert torch.equal(digits, same) and data.spec.class_names == ("rot0", "rot90", "rot180", "rot270")
    for i in range(8):
        assert torch.equal(data.x[i], rotate(upright[i:i + 1], int(data.labels[i]))[0])


def test_style_task_draws_each_digit_in_one_local_style():
    x = torch.zeros(1, 1, 5, 5, dtype=torch.uint8)
    x[0, 0, 2, 2] = 200
    four = x.expand(4, -1, -1, -1)
    out = style(four, torch.arange(4))
    assert torch.equal(out[0], x[0])  # plain
    assert out[1].sum() == 9 * 200 and out[1, 0, 1:4, 1:4].eq(200).all()  # thick: 3x3 dilation
    assert torch.equal(out[2], out[1])  # edges of one pixel: its dilation (the erosion is empty)
    assert out[3, 0, 2, 2] == 55 and out[3, 0, 0, 0] == 255  # inverted: 255 - x
    data, digits = load_data("mnist-styles"), mnist_task("mnist-styles")[1]
    upright, same = mnist_digits("train")
    assert torch.equal(digits, same) and data.spec.class_names == STYLES == ("plain", "thick", "edges", "inverted")
    assert data.labels[:8].tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    for i in range(8):
        expected = style(upright[i:i + 1], int(data.labels[i])).float() / 127.5 - 1
        assert torch.allclose(data.batch(torch.tensor([i])).x, expected)


def test_paired_folders_pair_by_file_name(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("c.png", "a.png", "b.png"):
        image = rng.integers(0, 255, (8, 8), dtype=np.uint8)
        _save(tmp_path / "A" / name, image)
        _save(tmp_path / "B" / name, 255 - image)  # B is A inverted, file by file
    data = load_data(str(tmp_path))
    assert data.spec.pairing == "paired" and data.spec.domains == ("A", "B") and len(data) == 3
    batch = data.batch(torch.tensor([2, 0, 1]))
    assert torch.allclose(batch.x, -batch.extra[SECOND], atol=1e-6)


def test_side_by_side_images_split_into_pairs(tmp_path):
    for i in range(3):
        left = np.full((8, 8), 10 * i, dtype=np.uint8)
        _save(tmp_path / f"{i}.png", np.concatenate([left, left + 100], axis=1))
    data = load_data(str(tmp_path), layout="side-by-side")
    assert data.spec.shape == (1, 8, 8) and data.spec.pairing == "paired"
    assert torch.equal(data.extra[SECOND].int() - data.x.int(), torch.full((3, 1, 8, 8), 100, dtype=torch.int32))
    resized = load_data(str(tmp_path), layout="side-by-side", image_size=4)
    assert resized.spec.shape == (1, 4, 4) and resized.extra[SECOND].shape == (3, 1, 4, 4)
    _save(tmp_path / "square" / "x.png", np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(DataError, match="twice as wide"):
        load_data(str(tmp_path / "square"), layout="side-by-side")


def test_unpaired_folders_and_layout_errors(tmp_path):
    for i in range(3):
        _save(tmp_path / "trainA" / f"a{i}.png", np.zeros((8, 8), dtype=np.uint8))
    for i in range(5):
        _save(tmp_path / "trainB" / f"b{i}.png", np.full((8, 8, 3), 255, dtype=np.uint8))
    data = load_data(str(tmp_path))
    assert data.spec.pairing == "unpaired" and data.spec.domains == ("trainA", "trainB")
    assert data.spec.shape == (3, 8, 8) and len(data) == 3 and len(data.unpaired[SECOND]) == 5
    with pytest.raises(DataError, match="same file names"):
        load_data(str(tmp_path), layout="paired")
    with pytest.raises(DataError, match="channel"):  # as classes, one mode is needed for every image
        load_data(str(tmp_path), layout="classes")
    with pytest.raises(DataError, match="unknown layout"):
        load_data(str(tmp_path), layout="diagonal")
    with pytest.raises(DataError, match="image folder"):
        load_data("mnist", layout="paired")


def test_two_domain_folders_are_held_in_memory(tmp_path, monkeypatch):
    import gancore.data.stream
    from gancore.data import Dataset

    for side in ("A", "B"):
        for i in range(3):
            _save(tmp_path / "pairs" / side / f"{i}.png", np.zeros((8, 8), dtype=np.uint8))
    monkeypatch.setattr(gancore.data.stream, "STREAM_ABOVE_BYTES", 0)  # a single-domain folder would stream
    assert isinstance(load_data(str(tmp_path / "pairs")), Dataset)
    with pytest.raises(DataError, match="single-domain.*domains A and B"):
        load_data(str(tmp_path / "pairs"), mode="stream")
    with pytest.raises(DataError, match="side-by-side"):
        load_data(str(tmp_path / "pairs" / "A"), layout="side-by-side", mode="stream")


def test_translator_latent_from_two_domain_and_multi_domain_batches():
    x, b = torch.zeros(4, 1, 8, 8), torch.ones(4, 1, 8, 8)
    one_way = Translator(("a", "b"))
    latent = one_way.latent(4, batch=Batch(x, extra={SECOND: b}))
    assert torch.equal(latent["source"], x) and latent["target"].tolist() == [1] * 4
    both = Translator(("a", "b"), both_ways=True)
    latent = both.latent(3, batch=Batch(x, extra={SECOND: b}))
    assert torch.equal(latent["source"], torch.cat([x[:3], b[:3]]))
    assert latent["source_domain"].tolist() == [0, 0, 0, 1, 1, 1] and latent["target"].tolist() == [1, 1, 1, 0, 0, 0]
    multi = Translator(("r0", "r1", "r2"), choose_target=True)
    assert multi.conditional and multi.num_classes == 3
    labels = torch.tensor([0, 2, 1, 1])
    latent = multi.latent(4, batch=Batch(x, labels), rng=torch.Generator().manual_seed(1))
    assert latent["source_domain"].tolist() == labels.tolist() and latent["target"].max() < 3
    assert multi.latent(4, labels=torch.tensor([2, 2, 0, 1]), batch=Batch(x, labels))["target"].tolist() == [2, 2, 0, 1]
    with pytest.raises(ConfigError, match="gan translate"):
        multi.latent(4)
    with pytest.raises(DataError, match="two-domain"):
        multi.latent(4, batch=Batch(x))
    assert one_way.allowed_targets() == (1,) and both.allowed_targets() == (0, 1)
    assert multi.allowed_targets() == (0, 1, 2)


def test_per_target_translator_routes_each_sample_to_its_network():
    class Add(torch.nn.Module):
        def __init__(self, value):
            super().__init__()
            self.value = torch.nn.Parameter(torch.tensor(float(value)))

        def forward(self, x):
            return x + self.value

    G = PerTargetTranslator(("a", "b"), [Add(-10), Add(10)])
    source = torch.arange(4.0).view(4, 1, 1, 1)
    out = G({"source": source, "target": torch.tensor([1, 0, 0, 1])})
    assert out.flatten().tolist() == [10.0, -9.0, -8.0, 13.0]
    out.sum().backward()
    assert G.nets[0].value.grad == 2 and G.nets[1].value.grad == 2
    D = PerDomainDiscriminator([Add(1), Add(2)])
    assert D(torch.zeros(1), 1).item() == 2


@pytest.mark.parametrize("size", [8, 28, 32])
def test_image_to_image_nets_keep_the_image_size(size):
    x = torch.randn(2, 3, size, size)
    assert UNet(3, 1, size, width=4)(x).shape == (2, 1, size, size)
    assert UNet(3, 3, size, width=4, skips=False)(x).shape == (2, 3, size, size)
    assert ResnetGenerator(3, 3, size, width=4, blocks=1, mix=8)(x).shape == (2, 3, size, size)
    scores = PatchDiscriminator(3, size, width=4)(x)
    assert scores.dim() == 4 and scores.shape[:2] == (2, 1)


def test_unet_reaches_a_one_pixel_bottleneck_and_skips_matter():
    net = UNet(1, 1, 28, width=4)
    assert net.depth == 5  # 28 is padded to 32 = 2**5
    x = torch.randn(1, 1, 28, 28, requires_grad=True)
    net.eval()
    net(x)[0, 0, 0, 0].backward()
    assert x.grad[0, 0, -1, -1] != 0  # the corner output sees the whole image through the bottleneck


def test_patchgan_is_scaled_to_the_image():
    assert patch_receptive_field(3) == 70 and patch_receptive_field(1) == 16
    assert patch_layers(256) == 3 and patch_layers(128) == 2 and patch_layers(28) == 1

"""`gan sample --format png|npz`, `--interpolate`, `--truncation`; gancore.samples by hand."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gancore
from gancore import samples as S
from gancore.data import DataSpec
from gancore.errors import ConfigError
from gancore.testing import run_cli

TRAIN = ["--steps", 1, "--batch-size", 8, "--grid-size", 4, "--log-every", 1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    for name, args in {"cgan": ["--plugin", "gancore-cgan", "--data", "digits"],
                       "ring": ["--plugin", "gancore-gan", "--data", "ring"],
                       "style": ["--plugin", "gancore-stylegan2", "--data", "digits", "-s", "gancore-stylegan2.width=4",
                                 "-s", "gancore-stylegan2.most=8", "-s", "gancore-stylegan2.w_dim=8",
                                 "-s", "gancore-stylegan2.mapping_layers=2"]}.items():
        result = run_cli("train", *args, *TRAIN, "--out", root, "--name", name)
        assert result.exit_code == 0, result.output
    return {name: root / name for name in ("cgan", "ring", "style")}


def test_uint8_rounding_by_hand():
    x = torch.tensor([-1.0, -0.5, 0.0, 0.999, 1.0, 2.0]).reshape(1, 1, 1, 6)
    # (x + 1) / 2 * 255 + 0.5, truncated: 0.5 -> 0, 64.25 -> 64, 128.0 -> 128, 255.37 -> 255, 255.5 -> 255, clamp
    assert S.to_uint8(x).reshape(-1).tolist() == [0, 64, 128, 255, 255, 255]


def test_lerp_and_slerp_by_hand():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    half = torch.tensor([0.5])
    assert S.lerp(a, b, half).tolist() == [[0.5, 0.5]]
    assert S.slerp(a, b, half)[0].tolist() == pytest.approx([math.sqrt(0.5), math.sqrt(0.5)])
    # a third of the way along the quarter circle: (cos 30deg, sin 30deg)
    assert S.slerp(a, b, torch.tensor([1 / 3]))[0].tolist() == pytest.approx([math.sqrt(3) / 2, 0.5])
    assert S.slerp(2 * a, 2 * b, half).norm().item() == pytest.approx(2.0)  # stays on the sphere
    # Parallel rows (no angle to turn through) fall back to lerp.
    assert S.slerp(a, 3 * a, half)[0].tolist() == pytest.approx([2.0, 0.0])


class _Conditional(torch.nn.Module):
    conditional, num_classes = True, 3

    def latent(self, n, labels=None, batch=None, rng=None):
        z = torch.randn(n, 4, generator=rng)
        drawn = torch.randint(0, 3, (n,), generator=rng) if labels is None else labels
        return {"z": z, "labels": drawn}


def test_a_walk_interpolates_noise_and_keeps_labels():
    g = _Conditional()
    latent = S.walk_latent(g, 2, 5, "lerp", rng=torch.Generator().manual_seed(0))
    rng = torch.Generator().manual_seed(0)
    start, end = g.latent(2, rng=rng), g.latent(2, rng=rng)
    assert latent["z"].shape == (10, 4)
    assert torch.equal(latent["z"][0], start["z"][0]) and torch.allclose(latent["z"][4], end["z"][0])
    assert torch.allclose(latent["z"][2], (start["z"][0] + end["z"][0]) / 2)
    assert latent["labels"].tolist() == [start["labels"][0].item()] * 5 + [start["labels"][1].item()] * 5
    with pytest.raises(ConfigError, match="use one of lerp, slerp"):
        S.walk_latent(g, 2, 5, "cubic")


def test_npz_and_png_writers_stream_in_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "BATCH", 4)
    spec = DataSpec("x", (3, 2, 2))
    calls = []

    def draw(start, count):
        calls.append((start, count))
        return torch.linspace(-1, 1, count * 12).reshape(count, 3, 2, 2) * 0 + (start / 10 - 1)

    S.write_npz(tmp_path / "a.npz", draw, 10, spec, labels=lambda: torch.arange(10) % 3)
    assert calls == [(0, 4), (4, 4), (8, 2)]  # one batch in memory at a time
    data = np.load(tmp_path / "a.npz")
    assert data["x"].shape == (10, 2, 2, 3) and data["x"].dtype == np.uint8
    assert data["x"][:, 0, 0, 0].tolist() == [0] * 4 + [51] * 4 + [102] * 2   # -1, -0.6, -0.2 -> uint8
    assert data["labels"].tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
    S.write_png_folder(tmp_path / "png", draw, 10, spec, labels=torch.arange(10) % 3)
    files = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert files == [f"{i:06d}.png" for i in range(10)] + ["labels.csv"]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "png" / "000005.png")), data["x"][5])
    rows = list(csv.reader((tmp_path / "png" / "labels.csv").open()))
    assert rows[0] == ["file", "label", "class"] and rows[3] == ["000002.png", "2", ""]
    with pytest.raises(ConfigError, match="not an empty folder"):
        S.write_png_folder(tmp_path / "png", draw, 1, spec)
    with pytest.raises(ConfigError, match="use --format npz"):
        S.write_png_folder(tmp_path / "points", draw, 1, DataSpec("ring", (2,)))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_gan_sample_npz_png_and_the_python_api_agree(runs, tmp_path):
    result = run_cli("sample", runs["cgan"], "--format", "npz", "-n", 12, "--seed", 3, "-o", tmp_path / "s.npz")
    assert result.exit_code == 0, result.output
    data = np.load(tmp_path / "s.npz")
    assert data["x"].shape == (12, 8, 8, 1) and data["labels"].shape == (12,)
    expected = gancore.load(runs["cgan"]).sample(12, seed=3)
    assert np.array_equal(data["x"], S.to_uint8(expected))
    result = run_cli("sample", runs["cgan"], "--format", "png", "-n", 12, "--seed", 3, "-o", tmp_path / "png")
    assert result.exit_code == 0, result.output
    assert np.array_equal(np.asarray(Image.open(tmp_path / "png" / "000007.png")), data["x"][7, :, :, 0])
    labels = [int(row["label"]) for row in csv.DictReader((tmp_path / "png" / "labels.csv").open())]
    assert labels == data["labels"].tolist()
    # One class for all, as a label index.
    result = run_cli("sample", runs["cgan"], "--format", "npz", "-n", 4, "--label", 7, "-o", tmp_path / "l.npz")
    assert result.exit_code == 0 and np.load(tmp_path / "l.npz")["labels"].tolist() == [7] * 4
    result = run_cli("sample", runs["ring"], "--format", "npz", "-n", 5, "-o", tmp_path / "r.npz")
    assert result.exit_code == 0, result.output
    ring = np.load(tmp_path / "r.npz")
    assert ring["x"].dtype == np.float32 and "labels" not in ring
    assert np.allclose(ring["x"], gancore.load(runs["ring"]).sample(5, seed=0).numpy())


def test_gan_sample_interpolate_writes_a_grid_and_a_gif(runs, tmp_path):
    result = run_cli("sample", runs["cgan"], "--interpolate", "slerp", "-n", 12, "--walk-steps", 4,
                     "-o", tmp_path / "walk.png")
    assert result.exit_code == 0, result.output
    grid = Image.open(tmp_path / "walk.png")
    cell = (grid.size[0] - 1) // 4
    assert grid.size == (4 * cell + 1, 3 * cell + 1)  # 3 walks (rows) of 4 steps (columns)
    gif = Image.open(tmp_path / "walk.gif")
    assert gif.n_frames == 2 * 4 - 2  # there and back
    result = run_cli("sample", runs["cgan"], "--interpolate", "lerp", "--format", "npz")
    assert result.exit_code == 1 and "--interpolate draws a grid and a GIF" in result.output


def test_truncation_where_the_generator_supports_it(runs, tmp_path):
    g = gancore.load(runs["style"])
    plain, half, none = g.sample(6, seed=1), g.sample(6, seed=1, truncation=0.5), g.sample(6, seed=1, truncation=1)
    assert torch.equal(none, plain) and not torch.equal(half, plain)
    zero = g.sample(6, seed=1, truncation=0.0)
    assert torch.allclose(zero, zero[:1].expand_as(zero), atol=1e-6)
    result = run_cli("sample", runs["style"], "--truncation", 0.5, "--format", "npz", "-n", 6, "--seed", 1,
                     "-o", tmp_path / "t.npz")
    assert result.exit_code == 0, result.output
    assert np.array_equal(np.load(tmp_path / "t.npz")["x"], S.to_uint8(half))
    result = run_cli("sample", runs["cgan"], "--truncation", 0.7)
    assert result.exit_code == 1 and "does not support the truncation trick" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(ConfigError, match="does not support the truncation trick"):
        gancore.load(runs["cgan"]).sample(2, truncation=0.5)
    with pytest.raises(ConfigError, match="bad truncation psi"):
        g.sample(2, truncation=float("nan"))

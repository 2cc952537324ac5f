"""CycleGAN: the image pool, losses by hand, CLI runs on mnist-thick and on unpaired folders, checkpointed pool."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from gancore_cyclegan import CycleGAN, query_pool
from PIL import Image

from gancore.checkpoint import load_checkpoint
from gancore.cli import main
from gancore.data import Batch
from gancore_translation.nets import PerDomainDiscriminator

TINY = ["--set", "gancore-cyclegan.width=4", "--set", "gancore-cyclegan.blocks=1",
        "--set", "gancore-cyclegan.d_width=4"]


def _images(*values):
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1)


def test_pool_fills_then_swaps_half_the_time():
    state = {}
    out = query_pool(state, "b", _images(1, 2, 3), capacity=4)
    assert out.flatten().tolist() == [1, 2, 3] and state["b"].flatten().tolist() == [1, 2, 3]
    torch.manual_seed(0)
    out = query_pool(state, "b", _images(4, 5, 6, 7, 8, 9, 10, 11), capacity=4)
    # 4 fills the pool and comes back as it is; afterwards each image is returned as it is or swapped
    # for a pooled one, which it then replaces.
    assert out[0].item() == 4 and len(state["b"]) == 4
    returned, new = out.flatten().tolist()[1:], list(range(5, 12))
    pool = state["b"].flatten().tolist()
    for r, n in zip(returned, new):
        assert r <= n  # the new image itself, or one that arrived before it
    assert sorted(pool + returned) == sorted([1, 2, 3, 4] + new)  # nothing lost, nothing duplicated
    torch.manual_seed(0)
    replay = {"b": _images(1, 2, 3)}
    assert torch.equal(query_pool(replay, "b", _images(4, 5, 6, 7, 8, 9, 10, 11), capacity=4), out)


def test_pool_returns_new_images_half_the_time_once_full():
    torch.manual_seed(1)
    state = {}
    query_pool(state, "a", torch.arange(50.0).view(-1, 1, 1, 1), capacity=50)
    new = torch.arange(50.0, 2050.0)
    out = query_pool(state, "a", new.view(-1, 1, 1, 1), capacity=50).flatten()
    assert 0.45 < (out == new).float().mean().item() < 0.55
    assert len(state["a"]) == 50


def test_pool_of_size_zero_passes_images_through():
    state = {}
    images = _images(1, 2)
    assert torch.equal(query_pool(state, "a", images, capacity=0), images) and state == {}


def test_pool_stores_detached_copies():
    state = {}
    images = _images(1, 2).requires_grad_(True) * 2
    query_pool(state, "a", images, capacity=5)
    assert not state["a"].requires_grad


class _Step:
    """Scripted networks: D_A(x) = mean(x), D_B(x) = mean(x) + 1 per sample; G(x) = x / 2 (both ways)."""

    def __init__(self, family):
        self.family = family
        self.a, self.b = _images(1.0, 0.0), _images(-1.0, 0.5)
        self.batch = Batch(self.a, extra={"b": self.b})
        self.latent = {"source": torch.cat([self.a, self.b]), "source_domain": torch.tensor([0, 0, 1, 1]),
                       "target": torch.tensor([1, 1, 0, 0])}
        self.fake = self.generator(self.latent)
        self.state, self.views = {}, None
        self.D = PerDomainDiscriminator([torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)])

    def discriminator(self, x, domain):
        return x.mean((1, 2, 3)) + domain

    def generator(self, latent):
        return latent["source"] / 2

    def state_for(self, plugin):
        assert plugin is self.family
        return self.state


def test_losses_by_hand():
    family = CycleGAN(pool=0)
    step = _Step(family)
    # fake_b = a/2 = [0.5, 0], fake_a = b/2 = [-0.5, 0.25]
    d = family.d_loss(step=step)
    # D_A: real a scores [1, 0], fake_a scores [-0.5, 0.25]: 1/2 [ mean((s-1)^2) + mean(s^2) ]
    assert d["d_a"].item() == pytest.approx(0.5 * ((0 + 1) / 2 + (0.25 + 0.0625) / 2))
    # D_B: real b scores [0, 1.5], fake_b scores [1.5, 1]
    assert d["d_b"].item() == pytest.approx(0.5 * ((1 + 0.25) / 2 + (2.25 + 1) / 2))
    g = family.g_loss(step=step)
    # adversarial: D_B(fake_b) = [1.5, 1] -> mean((s-1)^2) = 0.125; D_A(fake_a) = [-0.5, 0.25] -> (2.25 + 0.5625)/2
    assert g["adv"].item() == pytest.approx(0.125 + 1.40625)
    # cycle: G(G(x)) = x/4, per-direction mean |x/4 - x|: a -> 0.75 * mean(1, 0), b -> 0.75 * mean(1, 0.5)
    assert g["cycle"].item() == pytest.approx(10 * (0.375 + 0.5625))
    # identity: G(x) = x/2 into its own domain: 0.5 * mean|x| per direction, times 0.5 * lambda
    assert g["identity"].item() == pytest.approx(5 * (0.25 + 0.375))
    assert [v.name for v in step.views] == ["d_a", "d_b"]
    assert step.views[1].score(step.b).tolist() == [0.0, 1.5]


def test_d_sees_pooled_fakes():
    family = CycleGAN(pool=50)
    step = _Step(family)
    family.d_loss(step=step)
    assert step.state["b"].flatten().tolist() == [0.5, 0.0] and step.state["a"].flatten().tolist() == [-0.5, 0.25]


def _train(tmp_path, *args):
    result = CliRunner().invoke(main, ["train", "-p", "gancore-cyclegan", *TINY, "--steps", "2", "--batch-size", "4",
                                       "--out", str(tmp_path), "--log-every", "1", "--grid-size", "4", *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_trains_on_mnist_thick_and_checkpoints_the_pool(tmp_path):
    _train(tmp_path, "--data", "mnist-thick", "--name", "thick", "-r", "gp")
    row = json.loads((tmp_path / "thick" / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"d/d_a", "d/d_b", "d/gp_d_a", "d/gp_d_b", "g/adv", "g/cycle", "g/identity"} <= set(row)
    pool = load_checkpoint(tmp_path / "thick" / "checkpoints" / "step-000002").state["plugins"]["gancore-cyclegan"]
    assert pool["a"].shape == (8, 1, 28, 28) and pool["b"].shape == (8, 1, 28, 28)  # 2 steps x 4 fakes


def test_trains_on_unpaired_folders_and_translates_both_ways(tmp_path):
    for i in range(5):
        (tmp_path / "data" / "A").mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / "B").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8), 20 * i, dtype=np.uint8)).save(tmp_path / "data" / "A" / f"a{i}.png")
        Image.fromarray(np.full((8, 8), 200 - 20 * i, dtype=np.uint8)).save(tmp_path / "data" / "B" / f"b{i}.png")
    result = _train(tmp_path, "--data", str(tmp_path / "data"), "--name", "folder")
    assert "(5 samples)" in result.output
    for to, name in (("B", "a0.png"), ("A", "b0.png")):
        source = tmp_path / "data" / ("A" if to == "B" else "B") / name
        result = CliRunner().invoke(main, ["translate", str(tmp_path / "folder"), str(source), "--to", to,
                                           "-o", str(tmp_path / "out")])
        assert result.exit_code == 0, result.output
        assert Image.open(tmp_path / "out" / name).size == (8, 8)

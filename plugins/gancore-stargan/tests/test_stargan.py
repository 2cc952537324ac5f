"""StarGAN: losses by hand, paper defaults with the gp regularizer, networks, CLI runs, translate to a domain."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from gancore_stargan import StarDiscriminator, StarGAN
from PIL import Image

from gancore.cli import main
from gancore.config import make_config
from gancore.data import Batch, DataSpec
from gancore.errors import PluginError
from gancore.testing import defaults_of

TINY = ["--set", "gancore-stargan.width=4", "--set", "gancore-stargan.blocks=1", "--set", "gancore-stargan.d_width=4"]


class _Step:
    """Scripted D: src = mean(x) per sample (as a 1x1 map), cls logits = [mean, -mean, 0]; G(x, c) = x + c."""

    def __init__(self):
        self.real = torch.tensor([1.0, -1.0]).view(2, 1, 1, 1)
        self.labels = torch.tensor([0, 2])
        self.batch = Batch(self.real, self.labels)
        self.latent = {"source": self.real, "source_domain": self.labels, "target": torch.tensor([1, 0])}
        self.fake = self.generator(self.latent)
        self.views = None
        self.D = torch.nn.Linear(1, 1)

    def discriminator(self, x):
        m = x.mean((1, 2, 3))
        return m.view(-1, 1, 1, 1), torch.stack([m, -m, torch.zeros_like(m)], 1)

    def generator(self, latent):
        return latent["source"] + latent["target"].view(-1, 1, 1, 1).float()


def _ce(logits, label):
    return -logits[label] + math.log(sum(math.exp(v) for v in logits))


def test_losses_by_hand():
    family, step = StarGAN(), _Step()
    # fake = x + target = [2, -1]
    d = family.d_loss(step=step)
    assert d["adv"].item() == pytest.approx((2 - 1) / 2 - (1 - 1) / 2)  # E D(fake) - E D(real)
    assert d["cls"].item() == pytest.approx((_ce([1, -1, 0], 0) + _ce([-1, 1, 0], 2)) / 2)
    g_terms = family.g_loss(step=step)
    assert g_terms["adv"].item() == pytest.approx(-(2 - 1) / 2)
    assert g_terms["cls"].item() == pytest.approx((_ce([2, -2, 0], 1) + _ce([-1, 1, 0], 0)) / 2)
    # reconstruction: G(fake, c') = fake + c' = [2, 1]; |[2, 1] - [1, -1]| mean = 1.5, times 10
    assert g_terms["rec"].item() == pytest.approx(15.0)
    (view,) = step.views
    assert view.score(step.real).flatten().tolist() == [1.0, -1.0]


def test_paper_defaults_use_the_gp_regularizer():
    defaults = defaults_of(StarGAN, DataSpec("mnist-rotations", (1, 28, 28), 4))
    assert defaults["n_critic"] == 5 and defaults["lr_g"] == defaults["lr_d"] == 1e-4
    assert make_config(defaults).betas == (0.5, 0.999) and defaults["regularizers"] == {"gp": None}


def test_networks():
    spec = DataSpec("x", (1, 28, 28), 4, ("r0", "r1", "r2", "r3"))
    family = StarGAN(width=4, blocks=1, d_width=4, mix=16, condition="shift")
    G, D = family.build_generator(data=spec), family.build_discriminator(data=spec)
    x = torch.randn(3, 1, 28, 28)
    out = G(G.translation_latent(x, 2))
    assert out.shape == x.shape and G.conditional and G.num_classes == 4
    src, cls = D(out)
    assert src.shape == (3, 1, 3, 3) and cls.shape == (3, 4)
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.InstanceNorm2d)) for m in D.modules())
    # the target changes the output
    assert (out - G(G.translation_latent(x, 0))).abs().max() > 1e-3  # instance norm must not erase it
    with pytest.raises(PluginError, match="classes are the domains"):
        family.build_generator(data=DataSpec("x", (1, 8, 8)))
    assert isinstance(D, StarDiscriminator)


def test_trains_on_rotations_and_on_class_folders_then_translates(tmp_path):
    def train(*args):
        result = CliRunner().invoke(main, ["train", "-p", "gancore-stargan", *TINY, "--steps", "2", "--batch-size", "4",
                                           "--n-critic", "2", "--out", str(tmp_path), "--log-every", "1",
                                           "--grid-size", "4", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    result = train("--data", "mnist-rotations", "--name", "rot")
    assert "gp=10" in result.output
    row = json.loads((tmp_path / "rot" / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"d/adv", "d/cls", "d/gp", "g/adv", "g/cls", "g/rec"} <= set(row)
    for domain in ("day", "night", "dusk"):
        (tmp_path / "data" / domain).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8, 3), 40 * i, dtype=np.uint8)).save(tmp_path / "data" / domain / f"{i}.png")
    train("--data", str(tmp_path / "data"), "--name", "folder")
    source = tmp_path / "data" / "day" / "1.png"
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["translate", str(tmp_path / "folder"), str(source), "--to", "night",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "1.png").is_file()
    result = CliRunner().invoke(main, ["translate", str(tmp_path / "folder"), str(source), "-o", str(out)])
    assert result.exit_code == 1 and "choose one with --to" in result.output
    result = CliRunner().invoke(main, ["translate", str(tmp_path / "folder"), str(source), "--to", "noon",
                                       "-o", str(out)])
    assert result.exit_code == 1 and "'day' (0), 'dusk' (1), 'night' (2)" in result.output
    result = CliRunner().invoke(main, ["sample", str(tmp_path / "folder"), "-o", str(out / "s.png")])
    assert result.exit_code == 1 and "gan translate" in result.output


def test_conditional_instance_norm_by_hand():
    from gancore_translation.nets import ConditionalInstanceNorm

    norm = ConditionalInstanceNorm(1, 2)
    with torch.no_grad():
        norm.norm.weight.fill_(1.0)
        norm.norm.bias.fill_(0.0)
        norm.film.weight.copy_(torch.tensor([[0.5, -1.0], [2.0, 3.0]]))  # rows: gamma, beta; columns: domains
    x = torch.tensor([1.0, 3.0, 5.0, 7.0]).view(1, 1, 2, 2)  # mean 4, variance 5: normalized (-3, -1, 1, 3)/sqrt(5)
    z = torch.tensor([-3.0, -1.0, 1.0, 3.0]) / 5 ** 0.5
    out = norm(x, torch.tensor([[1.0, 0.0]])).flatten()  # domain 0: scale 1 + 0.5, shift 2
    assert torch.allclose(out, 1.5 * z + 2.0, atol=1e-4)
    out = norm(x, torch.tensor([[0.0, 1.0]])).flatten()  # domain 1: scale 1 - 1 = 0, shift 3
    assert torch.allclose(out, torch.full((4,), 3.0), atol=1e-4)


def test_the_target_reaches_every_layer_with_condition_norm():
    spec = DataSpec("x", (1, 28, 28), 4, ("a", "b", "c", "d"))
    G = StarGAN(width=4, blocks=1, d_width=4).build_generator(data=spec)
    from gancore_translation.nets import ConditionalResnetGenerator

    assert isinstance(G.net, ConditionalResnetGenerator)
    x = torch.randn(3, 1, 28, 28)
    same = G(G.translation_latent(x, 0)) - G(G.translation_latent(x, 3))
    assert same.abs().max() < 1e-5  # film starts at zero: plain instance norm erases the input maps
    with torch.no_grad():
        for name, p in G.named_parameters():
            if "film" in name:
                p.normal_(0, 0.1)
    # a per-domain scale and shift after every norm: the output depends on the target, image by image
    diff = G(G.translation_latent(x, 0)) - G(G.translation_latent(x, 3))
    assert diff.abs().mean() > 1e-3 and (diff[0] - diff[1]).abs().mean() > 1e-4
    with pytest.raises(PluginError, match="mix needs condition"):
        StarGAN(width=4, blocks=1, mix=16).build_generator(data=spec)

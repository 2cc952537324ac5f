"""MUNIT: the losses by hand, AdaIN by hand, styles change the output, a CLI run with gan translate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gancore_munit import MUNIT, MUNITGenerator
from gancore_translation.nets import PerDomainDiscriminator
from PIL import Image

from gancore.data import Batch, DataSpec
from gancore.nets.translation import AdaIN
from gancore.testing import run_cli


def _images(*values):
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1)


class _Step:
    """Scripted: D_A(x) = mean(x), D_B(x) = mean(x) + 1 (one patch); the generator's outputs given."""

    def __init__(self):
        a, b = _images(1.0, 0.0), _images(-1.0, 0.5)
        self.batch = Batch(a, extra={"b": b})
        self.latent = {"source": torch.cat([a, b]), "source_domain": torch.tensor([0, 0, 1, 1]),
                       "target": torch.tensor([1, 1, 0, 0]),
                       "style": torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])}
        source = self.latent["source"]
        self.outputs = {"sample": _images(0.5, 0.0, -0.5, 0.25), "recon": source + 0.1,
                        "content": torch.zeros(4, 1, 2, 2), "content_recon": torch.full((4, 1, 2, 2), 0.5),
                        "style_recon": torch.zeros(4, 2)}
        self.fake = self.outputs["sample"]
        self.views = None
        self.D = PerDomainDiscriminator([torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)])

    def discriminator(self, x, domain):
        return (x.mean((1, 2, 3)) + domain).view(-1, 1, 1, 1)


def test_losses_by_hand():
    family = MUNIT()
    step = _Step()
    d = family.d_loss(step=step)
    assert d["d_a"].item() == pytest.approx(0.328125)  # 1/2 [ (0 + 1)/2 + (0.25 + 0.0625)/2 ]
    assert d["d_b"].item() == pytest.approx(1.125)  # 1/2 [ (1 + 0.25)/2 + (2.25 + 1)/2 ]
    g = family.g_loss(step=step)
    assert g["adv"].item() == pytest.approx(1.53125)  # (2.25 + 0.5625)/2 + (0.25 + 0)/2
    assert g["image"].item() == pytest.approx(2.0)  # lambda_x = 10 times (0.1 + 0.1)
    assert g["content"].item() == pytest.approx(0.5)  # lambda_c = 1 times mean |0.5 - 0|
    assert g["style"].item() == pytest.approx(0.5)  # lambda_s = 1 times mean |s| = 4 / 8
    assert "cycle" not in g
    step.outputs["cycle"] = step.latent["source"] * 0.5
    # lambda_cyc = 10 times the per-domain mean |x/2 - x|: (1 + 0)/4 + (1 + 0.5)/4
    assert MUNIT(cycle=10.0).g_loss(step=step)["cycle"].item() == pytest.approx(10 * (0.25 + 0.375))


def test_adain_by_hand():
    x = torch.tensor([[[[1.0, 3.0], [5.0, 7.0]]]])
    # mean 4, variance (9 + 1 + 1 + 9)/4 = 5: 2 (x - 4)/sqrt(5) + 1
    out = AdaIN()(x, torch.tensor([[2.0]]), torch.tensor([[1.0]]))
    s = math.sqrt(5 + 1e-5)
    assert out.flatten().tolist() == pytest.approx([1 - 6 / s, 1 - 2 / s, 1 + 2 / s, 1 + 6 / s], abs=1e-6)
    assert out.flatten().tolist() == pytest.approx([-1.6832789, 0.1055737, 1.8944263, 3.6832789], abs=1e-6)


def test_the_style_changes_the_translation():
    spec = DataSpec("t", (1, 8, 8), pairing="unpaired", domains=("a", "b"))
    torch.manual_seed(0)
    g = MUNITGenerator(spec, width=2, blocks=1, style_dim=2, mlp=8, cycle=True).eval()
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    latent = g.translation_latent(x, 1)
    one = g({**latent, "style": torch.zeros(2, 2)})
    two = g({**latent, "style": torch.ones(2, 2) * 3})
    assert one.shape == (2, 1, 8, 8) and not torch.allclose(one, two)
    out = g.train()(g.latent(2, batch=Batch(x, extra={"b": x.flip(0)})))
    assert set(out) == {"sample", "recon", "content", "content_recon", "style_recon", "cycle"}
    assert out["content_recon"].shape == out["content"].shape and out["style_recon"].shape == (4, 2)


def test_trains_and_translates_from_the_command_line(tmp_path):
    result = run_cli("train", "-p", "gancore-munit", "--data", "mnist-thick", "--steps", "2", "--batch-size", "4",
                     "--set", "gancore-munit.width=2", "--set", "gancore-munit.blocks=1",
                     "--set", "gancore-munit.mlp=8", "--set", "gancore-munit.d_width=4", "--out", tmp_path,
                     "--name", "run", "--grid-size", "4", "--no-progress")
    assert result.exit_code == 0, result.output
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(tmp_path / "digit.png")
    result = run_cli("translate", tmp_path / "run", tmp_path / "digit.png", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out" / "digit.png").size == (28, 28)

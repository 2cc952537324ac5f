"""UNIT: the losses by hand, the shared layers, translation without noise, a CLI run with gan translate."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gancore_translation.nets import PerDomainDiscriminator
from gancore_unit import UNIT, UNITGenerator, unit_kl
from PIL import Image

from gancore.data import Batch, DataSpec
from gancore.testing import run_cli


def _images(*values):
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1)


class _Step:
    """Scripted: D_A(x) = mean(x), D_B(x) = mean(x) + 1 (one patch); the generator's outputs given."""

    def __init__(self):
        a, b = _images(1.0, 0.0), _images(-1.0, 0.5)
        self.batch = Batch(a, extra={"b": b})
        self.latent = {"source": torch.cat([a, b]), "source_domain": torch.tensor([0, 0, 1, 1]),
                       "target": torch.tensor([1, 1, 0, 0])}
        source = self.latent["source"]
        self.outputs = {"sample": _images(0.5, 0.0, -0.5, 0.25),  # into B: [0.5, 0]; into A: [-0.5, 0.25]
                        "mu": torch.tensor([[1.0, 2.0], [0.0, 0.0], [-1.0, 1.0], [3.0, -1.0]]),
                        "recon": source + 0.1, "mu_cycle": torch.zeros(4, 2), "cycle": source * 0}
        self.fake = self.outputs["sample"]
        self.views = None
        self.D = PerDomainDiscriminator([torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)])

    def discriminator(self, x, domain):
        return (x.mean((1, 2, 3)) + domain).view(-1, 1, 1, 1)


def test_losses_by_hand():
    family = UNIT()
    step = _Step()
    d = family.d_loss(step=step)
    # D_A: 1/2 [ mean((1-1)^2, (0-1)^2) + mean((-0.5)^2, 0.25^2) ] = 1/2 [0.5 + 0.15625]
    assert d["d_a"].item() == pytest.approx(0.328125)
    # D_B: real scores [0, 1.5], fake [1.5, 1]: 1/2 [ (1 + 0.25)/2 + (2.25 + 1)/2 ]
    assert d["d_b"].item() == pytest.approx(1.125)
    g = family.g_loss(step=step)
    # lambda_0 = 10 times [ mean((-0.5-1)^2, (0.25-1)^2) + mean((1.5-1)^2, (1-1)^2) ] = 10 (1.40625 + 0.125)
    assert g["adv"].item() == pytest.approx(15.3125)
    # lambda_1 = 0.1 times mean(mu^2) = (1 + 4 + 0 + 0 + 1 + 1 + 9 + 1) / 8
    assert g["kl"].item() == pytest.approx(0.2125)
    # lambda_2 = 100 times the per-domain L1 of recon = x + 0.1: 0.1 + 0.1
    assert g["recon"].item() == pytest.approx(20.0)
    assert g["cycle_kl"].item() == 0.0
    # lambda_4 = 100 times per-domain mean |0 - x|: (1 + 0)/2 + (1 + 0.5)/2
    assert g["cycle"].item() == pytest.approx(125.0)


def test_unit_kl_is_the_mean_square():
    assert unit_kl(torch.tensor([[3.0, -1.0]])).item() == pytest.approx(5.0)


def test_encoders_share_their_last_layer_and_translate_without_noise_in_eval():
    spec = DataSpec("t", (1, 8, 8), pairing="unpaired", domains=("a", "b"))
    g = UNITGenerator(spec, width=2, blocks=1)
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    g.eval()
    first = g(g.translation_latent(x, 1))
    assert first.shape == (2, 1, 8, 8) and torch.equal(first, g(g.translation_latent(x, 1)))  # z = mu
    g.train()
    batch = Batch(x, extra={"b": x.flip(0)})
    out = g(g.latent(2, batch=batch))
    assert set(out) == {"sample", "mu", "recon", "mu_cycle", "cycle"} and out["sample"].shape == (4, 1, 8, 8)
    shared = {id(p) for p in g.shared_encoder.parameters()}
    assert shared and not shared & {id(p) for p in g.encoders.parameters()}


def test_trains_and_translates_from_the_command_line(tmp_path):
    result = run_cli("train", "-p", "gancore-unit", "--data", "mnist-thick", "--steps", "2", "--batch-size", "4",
                     "--set", "gancore-unit.width=2", "--set", "gancore-unit.blocks=1", "--set",
                     "gancore-unit.d_width=4", "--out", tmp_path, "--name", "run", "--grid-size", "4", "--no-progress")
    assert result.exit_code == 0, result.output
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(tmp_path / "digit.png")
    result = run_cli("translate", tmp_path / "run", tmp_path / "digit.png", "--to", "thick", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out" / "digit.png").size == (28, 28)

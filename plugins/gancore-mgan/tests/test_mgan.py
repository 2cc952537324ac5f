"""MGAN: its losses by hand, C on D's body, generators sharing all but their input layer."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from gancore_mgan import MGAN, diversity_loss

from gancore.data import DataSpec
from gancore.nets.mixture import MixtureGenerator
from gancore.testing import ScriptedStep, make_plugin

DIGITS = DataSpec("digits", (1, 8, 8), 10)
LN3 = 1.0986122886681098


def test_diversity_term_by_hand():
    # C's logits [0, ln 3]: softmax (1/4, 3/4); the fake came from G_1: -log(3/4) = 0.287682, times beta = 0.5.
    assert diversity_loss(torch.tensor([[0.0, LN3]]), torch.tensor([1]), 0.5).item() == pytest.approx(0.143841036,
                                                                                                       rel=1e-6)


def test_family_losses_by_hand():
    # Column 0 is D's score, the others C's logits (k = 2).
    def step():
        s = ScriptedStep(torch.tensor([[1.0, 5.0, 5.0]]), torch.tensor([[-2.0, 0.0, LN3]]))
        s.latent = {"gen": torch.tensor([1])}
        return s

    family = MGAN(generators=2, beta=0.5)
    d = family.d_loss(step())
    # -log sigmoid(1) - log(1 - sigmoid(-2)) = ln(1 + e^-1) + ln(1 + e^-2) = 0.313262 + 0.126928
    assert d["adversarial"].item() == pytest.approx(0.440189699, rel=1e-6)
    assert d["classifier"].item() == pytest.approx(0.143841036, rel=1e-6)
    g = family.g_loss(step())
    assert g["adversarial"].item() == pytest.approx(2.126928011, rel=1e-6)  # -log sigmoid(-2) = ln(1 + e^2)
    assert g["classifier"].item() == pytest.approx(0.143841036, rel=1e-6)


def test_generators_share_all_but_the_input_layer_and_c_shares_d_body():
    family = make_plugin(MGAN, DIGITS, generators=3, hidden=16)
    assert family.share == "input"
    G = family.build_generator(config=SimpleNamespace(latent_dim=4), data=DIGITS)
    assert isinstance(G, MixtureGenerator) and not hasattr(G, "members")
    assert G.maps.weight.shape == (3, 4, 4)  # one input map per generator, one shared network after it
    D = family.build_discriminator(data=DIGITS)
    out = D(torch.randn(5, 1, 8, 8))
    assert out.shape == (5, 1 + 3)
    out[:, 1:].sum().backward()  # C's logits reach D's body, through D's last layer's other rows
    assert all(p.grad is not None for p in D.body.parameters())


def test_trains_on_ring_from_the_cli(gan, tmp_path):
    result = gan("train", "-p", "gancore-mgan", "--set", "gancore-mgan.hidden=16", "--data", "ring", "--steps", 3,
                 "--batch-size", 16, "--out", tmp_path, "--name", "run", "--log-every", 1)
    assert result.exit_code == 0, result.output
    metrics = (tmp_path / "run" / "metrics.jsonl").read_text()
    assert "d/classifier" in metrics and "g/classifier" in metrics

"""ClusterGAN: the cycle losses by hand, G and E in one module, the clustering accuracy by hand."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from gancore_clustergan import (
    ClusterGAN,
    ClusterGenerator,
    cluster_accuracy,
    cycle_losses,
)

from gancore.data import Batch, DataSpec
from gancore.errors import PluginError
from gancore.nets.encoder import PartsEncoder, standard_encoder
from gancore.testing import make_plugin

DIGITS = DataSpec("digits", (1, 8, 8), 10)
RING = DataSpec("ring", (2,))
LN3 = 1.0986122886681098


def test_cycle_losses_by_hand():
    zn = torch.tensor([[1.0, 2.0], [0.0, 1.0]])
    # ||z_n - 0||^2 per sample: 1 + 4 = 5 and 0 + 1 = 1; mean 3; times beta_n = 10: 30.
    # Logits [0, ln 3] (softmax 1/4, 3/4) for cluster 1: -log 3/4 = 0.2876820725;
    # logits [0, 0] for cluster 0: -log 1/2 = 0.6931471806; mean 0.4904146265, times beta_c = 2.
    out = cycle_losses(zn, torch.tensor([1, 0]), torch.zeros(2, 2), torch.tensor([[0.0, LN3], [0.0, 0.0]]), 10.0, 2.0)
    assert out["cycle_n"].item() == pytest.approx(30.0, rel=1e-6)
    assert out["cycle_c"].item() == pytest.approx(0.980829253, rel=1e-6)


def test_cluster_accuracy_by_hand():
    pytest.importorskip("scipy")
    # Clusters 0,0,0,1,1,2 against labels 5,5,3,3,3,7: best mapping 0->5, 1->3, 2->7 gets 2 + 2 + 1 = 5 of 6.
    predicted, labels = torch.tensor([0, 0, 0, 1, 1, 2]), torch.tensor([5, 5, 3, 3, 3, 7])
    assert cluster_accuracy(predicted, labels) == pytest.approx(5 / 6)
    # A relabelled perfect clustering is 100%; one cluster for everything is the largest class's share.
    assert cluster_accuracy(torch.tensor([2, 2, 0, 1]), torch.tensor([0, 0, 1, 2])) == 1.0
    assert cluster_accuracy(torch.zeros(4, dtype=torch.long), torch.tensor([0, 0, 1, 2])) == 0.5
    with pytest.raises(PluginError, match="one cluster per label"):
        cluster_accuracy(torch.tensor([0]), torch.tensor([0, 1]))


def test_latent_and_encoder_in_one_module():
    family = make_plugin(ClusterGAN, DIGITS, hidden=16, clusters=4, sigma=0.1)
    G = family.build_generator(config=SimpleNamespace(latent_dim=3), data=DIGITS)
    assert isinstance(G, ClusterGenerator) and G.latent_codes["cluster"].size == 4
    latent = G.latent(200)
    assert set(latent) == {"z", "cluster"} and latent["cluster"].max() < 4
    assert latent["z"].std().item() == pytest.approx(0.1, rel=0.2)  # z_n ~ N(0, sigma^2 I)
    assert G(latent).shape == (200, 1, 8, 8)  # sampling: the samples alone
    batch = Batch(x=torch.rand(5, 1, 8, 8) * 2 - 1, labels=None)
    out = G(G.latent(5, batch=batch))  # training: G(z) and E(G(z)) from one pass
    assert out["sample"].shape == (5, 1, 8, 8) and out["zn"].shape == (5, 3) and out["logits"].shape == (5, 4)
    assert G.cluster(torch.rand(7, 1, 8, 8)).shape == (7,)


def test_standard_encoder_per_data_kind():
    assert standard_encoder(RING, 3, hidden=8)(torch.randn(4, 2)).shape == (4, 3)
    conv = standard_encoder(DataSpec("mnist", (1, 28, 28)), 5, width=4)
    assert conv(torch.randn(2, 1, 28, 28)).shape == (2, 5) and any(isinstance(m, torch.nn.Conv2d)
                                                                     for m in conv.modules())
    parts = PartsEncoder(DIGITS, {"a": 2, "b": 3}, width=4, hidden=8, arch="mlp")(torch.randn(4, 1, 8, 8))
    assert list(parts) == ["a", "b"] and parts["a"].shape == (4, 2) and parts["b"].shape == (4, 3)


def test_generator_update_carries_the_cycle_terms(gan, tmp_path):
    result = gan("train", "-p", "gancore-clustergan", "--set", "gancore-clustergan.hidden=16", "--data", "digits",
                 "--steps", 3, "--batch-size", 16, "--out", tmp_path, "--name", "run", "--log-every", 1)
    assert result.exit_code == 0, result.output
    metrics = (tmp_path / "run" / "metrics.jsonl").read_text()
    assert "g/cycle_n" in metrics and "g/cycle_c" in metrics
    result = gan("sample", tmp_path / "run", "--traverse", "cluster", "-n", 20, "-o", tmp_path / "c.png")
    assert result.exit_code == 0, result.output

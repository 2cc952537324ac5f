"""AAE: losses by hand, the encoder-decoder contract, reconstruction falling, supervised sampling."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch
from gancore_aae import AAE
from PIL import Image

from gancore.data import Batch, DataSpec
from gancore.generator import samples_of
from gancore.testing import make_plugin

DIGITS = DataSpec("digits", (1, 8, 8), 10)
TINY = ["--set", "gancore-aae.hidden=32"]


def softplus(v):
    return math.log1p(math.exp(v))


def test_losses_by_hand():
    prior, code = torch.tensor([[0.0, 1.0], [2.0, 0.0]]), torch.tensor([[1.0, 1.0], [0.0, -1.0]])

    def D(z):  # score = first coordinate
        return z[:, 0]

    real = torch.tensor([[[[0.5, -0.5]]], [[[1.0, 1.0]]]])
    recon = torch.tensor([[[[0.0, -0.5]]], [[[1.0, 0.0]]]])
    step = SimpleNamespace(latent={"z": prior}, outputs={"code": code, "reconstruction": recon}, real=real,
                           discriminator=D, D=torch.nn.Linear(1, 1), views=None)
    d = AAE().d_loss(step)
    # Prior samples are D's real inputs (scores 0, 2), codes its fakes (scores 1, 0).
    assert d.item() == pytest.approx((softplus(0.0) + softplus(-2.0)) / 2 + (softplus(1.0) + softplus(0.0)) / 2)
    (view,) = step.views
    assert view.real is prior and view.fake is code
    g = AAE(reconstruction_weight=2.0, adversarial_weight=0.5).g_loss(step)
    mse = (0.5 ** 2 + 0 + 0 + 1.0) / 4
    assert g["reconstruction"].item() == pytest.approx(2.0 * mse)
    assert g["adversarial"].item() == pytest.approx(0.5 * (softplus(-1.0) + softplus(0.0)) / 2)


def test_generator_encodes_the_batch_and_samples_from_the_prior():
    G = AAE(hidden=16).build_generator(config=SimpleNamespace(latent_dim=3), data=DIGITS)
    assert not G.conditional
    sample = G(G.latent(5))
    assert isinstance(sample, torch.Tensor) and sample.shape == (5, 1, 8, 8)
    batch = Batch(torch.rand(4, 1, 8, 8) * 2 - 1, torch.arange(4))
    out = G(G.latent(4, batch=batch))
    assert out["code"].shape == (4, 3) and out["reconstruction"].shape == (4, 1, 8, 8)
    assert samples_of(out).shape == (4, 1, 8, 8)


def test_supervised_decoder_takes_the_label():
    G = AAE(variant="supervised", hidden=16).build_generator(config=SimpleNamespace(latent_dim=3), data=DIGITS)
    assert G.conditional
    batch = Batch(torch.zeros(3, 1, 8, 8), torch.tensor([4, 2, 9]))
    latent = G.latent(3, batch=batch)
    assert torch.equal(latent["labels"], batch.labels)  # reconstructions decode with x's own label
    z = {"z": torch.zeros(2, 3)}
    a = G({**z, "labels": torch.tensor([0, 0])})
    b = G({**z, "labels": torch.tensor([7, 7])})
    assert not torch.allclose(a, b)


def test_reconstruction_error_falls_during_a_short_run(gan, tmp_path):
    result = gan("train", "-p", "gancore-aae", *TINY, "--data", "digits", "--steps", 150, "--batch-size", 32,
                 "--out", tmp_path, "--name", "run", "--log-every", 25, "--sample-every", 0, "--seed", 1)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    errors = [row["g/reconstruction"] for row in rows]
    assert errors[-1] < 0.6 * errors[0], errors
    assert all(math.isfinite(row["d/loss"]) for row in rows)


@pytest.mark.parametrize("data", ["digits", "mnist"])
def test_both_variants_train_from_the_cli(gan, tmp_path, data):
    for variant in ("unsupervised", "supervised"):
        result = gan("train", "-p", "gancore-aae", *TINY, "--set", f'gancore-aae.variant="{variant}"', "--data", data,
                     "--steps", 3, "--batch-size", 16, "--out", tmp_path, "--name", variant, "--log-every", 1)
        assert result.exit_code == 0, result.output
    size = 32 if data == "digits" else 28  # grid cells: 8x8 digits enlarged 4x
    out = tmp_path / "s.png"
    result = gan("sample", tmp_path / "supervised", "--label", "all", "-n", 20, "-o", out)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (2 * (size + 1) + 1, 10 * (size + 1) + 1)
    result = gan("sample", tmp_path / "unsupervised", "--label", "2", "-o", out)
    assert result.exit_code == 1 and "not conditional" in result.output


def test_reconstruction_weight_by_data_kind():
    for spec, weight in [(DIGITS, 10.0), (DataSpec("mnist", (1, 28, 28)), 10.0), (DataSpec("ring", (2,)), 1.0)]:
        assert make_plugin(AAE, spec, hidden=8).reconstruction_weight == weight
    assert make_plugin(AAE, DIGITS, hidden=8, reconstruction_weight=3.0).reconstruction_weight == 3.0

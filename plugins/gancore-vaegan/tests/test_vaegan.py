"""VAE-GAN: KL and feature-reconstruction terms by hand, each network's gradient, the D view, CLI runs."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch
from gancore_vaegan import VAEGAN, feature_reconstruction, kl_divergence
from torch import nn

from gancore.data import Batch, DataSpec
from gancore.generator import samples_of
from gancore.testing import run_cli as gan

DIGITS = DataSpec("digits", (1, 8, 8), 10)
RING = DataSpec("ring", (2,))
TINY = ["--set", "gancore-vaegan.width=8", "--set", "gancore-vaegan.hidden=16"]


def softplus(v):
    return math.log1p(math.exp(v))


def test_kl_by_hand():
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    # Sample 1: -1/2 (1 + 0 - 1 - 1) + -1/2 (1 + ln 2 - 0 - 2) = 1/2 + (1 - ln 2) / 2; sample 2 is the prior: 0.
    assert kl_divergence(mu, logvar).item() == pytest.approx((1 - math.log(2.0) / 2) / 2)


def test_feature_reconstruction_by_hand():
    rec = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    real = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    # 1/2 ||.||^2 per sample: 1/2 * 5 and 1/2 * 9; batch mean 3.5.
    assert feature_reconstruction(rec, real).item() == pytest.approx(3.5)


class FixedD(nn.Module):
    """features(x) = 2 * x (flattened); score = first feature - second."""

    def features(self, x):
        return 2 * x.flatten(1)

    def head(self, f):
        return (f[:, 0] - f[:, 1]).unsqueeze(1)

    def forward(self, x):
        return self.head(self.features(x)).squeeze(1)


def test_discriminator_loss_and_view_by_hand():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    prior = torch.tensor([[0.5, 0.0], [0.0, 0.0]])
    rec = torch.tensor([[1.0, 1.0], [2.0, 0.0]])
    step = SimpleNamespace(real=x, outputs={"sample": prior, "reconstruction": rec}, discriminator=FixedD(),
                           D=FixedD(), views=None)
    d = VAEGAN().d_loss(step)
    # Scores 2(a - b): real [2, -2], prior [1, 0], reconstructions [0, 4]; L = -log D(x) - log(1-D(x_p)) - log(1-D(x~)).
    expected = ((softplus(-2) + softplus(2)) / 2 + (softplus(1) + softplus(0)) / 2 + (softplus(0) + softplus(4)) / 2)
    assert d.item() == pytest.approx(expected)
    (view,) = step.views
    assert view.real is x
    assert torch.equal(view.fake, torch.tensor([[0.5, 0.0], [2.0, 0.0]]))  # row 0 prior, row 1 reconstruction


def test_generator_terms_by_hand():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    rec = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    prior = torch.tensor([[0.5, 0.0], [0.0, 1.0]])
    mu, logvar = torch.tensor([[1.0], [0.0]]), torch.zeros(2, 1)
    out = {"sample": prior, "reconstruction": rec, "decoder_reconstruction": rec.clone(), "mu": mu, "logvar": logvar}
    step = SimpleNamespace(real=x, outputs=out, D=FixedD(), data=DIGITS)
    g = VAEGAN(gamma=3.0).g_loss(step)
    assert g["kl"].item() == pytest.approx(0.25)  # (1/2 * 1^2 + 0) / 2
    llike = (0.5 * 4 + 0.5 * 4) / 2  # features 2x: differences (0, 2) and (0, -2)
    assert g["reconstruction"].item() == pytest.approx(llike)
    assert g["decoder_reconstruction"].item() == pytest.approx(2.0 * llike)  # (gamma - 1) * L_llike
    # Non-saturating: -log D(x_p) (scores 1, -2) - log D(x~) (scores 0, 0).
    assert g["adversarial"].item() == pytest.approx((softplus(-1) + softplus(2)) / 2 + softplus(0))


@pytest.mark.parametrize("spec", [DIGITS, RING])
def test_one_backward_gives_each_network_its_paper_loss(spec):
    """Encoder: grad of L_prior + L_llike. Decoder: grad of gamma * L_llike + GAN term. (Algorithm 1.)"""
    torch.manual_seed(0)
    gamma = 0.25
    family = VAEGAN(gamma=gamma, width=8, hidden=16)
    G = family.build_generator(config=SimpleNamespace(latent_dim=3), data=spec)
    D = family.build_discriminator(data=spec).requires_grad_(False)
    batch = Batch(torch.rand(6, *spec.shape) * 2 - 1)
    out = G(G.latent(6, batch=batch))
    assert torch.equal(out["reconstruction"], out["decoder_reconstruction"])
    terms = family.g_loss(SimpleNamespace(real=batch.x, outputs=out, D=D, data=spec))
    enc, dec = list(G.encoder.parameters()), list(G.decoder.parameters())
    got_enc = torch.autograd.grad(sum(terms.values()), enc, retain_graph=True)
    got_dec = torch.autograd.grad(sum(terms.values()), dec, retain_graph=True)
    f_real = D.features(batch.x)
    llike = feature_reconstruction(D.features(out["reconstruction"]), f_real)
    gan = torch.nn.functional.softplus(-D(out["sample"])).mean() + torch.nn.functional.softplus(
        -D(out["reconstruction"])).mean()
    want_enc = torch.autograd.grad(kl_divergence(out["mu"], out["logvar"]) + llike, enc, retain_graph=True)
    want_dec = torch.autograd.grad(gamma * llike + gan, dec, retain_graph=True, allow_unused=True)
    for got, want in zip(got_enc, want_enc):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    for got, want in zip(got_dec, want_dec):
        torch.testing.assert_close(got, torch.zeros_like(got) if want is None else want, rtol=1e-4, atol=1e-6)


def test_generator_samples_from_the_prior_and_reconstructs():
    G = VAEGAN(width=8).build_generator(config=SimpleNamespace(latent_dim=4), data=DIGITS)
    sample = G(G.latent(5))
    assert isinstance(sample, torch.Tensor) and sample.shape == (5, 1, 8, 8)
    batch = Batch(torch.rand(3, 1, 8, 8) * 2 - 1)
    out = G(G.latent(3, batch=batch))
    assert samples_of(out).shape == (3, 1, 8, 8) and out["mu"].shape == out["logvar"].shape == (3, 4)
    with torch.no_grad():
        assert "decoder_reconstruction" not in G(G.latent(3, batch=batch))  # D's phase does not need it
    assert G.reconstruct(batch.x).shape == (3, 1, 8, 8)


@pytest.mark.parametrize("data,extra", [("digits", []), ("ring", []), ("digits", ["-r", "gp"]),
                                        ("mnist", ["--set", "gancore-vaegan.gamma=0.5"])])
def test_trains_from_the_cli(tmp_path, data, extra):
    result = gan("train", "-p", "gancore-vaegan", *TINY, *extra, "--data", data, "--steps", 3, "--batch-size", 16,
                 "--out", tmp_path, "--name", "run", "--log-every", 1)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {"g/kl", "g/reconstruction", "g/decoder_reconstruction", "g/adversarial", "d/loss"} <= set(rows[-1])
    if extra[:1] == ["-r"]:
        assert "d/gp" in rows[-1]
    assert all(math.isfinite(v) for row in rows for k, v in row.items() if k.startswith(("d/", "g/")))
    result = gan("sample", tmp_path / "run", "-n", 4, "-o", tmp_path / "s.png")
    assert result.exit_code == 0, result.output


def test_bad_gamma_is_a_clean_error(tmp_path):
    result = gan("train", "-p", "gancore-vaegan", "--set", "gancore-vaegan.gamma=0", "--data", "ring",
                 "--steps", 1, "--out", tmp_path)
    assert result.exit_code != 0 and "gamma" in result.output and "Traceback" not in result.output

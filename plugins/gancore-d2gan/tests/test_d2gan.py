"""D2GAN: the dual-discriminator losses by hand, the two views, CLI runs with per-view regularizers."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch
from gancore_d2gan import D2GAN, DualDiscriminator, d_loss_terms, g_loss_terms, log_softplus

from gancore.data import DataSpec
from gancore.testing import run_cli as gan


def softplus(v):
    return math.log1p(math.exp(v))


# Raw scores [D1 network, D2 network] of 2 real and 2 fake samples.
REAL = torch.tensor([[1.0, -0.5], [-2.0, 0.3]])
FAKE = torch.tensor([[0.2, 2.0], [-1.0, -3.0]])


def test_d_loss_is_the_papers_objective_negated():
    a, b = 0.2, 0.1
    terms = d_loss_terms(REAL, FAKE, a, b)
    d1 = -a * (math.log(softplus(1.0)) + math.log(softplus(-2.0))) / 2 + (softplus(0.2) + softplus(-1.0)) / 2
    d2 = (softplus(-0.5) + softplus(0.3)) / 2 - b * (math.log(softplus(2.0)) + math.log(softplus(-3.0))) / 2
    assert terms["d1"].item() == pytest.approx(d1, rel=1e-6)
    assert terms["d2"].item() == pytest.approx(d2, rel=1e-6)


def test_g_loss_is_minus_d1_plus_beta_log_d2():
    terms = g_loss_terms(FAKE, 0.1)
    assert terms["d1"].item() == pytest.approx(-(softplus(0.2) + softplus(-1.0)) / 2, rel=1e-6)
    assert terms["d2"].item() == pytest.approx(0.1 * (math.log(softplus(2.0)) + math.log(softplus(-3.0))) / 2,
                                               rel=1e-6)


def test_log_softplus_is_finite_far_out():
    s = torch.tensor([-200.0, -30.0, 0.0, 30.0], requires_grad=True)
    out = log_softplus(s)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(s.grad).all()
    assert out[0].item() == pytest.approx(-200.0) and out[2].item() == pytest.approx(math.log(math.log(2)))
    assert s.grad[0].item() == pytest.approx(1.0)   # d/ds log(e^s) far out


def test_two_views_score_each_discriminator_positively():
    spec = DataSpec("ring", (2,), 8)
    family = D2GAN(hidden=8)
    D = family.build_discriminator(data=spec)
    assert isinstance(D, DualDiscriminator)
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    step = SimpleNamespace(real=real, fake=fake, discriminator=D, D=D, views=None)
    terms = family.d_loss(step)
    scores = D(torch.cat([real, fake]))
    expected = d_loss_terms(scores[:4], scores[4:], 0.2, 0.1)
    assert all(terms[k].item() == pytest.approx(expected[k].item(), rel=1e-6) for k in ("d1", "d2"))
    d1, d2 = step.views
    assert (d1.name, d2.name) == ("d1", "d2")
    x = torch.randn(3, 2)
    assert torch.allclose(d1.score(x), torch.nn.functional.softplus(D.nets[0](x)))
    assert torch.allclose(d2.score(x), torch.nn.functional.softplus(D.nets[1](x)))
    assert list(d1.parameters()) == list(D.nets[0].parameters())


@pytest.mark.parametrize("value", [0.0, 1.5])
def test_alpha_and_beta_outside_the_papers_range_are_refused(value):
    with pytest.raises(ValueError, match=r"float > 0 and <= 1"):
        D2GAN(alpha=value)
    with pytest.raises(ValueError, match=r"float > 0 and <= 1"):
        D2GAN(beta=value)


@pytest.mark.parametrize("data, regularizer", [("digits", "gp"), ("ring", "r1")])
def test_trains_from_the_cli_with_a_regularizer_per_discriminator(tmp_path, data, regularizer):
    result = gan("train", "-p", "gancore-d2gan", "--set", "gancore-d2gan.width=4", "--set", "gancore-d2gan.hidden=16",
                 "--data", data, "--steps", 3, "--batch-size", 16, "--out", tmp_path, "--name", "run",
                 "--log-every", 1, "-r", regularizer)
    assert result.exit_code == 0, result.output
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"d/d1", "d/d2", "g/d1", "g/d2", f"d/{regularizer}_d1", f"d/{regularizer}_d2"} <= set(last)

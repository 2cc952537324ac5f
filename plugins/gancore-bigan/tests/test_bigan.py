"""BiGAN: losses by hand, the joint discriminator view under a penalty, the G+E contract, CLI runs."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch
from gancore_bigan import BiGAN, joint, split_joint
from gancore_r1 import R1

from gancore.data import Batch, DataSpec
from gancore.generator import samples_of
from gancore.losses import interpolate
from gancore.testing import run_cli as gan

DIGITS = DataSpec("digits", (1, 8, 8), 10)
RING = DataSpec("ring", (2,))
TINY = ["--set", "gancore-bigan.width=8", "--set", "gancore-bigan.hidden=16"]


def softplus(v):
    return math.log1p(math.exp(v))


def D(x, z):  # score = sum of x's elements + 2 * first code element
    return x.flatten(1).sum(1) + 2 * z[:, 0]


def hand_step(phase="d"):
    # Two data points x with codes E(x); two noise vectors z with samples G(z); 1x2 "images", 2-d codes.
    real = torch.tensor([[[[1.0, 0.0]]], [[[0.5, -1.0]]]])
    code = torch.tensor([[0.5, 3.0], [-1.0, 0.0]])
    fake = torch.tensor([[[[0.0, 0.0]]], [[[1.0, 1.0]]]])
    z = torch.tensor([[1.0, -2.0], [-0.5, 0.0]])
    return SimpleNamespace(real=real, fake=fake, latent={"z": z}, outputs={"sample": fake, "code": code},
                           discriminator=D, D=torch.nn.Linear(1, 1), phase=phase, views=None)


# D(x, E(x)) = [1 + 1, -0.5 - 2] = [2, -2.5];  D(G(z), z) = [0 + 2, 2 - 1] = [2, 1]
DATA, GENERATED = [2.0, -2.5], [2.0, 1.0]


def mean(values):
    return sum(values) / len(values)


def test_discriminator_loss_by_hand():
    d = BiGAN().d_loss(hand_step())
    # -log sigmoid(s) = softplus(-s) on data pairs, -log(1 - sigmoid(s)) = softplus(s) on generated pairs.
    assert d.item() == pytest.approx(mean([softplus(-s) for s in DATA]) + mean([softplus(s) for s in GENERATED]))


def test_generator_and_encoder_losses_by_hand():
    g = BiGAN().g_loss(hand_step("g"))
    assert g["generator"].item() == pytest.approx(mean([softplus(-s) for s in GENERATED]))
    assert g["encoder"].item() == pytest.approx(mean([softplus(s) for s in DATA]))
    minimax = BiGAN(loss="saturating").g_loss(hand_step("g"))
    # V = E log D(x, E(x)) + E log(1 - D(G(z), z)), minimised by G and E.
    assert minimax["generator"].item() == pytest.approx(mean([-softplus(s) for s in GENERATED]))
    assert minimax["encoder"].item() == pytest.approx(mean([-softplus(-s) for s in DATA]))


def test_the_view_is_the_joint_input_and_penalties_differentiate_x_and_z():
    step = hand_step()
    BiGAN().d_loss(step)
    (view,) = step.views
    assert torch.equal(view.real, torch.tensor([[1.0, 0.0, 0.5, 3.0], [0.5, -1.0, -1.0, 0.0]]))
    assert torch.equal(view.fake, torch.tensor([[0.0, 0.0, 1.0, -2.0], [1.0, 1.0, -0.5, 0.0]]))
    assert view.score(view.real).tolist() == DATA
    assert view.score(view.fake).tolist() == GENERATED
    # grad_(x, z) D = (1, 1, 2, 0) everywhere: ||.||^2 = 6, so R1 = gamma / 2 * 6.
    step.per_view = lambda term, penalty: {term: penalty(view)}
    step.state_for = lambda plugin: {}
    assert R1(weight=10.0).regularize(step, "d")["r1"].item() == pytest.approx(30.0)
    # An interpolate of two pairs is a pair: x and z parts interpolate together.
    x, z = split_joint(interpolate(view.real, view.fake, torch.tensor([0.5, 1.0])), (1, 1, 2), 2)
    assert torch.equal(x, torch.tensor([[[[0.5, 0.0]]], [[[0.5, -1.0]]]]))
    assert torch.equal(z, torch.tensor([[0.75, 0.5], [-1.0, 0.0]]))


def test_joint_round_trip():
    x, z = torch.randn(3, 1, 8, 8), torch.randn(3, 5)
    back = split_joint(joint(x, z), (1, 8, 8), 5)
    assert torch.equal(back[0], x) and torch.equal(back[1], z)


@pytest.mark.parametrize("spec", [DIGITS, RING])
def test_generator_module_holds_g_and_e(spec):
    family = BiGAN(width=8, hidden=16)
    G = family.build_generator(config=SimpleNamespace(latent_dim=3), data=spec)
    D = family.build_discriminator(config=SimpleNamespace(latent_dim=3), data=spec)
    sample = G(G.latent(5))
    assert isinstance(sample, torch.Tensor) and sample.shape == (5, *spec.shape)
    batch = Batch(torch.rand(4, *spec.shape) * 2 - 1)
    out = G(G.latent(4, batch=batch))
    assert out["code"].shape == (4, 3) and samples_of(out).shape == (4, *spec.shape)
    assert torch.allclose(out["code"], G.encode(batch.x), atol=1e-6)
    assert G.reconstruct(batch.x).shape == batch.x.shape
    assert D(batch.x, out["code"]).shape == (4,)


def test_gradients_reach_generator_and_encoder_not_d():
    family = BiGAN(width=8, hidden=16)
    G = family.build_generator(config=SimpleNamespace(latent_dim=3), data=DIGITS)
    Dnet = family.build_discriminator(config=SimpleNamespace(latent_dim=3), data=DIGITS)
    batch = Batch(torch.rand(6, 1, 8, 8) * 2 - 1)
    latent = G.latent(6, batch=batch)
    out = G(latent)
    step = SimpleNamespace(real=batch.x, fake=out["sample"], latent=latent, outputs=out, discriminator=Dnet,
                           D=Dnet, phase="g", views=None)
    sum(BiGAN().g_loss(step).values()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.generator.parameters())


@pytest.mark.parametrize("data,extra", [("digits", []), ("ring", []), ("digits", ["-r", "gp"]),
                                        ("mnist", ["-r", "dragan"])])
def test_trains_from_the_cli_with_any_penalty(tmp_path, data, extra):
    result = gan("train", "-p", "gancore-bigan", *TINY, *extra, "--data", data, "--steps", 3, "--batch-size", 16,
                 "--out", tmp_path, "--name", "run", "--log-every", 1)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {"g/generator", "g/encoder", "d/loss"} <= set(rows[-1])
    assert all(math.isfinite(v) for row in rows for k, v in row.items() if k.startswith(("d/", "g/")))
    penalty = {"gp": "d/gp", "dragan": "d/dragan"}.get(extra[-1] if extra else "", "d/r1" if data != "mnist" else "")
    if penalty:
        assert penalty in rows[-1]
    result = gan("sample", tmp_path / "run", "-n", 4, "-o", tmp_path / "s.png")
    assert result.exit_code == 0, result.output


def test_bad_loss_option_is_a_clean_error(tmp_path):
    result = gan("train", "-p", "gancore-bigan", "--set", 'gancore-bigan.loss="hinge"', "--data", "ring",
                 "--steps", 1, "--out", tmp_path)
    assert result.exit_code != 0 and "non-saturating" in result.output and "Traceback" not in result.output

"""bCR: the penalty by hand for a known T, both weights, gradients to D on both sides, the paper's T,
errors, CLI runs."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from gancore_bcr import BCR, consistency, random_flip, transform

from gancore.cli import main
from gancore.data import DataSpec
from gancore.errors import PluginError
from gancore.step import DiscriminatorView
from gancore.testing import ViewsStep, assert_clean_error


def _view(score, real, fake, name="d"):
    return DiscriminatorView(real=real, fake=fake, score=score, parameters=lambda: iter(()), name=name)


def test_consistency_is_the_mean_squared_score_difference():
    # D = sum of pixels; x sums to (1, 4), T(x) to (3, 1): ((1-3)^2 + (4-1)^2) / 2 = 6.5
    x = torch.tensor([1.0, 4.0]).reshape(2, 1, 1, 1)
    tx = torch.tensor([3.0, 1.0]).reshape(2, 1, 1, 1)
    assert consistency(lambda v: v.flatten(1).sum(1), x, tx).item() == pytest.approx(6.5)


def test_a_flip_invariant_d_has_no_penalty_and_a_sided_d_has_the_hand_value(monkeypatch):
    import gancore_bcr

    monkeypatch.setattr(gancore_bcr, "transform", lambda x: x.flip(3))  # T = always flip, to compute by hand
    real = torch.tensor([[1.0, 3.0]]).reshape(1, 1, 1, 2).repeat(2, 1, 1, 1)
    fake = torch.tensor([[0.0, 2.0]]).reshape(1, 1, 1, 2).repeat(2, 1, 1, 1)
    symmetric = _view(lambda v: v.flatten(1).sum(1), real, fake)
    terms = BCR(weight=10.0).regularize(step=ViewsStep(symmetric), phase="d")
    assert terms["bcr_real"].item() == 0 and terms["bcr_fake"].item() == 0
    # D = the left pixel: real 1 vs flipped 3 -> (1-3)^2 = 4; fake 0 vs 2 -> 4
    left = _view(lambda v: v[:, 0, 0, 0], real, fake)
    terms = BCR(weight=10.0, fake_weight=0.5).regularize(step=ViewsStep(left), phase="d")
    assert terms["bcr_real"].item() == pytest.approx(40.0) and terms["bcr_fake"].item() == pytest.approx(2.0)
    assert BCR().regularize(step=ViewsStep(left), phase="g") is None


def test_both_scores_carry_gradients_to_d(monkeypatch):
    import gancore_bcr

    monkeypatch.setattr(gancore_bcr, "transform", lambda x: x.flip(3))
    w = torch.tensor([1.0, 0.0], requires_grad=True)  # D(x) = w . (left, right)
    real = torch.tensor([1.0, 3.0]).reshape(1, 1, 1, 2)
    view = _view(lambda v: v.flatten(1) @ w, real, real)
    BCR(weight=1.0, fake_weight=0.0).regularize(step=ViewsStep(view), phase="d")["bcr_real"].backward()
    # (w.(1,3) - w.(3,1))^2 = (w0 - w1)^2 * 4 -> d/dw = 8 (w0 - w1) * (1, -1) = (8, -8)
    assert torch.allclose(w.grad, torch.tensor([8.0, -8.0]))


def test_terms_are_named_per_discriminator():
    x = torch.zeros(2, 1, 4, 4)
    views = (_view(lambda v: v.sum((1, 2, 3)), x, x, "d_a"), _view(lambda v: v.sum((1, 2, 3)), x, x, "d_b"))
    assert sorted(BCR().regularize(step=ViewsStep(*views), phase="d")) == [
        "bcr_fake_d_a", "bcr_fake_d_b", "bcr_real_d_a", "bcr_real_d_b"]


def test_the_papers_transform_flips_about_half_and_shifts_by_at_most_an_eighth():
    torch.manual_seed(0)
    x = torch.zeros(400, 1, 16, 16)
    x[:, :, :, :8] = 1.0  # left half lit
    flipped = random_flip(x)[:, 0, 0, 0] == 0
    assert 150 < flipped.sum() < 250
    moved = transform(torch.ones(64, 1, 16, 16))
    assert (moved == 0).any() and ((moved == 0).sum((1, 2, 3)) <= 2 * 16 * 2 + 4).all()


def test_vector_views_and_vector_data_are_refused():
    view = _view(lambda v: v.sum(1), torch.zeros(2, 2), torch.zeros(2, 2))
    with pytest.raises(PluginError, match="transforms images"):
        BCR().regularize(step=ViewsStep(view), phase="d")
    with pytest.raises(PluginError, match="vector"):
        next(BCR().build_discriminator(DataSpec("ring", (2,))))


def _train(tmp_path, *args, data="digits", name="run"):
    return CliRunner().invoke(main, ["train", "--data", data, "--steps", "2", "--batch-size", "8",
                                     "--out", str(tmp_path), "--name", name, "--log-every", "1",
                                     "--grid-size", "4", *args], catch_exceptions=False), tmp_path / name


def test_dcgan_with_bcr_from_the_cli_and_vector_data_refused(tmp_path):
    result, run = _train(tmp_path, "-p", "gancore-dcgan", "--set", "gancore-dcgan.width=8", "-r", "bcr")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(row["d/bcr_real"] >= 0 and row["d/bcr_fake"] >= 0 for row in rows)
    assert "bcr = 10.0" in (run / "config.toml").read_text()
    result, _ = _train(tmp_path, "-p", "gancore-gan", "-r", "bcr", data="ring", name="ring")
    assert_clean_error(result, "vector data")

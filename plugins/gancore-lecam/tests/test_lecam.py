"""LeCam: the moving averages and the penalty by hand, gradients to D only through its scores, the
averages' checkpointing, CLI runs."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from gancore_lecam import LeCam, ema_update, lecam_penalty

from gancore.checkpoint import load_checkpoint
from gancore.cli import main
from gancore.step import DiscriminatorView
from gancore.testing import ViewsStep


def _view(real, fake, name="d"):
    # D = the first feature: scores are the inputs' first column
    return DiscriminatorView(real=real, fake=fake, score=lambda x: x[:, 0], parameters=lambda: iter(()), name=name)


def test_ema_update_by_hand():
    first = ema_update(None, torch.tensor(2.0), 0.99)
    assert first.item() == 2.0
    assert ema_update(first, torch.tensor(4.0), 0.75).item() == pytest.approx(0.75 * 2 + 0.25 * 4)


def test_penalty_by_hand():
    # (1 - (-0.5))^2, (3 + 0.5)^2 -> mean 7.25; (-1 - 2)^2, (0 - 2)^2 -> mean 6.5
    value = lecam_penalty(torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 0.0]), torch.tensor(2.0), torch.tensor(-0.5))
    assert value.item() == pytest.approx(13.75)


def test_two_updates_by_hand():
    lecam, step = LeCam(weight=0.5, decay=0.5), None
    step = ViewsStep(_view(torch.tensor([[1.0], [3.0]]), torch.tensor([[-1.0], [0.0]])))
    # update 1: alpha_R = 2, alpha_F = -0.5 (the first means); penalty 13.75 * 0.5
    assert lecam.regularize(step=step, phase="d")["lecam"].item() == pytest.approx(6.875)
    state = step.state[id(lecam)]
    assert state["alpha_real"].item() == 2.0 and state["alpha_fake"].item() == -0.5
    # update 2: real (2, 2), fake (1, 1): alpha_R = 0.5*2 + 0.5*2 = 2, alpha_F = 0.5*-0.5 + 0.5*1 = 0.25
    step.views = (_view(torch.tensor([[2.0], [2.0]]), torch.tensor([[1.0], [1.0]])),)
    value = lecam.regularize(step=step, phase="d")["lecam"].item()
    assert state["alpha_real"].item() == 2.0 and state["alpha_fake"].item() == pytest.approx(0.25)
    # (2 - 0.25)^2 + (1 - 2)^2 = 3.0625 + 1 = 4.0625, times 0.5
    assert value == pytest.approx(2.03125)
    assert lecam.regularize(step=step, phase="g") is None


def test_gradient_reaches_d_through_its_scores_not_the_averages():
    w = torch.tensor(1.0, requires_grad=True)
    view = DiscriminatorView(real=torch.tensor([1.0, 3.0]), fake=torch.tensor([-1.0, 0.0]), score=lambda x: w * x,
                             parameters=lambda: iter(()))
    LeCam(weight=1.0).regularize(step=ViewsStep(view), phase="d")["lecam"].backward()
    # d/dw [mean (w x_r - aF)^2 + mean (w x_f - aR)^2] at w = 1, aR = 2, aF = -0.5 held fixed:
    # mean 2 (x_r - aF) x_r + mean 2 (x_f - aR) x_f = (3 + 21) / 2 + (6 + 0) / 2 = 15
    assert w.grad.item() == pytest.approx(15.0)


def test_averages_are_kept_per_discriminator():
    step = ViewsStep(_view(torch.ones(2, 1), torch.zeros(2, 1), "d_a"),
                     _view(torch.ones(2, 1) * 3, torch.zeros(2, 1), "d_b"))
    lecam = LeCam()
    assert sorted(lecam.regularize(step=step, phase="d")) == ["lecam_d_a", "lecam_d_b"]
    assert step.state[id(lecam)]["alpha_real_d_b"].item() == 3.0


@pytest.mark.parametrize("decay", [1.0, -0.1])
def test_bad_decay_is_refused(decay):
    with pytest.raises(ValueError, match="decay"):
        LeCam(decay=decay)


def test_gan_with_lecam_from_the_cli_checkpoints_the_averages(tmp_path):
    result = CliRunner().invoke(main, ["train", "--data", "ring", "--steps", "2", "--batch-size", "16",
                                       "--out", str(tmp_path), "--name", "run", "--log-every", "1",
                                       "--grid-size", "4", "-p", "gancore-gan", "--set", "gancore-gan.hidden=16",
                                       "-r", "lecam=0.1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(row["d/lecam"] >= 0 for row in rows)
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "step-000002").state["plugins"]["lecam"]
    assert sorted(state) == ["alpha_fake", "alpha_real"]

"""R1/R2: penalties by hand, lazy regularization weighting, gradients to D, CLI runs."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from gancore_r1 import R1, R2

from gancore.checkpoint import load_checkpoint
from gancore.cli import main
from gancore.step import DiscriminatorView
from gancore.testing import ViewsStep


def _linear_critic():
    critic = torch.nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))
    return critic


def _view(score, real, fake):
    return DiscriminatorView(real=real, fake=fake, score=score, parameters=lambda: iter(()))


def test_r1_of_a_linear_critic_and_its_gradient_to_d():
    # ||grad D(x)||^2 = ||w||^2 = 25: gamma/2 * 25 = 125; d/dw gamma/2 ||w||^2 = gamma w = [30, 40]
    critic = _linear_critic()
    view = _view(lambda x: critic(x).squeeze(1), torch.randn(8, 2), torch.randn(8, 2))
    terms = R1(weight=10.0).regularize(step=ViewsStep(view), phase="d")
    assert terms["r1"].item() == pytest.approx(125.0, rel=1e-5)
    terms["r1"].backward()
    assert torch.allclose(critic.weight.grad, torch.tensor([[30.0, 40.0]]), rtol=1e-5)


def test_r1_uses_real_and_r2_fake_data():
    # D(x) = 0.5 ||x||^2 has gradient x: gamma/2 * mean ||x||^2
    real = torch.tensor([[1.0, 2.0], [3.0, 0.0]])  # ||x||^2 = 5, 9
    fake = torch.tensor([[0.0, 1.0], [1.0, 1.0]])  # 1, 2
    view = _view(lambda x: 0.5 * (x ** 2).sum(1), real, fake)
    assert R1(weight=2.0).regularize(step=ViewsStep(view), phase="d")["r1"].item() == pytest.approx(7.0)
    assert R2(weight=2.0).regularize(step=ViewsStep(view), phase="d")["r2"].item() == pytest.approx(1.5)
    assert R1().regularize(step=ViewsStep(view), phase="g") is None


def test_lazy_every_is_declared_to_the_loop_and_the_term_is_plain():
    # The loop applies the laziness (which D updates, times k; tests/test_phases.py): the plugin
    # declares its interval and returns gamma/2 * E||grad||^2 whenever it is called.
    critic = _linear_critic()
    view = _view(lambda x: critic(x).squeeze(1), torch.randn(4, 2), torch.randn(4, 2))
    r1, r2 = R1(weight=10.0, every=4), R2(every=16)
    assert r1.lazy_every == {"d": 4} and r2.lazy_every == {"d": 16} and R1().lazy_every == {"d": 1}
    assert r1.regularize(step=ViewsStep(view), phase="d")["r1"].item() == pytest.approx(125.0, rel=1e-5)


@pytest.mark.parametrize("every", [0, 1.5, -2])
def test_bad_every_is_refused(every):
    with pytest.raises(ValueError, match="every"):
        R1(every=every)


def _train(tmp_path, *args, data="ring", name="run", steps="2"):
    result = CliRunner().invoke(main, ["train", "--data", data, "--steps", steps, "--batch-size", "16",
                                       "--out", str(tmp_path), "--name", name, "--log-every", "1",
                                       "--grid-size", "4", *args], catch_exceptions=False)
    return result, tmp_path / name


def test_dcgan_with_r1_from_the_cli(tmp_path):
    result, run = _train(tmp_path, "--plugin", "gancore-dcgan", "--set", "gancore-dcgan.width=8",
                         "--regularizer", "r1=10", data="digits")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(row["d/r1"] > 0 for row in rows)
    assert "r1 = 10.0" in (run / "config.toml").read_text()


def test_lazy_r1_counts_discriminator_updates_across_critic_updates(tmp_path):
    # every=3 with two D updates a step: D updates 0 and 3 (steps 1 and 2) are regularized, 4 and 5
    # (step 3) are not; r2 (every 1) is on every update. No counter is kept in the plugin's state.
    result, run = _train(tmp_path, "--plugin", "gancore-gan", "--set", "gancore-gan.hidden=16",
                         "--regularizer", "r1", "--regularizer", "r2=1", "--set", "r1.every=3", "--n-critic", "2",
                         steps="3")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [("d/r1" in row, "d/r2" in row) for row in rows] == [(True, True), (True, True), (False, True)]
    assert load_checkpoint(run / "checkpoints" / "step-000003").state["plugins"] == {}


def test_bad_every_from_the_cli_is_a_clear_error(tmp_path):
    result, _ = _train(tmp_path, "--plugin", "gancore-gan", "--regularizer", "r1", "--set", "r1.every=0")
    assert result.exit_code == 1 and "every" in result.output

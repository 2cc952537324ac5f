"""Relativistic average GANs: RaGAN and RaLSGAN losses by hand; CLI runs."""

from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner
from gancore_relativistic import Relativistic, ralsgan_g

from gancore.cli import main
from gancore.testing import ScriptedStep


def softplus(x):
    return math.log1p(math.exp(x))


# C_r = [1, 3], C_f = [0, -2]: E[C_r] = 2, E[C_f] = -1, so r = C_r - E[C_f] = [2, 4], f = C_f - E[C_r] = [-2, -4].
REAL, FAKE = [1.0, 3.0], [0.0, -2.0]


def _step():
    return ScriptedStep(torch.tensor(REAL), torch.tensor(FAKE))


def test_ragan_losses():
    family = Relativistic(loss="ragan")
    # -E log sigmoid(r) - E log(1 - sigmoid(f)) = mean softplus(-r) + mean softplus(f)
    assert family.d_loss(step=_step()).item() == pytest.approx(softplus(-2) + softplus(-4), rel=1e-6)
    # -E log sigmoid(f) - E log(1 - sigmoid(r)) = mean softplus(-f) + mean softplus(r)
    assert family.g_loss(step=_step()).item() == pytest.approx(softplus(2) + softplus(4), rel=1e-6)


def test_ralsgan_losses():
    family = Relativistic(loss="ralsgan")
    # E(r - 1)^2 + E(f + 1)^2 = (1 + 9)/2 + (1 + 9)/2
    assert family.d_loss(step=_step()).item() == pytest.approx(10.0)
    # E(f - 1)^2 + E(r + 1)^2 = (9 + 25)/2 + (9 + 25)/2
    assert family.g_loss(step=_step()).item() == pytest.approx(34.0)


def test_generator_gradient_flows_through_the_real_term_too():
    # d/dC_f_j = 2 (f_j - 1)/n  +  sum_i 2 (r_i + 1)/n * (-1/n) = [-3, -5] + (-4)
    fake = torch.tensor(FAKE, requires_grad=True)
    ralsgan_g(torch.tensor(REAL), fake).backward()
    assert torch.allclose(fake.grad, torch.tensor([-7.0, -9.0]))


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="ragan"):
        Relativistic(loss="hinge")


@pytest.mark.parametrize("loss,data", [("ragan", "ring"), ("ralsgan", "ring"), ("ragan", "digits"),
                                       ("ralsgan", "mnist")])
def test_trains_from_the_cli(tmp_path, loss, data):
    result = CliRunner().invoke(main, [
        "train", "--plugin", "gancore-relativistic", "--set", f'gancore-relativistic.loss="{loss}"',
        "--set", "gancore-relativistic.width=8", "--set", "gancore-relativistic.hidden=16", "--data", data,
        "--steps", "2", "--batch-size", "16", "--out", str(tmp_path), "--name", "run", "--log-every", "1",
        "--grid-size", "4"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["step"] == 2 and row["d/loss"] > 0 and row["g/loss"] > 0
    assert f'loss = "{loss}"' in (tmp_path / "run" / "config.toml").read_text()

"""Boundary-seeking GAN: G's loss against the paper's formula by hand."""

from __future__ import annotations

import pytest
import torch
from gancore_bgan import BGAN

from gancore.losses import boundary_seeking_g
from gancore.testing import ScriptedStep


def test_generator_loss_is_half_the_squared_log_ratio():
    # Scores 2 and -1: D = sigmoid(score) = 0.8807970780, 0.2689414214;
    # log D - log(1 - D) = -0.1269280110 + 2.1269280110 = 2.0 and -1.3132616875 + 0.3132616875 = -1.0;
    # 1/2 * mean(2.0^2, (-1.0)^2) = 1/2 * 2.5 = 1.25.
    assert boundary_seeking_g(torch.tensor([2.0, -1.0])).item() == pytest.approx(1.25, rel=1e-6)
    step = ScriptedStep(torch.tensor([0.0]), torch.tensor([2.0, -1.0]))
    assert BGAN().g_loss(step).item() == pytest.approx(1.25, rel=1e-6)


def test_minimum_is_at_the_boundary():
    # D(G(z)) = 1/2 (score 0): no push either way, zero loss; the gradient points back to 0 from both sides.
    scores = torch.tensor([0.0, 0.5, -0.5], requires_grad=True)
    boundary_seeking_g(scores).backward()
    assert scores.grad.tolist() == pytest.approx([0.0, 0.5 / 3, -0.5 / 3])


def test_discriminator_loss_is_the_logistic_one():
    # -log sigmoid(1) - log(1 - sigmoid(0)) = 0.3132616875 + 0.6931471806
    step = ScriptedStep(torch.tensor([1.0]), torch.tensor([0.0]))
    assert BGAN().d_loss(step).item() == pytest.approx(1.006408868, rel=1e-6)


def test_trains_from_the_cli(gan, tmp_path):
    result = gan("train", "-p", "gancore-bgan", "--set", "gancore-bgan.hidden=16", "--data", "ring", "--steps", 3,
                 "--batch-size", 16, "--out", tmp_path, "--name", "run")
    assert result.exit_code == 0, result.output

"""The tutorial's hinge loss by hand, its defaults per data kind, the conformance kit and the command line."""

from __future__ import annotations

import pytest
import torch

from gancore.data import DataSpec
from gancore.testing import ScriptedStep, check_plugin, defaults_of, make_plugin
from gancore_tutorial import HingeGAN, hinge_d, hinge_g


def test_hinge_losses_by_hand():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # D: (max(0, 1 - 2) + max(0, 1 - 0.5)) / 2 + (max(0, 1 - 2) + max(0, 1 + 0)) / 2
    assert hinge_d(real, fake).item() == pytest.approx(0.25 + 0.5)
    assert hinge_g(fake).item() == pytest.approx(1.0)
    # margin 2: (0 + 1.5) / 2 + (0 + 2) / 2
    assert hinge_d(real, fake, margin=2.0).item() == pytest.approx(0.75 + 1.0)


def test_the_family_by_hand_on_a_scripted_step():
    step = ScriptedStep([2.0, 0.0], [0.5, -3.0])  # D's scores of the real rows, then the fake ones
    # (max(0, 1 - 2) + max(0, 1 - 0)) / 2 + (max(0, 1 + 0.5) + max(0, 1 - 3)) / 2 = 0.5 + 0.75
    assert make_plugin(HingeGAN).d_loss(step=step).item() == pytest.approx(1.25)


def test_defaults_follow_the_data():
    digits = DataSpec("digits", (1, 8, 8), 10)
    assert make_plugin(HingeGAN, digits).arch == "mlp" and make_plugin(HingeGAN, digits).hidden == 512
    assert make_plugin(HingeGAN, DataSpec("ring", (2,))).hidden == 256
    assert defaults_of(HingeGAN, digits)["latent_dim"] == 64


def test_trains_from_the_command_line(gan, tmp_path):
    result = gan("train", "--plugin", "gancore-tutorial", "--set", "gancore-tutorial.hidden=16", "--data", "ring",
                 "--steps", 3, "--batch-size", 16, "--out", tmp_path, "--name", "run")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "checkpoints" / "step-000003").is_dir()


def test_conformance():
    check_plugin("gancore-tutorial", options={"width": 8, "hidden": 32})

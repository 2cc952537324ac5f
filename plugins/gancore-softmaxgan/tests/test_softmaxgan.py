"""Softmax GAN: both cross-entropies against the paper's targets by hand."""

from __future__ import annotations

import pytest
import torch
from gancore_softmaxgan import SoftmaxGAN

from gancore.losses import softmax_d, softmax_g
from gancore.testing import ScriptedStep

LN2 = 0.6931471805599453


def test_losses_by_hand():
    # Scores s = -E: reals 0 and ln 2, one fake 0. exp(s) = 1, 2, 1, so Z = 4 and the softmax is (1/4, 2/4, 1/4).
    real, fake = torch.tensor([0.0, LN2]), torch.tensor([0.0])
    # D's target (1/2, 1/2, 0): -(1/2 ln 1/4 + 1/2 ln 1/2) = (1.3862943611 + 0.6931471806) / 2
    assert softmax_d(real, fake).item() == pytest.approx(1.039720771, rel=1e-6)
    # G's target (1/3, 1/3, 1/3): -(ln 1/4 + ln 1/2 + ln 1/4) / 3 = (1.3862943611 + 0.6931471806 + 1.3862943611) / 3
    assert softmax_g(real, fake).item() == pytest.approx(1.155245301, rel=1e-6)


def test_family_hooks():
    def step():
        return ScriptedStep(torch.tensor([0.0, LN2]), torch.tensor([0.0]))

    assert SoftmaxGAN().d_loss(step()).item() == pytest.approx(1.039720771, rel=1e-6)
    assert SoftmaxGAN().g_loss(step()).item() == pytest.approx(1.155245301, rel=1e-6)


def test_generator_reaches_its_target_when_every_score_is_equal():
    # Equal scores: the softmax is uniform, which is G's target: L_G = log |B| (the entropy), its minimum.
    assert softmax_g(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(1.791759469, rel=1e-6)  # ln 6
    assert softmax_g(torch.zeros(3), torch.full((3,), -1.0)).item() > 1.791759469


def test_trains_from_the_cli(gan, tmp_path):
    result = gan("train", "-p", "gancore-softmaxgan", "--set", "gancore-softmaxgan.hidden=16", "--data", "digits",
                 "--steps", 3, "--batch-size", 16, "--out", tmp_path, "--name", "run")
    assert result.exit_code == 0, result.output

"""Loss and regularizer formulas against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from gancore.losses import interpolate, logistic_d, logistic_g, wasserstein_d, wasserstein_g

LN2 = math.log(2.0)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_logistic_losses_match_the_papers_formula():
    # D(x) = sigmoid(2), D(G(z)) = sigmoid(-1): -log D(x) - log(1 - D(G(z)))
    d = logistic_d(torch.tensor([2.0]), torch.tensor([-1.0]))
    expected = -math.log(1 / (1 + math.exp(-2))) - math.log(1 - 1 / (1 + math.exp(1)))
    assert d.item() == pytest.approx(expected, rel=1e-6)
    assert logistic_d(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(2 * LN2, rel=1e-6)


def test_generator_logistic_loss_non_saturating_and_saturating():
    fake = torch.tensor([1.0, -2.0])
    p = [1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(2.0))]
    non_saturating = -(math.log(p[0]) + math.log(p[1])) / 2
    saturating = (math.log(1 - p[0]) + math.log(1 - p[1])) / 2
    assert logistic_g(fake).item() == pytest.approx(non_saturating, rel=1e-6)
    assert logistic_g(fake, saturating=True).item() == pytest.approx(saturating, rel=1e-6)


def test_wasserstein_losses():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([1.0, 2.0])
    assert wasserstein_d(real, fake).item() == pytest.approx(1.5 - 2.0)
    assert wasserstein_g(fake).item() == pytest.approx(-1.5)


def test_interpolation_coefficient_is_drawn_per_sample_not_per_pixel():
    torch.manual_seed(0)
    real, fake = torch.ones(6, 3, 5, 5), torch.zeros(6, 3, 5, 5)
    mixed = interpolate(real, fake)
    per_sample = mixed.flatten(1)
    # Each sample is one constant eps_i everywhere (on the line real-fake) ...
    assert torch.equal(per_sample, per_sample[:, :1].expand_as(per_sample))
    # ... and samples get different coefficients.
    assert per_sample[:, 0].unique().numel() == 6


def test_interpolate_with_given_eps():
    real = torch.tensor([[4.0, 0.0], [0.0, 2.0]])
    fake = torch.tensor([[0.0, 0.0], [2.0, 2.0]])
    mixed = interpolate(real, fake, eps=torch.tensor([0.25, 0.5]))
    assert torch.allclose(mixed, torch.tensor([[1.0, 0.0], [1.0, 2.0]]))

"""WGAN's regularizers against values computed by hand from the papers' formulas."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from gancore_wgan import DivergencePenalty, GradientPenalty, WeightClipping

from gancore.step import DiscriminatorView
from gancore.testing import ViewsStep


def _view(score, real, fake, params=()):
    return DiscriminatorView(real=real, fake=fake, score=score, parameters=lambda: iter(params))


def test_gradient_penalty_of_a_linear_critic():
    # D(x) = w.x has gradient w everywhere: penalty = lambda * (||w|| - 1)^2 = 10 * (5 - 1)^2.
    critic = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))
    view = _view(lambda x: critic(x).squeeze(1), torch.randn(8, 2), torch.randn(8, 2))
    terms = GradientPenalty(weight=10.0).regularize(step=ViewsStep(view), phase="d")
    assert terms["gp"].item() == pytest.approx(160.0, rel=1e-5)
    # The penalty's gradient reaches D's parameters (create_graph=True):
    # d/dw 10 (||w|| - 1)^2 = 20 (||w|| - 1) w / ||w|| = 80 * [0.6, 0.8].
    terms["gp"].backward()
    assert torch.allclose(critic.weight.grad, torch.tensor([[48.0, 64.0]]), rtol=1e-5)


def test_gradient_penalty_is_taken_at_the_per_sample_interpolate():
    # D(x) = 0.5 ||x||^2 has gradient x: the penalty depends on where x_hat lies.
    real = torch.tensor([[4.0, 0.0], [0.0, 6.0]])
    fake = torch.zeros(2, 2)
    view = _view(lambda x: 0.5 * (x ** 2).sum(1), real, fake)
    torch.manual_seed(3)
    eps = torch.rand(2)
    torch.manual_seed(3)
    terms = GradientPenalty(weight=1.0).regularize(step=ViewsStep(view), phase="d")
    norms = [4.0 * eps[0].item(), 6.0 * eps[1].item()]
    expected = ((norms[0] - 1) ** 2 + (norms[1] - 1) ** 2) / 2
    assert terms["gp"].item() == pytest.approx(expected, rel=1e-5)


def test_gradient_penalty_only_in_the_discriminator_phase():
    view = _view(lambda x: x.sum(1), torch.randn(2, 2), torch.randn(2, 2))
    assert GradientPenalty().regularize(step=ViewsStep(view), phase="g") is None


def test_gradient_penalty_names_terms_per_discriminator():
    views = [DiscriminatorView(real=torch.randn(2, 2), fake=torch.randn(2, 2), score=lambda x: x.sum(1),
                               parameters=lambda: iter(()), name=name) for name in ("d_a", "d_b")]
    terms = GradientPenalty(weight=1.0).regularize(step=ViewsStep(*views), phase="d")
    # grad of sum(x) is all-ones: norm sqrt(2)
    assert set(terms) == {"gp_d_a", "gp_d_b"}
    assert terms["gp_d_a"].item() == pytest.approx((math.sqrt(2) - 1) ** 2, rel=1e-5)


def test_divergence_penalty_of_a_linear_critic():
    # ||grad|| = ||w|| = 5 at real and fake points: k/2 * (5^p + 5^p) = k * 5^p.
    critic = torch.nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))
    view = _view(lambda x: critic(x).squeeze(1), torch.randn(4, 2), torch.randn(4, 2))
    terms = DivergencePenalty(weight=2.0, p=6.0).regularize(step=ViewsStep(view), phase="d")
    assert terms["div"].item() == pytest.approx(2.0 * 5.0 ** 6, rel=1e-5)


def test_weight_clipping_clamps_discriminator_parameters_after_d_updates_only():
    D = torch.nn.Linear(3, 2)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[0.5, -0.5, 0.001], [0.02, -0.02, 0.0]]))
    step = SimpleNamespace(D=D)
    with torch.no_grad():
        WeightClipping(weight=0.01).post_step(step=step, phase="g")
    assert D.weight.abs().max().item() == pytest.approx(0.5)
    with torch.no_grad():
        WeightClipping(weight=0.01).post_step(step=step, phase="d")
    assert torch.allclose(D.weight, torch.tensor([[0.01, -0.01, 0.001], [0.01, -0.01, 0.0]]))
    assert D.bias.abs().max().item() <= 0.01


def test_weight_clipping_refuses_a_non_positive_bound():
    with pytest.raises(ValueError):
        WeightClipping(weight=0.0)

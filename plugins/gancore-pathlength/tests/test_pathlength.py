"""Path length regularization: lengths of J^T y by hand, the EMA, lazy weighting, state, CLI errors."""

from __future__ import annotations

import math

import pytest
import torch
from click.testing import CliRunner
from gancore_pathlength import PathLength, path_lengths, projection

from gancore.cli import main
from gancore.errors import PluginError
from gancore.testing import assert_clean_error

A = [[1.0, 2.0], [3.0, 4.0]]


class _LinearGenerator(torch.nn.Module):
    """sample = A w with w = z (identity mapping, in the graph): J_w = A, so ||J_w^T y|| = ||A^T y||."""

    def __init__(self):
        super().__init__()
        self.A = torch.nn.Parameter(torch.tensor(A))
        self.mapping = torch.nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.mapping.weight.copy_(torch.eye(2))

    def forward(self, z):
        w = self.mapping(z)
        return {"sample": w @ self.A.T, "w": w}


class _Step:
    """Enough of gancore.step.Step for a generator-phase regularizer: outputs, state, logs."""

    def __init__(self, outputs):
        self.outputs, self.state, self.logs = outputs, {}, {}

    def state_for(self, plugin):
        return self.state.setdefault(id(plugin), {})

    def log(self, name, value):
        self.logs[name] = value


def test_lengths_of_a_linear_generator_by_hand():
    G = _LinearGenerator()
    out = G(torch.randn(2, 2))
    # A^T (1, 1) = (4, 6): sqrt(52); A^T (1, 0) = (1, 2): sqrt(5)
    lengths = path_lengths(out["sample"], out["w"], torch.tensor([[1.0, 1.0], [1.0, 0.0]]))
    assert torch.allclose(lengths, torch.tensor([math.sqrt(52), math.sqrt(5)]))


def test_per_layer_w_averages_squared_lengths_over_layers():
    # two layers' w, sample = A w_0 + 2 A w_1: J^T y is A^T y for layer 0, 2 A^T y for layer 1
    w = torch.randn(1, 2, 2, requires_grad=True)
    a = torch.tensor(A)
    sample = w[:, 0] @ a.T + 2 * w[:, 1] @ a.T
    lengths = path_lengths(sample, w, torch.tensor([[1.0, 1.0]]))
    assert lengths.item() == pytest.approx(math.sqrt((52 + 4 * 52) / 2), rel=1e-6)


def test_projection_is_scaled_by_the_pixels_per_channel():
    torch.manual_seed(0)
    y = projection(torch.zeros(4096, 3, 8, 8))
    assert y.std().item() == pytest.approx(1 / 8, rel=0.01)
    assert projection(torch.zeros(1000, 2)).std().item() == pytest.approx(1.0, rel=0.1)


def test_penalty_ema_and_gradient_by_hand():
    torch.manual_seed(1)
    G, z = _LinearGenerator(), torch.randn(5, 2)
    plugin = PathLength(weight=2.0, every=4, decay=0.01)
    # Lazy in G's phase: the trainer calls it on one G update in 4 and multiplies the term by 4
    # (tests/test_phases.py checks the loop's side by hand).
    assert plugin.lazy_every == {"g": 4}
    step = _Step(G(z))
    torch.manual_seed(7)
    terms = plugin.regularize(step=step, phase="g")
    torch.manual_seed(7)
    y = torch.randn(5, 2)  # the same draw as the plugin's projection (vectors: not rescaled)
    a = torch.tensor(A, requires_grad=True)
    lengths = (y @ a).norm(dim=1)  # ||A^T y_i||
    pl_mean = 0.01 * lengths.mean()  # from a = 0
    expected = 2.0 * (lengths - pl_mean).pow(2).mean()
    assert terms["pl"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert step.state[id(plugin)]["pl_mean"].item() == pytest.approx(pl_mean.item(), rel=1e-5)
    # the penalty trains the generator (gradient through J_w, double backward)
    terms["pl"].backward()
    expected.backward()
    assert torch.allclose(G.A.grad, a.grad, rtol=1e-4)
    # nothing in D's phase
    assert plugin.regularize(step=step, phase="d") is None
    # the next regularized update moves the average from where it was
    step.outputs = G(z)
    torch.manual_seed(8)
    plugin.regularize(step=step, phase="g")
    torch.manual_seed(8)
    second = (torch.randn(5, 2) @ torch.tensor(A)).norm(dim=1).mean()
    assert step.state[id(plugin)]["pl_mean"].item() == pytest.approx(
        (pl_mean + 0.01 * (second - pl_mean)).item(), rel=1e-5)


@pytest.mark.parametrize("outputs, match", [(torch.zeros(2, 2), "a tensor"),
                                            ({"sample": torch.zeros(2, 2)}, "'sample'"),
                                            ({"sample": torch.zeros(2, 2), "w": torch.zeros(2, 2)}, "graph")])
def test_generator_without_w_is_a_clear_error(outputs, match):
    with pytest.raises(PluginError, match=match):
        PathLength().regularize(step=_Step(outputs), phase="g")


@pytest.mark.parametrize("option", [{"every": 0}, {"every": 1.5}, {"decay": 0.0}, {"decay": 2.0}])
def test_bad_options_are_refused(option):
    with pytest.raises(ValueError):
        PathLength(**option)


def test_family_without_w_is_a_clean_cli_error(tmp_path):
    result = CliRunner().invoke(main, ["train", "--plugin", "gancore-gan", "--set", "gancore-gan.hidden=8",
                                       "-r", "pathlength", "--data", "ring", "--steps", "1", "--batch-size", "8",
                                       "--out", str(tmp_path), "--name", "run"])
    assert_clean_error(result, "needs a generator whose forward returns its intermediate latent under 'w'")

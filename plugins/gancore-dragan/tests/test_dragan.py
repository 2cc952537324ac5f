"""DRAGAN: the perturbation and penalty by hand, the family, mixed CLI runs."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from gancore_dragan import DRAGAN, DraganPenalty, perturb

from gancore.cli import main
from gancore.data import DataSpec
from gancore.step import DiscriminatorView
from gancore.testing import ViewsStep, defaults_of


def _view(score, real):
    return DiscriminatorView(real=real, fake=torch.zeros_like(real), score=score, parameters=lambda: iter(()))


def test_perturbation_by_hand():
    # std of {0, 0, 2, 2} (whole batch, population) = 1
    real = torch.tensor([[0.0, 0.0], [2.0, 2.0]])
    noise = torch.tensor([[1.0, 0.5], [0.2, 0.4]])
    x_hat = perturb(real, noise=noise, alpha=torch.tensor([0.5, 1.0]))
    assert torch.allclose(x_hat, torch.tensor([[0.25, 0.125], [2.1, 2.2]]))


def test_perturbation_coefficient_is_per_sample_and_noise_per_element():
    torch.manual_seed(0)
    real = torch.randn(6, 3, 4, 4)
    torch.manual_seed(1)
    x_hat = perturb(real)
    torch.manual_seed(1)
    u, alpha = torch.rand_like(real), torch.rand(6)
    delta = 0.5 * real.std(correction=0) * u
    ratio = (x_hat - real) / delta
    # one alpha per sample: constant within a sample, different across samples
    assert torch.allclose(ratio, alpha.view(-1, 1, 1, 1).expand_as(ratio), atol=1e-4)
    assert ratio.flatten(1).std(1).max() < 1e-4 and alpha.std() > 0.05
    # the noise itself is per element and non-negative (U[0, 1))
    assert ((x_hat - real) >= 0).all() and (x_hat - real)[0].unique().numel() > 1


def test_penalty_is_taken_at_the_perturbed_input():
    # D(x) = 0.5 ||x||^2 has gradient x: penalty = lambda * mean((||x_hat|| - 1)^2)
    real = torch.tensor([[3.0, 0.0], [0.0, -1.0], [2.0, 2.0]])
    view = _view(lambda x: 0.5 * (x ** 2).sum(1), real)
    torch.manual_seed(5)
    terms = DraganPenalty(weight=10.0).regularize(step=ViewsStep(view), phase="d")
    torch.manual_seed(5)
    x_hat = perturb(real)
    expected = 10.0 * ((x_hat.norm(dim=1) - 1) ** 2).mean()
    assert terms["dragan"].item() == pytest.approx(expected.item(), rel=1e-5)
    # interpolate=False: the penalty sits at x_p = x + 0.5 std(x) u
    torch.manual_seed(5)
    no_interp = DraganPenalty(weight=1.0, interpolate=False).regularize(step=ViewsStep(view), phase="d")["dragan"]
    torch.manual_seed(5)
    x_p = real + 0.5 * real.std(correction=0) * torch.rand_like(real)
    assert no_interp.item() == pytest.approx(((x_p.norm(dim=1) - 1) ** 2).mean().item(), rel=1e-5)


def test_penalty_gradient_reaches_the_discriminator():
    # D(x) = w.x: ||grad|| = ||w|| = 5 anywhere -> 10 * (5 - 1)^2 = 160; d/dw = 20 (5 - 1) w / 5 = [48, 64]
    critic = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))
    view = _view(lambda x: critic(x).squeeze(1), torch.randn(8, 2))
    terms = DraganPenalty().regularize(step=ViewsStep(view), phase="d")
    assert terms["dragan"].item() == pytest.approx(160.0, rel=1e-5)
    terms["dragan"].backward()
    assert torch.allclose(critic.weight.grad, torch.tensor([[48.0, 64.0]]), rtol=1e-5)
    assert DraganPenalty().regularize(step=ViewsStep(view), phase="g") is None


def test_family_defaults():
    # Small images: the authors' penalty and betas, lr 1e-3 decayed.
    defaults = defaults_of(DRAGAN, DataSpec("digits", (1, 8, 8)))
    assert defaults["regularizers"] == {"dragan": None} and defaults["lr_d"] == 1e-3
    assert defaults["betas"] == (0.5, 0.9)
    # 28x28 and larger: DCGAN's recipe with a zero-centred penalty at R1 gamma 1's weight (0.5 ||grad||^2).
    defaults = defaults_of(DRAGAN, DataSpec("mnist", (1, 28, 28)))
    assert defaults["regularizers"] == {"dragan": 0.5} and defaults["options"] == {"dragan": {"center": 0.0}}
    assert defaults["lr_d"] == 5e-4 and defaults["betas"] == (0.0, 0.99) and defaults["batch_size"] == 128
    assert DRAGAN.option_defaults["image"] == {"depth": 2, "norm": "none"}
    # The paper's preset keeps the paper's networks.
    assert DRAGAN.paper["options"]["gancore-dragan"] == {"norm": "layer", "depth": 1}
    with pytest.raises(ValueError):
        DraganPenalty(scale=0)


def _train(tmp_path, family, *args, data="ring", name="run"):
    result = CliRunner().invoke(main, ["train", "--plugin", family, "--data", data, "--steps", "2",
                                       "--batch-size", "16", "--out", str(tmp_path), "--name", name,
                                       "--log-every", "1", "--grid-size", "4", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("data", ["ring", "digits", "mnist"])
def test_family_trains_from_the_cli_with_its_penalty(tmp_path, data):
    rows = _train(tmp_path, "gancore-dragan", "--set", "gancore-dragan.width=8", "--set",
                  "gancore-dragan.hidden=16", data=data)
    assert rows[-1]["step"] == 2 and rows[-1]["d/dragan"] > 0
    saved = (tmp_path / "run" / "config.toml").read_text()
    if data == "ring":  # vector data: the zero-centred local penalty at the modes' scale, lambda = 1
        assert "dragan = 1.0" in saved and "center = 0.0" in saved and "scale = 0.02" in saved
    elif data == "mnist":  # 28x28: zero-centred, lambda = 0.5, in the paper's neighbourhood
        assert "dragan = 0.5" in saved and "center = 0.0  # family gancore-dragan" in saved
        assert "scale = 0.5  # declaration" in saved
    else:
        # The paper's penalty: its declared options, recorded with the layer that set them.
        assert "dragan = 10.0" in saved and "center = 1.0  # declaration" in saved
        assert "scale = 0.5  # declaration" in saved


def test_regularizer_mixes_with_another_family(tmp_path):
    rows = _train(tmp_path, "gancore-dcgan", "--set", "gancore-dcgan.width=8", "--regularizer", "dragan=5",
                  data="digits")
    assert rows[-1]["d/dragan"] > 0

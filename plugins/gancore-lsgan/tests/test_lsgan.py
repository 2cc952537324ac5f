"""LSGAN: least-squares losses by hand, networks, CLI runs on every embedded data set."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from click.testing import CliRunner
from gancore_lsgan import LSGAN
from torch import nn

from gancore.cli import main
from gancore.config import make_config
from gancore.data import DataSpec
from gancore.losses import least_squares_d, least_squares_g
from gancore.testing import ScriptedStep, defaults_of, make_plugin


def test_losses_with_the_0_1_1_coding():
    # 1/2 mean((D(x) - 1)^2) + 1/2 mean((D(G(z)) - 0)^2) = 1/2 (0 + 4)/2 + 1/2 (0 + 4)/2 = 2
    step = ScriptedStep(torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0]))
    assert LSGAN().d_loss(step=step).item() == pytest.approx(2.0)
    # 1/2 mean((D(G(z)) - 1)^2) = 1/2 (0.25 + 9) / 2
    step = ScriptedStep(torch.tensor([]), torch.tensor([0.5, 4.0]))
    assert LSGAN().g_loss(step=step).item() == pytest.approx(9.25 / 4)


def test_losses_with_the_chi_square_coding():
    # a=-1, b=1, c=0: 1/2 mean((D(x)-1)^2) + 1/2 mean((D(G(z))+1)^2) = 1/2 * 1 + 1/2 * 4
    step = ScriptedStep(torch.tensor([2.0]), torch.tensor([1.0]))
    assert LSGAN(a=-1, b=1, c=0).d_loss(step=step).item() == pytest.approx(2.5)
    assert least_squares_g(torch.tensor([3.0]), c=0).item() == pytest.approx(4.5)
    assert least_squares_d(torch.tensor([1.0]), torch.tensor([0.0])).item() == 0.0


def test_equal_targets_are_refused():
    with pytest.raises(ValueError, match="must differ"):
        LSGAN(a=1, b=1)


def test_networks_and_defaults():
    for shape in [(2,), (1, 8, 8), (1, 28, 28)]:
        spec = DataSpec("x", shape)
        family = make_plugin(LSGAN, spec, width=4, hidden=8)  # as a run creates it for the data
        G = family.build_generator(config=SimpleNamespace(latent_dim=6), data=spec)
        D = family.build_discriminator(data=spec)
        assert D(G(G.latent(3))).shape == (3,)
        # Convolutions on 28x28 and larger; fully connected networks on vectors and small images.
        assert any(isinstance(m, nn.Conv2d) for m in D.modules()) == (spec.kind == "image")
    assert any(isinstance(m, nn.Conv2d) for m in LSGAN(width=4, arch="conv").build_discriminator(
        data=DataSpec("digits", (1, 8, 8))).modules())
    image = make_config(defaults_of(LSGAN, DataSpec("mnist", (1, 28, 28))))  # over gancore's own
    # On 28x28 and larger DCGAN's recipe there: batch 128, lr 5e-4, betas (0, 0.99), R1 gamma 1, EMA.
    assert image.lr_g == 5e-4 and image.betas == (0.0, 0.99) and image.lr_schedule == "linear"
    assert image.batch_size == 128 and image.regularizers == {"r1": 1.0} and image.plugins == ("ema",)
    small = defaults_of(LSGAN, DataSpec("digits", (1, 8, 8)))
    assert small["lr_schedule"] == "linear" and small["regularizers"] == {"r1": 0.1} and small["plugins"] == ["ema"]
    # ... with convolutional networks of two convolutions per resolution and no BatchNorm in D.
    mnist = DataSpec("mnist", (1, 28, 28))
    D = make_plugin(LSGAN, mnist, width=4).build_discriminator(data=mnist)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    convs = sum(isinstance(m, nn.Conv2d) for m in D.modules())
    assert convs == sum(isinstance(m, nn.Conv2d) for m in make_plugin(LSGAN, mnist, width=4, depth=1)
                        .build_discriminator(data=mnist).modules()) + 2


def _train(tmp_path, *args, data="ring", name="run"):
    result = CliRunner().invoke(main, ["train", "--plugin", "gancore-lsgan", "--set", "gancore-lsgan.width=8",
                                       "--set", "gancore-lsgan.hidden=16", "--data", data, "--steps", "2",
                                       "--batch-size", "16", "--out", str(tmp_path), "--name", name,
                                       "--log-every", "1", "--grid-size", "4", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("data", ["ring", "digits", "mnist"])
def test_trains_from_the_cli(tmp_path, data):
    rows = _train(tmp_path, data=data)
    assert rows[-1]["step"] == 2 and rows[-1]["d/loss"] >= 0 and rows[-1]["g/loss"] >= 0


def test_mixed_with_the_wgan_gradient_penalty(tmp_path):
    rows = _train(tmp_path, "--regularizer", "gp")
    assert "d/gp" in rows[-1]
    assert "gp = 10.0" in (tmp_path / "run" / "config.toml").read_text()

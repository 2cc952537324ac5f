"""SAGAN: hinge losses by hand, spectral normalization in G and D, attention placement, TTUR, CLI runs."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from gancore_sagan import DEFAULTS, SAGAN
from torch import nn
from torch.nn.utils import parametrize

from gancore.nets import SelfAttention
from gancore.cli import main
from gancore.config import TrainConfig
from gancore.data import DataSpec
from gancore.declaration import declared_options
from gancore.errors import PluginError
from gancore.testing import ScriptedStep, assert_clean_error

DIGITS = DataSpec("digits", (1, 8, 8))


def test_hinge_losses_by_hand():
    # L_D = mean(relu(1 - [0.5, 2])) + mean(relu(1 + [-2, 0.5])) = 0.25 + 0.75; L_G = -mean([-1, 3])
    step = ScriptedStep(torch.tensor([0.5, 2.0]), torch.tensor([-2.0, 0.5]))
    assert SAGAN().d_loss(step=step).item() == pytest.approx(1.0)
    step = ScriptedStep(torch.tensor([]), torch.tensor([-1.0, 3.0]))
    assert SAGAN().g_loss(step=step).item() == pytest.approx(-1.0)


def _config(**values):
    return TrainConfig(**{"latent_dim": 16, **values})


@pytest.mark.parametrize("build", ["generator", "discriminator"])
def test_every_conv_and_linear_weight_of_both_networks_is_spectrally_normalized(build):
    family = SAGAN(width=4)
    net = family.build_generator(config=_config(), data=DIGITS) if build == "generator" \
        else family.build_discriminator(data=DIGITS)
    layers = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    # one attention block, at half the image size by default
    attention = [m for m in net.modules() if isinstance(m, SelfAttention)]
    assert len(attention) == 1 and attention[0].gamma.item() == 0.0


@pytest.mark.parametrize("size, attention, expected", [(8, None, 4), (28, None, 14), (32, 8, 8), (32, None, 16)])
def test_attention_sits_at_the_chosen_resolution(size, attention, expected):
    data = DataSpec("x", (1, size, size))
    family = SAGAN(width=2, attention=attention)
    seen = []
    G, D = (family.build_generator(config=_config(), data=data), family.build_discriminator(data=data))
    for net in (G, D):
        next(m for m in net.modules() if isinstance(m, SelfAttention)).register_forward_hook(
            lambda module, args, out: seen.append(out.shape[-1]))
    x = G(G.latent(2))
    assert x.shape == (2, 1, size, size) and x.abs().max() <= 1
    assert D(x).shape == (2,)
    assert seen == [expected, expected]


def test_bad_attention_size_and_vector_data_are_refused():
    with pytest.raises(PluginError, match="attention=8 is not a feature-map size"):
        SAGAN(attention=8).build_discriminator(data=DIGITS)
    with pytest.raises(PluginError, match="images"):
        SAGAN().build_generator(config=_config(), data=DataSpec("ring", (2,)))


@pytest.mark.parametrize("option", [{"width": 0}, {"attention": 1.5}, {"n_power_iterations": 0}, {"lipschitz": 0.0}])
def test_bad_options_are_refused(option):
    with pytest.raises(ValueError, match=next(iter(option))):
        SAGAN(**option)


def test_defaults_are_the_papers_ttur_with_an_ema_of_g_on_28x28():
    ttur = {"optimizer": "adam", "lr_g": 1e-4, "lr_d": 4e-4, "betas": (0.0, 0.9), "n_critic": 1}
    assert DEFAULTS["small-image"] == ttur and DEFAULTS["image"] == {**ttur, "plugins": ["ema"]}
    assert SAGAN.paper["options"]["gancore-sagan"]["width"] == 64 and "plugins" not in SAGAN.paper


def test_28x28_defaults_narrow_the_networks():
    options = declared_options(SAGAN)
    assert options["width"].default_for("image") == options["width"].default_for("small-image") == 32
    assert options["lipschitz"].default_for("image") == 1.0


def _train(tmp_path, *args, data="digits", name="run", steps="2"):
    return CliRunner().invoke(main, ["train", "--data", data, "--steps", steps, "--batch-size", "8",
                                     "--out", str(tmp_path), "--name", name, "--log-every", "1",
                                     "--grid-size", "4", "--checkpoint-every", "2", *args])


@pytest.mark.parametrize("data", ["digits", "mnist"])
def test_family_trains_from_the_cli_with_ttur(tmp_path, data):
    result = _train(tmp_path, "--plugin", "gancore-sagan", "--set", "gancore-sagan.width=4", data=data)
    assert result.exit_code == 0, result.output
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["step"] == 2 and row["d/loss"] >= 0
    config = (tmp_path / "run" / "config.toml").read_text()
    assert "lr_g = 0.0001" in config and "lr_d = 0.0004" in config


def test_ring_and_bad_attention_are_clean_cli_errors(tmp_path):
    assert_clean_error(_train(tmp_path, "--plugin", "gancore-sagan", data="ring"), "images")
    assert_clean_error(_train(tmp_path, "--plugin", "gancore-sagan", "--set", "gancore-sagan.attention=3",
                              name="bad"), "attention=3")

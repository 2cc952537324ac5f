"""StyleGAN2: logistic losses by hand, the generator's parts and outputs, D, defaults, CLI runs."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from gancore_stylegan2 import DEFAULTS, StyleGAN2, channels_at

from gancore.nets import EqualLinear, MinibatchStdDev, ModulatedConv2d
from gancore.checkpoint import load_checkpoint
from gancore.cli import main
from gancore.config import TrainConfig
from gancore.data import DataSpec
from gancore.errors import PluginError
from gancore.testing import ScriptedStep, assert_clean_error

DIGITS = DataSpec("digits", (1, 8, 8))
SMALL = {"width": 4, "most": 8, "w_dim": 8, "mapping_layers": 2}


def test_non_saturating_logistic_losses_by_hand():
    # L_D = softplus(-D(x)) + softplus(D(G(z))): real 0 -> log 2, fake 0 -> log 2; L_G = softplus(-D(G(z)))
    step = ScriptedStep(torch.tensor([0.0, 0.0]), torch.tensor([0.0, 0.0]))
    assert StyleGAN2().d_loss(step=step).item() == pytest.approx(2 * 0.6931472, rel=1e-6)
    step = ScriptedStep(torch.tensor([]), torch.tensor([2.0, -1.0]))
    expected = (torch.log1p(torch.exp(torch.tensor(-2.0))) + torch.log1p(torch.exp(torch.tensor(1.0)))) / 2
    assert StyleGAN2().g_loss(step=step).item() == pytest.approx(expected.item(), rel=1e-6)


def _generator(size=8, **options):
    return StyleGAN2(**{**SMALL, **options}).build_generator(config=TrainConfig(latent_dim=6),
                                                             data=DataSpec("x", (1, size, size)))


def test_channels_double_from_full_resolution_up_to_most():
    assert [channels_at(level, 3, 16, 48) for level in range(4)] == [48, 48, 32, 16]


@pytest.mark.parametrize("size, layers", [(8, 2 + 3 * 2), (28, 2 + 3 * 2), (32, 2 + 3 * 3)])
def test_generator_outputs_sample_and_per_layer_w(size, layers):
    torch.manual_seed(0)
    G = _generator(size)
    out = G(G.latent(3))
    assert out["sample"].shape == (3, 1, size, size)
    assert out["w"].shape == (3, layers, 8) and out["w"].requires_grad
    assert torch.equal(out["w"][:, 0], out["w"][:, -1])  # one w broadcast to every layer (no mixing)


def test_mapping_network_is_equalized_with_lr_multiplier():
    G = _generator()
    layers = [m for m in G.mapping.modules() if isinstance(m, EqualLinear)]
    assert len(layers) == 2 and all(layer.lr_mul == 0.01 for layer in layers)
    convs = [m for m in G.modules() if isinstance(m, ModulatedConv2d)]
    assert [c.demodulate for c in convs].count(False) == len(G.rgbs)  # toRGB layers only
    assert G.const.shape == (1, 8, 2, 2)  # a learned constant at the base resolution


def test_noise_is_fresh_in_training_and_fixed_when_sampling():
    torch.manual_seed(0)
    G = _generator()
    with torch.no_grad():
        for module in G.modules():
            if hasattr(module, "strength"):
                module.strength.fill_(1.0)
    z = G.latent(2)
    assert not torch.equal(G(z)["sample"], G(z)["sample"])
    G.eval()
    a, b = G(z)["sample"], G(z)["sample"]
    assert torch.equal(a, b) and a.abs().max() <= 1  # clipped like the images StyleGAN2 writes


def test_skip_generator_sums_every_resolutions_rgb():
    # with the last toRGB silenced, the image is the upsampled lower resolutions' sum only
    torch.manual_seed(0)
    G = _generator()
    z = G.latent(2)
    full = G(z)["sample"]
    with torch.no_grad():
        G.rgbs[-1].conv.weight.zero_()
        G.rgbs[-1].bias.zero_()
    low = G(z)["sample"]
    assert not torch.allclose(low, full) and low.abs().sum() > 0


@pytest.mark.parametrize("mbstd", [0, 4])
def test_discriminator_scores_and_minibatch_stddev(mbstd):
    D = StyleGAN2(**SMALL, mbstd=mbstd).build_discriminator(data=DataSpec("x", (3, 32, 32)))
    assert D(torch.randn(8, 3, 32, 32)).shape == (8,)
    assert any(isinstance(m, MinibatchStdDev) for m in D.modules()) == bool(mbstd)


def test_vector_data_is_refused():
    with pytest.raises(PluginError, match="convolutional"):
        StyleGAN2().build_discriminator(data=DataSpec("ring", (2,)))


def test_defaults_are_the_papers():
    paper = DEFAULTS["image"]
    assert paper["lr_g"] == paper["lr_d"] == 0.002 and paper["betas"] == (0.0, 0.99)
    assert paper["regularizers"] == {"r1": 10.0, "pathlength": 2.0}
    assert paper["options"] == {"r1": {"every": 16}, "pathlength": {"every": 4}} and paper["plugins"] == ["ema"]


def _train(tmp_path, *args, data="digits", name="run", steps="2"):
    sizes = [arg for key, value in SMALL.items() for arg in ("--set", f"gancore-stylegan2.{key}={value}")]
    return CliRunner().invoke(main, ["train", "--plugin", "gancore-stylegan2", *sizes, "--data", data,
                                     "--steps", steps, "--batch-size", "8", "--out", str(tmp_path), "--name", name,
                                     "--log-every", "1", "--grid-size", "4", "--checkpoint-every", "5", *args])


def test_trains_from_the_cli_with_lazy_r1_and_path_length(tmp_path):
    result = _train(tmp_path, steps="5")
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [("g/pl" in row, "d/r1" in row) for row in rows] == [(True, True), (False, False), (False, False),
                                                                (False, False), (True, False)]
    state = load_checkpoint(run / "checkpoints" / "step-000005").state["plugins"]
    assert state["pathlength"]["pl_mean"].item() > 0
    assert "ema" in state
    # resuming continues the path length average where it was
    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--steps", "6"])
    assert result.exit_code == 0, result.output


def test_ring_is_a_clean_cli_error(tmp_path):
    assert_clean_error(_train(tmp_path, data="ring"), "convolutional")


def test_trains_with_separate_lazy_phases_and_rescaled_adam(tmp_path):
    # StyleGAN2-ADA's schedule: R1 (every 4 here) and path length (every 2) in updates of their own,
    # Adam's lr times k/(k+1) and betas (0, 0.99) to the power k/(k+1).
    result = _train(tmp_path, "--lazy-regularization", "separate", "--set", "r1.every=4", "--set",
                    "pathlength.every=2", steps="5")
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [("g/pl" in row, "d/r1" in row) for row in rows] == [(True, True), (False, False), (True, False),
                                                                (False, False), (True, True)]
    optimizers = load_checkpoint(run / "checkpoints" / "step-000005").state
    for name, steps, k in (("opt_d", 5 + 2, 4), ("opt_g", 5 + 3, 2)):
        state, group = optimizers[name]["state"], optimizers[name]["param_groups"][0]
        # Parameters that a penalty does not reach (D's last bias for R1) have no gradient in its passes.
        assert max(int(value["step"]) for value in state.values()) == steps, name
        assert group["lr"] == pytest.approx(0.002 * k / (k + 1))
        assert group["betas"] == pytest.approx((0.0, 0.99 ** (k / (k + 1))))

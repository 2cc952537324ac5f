"""--precision, --channels-last, --compile, and the fp16 gradient-penalty recipe."""

from __future__ import annotations

import json

import pytest
import torch

from gancore.config import make_config
from gancore.errors import ConfigError
from gancore.losses import input_gradient, loss_scaling
from gancore.plugins import Registry
from gancore.run.rundir import resolve
from gancore.trainer import Trainer, make_accelerator

SMALL = {"data": "digits", "steps": 1, "batch_size": 8, "log_every": 1, "sample_every": 0, "checkpoint_every": 0,
         "grid_size": 4, "device": "cpu"}


def trainer_for(tmp_path, **settings):
    # Small networks for whichever family the test trains (options of a plugin not in the run are refused).
    options = {name: {"width": 8} for name in ("gancore-dcgan", "gancore-wgan") if name in settings["plugins"]}
    user = {**SMALL, "out": str(tmp_path), "name": "run", "options": options, **settings}
    config, run, dataset = resolve(Registry.discover(), user)
    return Trainer(config, run, dataset, tmp_path / "run", progress=False)


@pytest.fixture
def fresh_accelerate_state():
    """Accelerate keeps one precision per process; these tests change it."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def test_compile_is_refused_for_double_backward_penalties_naming_them(gan, tmp_path):
    result = gan("train", "--plugin", "gancore-wgan", "-r", "gp", "-r", "div", "--compile", "--data", "digits",
                 "--steps", "1", "--out", tmp_path, "--name", "x")
    assert result.exit_code == 1
    assert "--compile cannot be used with 'gp', 'div'" in result.output and "double backward" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("penalty", ["r1", "r2", "dragan"])
def test_compile_is_refused_for_every_input_gradient_penalty(gan, tmp_path, penalty):
    # Each differentiates gancore.losses.input_gradient's create_graph=True gradient.
    result = gan("train", "--plugin", "gancore-gan", "-r", penalty, "--compile", "--data", "ring", "--steps", "1",
                 "--out", tmp_path, "--name", "x")
    assert result.exit_code == 1 and f"--compile cannot be used with {penalty!r}" in result.output, result.output


def test_compile_is_applied_when_no_plugin_needs_double_backward(tmp_path):
    trainer = trainer_for(tmp_path, plugins=["gancore-wgan"], regularizers={"clip": 0.01}, compile=True)
    # nn.Module.compile() compiles in place: names, parameters and checkpoints are unchanged.
    assert trainer.generator._compiled_call_impl is not None
    assert trainer.discriminator._compiled_call_impl is not None
    assert not trainer_for(tmp_path, plugins=["gancore-wgan"]).generator._compiled_call_impl


def test_channels_last_models_and_batches(tmp_path):
    trainer = trainer_for(tmp_path, plugins=["gancore-dcgan"], regularizers={"gp": 10.0}, channels_last=True)
    conv = trainer.generator.net[0].weight  # (100, 8, 4, 4)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    step = trainer._new_step()
    assert step.real.is_contiguous(memory_format=torch.channels_last)
    trainer.fit()
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert all(torch.isfinite(torch.tensor(v)) for v in row.values())


def test_bf16_on_the_cpu_trains_with_a_gradient_penalty(tmp_path, fresh_accelerate_state):
    trainer = trainer_for(tmp_path, plugins=["gancore-dcgan"], regularizers={"gp": 10.0}, precision="bf16")
    assert trainer.acc.mixed_precision == "bf16"
    trainer.fit()
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["d/gp"] > 0 and all(torch.isfinite(torch.tensor(v)) for v in row.values())


def test_fp32_means_no_mixed_precision_and_fp16_needs_a_gpu(fresh_accelerate_state):
    assert make_accelerator(make_config({"device": "cpu", "precision": "fp32"})).mixed_precision == "no"
    with pytest.raises(ConfigError, match="fp16 needs a CUDA GPU"):
        make_accelerator(make_config({"device": "cpu", "precision": "fp16"}))
    with pytest.raises(ConfigError, match="precision"):
        make_config({"precision": "fp8"})


def test_input_gradient_under_loss_scaling_returns_the_unscaled_gradient():
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    w = torch.tensor(1.5, requires_grad=True)
    x = torch.tensor([[1.0, -2.0], [0.5, 3.0]])

    def score(inputs):  # D(x) = w * sum(x^2) per sample; dD/dx = 2 w x
        return w * (inputs ** 2).sum(dim=1)

    plain_scores, plain = input_gradient(score, x)
    with loss_scaling(scaler):
        scores, scaled = input_gradient(score, x)
    assert torch.allclose(scaled, 2 * 1.5 * x) and torch.allclose(plain, scaled)
    assert torch.equal(scores, plain_scores)
    # The penalty's own gradient reaches w: d/dw mean(||2 w x||^2) = 8 w mean(||x||^2).
    (scaled.flatten(1).norm(dim=1) ** 2).mean().backward()
    assert torch.allclose(w.grad, 8 * 1.5 * (x ** 2).sum(dim=1).mean())

"""SNGAN: hinge loss by hand, spectral normalization, the add-on wrapper, checkpointed u/v."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from gancore_sngan import SNGAN, SpectralNorm, apply_spectral_norm
from safetensors.torch import load_file
from torch import nn
from torch.nn.utils import parametrize

from gancore.cli import main
from gancore.data import DataSpec
from gancore.errors import PluginError
from gancore.plugins import Registry
from gancore.testing import ScriptedStep


def test_hinge_losses():
    # mean(relu(1 - [0.5, 2])) + mean(relu(1 + [-2, 0.5])) = 0.25 + 0.75
    step = ScriptedStep(torch.tensor([0.5, 2.0]), torch.tensor([-2.0, 0.5]))
    assert SNGAN().d_loss(step=step).item() == pytest.approx(1.0)
    step = ScriptedStep(torch.tensor([]), torch.tensor([-1.0, 3.0]))
    assert SNGAN().g_loss(step=step).item() == pytest.approx(-1.0)


def _sigma(layer):
    weight = layer.weight  # the normalized weight (the parametrization applied)
    return torch.linalg.matrix_norm(weight.detach().flatten(1), ord=2).item()


@pytest.mark.parametrize("shape", [(2,), (1, 8, 8)])
def test_every_conv_and_linear_weight_gets_unit_spectral_norm(shape):
    torch.manual_seed(0)
    D = SNGAN(width=4, hidden=16, n_power_iterations=1).build_discriminator(data=DataSpec("x", shape))
    layers = [m for m in D.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    x = torch.randn(4, *shape)
    for _ in range(30):  # power iterations run in training-mode forwards
        D(x)
    for layer in layers:
        assert _sigma(layer) == pytest.approx(1.0, abs=0.02)


def test_spectral_norm_is_not_applied_twice():
    D = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    apply_spectral_norm(D)
    apply_spectral_norm(D)
    assert len(D[0].parametrizations.weight) == 1


def test_addon_wraps_any_family_and_is_not_a_family():
    registry = Registry.discover()
    assert registry.get("spectral-norm").kind == "add-on"
    run = registry.activate(["gancore-dcgan", "spectral-norm"])
    assert run.family == "gancore-dcgan" and run.addons == ["spectral-norm"]
    D = run.hook.build_discriminator(config=None, data=DataSpec("digits", (1, 8, 8)))
    convs = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert convs and all(parametrize.is_parametrized(m, "weight") for m in convs)
    # with a family that normalizes its own D, the add-on changes nothing and nothing conflicts
    run = registry.activate(["gancore-sngan", "spectral-norm"])
    D = run.hook.build_discriminator(config=None, data=DataSpec("ring", (2,)))
    assert all(len(m.parametrizations.weight) == 1 for m in D.modules() if isinstance(m, nn.Linear))
    # two families are still refused
    with pytest.raises(PluginError, match="only one family"):
        registry.activate(["gancore-dcgan", "gancore-sngan"])


def test_addon_refuses_bad_options():
    with pytest.raises(ValueError):
        SpectralNorm(n_power_iterations=0)


def _train(tmp_path, *args, data="digits", name="run", steps="2"):
    result = CliRunner().invoke(main, ["train", "--data", data, "--steps", steps, "--batch-size", "16",
                                       "--out", str(tmp_path), "--name", name, "--log-every", "1",
                                       "--grid-size", "4", "--checkpoint-every", "2", *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return tmp_path / name


@pytest.mark.parametrize("data", ["ring", "digits", "mnist"])
def test_family_trains_from_the_cli(tmp_path, data):
    run = _train(tmp_path, "--plugin", "gancore-sngan", "--set", "gancore-sngan.width=8", "--set",
                 "gancore-sngan.hidden=16", data=data)
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["step"] == 2 and row["d/loss"] >= 0


def test_power_iteration_vectors_survive_checkpoint_and_resume(tmp_path):
    run = _train(tmp_path, "--plugin", "gancore-dcgan", "--plugin", "spectral-norm", "--set",
                 "gancore-dcgan.width=8")
    saved = load_file(str(run / "checkpoints" / "step-000002" / "discriminator.safetensors"))
    u_keys = [k for k in saved if k.endswith("._u")]
    assert u_keys and all(k[:-2] + "_v" in saved for k in u_keys)
    meta = json.loads((run / "checkpoints" / "step-000002" / "meta.json").read_text())
    assert "spectral-norm" in meta["plugins"]

    from gancore.checkpoint import load_checkpoint
    from gancore.run.rundir import resolve
    from gancore.trainer import Trainer

    config, plugins, dataset = resolve(Registry.discover(), {
        "plugins": ["gancore-dcgan", "spectral-norm"], "options": {"gancore-dcgan": {"width": 8}},
        "data": "digits", "steps": 3, "batch_size": 16})
    trainer = Trainer(config, plugins, dataset, tmp_path / "again", progress=False)
    before = {k: v.clone() for k, v in trainer.discriminator.state_dict().items() if k.endswith("._u")}
    trainer.load_checkpoint(load_checkpoint(run / "checkpoints" / "step-000002"))
    after = trainer.discriminator.state_dict()
    for key in u_keys:
        assert torch.equal(after[key], saved[key])
    assert any(not torch.equal(before[k], saved[k]) for k in u_keys)
    # and the CLI resume continues the run
    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--steps", "3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (run / "checkpoints" / "step-000003").is_dir()

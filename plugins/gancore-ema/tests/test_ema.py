"""The ema add-on: the update against its closed form, checkpointing, sampling with the average."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from gancore_ema import EMA
from torch import nn

from gancore import hookimpl
from gancore.checkpoint import load_checkpoint
from gancore.config import make_config
from gancore.data import load_data
from gancore.plugins import Registry
from gancore.run.rundir import load_generator
from gancore.trainer import Trainer


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.bn = nn.BatchNorm1d(2)


def _fake_step(G, state, index, batch=8, processes=1):
    logs = {}
    return SimpleNamespace(G=G, index=index, config=SimpleNamespace(batch_size=batch),
                           accelerator=SimpleNamespace(num_processes=processes),
                           state_for=lambda plugin: state, log=lambda name, value: logs.__setitem__(name, value))


def _run_updates(ema, G, k, batch=8, processes=1):
    """Initial weights, then k generator updates to fresh random weights; returns the history."""
    torch.manual_seed(0)
    state = {}
    history = [{n: v.detach().clone() for n, v in G.state_dict().items()}]
    ema.post_step(step=_fake_step(G, state, 0, batch, processes), phase="d")
    for i in range(k):
        with torch.no_grad():
            for p in G.parameters():
                p.copy_(torch.randn_like(p))
            G.bn.running_mean.copy_(torch.randn(2))
            G.bn.num_batches_tracked += 1
        history.append({n: v.detach().clone() for n, v in G.state_dict().items()})
        ema.post_step(step=_fake_step(G, state, i, batch, processes), phase="g")
    return state, history


def test_beta_is_a_half_life_in_images():
    ema = EMA(ema_kimg=10)
    assert ema.beta(64, 0) == pytest.approx(0.5 ** (64 / 10_000))
    # Half the weight after half_life images, whatever the batch size.
    assert ema.beta(100, 0) ** 100 == pytest.approx(0.5) and ema.beta(10, 0) ** 1000 == pytest.approx(0.5)
    ramp = EMA(ema_kimg=10, ema_rampup=0.05)
    assert ramp.beta(64, 0) == 0.0  # nothing seen yet: the average is the current weights
    assert ramp.beta(64, 64_000) == pytest.approx(0.5 ** (64 / 3_200))
    assert ramp.beta(64, 10**7) == pytest.approx(0.5 ** (64 / 10_000))


def test_k_updates_give_the_closed_form_average():
    G, k, batch = _Net(), 5, 8
    ema = EMA(ema_kimg=0.02)  # half-life 20 images
    state, history = _run_updates(ema, G, k, batch)
    beta = 0.5 ** (batch / 20)
    for name in ("lin.weight", "lin.bias", "bn.weight", "bn.bias"):
        expected = beta ** k * history[0][name] + sum(
            (1 - beta) * beta ** (k - i) * history[i][name] for i in range(1, k + 1))
        assert torch.allclose(state[name], expected, atol=1e-6), name
        assert not torch.allclose(state[name], history[-1][name])
    # Buffers are copied, not averaged.
    assert torch.equal(state["bn.running_mean"], history[-1]["bn.running_mean"])
    assert state["bn.num_batches_tracked"].item() == k


def test_ramp_up_and_global_batch_enter_beta():
    G, k, batch, processes = _Net(), 4, 8, 2
    ema = EMA(ema_kimg=1, ema_rampup=0.5)
    state, history = _run_updates(ema, G, k, batch, processes)
    expected = history[0]["lin.weight"]
    for i in range(1, k + 1):
        seen = (i - 1) * batch * processes
        half_life = min(1000.0, 0.5 * seen)
        beta = 0.5 ** (batch * processes / half_life) if half_life > 0 else 0.0
        expected = beta * expected + (1 - beta) * history[i]["lin.weight"]
    assert torch.allclose(state["lin.weight"], expected, atol=1e-6)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="ema_kimg"):
        EMA(ema_kimg=0)
    with pytest.raises(ValueError, match="ema_rampup"):
        EMA(ema_rampup=-1)


class Recorder:
    """Records the generator's weights after every generator update."""

    def __init__(self):
        self.weights = []

    @hookimpl
    def post_step(self, step, phase):
        if phase == "d" and not self.weights:
            self.weights.append({n: v.clone() for n, v in step.G.state_dict().items()})
        if phase == "g":
            self.weights.append({n: v.clone() for n, v in step.G.state_dict().items()})


def _trainer(tmp_path, steps=4):
    from gancore_gan import GAN

    registry = Registry()
    registry.add("gan", GAN)
    registry.add("ema", EMA)
    registry.add("rec", Recorder)
    config = make_config({"plugins": ["gan", "ema", "rec"], "data": "ring", "steps": steps, "batch_size": 8,
                          "log_every": 1, "sample_every": 0, "checkpoint_every": 0, "grid_size": 16,
                          "options": {"gan": {"hidden": 8, "layers": 1}, "ema": {"ema_kimg": 0.05}}})
    run = registry.activate(config.plugins, config.options)
    trainer = Trainer(config, run, load_data("ring"), tmp_path, progress=False)
    return trainer, run.pm.get_plugin("rec")


def test_training_keeps_the_average_in_the_checkpoint_and_samples_with_it(tmp_path):
    trainer, rec = _trainer(tmp_path, steps=4)
    path = trainer.fit()
    beta = 0.5 ** (8 / 50)
    history, k = rec.weights, len(rec.weights) - 1
    assert k == 4
    saved = load_checkpoint(path).state["plugins"]["ema"]
    for name, _ in trainer.generator.named_parameters():
        expected = beta ** k * history[0][name] + sum(
            (1 - beta) * beta ** (k - i) * history[i][name] for i in range(1, k + 1))
        assert torch.allclose(saved[name], expected, atol=1e-6), name
    row = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["ema/beta"] == pytest.approx(beta)
    # The sample grid is drawn with the average, not the trained weights.
    average = trainer.sampling_generator()
    assert average is not trainer.generator
    for name, value in average.state_dict().items():
        assert torch.equal(value, saved[name])
    with torch.no_grad():
        assert torch.allclose(trainer.sample_fixed(), average(trainer._fixed))
        assert not torch.allclose(trainer.sample_fixed(), trainer.generator(trainer._fixed))


def test_gan_sample_uses_the_average_unless_told_otherwise(gan, tmp_path):
    result = gan("train", "--plugin", "gancore-gan", "--set", "gancore-gan.hidden=8", "--set", "gancore-gan.layers=1",
                 "--plugin", "ema", "--set", "ema.ema_kimg=0.05", "--data", "ring", "--steps", 5, "--batch-size", 16,
                 "--out", tmp_path, "--name", "run", "--log-every", 5, "--grid-size", 16)
    assert result.exit_code == 0, result.output
    assert "add-ons: ema" in result.output
    registry = Registry.discover()
    averaged, _, _, ckpt = load_generator(registry, tmp_path / "run")
    trained, _, _, _ = load_generator(registry, tmp_path / "run", trained_weights=True)
    for name, value in averaged.state_dict().items():
        assert torch.equal(value, ckpt.state["plugins"]["ema"][name])
        assert torch.equal(trained.state_dict()[name], ckpt.generator[name])
    assert not all(torch.equal(averaged.state_dict()[n], ckpt.generator[n]) for n in ckpt.generator)
    out_avg, out_raw = tmp_path / "avg.png", tmp_path / "raw.png"
    assert gan("sample", tmp_path / "run", "-n", 16, "-o", out_avg).exit_code == 0
    assert gan("sample", tmp_path / "run", "-n", 16, "-o", out_raw, "--trained-weights").exit_code == 0
    assert out_avg.read_bytes() != out_raw.read_bytes()


@pytest.mark.parametrize("data", ["digits", "mnist"])
def test_mixed_run_dcgan_penalty_ema(gan, tmp_path, data):
    # The mixed run is `--regularizer r1=10`; r1 comes from another distribution, gp until it is installed.
    penalty = "r1" if "r1" in Registry.discover() else "gp"
    result = gan("train", "--plugin", "gancore-dcgan", "--set", "gancore-dcgan.width=8", "--regularizer",
                 f"{penalty}=10", "--plugin", "ema", "--data", data, "--steps", 2, "--batch-size", 8, "--out",
                 tmp_path, "--name", "mix", "--log-every", 1, "--grid-size", 4)
    assert result.exit_code == 0, result.output
    row = json.loads((tmp_path / "mix" / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"d/loss", f"d/{penalty}", "g/loss", "ema/beta"} <= set(row)
    ckpt = load_checkpoint(tmp_path / "mix" / "checkpoints" / "step-000002")
    assert set(ckpt.state["plugins"]["ema"]) == set(ckpt.generator)
    assert (tmp_path / "mix" / "samples" / "step-000002.png").is_file()


def test_a_resumed_run_continues_the_average(tmp_path):
    straight, _ = _trainer(tmp_path / "straight", steps=4)
    straight.fit()
    first, _ = _trainer(tmp_path / "first", steps=2)
    ckpt = load_checkpoint(first.fit())
    resumed, _ = _trainer(tmp_path / "resumed", steps=4)
    resumed.load_checkpoint(ckpt)
    assert torch.equal(resumed.plugin_state["ema"]["net.0.weight"], ckpt.state["plugins"]["ema"]["net.0.weight"])
    resumed.fit()
    for name, value in straight.plugin_state["ema"].items():
        assert torch.allclose(resumed.plugin_state["ema"][name], value, atol=1e-6), name


def test_listed_as_an_add_on(gan):
    listed = {p["name"]: p for p in json.loads(gan("plugins", "--json").output)}
    assert listed["ema"]["kind"] == "add-on" and listed["ema"]["distribution"] == "gancore-ema"
    assert set(listed["ema"]["hooks"]) == {"post_step", "sampling_generator"}
    assert listed["ema"]["options"] == {"ema_kimg": 10.0, "ema_rampup": 0.0}

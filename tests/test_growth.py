"""Networks that change during training (gancore.growth): the schedule, the grow hook, optimizers
extended on growth, the stage in the checkpoint and an exact resume across a stage change."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gancore import hookimpl
from gancore.checkpoint import load_checkpoint
from gancore.config import make_config
from gancore.data import load_data
from gancore.declaration import declare
from gancore.errors import CheckpointError, PluginError
from gancore.generator import Generator
from gancore.growth import Stage, check_stages, extend_optimizer, position
from gancore.losses import logistic_d, logistic_g
from gancore.plugins import Registry
from gancore.trainer import Trainer

#: Three stages: one layer from step 0, a second added at step 2 (at once), a third at step 4 fading in
#: over 2 steps.
SCHEDULE = (Stage(0), Stage(2), Stage(4, fade=2))


class Layers(nn.Module):
    """Linear layers added one per stage (for real: new parameters), the last blended in by ``fade``."""

    def __init__(self, dim: int, out: int):
        super().__init__()
        self.dim, self.out = dim, out
        self.layers = nn.ModuleList([nn.Linear(dim, dim)])
        self.head = nn.Linear(dim, out)
        self.register_buffer("fade", torch.ones(()))

    def grow_to(self, stage: int, fade: float) -> None:
        while len(self.layers) < stage + 1:
            self.layers.append(nn.Linear(self.dim, self.dim))
        self.fade.fill_(fade)

    def forward(self, x):
        h = x
        for number, layer in enumerate(self.layers):
            new = torch.tanh(layer(h))
            h = self.fade * new + (1 - self.fade) * h if number == len(self.layers) - 1 else new
        return self.head(h)


class GrowingG(Generator):
    growth = SCHEDULE

    def __init__(self, latent_dim: int):
        super().__init__(latent_dim)
        self.net = Layers(latent_dim, 2)

    def forward(self, z):
        return self.net(z)


class GrowingD(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = Layers(2, 1)

    def forward(self, x):
        return self.net(x).squeeze(1)


@declare
class Grower:
    """A toy family whose networks gain a layer at each stage."""

    kind = "family"

    def __init__(self):
        self.calls = []

    @hookimpl
    def build_generator(self, config):
        return GrowingG(config.latent_dim)

    @hookimpl
    def build_discriminator(self):
        return GrowingD()

    @hookimpl
    def grow(self, stage, fade, generator, discriminator):
        self.calls.append((stage, fade))
        generator.net.grow_to(stage, fade)
        discriminator.net.grow_to(stage, fade)

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.fake_scores())


def make_trainer(tmp_path, steps=6, **overrides):
    registry = Registry()
    registry.add("grower", Grower)
    config = make_config({"plugins": ["grower"], "data": "ring", "steps": steps, "batch_size": 8, "seed": 1,
                          "log_every": 1, "sample_every": 0, "checkpoint_every": 1, "keep": 10, **overrides})
    run = registry.activate(config.plugins, config.options)
    return Trainer(config, run, load_data("ring"), tmp_path, progress=False), run.pm.get_plugin("grower")


def test_position_is_the_stage_and_fade_of_a_step():
    assert [position(SCHEDULE, i) for i in range(7)] == [(0, 1.0), (0, 1.0), (1, 1.0), (1, 1.0), (2, 0.0),
                                                         (2, 0.5), (2, 1.0)]


@pytest.mark.parametrize("stages, problem", [
    ((Stage(1),), "must start at step 0"),
    ((Stage(0), Stage(3), Stage(3)), "must increase"),
    ((Stage(0), Stage(2, fade=-1)), ">= 0"),
    (((0, 0),), "gancore.growth.Stage"),
])
def test_a_malformed_schedule_is_refused(stages, problem):
    with pytest.raises(PluginError, match=problem):
        check_stages(stages)


def test_extend_optimizer_keeps_the_state_of_held_parameters():
    old = nn.Linear(2, 2)
    optimizer = torch.optim.Adam(old.parameters(), lr=0.1, betas=(0.0, 0.99))
    old(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    moments = optimizer.state[old.weight]["exp_avg_sq"].clone()
    both = nn.Sequential(old, nn.Linear(2, 2))
    assert extend_optimizer(optimizer, both) == 2 and extend_optimizer(optimizer, both) == 0
    assert len(optimizer.param_groups) == 2 and optimizer.param_groups[1]["betas"] == (0.0, 0.99)
    assert optimizer.param_groups[1]["lr"] == 0.1
    assert torch.equal(optimizer.state[old.weight]["exp_avg_sq"], moments)


def test_networks_grow_on_schedule_and_optimizers_follow(tmp_path):
    trainer, grower = make_trainer(tmp_path)
    trainer.fit()
    # Called when the stage or fade changes: steps 0, 2, 4 (fade 0), 5 (0.5); step 6 is not trained.
    assert grower.calls == [(0, 1.0), (1, 1.0), (2, 0.0), (2, 0.5)]
    G, opt_g = trainer.generator, trainer.opt_g
    assert len(G.net.layers) == 3
    held = {id(p) for group in opt_g.param_groups for p in group["params"]}
    assert all(id(p) in held for p in G.parameters())
    # Adam's state of the first layer counts every update; the stage-2 layer's, those since step 4.
    assert int(opt_g.state[G.net.layers[0].weight]["step"]) == 6
    assert int(opt_g.state[G.net.layers[2].weight]["step"]) == 2
    checkpoint = load_checkpoint(tmp_path / "checkpoints" / "step-000006")
    assert checkpoint.state["growth"] == {"stage": 2}


@pytest.mark.parametrize("resume_at", [1, 3, 5])
def test_resume_across_a_stage_change_is_exact(tmp_path, resume_at):
    straight, _ = make_trainer(tmp_path / "straight")
    straight.fit()
    resumed, _grower = make_trainer(tmp_path / "resumed")
    resumed.load_checkpoint(load_checkpoint(tmp_path / "straight" / "checkpoints" / f"step-{resume_at:06d}"))
    assert len(resumed.generator.net.layers) == position(SCHEDULE, resume_at)[0] + 1
    resumed.fit()
    for a, b in ((straight.generator, resumed.generator), (straight.discriminator, resumed.discriminator)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    sa, sb = straight.opt_g.state_dict()["state"], resumed.opt_g.state_dict()["state"]
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k]["exp_avg"], sb[k]["exp_avg"]) for k in sa)


def test_a_damaged_stage_in_a_checkpoint_is_refused(tmp_path):
    trainer, _ = make_trainer(tmp_path, steps=3)
    trainer.fit()
    checkpoint = load_checkpoint(tmp_path / "checkpoints" / "step-000003")
    checkpoint.state["growth"] = {"stage": 7}
    fresh, _ = make_trainer(tmp_path / "fresh", steps=3)
    with pytest.raises(CheckpointError, match="growth stage 7"):
        fresh.load_checkpoint(checkpoint)


def test_a_run_whose_networks_do_not_grow_saves_no_stage(tmp_path):
    from gancore_gan import GAN

    registry = Registry()
    registry.add("gan", GAN)
    config = make_config({"plugins": ["gan"], "data": "ring", "steps": 1, "batch_size": 8, "sample_every": 0,
                          "options": {"gan": {"hidden": 8, "layers": 1}}})
    trainer = Trainer(config, registry.activate(config.plugins, config.options), load_data("ring"), tmp_path,
                      progress=False)
    assert "growth" not in trainer.state_dict() and not trainer.growth.stages

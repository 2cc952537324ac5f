"""The training loop's contract with plugins, checked through a real Trainer."""

from __future__ import annotations

import attrs
import pytest
import torch
from gancore_gan import GAN

from gancore import hookimpl
from gancore.checkpoint import load_checkpoint
from gancore.config import make_config
from gancore.data import load_data
from gancore.plugins import Registry
from gancore.step import schedule
from gancore.trainer import Trainer


class Recorder:
    """An add-on that records what the trainer calls and keeps a checkpointed counter."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def regularize(self, step, phase):
        self.calls.append(("regularize", phase, step.index))
        return {"const": torch.tensor(0.25, requires_grad=False)} if phase == "d" else None

    @hookimpl
    def post_step(self, step, phase):
        self.calls.append(("post_step", phase, step.index))
        state = step.state_for(self)
        state["count"] = state.get("count", torch.zeros(())) + 1
        step.log("count", state["count"])


def make_trainer(tmp_path, steps=3, n_critic=2, seed=0, **overrides):
    registry = Registry()
    registry.add("gan", GAN)
    registry.add("rec", Recorder)
    config = make_config({"plugins": ["gan", "rec"], "data": "ring", "steps": steps, "n_critic": n_critic,
                          "batch_size": 8, "seed": seed, "log_every": 1, "sample_every": 0,
                          "checkpoint_every": 0, "options": {"gan": {"hidden": 8, "layers": 1}}, **overrides})
    run = registry.activate(config.plugins, config.options)
    trainer = Trainer(config, run, load_data("ring"), tmp_path, progress=False)
    return trainer, run.pm.get_plugin("rec")


def test_phases_call_hooks_in_order(tmp_path):
    trainer, rec = make_trainer(tmp_path, steps=2, n_critic=3)
    trainer.fit()
    per_step = [("regularize", "d"), ("post_step", "d")] * 3 + [("regularize", "g"), ("post_step", "g")]
    assert [c[:2] for c in rec.calls] == per_step * 2
    assert [c[2] for c in rec.calls] == [0] * 8 + [1] * 8


def test_regularizer_terms_are_added_to_the_loss_and_logged(tmp_path):
    trainer, _ = make_trainer(tmp_path, steps=1, n_critic=1)
    trainer.fit()
    row = (tmp_path / "metrics.jsonl").read_text().splitlines()[-1]
    assert '"d/const": 0.25' in row and '"d/loss"' in row and '"count": 2.0' in row


def test_discriminator_update_does_not_touch_the_generator_and_vice_versa(tmp_path):
    trainer, _ = make_trainer(tmp_path)
    G, D = trainer.generator, trainer.discriminator
    g0 = [p.detach().clone() for p in G.parameters()]
    d0 = [p.detach().clone() for p in D.parameters()]
    step = trainer._new_step()
    d_update, *_, g_update = schedule(trainer.phases, 0)
    trainer._update(step, d_update)
    assert all(torch.equal(a, b) for a, b in zip(g0, G.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(d0, D.parameters()))
    assert all(p.grad is None for p in G.parameters())
    d1 = [p.detach().clone() for p in D.parameters()]
    trainer._update(step, g_update)
    assert all(p.requires_grad for p in D.parameters())  # D is trainable again after the G update
    assert all(torch.equal(a, b) for a, b in zip(d1, D.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(g0, G.parameters()))


class FrozenWatch:
    """An add-on that records, in each phase, whether D's parameters take gradients when the
    phase's terms are computed, and whether D's gradients changed between the last discriminator
    update and the end of the generator update."""

    def __init__(self):
        self.trainable, self.d_grads_changed = [], []

    @hookimpl
    def regularize(self, step, phase):
        self.trainable.append((phase, [p.requires_grad for p in step.D.parameters()]))

    @hookimpl
    def post_step(self, step, phase):
        grads = [p.grad.clone() for p in step.D.parameters()]
        if phase == "g":
            self.d_grads_changed.append(any(not torch.equal(a, b) for a, b in zip(self._after_d, grads)))
        self._after_d = grads


def test_the_discriminator_is_frozen_in_the_generator_phase_only(tmp_path):
    # Frozen, G's backward goes through D without computing (or accumulating into) D's gradients.
    registry = Registry()
    registry.add("gan", GAN)
    registry.add("watch", FrozenWatch)
    config = make_config({"plugins": ["gan", "watch"], "data": "ring", "steps": 2, "n_critic": 2, "batch_size": 8,
                          "log_every": 1, "sample_every": 0, "checkpoint_every": 0,
                          "options": {"gan": {"hidden": 8, "layers": 1}}})
    run = registry.activate(config.plugins, config.options)
    Trainer(config, run, load_data("ring"), tmp_path, progress=False).fit()
    watch = run.pm.get_plugin("watch")
    assert [(phase, set(flags)) for phase, flags in watch.trainable] == [
        ("d", {True}), ("d", {True}), ("g", {False})] * 2
    assert watch.d_grads_changed == [False, False]


def test_same_seed_same_weights_and_a_different_seed_differs(tmp_path):
    weights = []
    for i, seed in enumerate((3, 3, 4)):
        trainer, _ = make_trainer(tmp_path / str(i), seed=seed)
        trainer.fit()
        weights.append(torch.cat([p.flatten() for p in trainer.generator.parameters()]))
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])


def test_linear_schedule_decays_both_learning_rates(tmp_path):
    trainer, _ = make_trainer(tmp_path, steps=4, lr_schedule="linear", lr_g=1e-3, lr_d=2e-3)
    seen = []
    original = trainer._update

    def spy(step, phase):
        seen.append((trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"]))
        original(step, phase)

    trainer._update = spy
    trainer.fit()
    assert seen[::3] == [pytest.approx((1e-3 * f, 2e-3 * f)) for f in (1.0, 0.75, 0.5, 0.25)]


def test_checkpoint_holds_training_state_and_plugin_state(tmp_path):
    trainer, _ = make_trainer(tmp_path, steps=2, n_critic=1)
    path = trainer.fit()
    ckpt = load_checkpoint(path)
    assert ckpt.state["plugins"]["rec"]["count"].item() == 4
    assert ckpt.state["sampler"]["cursor"] == 2 * 8
    assert set(ckpt.state["opt_g"]) == {"state", "param_groups"}
    fresh, _ = make_trainer(tmp_path / "again", steps=5, n_critic=1)
    fresh.load_checkpoint(ckpt)
    assert fresh.index == 2 and fresh.plugin_state["rec"]["count"].item() == 4
    for a, b in zip(trainer.generator.parameters(), fresh.generator.parameters()):
        assert torch.equal(a, b)


def test_config_evolve_keeps_validation():
    config = make_config({"steps": 3})
    with pytest.raises(Exception):
        attrs.evolve(config, steps=-1)


class Zeroed:
    """An add-on offering, for sampling, a copy of the generator with every weight zero."""

    def __init__(self, bad: bool = False):
        self.bad = bad

    @hookimpl
    def post_step(self, step, phase):
        step.state_for(self)["seen"] = torch.ones(())

    @hookimpl
    def sampling_generator(self, generator, state_for):
        if not state_for(self):
            return None
        if self.bad:
            return torch.zeros(3)
        import copy

        zeroed = copy.deepcopy(generator)
        for tensor in zeroed.parameters():
            tensor.data.zero_()
        return zeroed


def test_sampling_generator_hook_chooses_what_grids_and_loaders_sample_with(tmp_path):
    from gancore.errors import PluginError
    from gancore.run.rundir import load_generator

    registry = Registry()
    registry.add("gan", GAN)
    registry.add("zeroed", Zeroed)
    config = make_config({"plugins": ["gan", "zeroed"], "data": "ring", "steps": 1, "batch_size": 8,
                          "sample_every": 0, "checkpoint_every": 0, "out": str(tmp_path), "name": "z",
                          "options": {"gan": {"hidden": 8, "layers": 1}}})
    run = registry.activate(config.plugins, config.options)
    trainer = Trainer(config, run, load_data("ring"), tmp_path / "z", progress=False)
    assert trainer.sampling_generator() is trainer.generator  # no state yet: the plugin offers nothing
    trainer.fit()
    bias = trainer.generator.net[-1].bias
    assert torch.equal(trainer.sample_fixed(), torch.zeros_like(trainer.sample_fixed()))
    assert bias.abs().sum() > 0  # the trained generator itself is untouched
    generator, *_ = load_generator(registry, tmp_path / "z")
    assert all(p.abs().sum() == 0 for p in generator.parameters())
    generator, *_ = load_generator(registry, tmp_path / "z", trained_weights=True)
    assert torch.equal(generator.net[-1].bias, bias)
    bad = registry.activate(["gan"], {"gan": {"hidden": 8, "layers": 1}})
    bad.register(registry.add("broken", Zeroed), {"bad": True})
    with pytest.raises(PluginError, match="not a generator"):
        bad.sampling_generator(trainer.generator, {"broken": {"x": torch.ones(())}})


class Sometimes:
    """An add-on that logs a value on odd steps only."""

    @hookimpl
    def post_step(self, step, phase):
        if phase == "g" and step.index % 2 == 1:
            step.log("sometimes", torch.tensor(float(step.index)))


def test_a_value_logged_on_some_steps_is_averaged_over_those_steps_only(tmp_path):
    registry = Registry()
    registry.add("gan", GAN)
    registry.add("sometimes", Sometimes)
    config = make_config({"plugins": ["gan", "sometimes"], "data": "ring", "steps": 4, "batch_size": 8,
                          "log_every": 4, "sample_every": 0, "checkpoint_every": 0,
                          "options": {"gan": {"hidden": 8, "layers": 1}}})
    run = registry.activate(config.plugins, config.options)
    Trainer(config, run, load_data("ring"), tmp_path, progress=False).fit()
    row = (tmp_path / "metrics.jsonl").read_text().splitlines()[-1]
    assert '"sometimes": 2.0' in row  # steps 1 and 3, not (1 + 3) / 4


class Sequence:
    """An add-on whose discriminator-phase term is 1, 2, 3, ... on successive D updates."""

    def __init__(self):
        self.calls = 0

    @hookimpl
    def regularize(self, step, phase):
        if phase == "d":
            self.calls += 1
            return {"seq": torch.tensor(float(self.calls))}


def test_every_critic_update_counts_in_the_logged_means(tmp_path):
    registry = Registry()
    registry.add("gan", GAN)
    registry.add("sequence", Sequence)
    config = make_config({"plugins": ["gan", "sequence"], "data": "ring", "steps": 2, "n_critic": 3,
                          "batch_size": 8, "log_every": 2, "sample_every": 0, "checkpoint_every": 0,
                          "options": {"gan": {"hidden": 8, "layers": 1}}})
    run = registry.activate(config.plugins, config.options)
    Trainer(config, run, load_data("ring"), tmp_path, progress=False).fit()
    row = (tmp_path / "metrics.jsonl").read_text().splitlines()[-1]
    assert '"d/seq": 3.5' in row  # the mean of 1..6, not of the last update per step (3 and 6)


def _scoring_step(D):
    from gancore.data import Batch
    from gancore.step import Step

    G = torch.nn.Linear(3, 2)
    G.latent = lambda n, batch=None: torch.randn(n, 3)
    step = Step(index=0, batch=Batch(torch.randn(6, 2)), generator=G, discriminator=D, G=G, D=D, config=None,
                data=None, accelerator=None, state={}, name_of=str)
    return step.begin("g")


def test_fake_scores_with_batchnorm_normalise_fakes_inside_a_real_and_fake_batch():
    torch.manual_seed(0)
    D = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1))
    step = _scoring_step(D)
    fake = step.fake
    expected = D(torch.cat([step.real, fake]))[6:]
    assert torch.allclose(step.fake_scores(), expected)
    assert not torch.allclose(step.fake_scores(), D(fake))  # alone, BatchNorm would see other statistics
    step.fake_scores().sum().backward()
    assert all(p.grad is not None for p in step.G.parameters())  # the generator still gets gradients


def test_fake_scores_without_batch_statistics_score_the_fakes_alone():
    torch.manual_seed(0)
    D = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 1))
    step = _scoring_step(D)
    assert torch.equal(step.fake_scores(), D(step.fake))


def test_separate_batches_score_real_and_fake_apart_and_fakes_alone():
    torch.manual_seed(0)
    D = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1))
    step = _scoring_step(D)
    step.separate_batches = True
    real_scores, fake_scores = step.real_and_fake_scores()
    assert torch.equal(real_scores, D(step.real)) and torch.equal(fake_scores, D(step.fake))
    assert not torch.allclose(fake_scores, D(torch.cat([step.real, step.fake]))[6:])
    assert torch.equal(step.fake_scores(), D(step.fake))


class CountingGAN(GAN):
    """The GAN family, counting generator passes and checking the fakes the generator's update scores."""

    needs_fresh_fakes = False

    def __init__(self, hidden: int = 8, layers: int = 1):
        super().__init__(hidden=hidden, layers=layers)
        self.passes, self.d_fakes, self.checked = 0, None, 0

    @hookimpl
    def build_generator(self, config, data):
        generator = super().build_generator(config, data)
        # Training passes only: sample grids run the generator in eval mode.
        generator.register_forward_hook(
            lambda module, *_: setattr(self, "passes", self.passes + module.training))
        return generator

    @hookimpl
    def d_loss(self, step):
        assert not step.fake.requires_grad  # D's loss must not reach G
        self.d_fakes = step.fake.clone()
        return super().d_loss(step)

    @hookimpl
    def g_loss(self, step):
        loss = super().g_loss(step)
        if not self.needs_fresh_fakes:
            # The very fakes D was just trained on, now with G's graph; G's gradient through them is
            # the one a second pass on the same latent (after D's update) gives.
            assert torch.equal(step.fake.detach(), self.d_fakes)
            params = list(step.G.parameters())
            reused = torch.autograd.grad(loss, params, retain_graph=True)
            fresh = torch.nn.functional.softplus(-step.discriminator(step.G(step.latent))).mean()
            for a, b in zip(reused, torch.autograd.grad(fresh, params)):
                assert torch.allclose(a, b, atol=1e-6)
            self.checked += 1
        return loss


class FreshGAN(CountingGAN):
    needs_fresh_fakes = True


@pytest.mark.parametrize("family, passes_per_step", [(CountingGAN, 1), (FreshGAN, 2)])
def test_one_generator_pass_per_step_unless_a_plugin_needs_fresh_fakes(tmp_path, family, passes_per_step):
    registry = Registry()
    registry.add("counting", family)
    config = make_config({"plugins": ["counting"], "data": "ring", "steps": 3, "n_critic": 2, "batch_size": 8,
                          "log_every": 1, "sample_every": 0, "checkpoint_every": 0})
    run = registry.activate(config.plugins, config.options)
    trainer = Trainer(config, run, load_data("ring"), tmp_path, progress=False)
    counting = run.pm.get_plugin("counting")
    trainer.fit()
    # n_critic = 2: the first critic update's fakes are made without a graph, the second's are reused
    # (the test's own second pass, once per check, aside).
    assert counting.passes - counting.checked == 3 * (passes_per_step + 1)
    assert counting.checked == (3 if passes_per_step == 1 else 0)

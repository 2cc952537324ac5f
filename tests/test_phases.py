"""The step's phase table by hand: its rows, which phases run at which step, lazy regularization
(terms times the interval, inline or in passes of their own) and StyleGAN2's optimizer rescaling."""

from __future__ import annotations

import pytest
import torch
from gancore_gan import GAN

from gancore import hookimpl
from gancore.checkpoint import load_checkpoint
from gancore.config import make_config
from gancore.data import load_data
from gancore.errors import ConfigError, PluginError
from gancore.plugins import Registry
from gancore.step import lazy_ratio, phase_table, schedule
from gancore.trainer import Trainer, make_optimizer


def rows(table):
    return [(r.name, r.network, r.interval, r.regularizers, r.repeat, r.loss, r.separate) for r in table]


def test_the_table_has_a_main_row_per_network_and_a_reg_row_per_lazy_interval():
    lazy = {"r1": {"d": 16}, "gp": {}, "pathlength": {"g": 4}, "r2": {"d": 16}}
    assert rows(phase_table(5, lazy)) == [
        ("D main", "d", 1, ("gp", "pathlength"), 5, True, False),
        ("D reg", "d", 16, ("r1", "r2"), 1, False, False),
        ("G main", "g", 1, ("r1", "gp", "r2"), 1, True, False),
        ("G reg", "g", 4, ("pathlength",), 1, False, False),
    ]
    assert [r.separate for r in phase_table(5, lazy, "separate")] == [False, True, False, True]
    # An interval of 1 is not lazy; two intervals are two reg rows, in order.
    assert rows(phase_table(1, {"a": {"d": 1}, "b": {"d": 8}, "c": {"d": 2}})) == [
        ("D main", "d", 1, ("a",), 1, True, False),
        ("D reg", "d", 2, ("c",), 1, False, False),
        ("D reg", "d", 8, ("b",), 1, False, False),
        ("G main", "g", 1, ("a", "b", "c"), 1, True, False),
    ]
    assert rows(phase_table(3, {})) == [("D main", "d", 1, (), 3, True, False), ("G main", "g", 1, (), 1, True, False)]


def test_separate_lazy_regularization_needs_one_interval_per_network():
    with pytest.raises(ConfigError, match="b every 8, c every 2"):
        phase_table(1, {"a": {"d": 1}, "b": {"d": 8}, "c": {"d": 2}}, "separate")
    phase_table(1, {"b": {"d": 8}, "c": {"g": 2}}, "separate")  # one each: fine


def passes(updates):
    return [(u.network, u.number, [[row.name for row in p] for p in u.passes], u.last) for u in updates]


def test_which_phases_run_at_which_step_inline():
    # n_critic 2, D reg every 3 D updates, G reg every 2 G updates: D updates 0, 3, 6 and G updates 0, 2.
    table = phase_table(2, {"r": {"d": 3}, "pl": {"g": 2}})
    assert [passes(schedule(table, index)) for index in range(4)] == [
        [("d", 0, [["D main", "D reg"]], False), ("d", 1, [["D main"]], True), ("g", 0, [["G main", "G reg"]], True)],
        [("d", 2, [["D main"]], False), ("d", 3, [["D main", "D reg"]], True), ("g", 1, [["G main"]], True)],
        [("d", 4, [["D main"]], False), ("d", 5, [["D main"]], True), ("g", 2, [["G main", "G reg"]], True)],
        [("d", 6, [["D main", "D reg"]], False), ("d", 7, [["D main"]], True), ("g", 3, [["G main"]], True)],
    ]


def test_which_phases_run_at_which_step_separate():
    table = phase_table(1, {"r": {"d": 2}, "pl": {"g": 3}}, "separate")
    assert [passes(schedule(table, index)) for index in range(4)] == [
        [("d", 0, [["D main"], ["D reg"]], True), ("g", 0, [["G main"], ["G reg"]], True)],
        [("d", 1, [["D main"]], True), ("g", 1, [["G main"]], True)],
        [("d", 2, [["D main"], ["D reg"]], True), ("g", 2, [["G main"]], True)],
        [("d", 3, [["D main"]], True), ("g", 3, [["G main"], ["G reg"]], True)],
    ]


def test_stylegan2s_mb_ratio_rescales_lr_and_betas():
    separate = phase_table(1, {"r1": {"d": 16}, "pl": {"g": 4}}, "separate")
    assert lazy_ratio(separate, "d") == 16 / 17 and lazy_ratio(separate, "g") == 4 / 5
    assert lazy_ratio(phase_table(1, {"r1": {"d": 16}}), "d") == 1.0  # inline: no extra update, no rescaling
    params = [torch.nn.Parameter(torch.zeros(1))]
    adam = make_optimizer(make_config({"lr_d": 0.002, "betas": (0.0, 0.99)}), params, 0.002, 16 / 17)
    group = adam.param_groups[0]
    # 0.002 * 16/17 = 0.00188235...; 0.99 ** (16/17) = exp(16/17 * ln 0.99) = exp(-0.00945914) = 0.99058546
    assert group["lr"] == pytest.approx(0.00188235294, rel=1e-9)
    assert group["betas"] == (0.0, pytest.approx(0.99058546, rel=1e-7))
    sgd = make_optimizer(make_config({"optimizer": "sgd", "betas": (0.5, 0.9)}), params, 0.1, 4 / 5)
    assert sgd.param_groups[0]["lr"] == pytest.approx(0.08) and sgd.param_groups[0]["momentum"] == pytest.approx(
        0.57434918)  # 0.5 ** 0.8 = 2 ** -0.8


class Lazy:
    """A test add-on, lazy in phase ``phase`` every ``every``: ``scale * sum(w^2)`` over the phase's network."""

    def __init__(self, every: int = 3, phase: str = "d", scale: float = 0.25):
        self.lazy_every = {phase: every}
        self.phase, self.scale = phase, scale
        self.calls: list[tuple[str, int]] = []

    @hookimpl
    def regularize(self, step, phase):
        self.calls.append((phase, step.index))
        if phase != self.phase:
            return None
        net = step.D if phase == "d" else step.G
        if phase == "g":
            step.fake  # noqa: B018 - a G reg pass computes its fakes (a spent graph would fail here)
        return {"lazy": self.scale * sum(p.pow(2).sum() for p in net.parameters())}


class Counter:
    """Counts post_step calls by phase."""

    def __init__(self):
        self.post = {"d": 0, "g": 0}

    @hookimpl
    def post_step(self, step, phase):
        self.post[phase] += 1


def make_trainer(tmp_path, *, lazy: dict | None = None, steps=3, n_critic=2, **overrides):
    registry = Registry()
    registry.add("gan", GAN)
    registry.add("lazy", Lazy)
    registry.add("counter", Counter)
    config = make_config({"plugins": ["gan", "lazy", "counter"], "data": "ring", "steps": steps,
                          "n_critic": n_critic, "batch_size": 8, "log_every": 1, "sample_every": 0,
                          "checkpoint_every": 0, "options": {"gan": {"hidden": 8, "layers": 1}, "lazy": lazy or {}},
                          **overrides})
    run = registry.activate(config.plugins, config.options)
    trainer = Trainer(config, run, load_data("ring"), tmp_path, progress=False)
    return trainer, run.pm.get_plugin("lazy"), run.pm.get_plugin("counter")


def adam_steps(optimizer) -> int:
    return int(next(iter(optimizer.state.values()))["step"])


def metrics(tmp_path):
    import json

    return [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]


def test_inline_lazy_terms_join_the_due_updates_times_the_interval(tmp_path):
    trainer, lazy, counter = make_trainer(tmp_path, lazy={"every": 3})
    before = sum(p.pow(2).sum() for p in trainer.discriminator.parameters()).item()
    trainer.fit()
    # Called in phase "d" only on D updates 0 and 3 (steps 0 and 1); in phase "g", where it is
    # not lazy, on every update.
    assert lazy.calls == [("d", 0), ("g", 0), ("d", 1), ("g", 1), ("g", 2)]
    rows = metrics(tmp_path)
    assert ["d/lazy" in row for row in rows] == [True, True, False]
    assert rows[0]["d/lazy"] == pytest.approx(3 * 0.25 * before, rel=1e-6)  # the term times its interval
    assert adam_steps(trainer.opt_d.optimizer) == 6 and counter.post == {"d": 6, "g": 3}
    assert trainer.opt_d.param_groups[0]["lr"] == 2e-4 and trainer.opt_d.param_groups[0]["betas"] == (0.5, 0.999)


def test_separate_lazy_terms_are_updates_of_their_own_with_rescaled_optimizer(tmp_path):
    trainer, lazy, counter = make_trainer(tmp_path, lazy={"every": 3}, lazy_regularization="separate",
                                          lr_schedule="linear", lr_d=2e-3)
    d_lr = []
    original = trainer._update

    def spy(step, update):
        d_lr.append(trainer.opt_d.param_groups[0]["lr"])
        original(step, update)

    trainer._update = spy
    trainer.fit()
    assert lazy.calls == [("d", 0), ("g", 0), ("d", 1), ("g", 1), ("g", 2)]
    # Six D updates, two with a reg pass: eight optimizer steps; post_step once per update.
    assert adam_steps(trainer.opt_d.optimizer) == 8 and adam_steps(trainer.opt_g.optimizer) == 3
    assert counter.post == {"d": 6, "g": 3}
    assert ["d/lazy" in row for row in metrics(tmp_path)] == [True, True, False]
    # D's lr is lr_d * (1 - index/steps) * 3/4, its betas (0.5, 0.999) ** (3/4); G's are untouched.
    assert d_lr[::3] == pytest.approx([2e-3 * 0.75 * f for f in (1.0, 2 / 3, 1 / 3)])
    assert trainer.opt_d.param_groups[0]["betas"] == pytest.approx((0.59460356, 0.99924990))
    assert trainer.opt_g.param_groups[0]["betas"] == (0.5, 0.999)


def test_a_separate_generator_reg_pass_draws_fresh_fakes(tmp_path):
    trainer, lazy, _ = make_trainer(tmp_path, lazy={"every": 2, "phase": "g"}, lazy_regularization="separate")
    trainer.fit()
    assert ["g/lazy" in row for row in metrics(tmp_path)] == [True, False, True]
    assert adam_steps(trainer.opt_g.optimizer) == 5 and trainer.opt_g.param_groups[0]["lr"] == pytest.approx(
        2e-4 * 2 / 3)


def test_a_separate_run_resumes_exactly(tmp_path):
    settings = {"lazy": {"every": 3}, "lazy_regularization": "separate", "steps": 4}
    whole, _, _ = make_trainer(tmp_path / "whole", **settings)
    whole.fit()
    first, _, _ = make_trainer(tmp_path / "pieces", **settings)
    checkpoint = first.fit(until=2)
    resumed, _, _ = make_trainer(tmp_path / "pieces", **settings)
    resumed.load_checkpoint(load_checkpoint(checkpoint))
    resumed.fit()
    for a, b in zip([*whole.generator.parameters(), *whole.discriminator.parameters()],
                    [*resumed.generator.parameters(), *resumed.discriminator.parameters()]):
        assert torch.equal(a, b)
    assert resumed.opt_d.param_groups[0]["betas"] == whole.opt_d.param_groups[0]["betas"]


@pytest.mark.parametrize("declared", [{"x": 2}, {"d": 0}, {"d": 1.5}, [2]])
def test_a_bad_lazy_declaration_is_a_clear_error(tmp_path, declared, monkeypatch):
    monkeypatch.setattr(Lazy, "__init__", lambda self: setattr(self, "lazy_every", declared))
    with pytest.raises(PluginError, match="plugin 'lazy': lazy_every must map"):
        make_trainer(tmp_path)


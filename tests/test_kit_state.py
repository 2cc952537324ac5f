"""The kit's checks for a stateful plugin's likeliest bugs (issue 27): each fails on a plugin with the
bug and passes on the same plugin written right. Per-plugin state refuses anything but tensors."""

from __future__ import annotations

from typing import Annotated

import pytest
import torch

from gancore import hookimpl
from gancore.declaration import PositiveInt, Range, declare, option
from gancore.errors import PluginError
from gancore.losses import logistic_d, logistic_g
from gancore.nets import MLPGenerator
from gancore.pluginstate import PluginState
from gancore.plugins import Registry
from gancore.testing import ConformanceError, ReferenceFamily, check_plugin


def check(obj, **kwargs):
    registry = Registry()
    registry.add("subject", obj)
    return check_plugin("subject", registry=registry, **kwargs)


class MultiplierOnSelf(ReferenceFamily):
    """A Lagrange-multiplier-like scale kept on self: training changes it, a resume forgets it."""

    def __init__(self):
        self.lam = 0.0

    @hookimpl
    def d_loss(self, step):
        real, fake = step.real_and_fake_scores()
        return logistic_d(real, fake) * (1.0 + self.lam)

    @hookimpl
    def post_step(self, step, phase):
        if phase == "d":
            self.lam += 1e-6  # small: the weights of a resumed run differ by less than the kit's tolerance


class LazyMultiplierOnSelf(MultiplierOnSelf):
    """The multiplier on self again, first set during training."""

    def __init__(self):
        pass

    @hookimpl
    def d_loss(self, step):
        real, fake = step.real_and_fake_scores()
        return logistic_d(real, fake) * (1.0 + getattr(self, "lam", 0.0))

    @hookimpl
    def post_step(self, step, phase):
        if phase == "d":
            self.lam = getattr(self, "lam", 0.0) + 1e-6
            self.cache = torch.ones(3)  # rebuilt the same way after a resume: not state


class MultiplierInState(MultiplierOnSelf):
    """The same family written right: the multiplier in step.state_for(self)."""

    @hookimpl
    def d_loss(self, step):
        real, fake = step.real_and_fake_scores()
        lam = step.state_for(self).setdefault("lam", torch.zeros((), device=real.device))
        return logistic_d(real, fake) * (1.0 + lam)

    @hookimpl
    def post_step(self, step, phase):
        if phase == "d":
            step.state_for(self)["lam"] = step.state_for(self)["lam"] + 1e-6


class FloatInState(MultiplierInState):
    @hookimpl
    def post_step(self, step, phase):
        if phase == "d":
            state = step.state_for(self)
            state["count"] = float(state.get("count", 0.0)) + 1.0  # a Python float: checkpoints hold tensors


def test_a_multiplier_kept_on_self_fails_the_resume_check_naming_the_attribute():
    with pytest.raises(ConformanceError, match=r"resuming from a checkpoint loses subject's attribute self\.lam"
                                               r".*step\.state_for\(self\)"):
        check(MultiplierOnSelf, data=["2-D points"])


def test_a_multiplier_first_set_during_training_on_self_fails_too():
    with pytest.raises(ConformanceError, match=r"loses subject's attribute self\.lam: set during training"):
        check(LazyMultiplierOnSelf, data=["2-D points"])


def test_the_multiplier_kept_in_state_passes():
    report = check(MultiplierInState, data=["2-D points"])
    assert any("checkpoint" in line for line in report.checked)


def test_a_python_float_put_in_state_fails_the_kit_when_it_is_assigned():
    with pytest.raises(ConformanceError, match=r"state_for\(self\)\['count'\] must be a tensor, got float"):
        check(FloatInState, data=["2-D points"])


class IgnoresLatent(torch.nn.Module):
    """Wraps a generator but feeds it zeros: every sample the same."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.num_classes, self.latent_dim = inner.num_classes, inner.latent_dim

    def latent(self, n, labels=None, batch=None, rng=None):
        return self.inner.latent(n, labels=labels, batch=batch, rng=rng)

    def forward(self, latent):
        return self.inner(torch.zeros_like(latent))


class ConstantGenerator(ReferenceFamily):
    @hookimpl
    def build_generator(self, config, data):
        return IgnoresLatent(MLPGenerator(data, config.latent_dim, hidden=32, layers=2))


class IgnoresLabels(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner, self.num_classes, self.latent_dim = inner, 10, inner.latent_dim

    @property
    def conditional(self):
        return True

    def latent(self, n, labels=None, batch=None, rng=None):
        z = self.inner.latent(n, rng=rng)
        labels = labels if labels is not None else torch.randint(0, 10, (n,), generator=rng)
        return {"z": z, "labels": labels}

    def forward(self, latent):
        return self.inner(latent["z"])


class LabelBlind(ReferenceFamily):
    @hookimpl
    def build_generator(self, config, data):
        return IgnoresLabels(MLPGenerator(data, config.latent_dim, hidden=32, layers=2))


def test_a_generator_ignoring_its_latent_fails_the_kit():
    with pytest.raises(ConformanceError, match="samples do not depend on the latent"):
        check(ConstantGenerator, data=["2-D points"])


def test_a_conditional_generator_ignoring_its_labels_fails_the_kit():
    with pytest.raises(ConformanceError, match="samples do not depend on the label"):
        check(LabelBlind, data=["2-D points"])


def test_a_conditional_generator_that_uses_its_labels_passes():
    class Conditional(ReferenceFamily):
        @hookimpl
        def build_generator(self, config, data):
            return MLPGenerator(data, config.latent_dim, hidden=32, layers=2, num_classes=data.num_classes)

    check(Conditional, data=["2-D points"])


class OldStyleBadDefault(ReferenceFamily):
    def __init__(self, width: PositiveInt = 0):
        self.width = width


@declare
class DeclaredBadDefault(ReferenceFamily):
    kind = "family"
    width: PositiveInt = option(8, by_kind={"vector": 0}, help="Units.")
    rate: Annotated[float, Range(gt=0, lt=1)] = option(0.5)


@pytest.mark.parametrize("plugin, message", [
    (OldStyleBadDefault, r"the default of option 'width' is 0, which breaks its own declaration \(int >= 1\)"),
    (DeclaredBadDefault, r"the default of option 'width' for vector data is 0, which breaks its own declaration"),
])
def test_an_option_default_that_breaks_its_annotation_fails_the_kit(plugin, message):
    with pytest.raises(ConformanceError, match=message):
        check(plugin, data=["2-D points"])


def test_gan_plugins_marks_a_default_that_breaks_its_annotation():
    from gancore.plugins import describe

    info = describe("subject", OldStyleBadDefault)
    assert info.option_text("width") == "width=0 (int >= 1; INVALID DEFAULT 0)"
    assert "INVALID" not in describe("subject", DeclaredBadDefault).option_text("rate")
    assert "INVALID DEFAULT 0 for vector" in describe("subject", DeclaredBadDefault).option_text("width")
    assert info.to_dict()["option_invalid_defaults"] == {"width": {"default": 0}}
    assert describe("subject", DeclaredBadDefault).to_dict()["option_invalid_defaults"] == {"width": {"vector": 0}}


def test_good_defaults_are_reported_checked():
    @declare
    class Fine(ReferenceFamily):
        kind = "family"
        width: PositiveInt = option(8, by_kind={"vector": 4})

    report = check(Fine, data=["2-D points"])
    assert "declaration: kind family; option defaults fit their declarations: width" in report.checked


def test_plugin_state_holds_tensors_only():
    state = PluginState("fisher")
    state["lam"] = torch.zeros(())
    for bad in (0.5, 3, None, [1.0], "x"):
        with pytest.raises(PluginError, match=r"plugin 'fisher': step.state_for\(self\)\['k'\] must be a tensor"):
            state["k"] = bad
        with pytest.raises(PluginError, match="must be a tensor"):
            state.setdefault("k", bad)
        with pytest.raises(PluginError, match="must be a tensor"):
            state.update(k=bad)
        with pytest.raises(PluginError, match="must be a tensor"):
            state |= {"k": bad}
    with pytest.raises(PluginError, match="keyed by names"):
        state[1] = torch.zeros(())
    assert list(state) == ["lam"] and isinstance(state.copy(), PluginState)


def test_step_state_for_refuses_a_float_and_keeps_a_checkpoints_tensors():
    from gancore.pluginstate import state_in

    states = {"fisher": {"lam": torch.ones(())}}  # as a checkpoint loads it: plain dicts
    state = state_in(states, "fisher")
    assert isinstance(state, PluginState) and states["fisher"] is state and torch.equal(state["lam"], torch.ones(()))
    with pytest.raises(PluginError, match="must be a tensor"):
        state["lam"] = 2.0


class DetachedFakes(ReferenceFamily):
    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.discriminator(step.fake.detach()))


class ColumnTerm(ReferenceFamily):
    @hookimpl
    def d_loss(self, step):
        real, fake = step.real_and_fake_scores()
        return {"loss": logistic_d(real, fake), "per_sample": (real - fake).reshape(-1, 1)}


def test_contract_messages_instead_of_raw_exceptions():
    with pytest.raises(ConformanceError, match=r"plugin 'subject': the 'g' update's loss has no gradient to follow"
                                               r".*The family's g_loss must depend on the fakes with their graph"):
        check(DetachedFakes, data=["2-D points"])
    with pytest.raises(ConformanceError, match=r"d_loss term 'per_sample' is not a scalar tensor \(got shape "
                                               r"\(8, 1\)\)"):
        check(ColumnTerm, data=["2-D points"])


def test_gan_train_reports_detached_fakes_in_one_line(gan, tmp_path, monkeypatch):
    from gancore.testing import assert_clean_error

    registry = Registry.discover()
    registry.add("detached", DetachedFakes)
    monkeypatch.setattr("gancore.plugins.Registry.discover", classmethod(lambda cls, *a, **k: registry))
    result = gan("train", "--plugin", "detached", "--data", "ring", "--steps", 2, "--batch-size", 8,
                 "--out", tmp_path, "--name", "run", "--no-default-plugins", "-r", "none")
    assert_clean_error(result, "g_loss must depend on the fakes with their graph")


def test_gan_train_refuses_a_float_in_state_in_one_line(gan, tmp_path, monkeypatch):
    from gancore.testing import assert_clean_error

    registry = Registry.discover()
    registry.add("floaty", FloatInState)
    monkeypatch.setattr("gancore.plugins.Registry.discover", classmethod(lambda cls, *a, **k: registry))
    result = gan("train", "--plugin", "floaty", "--data", "ring", "--steps", 2, "--batch-size", 8,
                 "--out", tmp_path, "--name", "run", "--no-default-plugins", "-r", "none")
    assert_clean_error(result, "plugin 'floaty': step.state_for(self)['count'] must be a tensor, got float")

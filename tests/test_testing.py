"""The conformance kit passes a good plugin and catches each kind of broken one."""

from __future__ import annotations

import random

import pytest
import torch

from gancore import hookimpl
from gancore.losses import logistic_d, logistic_g
from gancore.nets import ConvDiscriminator, ConvGenerator
from gancore.plugins import Registry
from gancore.testing import ConformanceError, ReferenceFamily, check_plugin


def check(obj, *others, **kwargs):
    registry = Registry()
    registry.add("subject", obj)
    for name, other in others:
        registry.add(name, other)
    return check_plugin("subject", registry=registry, **kwargs)


class Good(ReferenceFamily):
    """A correct family."""


def test_a_correct_family_passes_on_every_data_shape():
    report = check(Good)
    assert report.kind == "family" and not report.skipped
    assert len([line for line in report.checked if "gradients" in line]) == 6
    assert any("checkpoint" in line for line in report.checked)


class ImagesOnly(ReferenceFamily):
    @hookimpl
    def build_generator(self, config, data):
        return ConvGenerator(data, config.latent_dim, 4)

    @hookimpl
    def build_discriminator(self, data):
        return ConvDiscriminator(data, 4)


def test_unsupported_data_is_skipped_with_the_familys_reason():
    report = check(ImagesOnly, data=["8x8 grey", "2-D points"])
    assert list(report.skipped) == ["2-D points"] and "image data" in report.skipped["2-D points"]


class WrongArgument(ReferenceFamily):
    @hookimpl
    def d_loss(self, step, batch):
        return logistic_d(*step.real_and_fake_scores())


class UnknownHook(ReferenceFamily):
    @hookimpl
    def build_generatr(self, config, data):
        pass


class LeaksIntoG(ReferenceFamily):
    @hookimpl
    def d_loss(self, step):
        fake = step.generator(step.latent)  # with gradients: D's loss reaches G
        return logistic_d(step.discriminator(step.real), step.discriminator(fake))


class NaNLoss(ReferenceFamily):
    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.discriminator(step.fake)) * float("nan")


class NotScalar(ReferenceFamily):
    @hookimpl
    def d_loss(self, step):
        real, fake = step.real_and_fake_scores()
        return {"per_sample": real - fake}


class Unseeded(ReferenceFamily):
    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.discriminator(step.fake)) * random.SystemRandom().uniform(0.5, 2.0)  # not seeded


class ForgetfulAddOn:
    """Keeps its state in an attribute, not in step.state_for: lost on resume."""

    def __init__(self):
        self.updates = 0

    @hookimpl
    def post_step(self, step, phase):
        self.updates += 1
        if phase == "d":
            for p in step.D.parameters():
                p.mul_(1 - 0.01 * self.updates)


class NoGradientToG(ReferenceFamily):
    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.discriminator(step.fake.detach()))


@pytest.mark.parametrize("plugin, message", [
    (WrongArgument, "d_loss takes 'batch'"),
    (UnknownHook, "no hook 'build_generatr'"),
    (LeaksIntoG, "D's loss reaches the generator"),
    (NaNLoss, "non-finite loss term.*loss = nan"),
    (NotScalar, "not a scalar"),
    (Unseeded, "same seed"),
    (NoGradientToG, r"'g' update failed: PluginError: .*The family's g_loss must depend on the fakes with their "
                    "graph"),
])
def test_broken_families_are_caught(plugin, message):
    with pytest.raises(ConformanceError, match=message):
        check(plugin, data=["8x8 grey"])


def test_an_add_on_whose_state_is_not_checkpointed_fails_the_resume_check():
    with pytest.raises(ConformanceError, match="resuming from a checkpoint"):
        check(ForgetfulAddOn, data=["2-D points"])


def test_a_regularizer_is_checked_inside_a_run_of_the_reference_family():
    class Penalty:
        def __init__(self, weight: float = 1.0):
            self.weight = weight

        @hookimpl
        def regularize(self, step, phase):
            if phase == "d":
                return {"l2": self.weight * sum((p ** 2).sum() for p in step.D.parameters())}

    report = check(Penalty, data=["2-D points"])
    assert report.kind == "regularizer"
    with pytest.raises(ConformanceError, match="non-finite loss term.*l2 = inf"):
        check(Penalty, data=["2-D points"], options={"weight": float("inf")})


def test_unknown_plugin_is_a_conformance_error():
    with pytest.raises(ConformanceError, match="unknown plugin"):
        check_plugin("no-such-plugin", registry=Registry())


def test_the_kit_does_not_leave_threads_or_files_behind(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    check(Good, data=["2-D points"])
    assert list(tmp_path.iterdir()) == []
    assert torch.get_num_threads() >= 1

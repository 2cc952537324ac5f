"""A plugin whose option default breaks its own type is refused by `gan train` (and --dry-run) with a
message naming the plugin and the option, declared or written the old way; `gan plugins` marks it."""

from __future__ import annotations

import pytest

import gancore.cli
from gancore import hookimpl
from gancore.declaration import PositiveInt, declare, option
from gancore.losses import logistic_d, logistic_g
from gancore.nets import (
    ConvDiscriminator,
    ConvGenerator,
    MLPDiscriminator,
    MLPGenerator,
    takes_mlp,
)
from gancore.plugins import Registry
from gancore.testing import assert_clean_error


class OldStyle:
    """Written before declarations: options are typed __init__ arguments; width's default breaks its type."""

    def __init__(self, width: PositiveInt = 0, hidden: PositiveInt = 8, arch: str | None = None):
        self.width, self.hidden, self.arch = width, hidden, arch

    @hookimpl
    def build_generator(self, config, data):
        if takes_mlp(data):
            return MLPGenerator(data, config.latent_dim, self.hidden)
        return ConvGenerator(data, config.latent_dim, self.width)

    @hookimpl
    def build_discriminator(self, data):
        return MLPDiscriminator(data, self.hidden) if takes_mlp(data) else ConvDiscriminator(data, self.width)

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.fake_scores())


@declare
class Declared(OldStyle):
    kind = "family"
    width: PositiveInt = option(8, by_kind={"small-image": 0})
    hidden: PositiveInt = option(8)


@pytest.fixture
def registry(monkeypatch):
    registry = Registry.discover()
    registry.add("old-style", OldStyle)
    registry.add("declared", Declared)
    monkeypatch.setattr(gancore.cli, "_registry", lambda: registry)
    return registry


@pytest.mark.parametrize("args", [[], ["--dry-run"]])
def test_an_old_style_default_that_breaks_its_annotation_is_refused(gan, registry, tmp_path, args):
    result = gan("train", "-p", "old-style", "--data", "digits", "--steps", 1, "--out", tmp_path, *args)
    assert_clean_error(result, "plugin 'old-style': the default of its option 'width' is 0", "int >= 1",
                       "--set old-style.width=VALUE")
    assert not list(tmp_path.iterdir())  # refused before any run directory is written


def test_giving_the_option_a_value_trains(gan, registry, tmp_path):
    # The user's value replaces the broken default; an old-style None default (the plugin's choice) passes.
    result = gan("train", "-p", "old-style", "--set", "old-style.width=4", "--data", "ring", "--steps", 1,
                 "--out", tmp_path)
    assert result.exit_code == 0, result.output


def test_a_declared_default_by_kind_is_refused_for_that_kind_only(gan, registry, tmp_path):
    result = gan("train", "-p", "declared", "--data", "digits", "--steps", 1, "--out", tmp_path, "--dry-run")
    assert_clean_error(result, "plugin 'declared': the default of its option 'width' for small-image data is 0")
    result = gan("train", "-p", "declared", "--data", "ring", "--steps", 1, "--out", tmp_path, "--dry-run")
    assert result.exit_code == 0, result.output


def test_gan_plugins_marks_the_broken_default(gan, registry):
    result = gan("plugins")
    assert result.exit_code == 0, result.output
    assert "width=0 (int >= 1; INVALID DEFAULT 0)" in result.output
    assert "INVALID DEFAULT 0 for small-image" in result.output

"""``gan train --preset paper`` (issue 26, item 2): a family's paper settings, declared as class data
(``paper = {...}``), resolved as their own layer in place of the family's defaults."""

from __future__ import annotations

import pytest

from gancore.data import EMBEDDED_SPECS
from gancore.declaration import declare
from gancore.errors import ConfigError, PluginError
from gancore.run.flags import settings_from_args
from gancore.run.resolve import resolve_run

#: The unconditional families that declare a paper preset (docs/families/ lists it beside the defaults).
WITH_PAPER = ("gancore-gan", "gancore-dcgan", "gancore-lsgan", "gancore-sngan", "gancore-wgan",
              "gancore-relativistic", "gancore-dragan", "gancore-ebgan", "gancore-d2gan", "gancore-sgan",
              "gancore-sagan", "gancore-bigan")


def test_dcgan_paper_preset_replaces_the_family_defaults(registry):
    mnist = EMBEDDED_SPECS["mnist"]
    spec = resolve_run(registry, mnist, settings_from_args(["-p", "gancore-dcgan", "--preset", "paper"]))
    layer = "preset paper of gancore-dcgan"
    assert (spec.config.lr_g, spec.config.lr_d, spec.config.lr_schedule) == (2e-4, 2e-4, "constant")
    assert spec.config.batch_size == 128 and tuple(spec.config.betas) == (0.5, 0.999)
    assert spec.regularizers == {} and spec.addons == ()  # the defaults' R1 and EMA are not the paper's
    assert spec.plugin_options["gancore-dcgan"]["norm"] == "batch"  # BatchNorm in D, as the paper
    assert spec.plugin_options["gancore-dcgan"]["depth"] == 1  # one convolution per resolution, as the paper
    assert spec.sources["lr_g"] == layer and spec.sources["options.gancore-dcgan.norm"] == layer
    assert spec.config.preset == "paper" and spec.sources["preset"] == "flag"
    # Without the preset: the defaults, which differ.
    default = resolve_run(registry, mnist, {"plugins": ["gancore-dcgan"]})
    assert default.config.lr_g == 5e-4 and default.regularizers == {"r1": 1.0} and default.addons == ("ema",)
    assert default.config.batch_size == 128 and default.plugin_options["gancore-dcgan"]["depth"] == 2
    assert default.sources["lr_g"] == "family gancore-dcgan" and default.config.preset is None


def test_flags_override_the_preset_and_the_data_kind_stays_below_it(registry):
    user = settings_from_args(["-p", "gancore-dcgan", "--preset", "paper", "--lr-g", "0.01", "-r", "r1=1",
                               "--set", "gancore-dcgan.norm=layer"])
    spec = resolve_run(registry, EMBEDDED_SPECS["digits"], user)
    assert spec.config.lr_g == 0.01 and spec.sources["lr_g"] == "flag"
    assert spec.config.lr_d == 2e-4 and spec.regularizers == {"r1": 1.0}
    assert spec.plugin_options["gancore-dcgan"]["norm"] == "layer"
    assert spec.config.steps == 5000 and spec.sources["steps"] == "data kind small-image"


@pytest.mark.parametrize("family", WITH_PAPER)
def test_every_unconditional_family_resolves_its_paper_preset(registry, family):
    spec = resolve_run(registry, EMBEDDED_SPECS["mnist"], {"plugins": [family], "preset": "paper"})
    assert spec.addons == ()  # no paper here averages G's weights
    assert spec.config.lr_schedule == "constant"
    assert spec.sources["lr_g"] == f"preset paper of {family}"
    assert spec.config != resolve_run(registry, EMBEDDED_SPECS["mnist"], {"plugins": [family]}).config


def test_a_family_without_the_preset_and_an_unknown_preset_are_clear_errors(registry, gan):
    with pytest.raises(PluginError, match="has no preset 'paper'"):
        resolve_run(registry, EMBEDDED_SPECS["digits"], {"plugins": ["gancore-acgan"], "preset": "paper"})
    with pytest.raises(ConfigError, match="bad value for 'preset'"):
        resolve_run(registry, EMBEDDED_SPECS["digits"], {"plugins": ["gancore-dcgan"], "preset": "papers"})
    result = gan("train", "-p", "gancore-dcgan", "--preset", "fast", "--dry-run")
    assert result.exit_code != 0 and "bad value for 'preset'" in result.output
    assert "Traceback" not in result.output


def test_dry_run_shows_the_preset_layer(gan):
    result = gan("train", "-p", "gancore-dcgan", "--preset", "paper", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "lr_g                = 0.0002  # preset paper of gancore-dcgan" in lines
    assert "gancore-dcgan.norm  = 'batch'  # preset paper of gancore-dcgan" in lines


def test_a_preset_must_be_a_family_mapping():
    from gancore.declaration import read_declaration

    @declare
    class Bad:
        kind = "family"
        paper = ["lr", 1]

    with pytest.raises(PluginError, match="'paper' preset must be a mapping"):
        read_declaration(Bad)

    @declare
    class Good:
        kind = "family"
        paper = {"lr_g": 1e-4}

    assert read_declaration(Good).preset_settings("good", "paper") == {"lr_g": 1e-4}
    with pytest.raises(PluginError, match=r"no preset 'other' \(its presets: paper\)"):
        read_declaration(Good).preset_settings("good", "other")

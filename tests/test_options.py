"""Plugin options are typed and checked from the plugin's ``__init__`` signature (one mechanism for all)."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Literal

import pytest
import tomllib

from gancore import hookimpl
from gancore.errors import PluginError
from gancore.plugins import (Arch, FiniteFloat, NonNegativeFloat, Norm, OptionValueError, PositiveInt, Range, Registry,
                             coerce_option, describe_type)
from gancore.testing import assert_clean_error as fails  # exit 1, one Error: paragraph, last, no traceback


QUICK = ["--data", "ring", "--steps", "1", "--batch-size", "8", "--sample-every", "0", "--grid-size", "4",
         "--no-progress"]


@pytest.mark.parametrize("annotation, value, expected", [
    (PositiveInt, 4, 4), (PositiveInt, 4.0, 4), (int, -3, -3), (float, 5, 5.0), (NonNegativeFloat, 0, 0.0),
    (bool, False, False), (str, "x", "x"), (float, float("inf"), float("inf")), (Norm, "layer", "layer"),
    (int | None, 3, 3),
    (Annotated[float, Range(ge=0, lt=1)], 0.5, 0.5), (typing.Any, [1], [1]), (list[int], "unchecked", "unchecked"),
])
def test_values_that_fit_are_converted(annotation, value, expected):
    got = coerce_option(annotation, value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("annotation, value", [
    (PositiveInt, -4), (PositiveInt, 0), (PositiveInt, 1.5), (PositiveInt, True), (int, "3"), (float, True),
    (FiniteFloat, float("nan")), (FiniteFloat, float("inf")), (NonNegativeFloat, float("inf")),
    (NonNegativeFloat, -1.0), (bool, 1), (str, 3), (Norm, "bogus"),
    (Literal[1, 2], True), (Annotated[float, Range(ge=0, lt=1)], 1.0), (Arch, "resnet"),
])
def test_values_that_do_not_fit_are_refused(annotation, value):
    with pytest.raises(OptionValueError):
        coerce_option(annotation, value)


def test_type_descriptions():
    assert describe_type(PositiveInt) == "int >= 1"
    assert describe_type(Annotated[float, Range(gt=0, le=1)]) == "float > 0 and <= 1"
    assert describe_type(Norm) == "one of 'batch', 'instance', 'layer', 'none'"
    assert describe_type(FiniteFloat) == "float (finite)"


def test_norm_and_arch_match_the_networks():
    from gancore import nets

    assert typing.get_args(Norm) == nets.NORMS
    assert typing.get_args(Arch) == nets.ARCHS


def test_every_built_in_option_is_typed_and_its_default_fits(registry):
    built_in = {path.name for path in (Path(__file__).parent.parent / "plugins").iterdir()}
    for info in registry:
        if info.distribution not in built_in:
            continue
        assert set(info.types) == set(info.options), f"{info.name}: untyped options " \
                                                     f"{set(info.options) - set(info.types)}"
        for name, default in info.options.items():
            assert coerce_option(info.types[name], default) == default, (info.name, name)


class Family:
    """A tiny in-process family."""

    def __init__(self, width: int = 4):
        self.width = width

    @hookimpl
    def build_generator(self, config, data):
        from gancore.nets import MLPGenerator

        return MLPGenerator(data, config.latent_dim, self.width, 1)

    @hookimpl
    def build_discriminator(self, data):
        from gancore.nets import MLPDiscriminator

        return MLPDiscriminator(data, self.width, 1)

    @hookimpl
    def d_loss(self, step):
        return step.discriminator(step.fake).mean()

    @hookimpl
    def g_loss(self, step):
        return -step.discriminator(step.fake).mean()


class Unannotated:
    """A family-less add-on without annotations: its options pass unchecked."""

    def __init__(self, size=3):
        self.size = size


class Typed:
    """An add-on with typed options."""

    def __init__(self, size: Annotated[int, Range(ge=2, le=8)] = 3, mode: Literal["a", "b"] = "a"):
        self.size, self.mode = size, mode


def _registry():
    registry = Registry()
    registry.add("fam", Family)
    registry.add("plain", Unannotated)
    registry.add("typed", Typed)
    return registry


def test_activation_checks_and_converts_options():
    registry = _registry()
    run = registry.activate(["fam", "plain", "typed"], {"plain": {"size": "any"}, "typed": {"size": 4.0}})
    assert run.given_options["typed"] == {"size": 4} and type(run.given_options["typed"]["size"]) is int
    assert run.pm.get_plugin("plain").size == "any"
    with pytest.raises(PluginError, match=r"bad value for option 'size' of plugin 'typed': got 9; expected "
                                          r"int >= 2 and <= 8 \(--set typed.size=VALUE\)"):
        registry.activate(["fam", "typed"], {"typed": {"size": 9}})
    with pytest.raises(PluginError, match=r"option 'mode' of plugin 'typed': got 'c'; expected one of 'a', 'b'"):
        registry.activate(["fam", "typed"], {"typed": {"mode": "c"}})


def test_options_of_a_plugin_not_in_the_run_are_refused():
    run = _registry().activate(["fam"], {"typed": {"size": 4}})
    with pytest.raises(PluginError, match=r"--set typed.size: plugin 'typed' is not active in this run "
                                          r"\(active: fam\); add it with --plugin typed"):
        run.check_all_used()


# --- through `gan train` (issue 19, item 3) ---------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["-p", "gancore-gan", "--set", "gancore-gan.hidden=-4"],
     "bad value for option 'hidden' of plugin 'gancore-gan': got -4; expected int >= 1"),
    (["-p", "gancore-gan", "--set", "gancore-gan.hidden=1.5"],
     "option 'hidden' of plugin 'gancore-gan': got 1.5; expected int >= 1"),
    (["-p", "gancore-gan", "--set", "gancore-gan.hidden=true"],
     "option 'hidden' of plugin 'gancore-gan': got True; expected int >= 1"),
    (["-p", "gancore-gan", "--set", "gancore-gan.layers=0"], "option 'layers' of plugin 'gancore-gan': got 0"),
    (["-p", "gancore-gan", "--set", "gancore-gan.layers=-2"], "option 'layers' of plugin 'gancore-gan': got -2"),
    (["-p", "gancore-dcgan", "--set", "gancore-dcgan.width=0"],
     "option 'width' of plugin 'gancore-dcgan': got 0; expected int >= 1"),
    (["-p", "gancore-dcgan", "--set", "gancore-dcgan.norm=bogus"],
     "option 'norm' of plugin 'gancore-dcgan': got 'bogus'; expected one of 'batch', 'instance', 'layer', 'none'"),
    (["-p", "gancore-wgan", "-r", "gp=-1"],
     "bad value for option 'weight' of plugin 'gp': got -1.0; expected float >= 0 (--regularizer gp=W)"),
    (["-p", "gancore-wgan", "-r", "gp=nan"], "option 'weight' of plugin 'gp': got nan; expected float >= 0"),
    (["-p", "gancore-gan", "--set", "nope.x=1"],
     "--set nope.x: plugin 'nope' is not active in this run (active: gancore-gan, r1)"),
    (["-p", "gancore-gan", "--set", "gancore-dcgan.width=8"],
     "--set gancore-dcgan.width: plugin 'gancore-dcgan' is not active in this run (active: gancore-gan, r1); "
     "add it with --plugin gancore-dcgan"),
    (["-p", "gancore-wgan", "-r", "gp", "--set", "div.p=2"],
     "--set div.p: plugin 'div' is not active in this run (active: gancore-wgan, gp); add it with --regularizer div"),
    (["-p", "gancore-wgan", "-r", "gp", "--set", "gp.weight=5"],
     "regularizer 'gp': its weight is set with --regularizer gp=W"),
], ids=["hidden-negative", "hidden-fraction", "hidden-bool", "layers-zero", "layers-negative", "width-zero",
        "norm-bogus", "weight-negative", "weight-nan", "unknown-plugin", "inactive-plugin", "inactive-regularizer",
        "weight-by-set"])
def test_bad_plugin_options_are_refused(gan, tmp_path, args, message):
    fails(gan("train", *args, *QUICK, "--out", tmp_path, "--name", "r"), message)
    assert not (tmp_path / "r").exists()


def test_config_records_the_options_the_plugins_got(gan, tmp_path):
    result = gan("train", "-p", "gancore-gan", "--set", "gancore-gan.hidden=4.0", "--set", "gancore-gan.layers=1",
                 "-p", "gancore-monitor", "--set", "gancore-monitor.auc=1", *QUICK, "--out", tmp_path, "--name", "r")
    assert result.exit_code == 0, result.output
    options = tomllib.loads((tmp_path / "r" / "config.toml").read_text())["options"]
    # Every option each plugin was created with: the given ones converted, the others at their defaults.
    assert options["gancore-gan"] == {"hidden": 4, "layers": 1, "loss": "non-saturating"}
    assert type(options["gancore-gan"]["hidden"]) is int
    assert options["gancore-monitor"]["auc"] == 1.0 and type(options["gancore-monitor"]["auc"]) is float
    assert len(options["gancore-monitor"]) > 1


def test_gan_plugins_shows_option_types(gan):
    result = gan("plugins")
    assert "weight=10.0 (float >= 0)" in result.output
    assert "norm='batch' (one of 'batch', 'instance', 'layer', 'none')" in result.output

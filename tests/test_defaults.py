"""Defaults that follow the data: the data kind, the core's per-kind layer, a family's per-kind defaults,
the add-ons it turns on and the options it gives its regularizers and add-ons."""

from __future__ import annotations

import pytest
from gancore_ema import EMA
from gancore_r1 import R1

from gancore import hookimpl
from gancore.config import KIND_DEFAULTS
from gancore.data import DATA_KINDS, DataSpec
from gancore.errors import PluginError
from gancore.plugins import Registry
from gancore.run.rundir import configure
from gancore.testing import ReferenceFamily

RING, DIGITS, MNIST = DataSpec("ring", (2,)), DataSpec("digits", (1, 8, 8), 10), DataSpec("mnist", (1, 28, 28), 10)


@pytest.mark.parametrize("shape, kind", [((2,), "vector"), ((5,), "vector"), ((1, 8, 8), "small-image"),
                                         ((3, 16, 16), "small-image"), ((1, 28, 28), "image"),
                                         ((3, 64, 64), "image")])
def test_the_data_spec_decides_the_kind(shape, kind):
    assert DataSpec("x", shape).kind == kind and kind in DATA_KINDS


class Plain(ReferenceFamily):
    """A family whose defaults are whatever the test says."""

    given: dict = {}

    @hookimpl
    def default_config(self, data):
        return self.given.get(data.kind, {})


def _configure(given, spec, **user):
    Plain.given = given
    registry = Registry()
    registry.add("plain", Plain)
    registry.add("ema", EMA)
    registry.add("r1", R1)
    return configure(registry, spec, {"plugins": ["plain"], "data": spec.name, **user})


def test_the_core_gives_vector_data_a_small_latent_under_the_family():
    assert KIND_DEFAULTS["vector"]["latent_dim"] == 8
    assert _configure({}, RING)[0].latent_dim == 8
    assert _configure({}, DIGITS)[0].latent_dim == 100
    assert _configure({"vector": {"latent_dim": 3}}, RING)[0].latent_dim == 3  # the family over the core
    assert _configure({"vector": {"latent_dim": 3}}, RING, latent_dim=5)[0].latent_dim == 5  # the user over both


def test_a_family_turns_on_add_ons_per_kind_unless_the_user_says_no():
    given = {"small-image": {"plugins": ["ema"]}}
    config, run = _configure(given, DIGITS)
    assert config.plugins == ("plain", "ema") and run.addons == ["ema"]
    config, run = _configure(given, RING)
    assert config.plugins == ("plain",) and run.addons == []
    config, run = _configure(given, DIGITS, default_plugins=False)
    assert config.plugins == ("plain",) and run.addons == []
    config, run = _configure(given, DIGITS, plugins=["plain", "ema"])  # named by the user too: once
    assert config.plugins == ("plain", "ema") and run.addons == ["ema"]


def test_defaults_give_options_to_regularizers_and_add_ons_under_the_users():
    given = {"small-image": {"regularizers": {"r1": 0.5}, "options": {"r1": {"every": 4}},
                             "plugins": ["ema"]}}
    config, run = _configure(given, DIGITS)
    r1 = run.pm.get_plugin("r1")
    assert run.regularizers == {"r1": 0.5} and r1.every == 4 and config.options["r1"]["every"] == 4
    config, run = _configure(given, DIGITS, options={"r1": {"every": 2}, "ema": {"ema_kimg": 1.0}})
    assert run.pm.get_plugin("r1").every == 2 and run.pm.get_plugin("ema").half_life == 1000.0
    # A --regularizer of the user's replaces the family's regularizers, and the options the defaults
    # gave them: `-r none` runs none, `-r r1` runs R1 with its own defaults.
    config, run = _configure(given, DIGITS, regularizers={})
    assert run.regularizers == {} and "r1" not in config.options
    config, run = _configure(given, DIGITS, regularizers={"r1": None})
    assert run.regularizers == {"r1": 10.0} and run.pm.get_plugin("r1").every == 1
    # Add-ons turned off take their default options with them.
    config, run = _configure({"small-image": {"plugins": ["ema"], "options": {"ema": {"ema_kimg": 1.0}}}}, DIGITS,
                             default_plugins=False)
    assert run.addons == [] and config.options == {}


@pytest.mark.parametrize("given, message", [
    ({"plugins": ["r1"]}, "may name add-ons only"),
    ({"options": {"plain": {"width": 3}}}, "not its own"),
    ({"data": "ring"}, "may not set 'data'"),
])
def test_defaults_that_cannot_apply_are_refused(given, message):
    with pytest.raises(PluginError, match=message):
        _configure({"small-image": given}, DIGITS)


@pytest.mark.parametrize("spec", [RING, DIGITS, MNIST], ids=lambda spec: spec.kind)
def test_every_installed_family_states_defaults_for_every_kind(spec):
    registry = Registry.discover()
    for info in registry:
        if info.kind != "family" or info.error:
            continue
        if info.declaration.declared:
            defaults = info.declaration.settings_defaults(spec, None)
        else:
            defaults = registry.activate([info.name]).hook.default_config(data=spec, regularizers=None) or {}
        assert isinstance(defaults, dict), info.name
        for name in defaults.get("plugins", ()):
            assert registry.get(name).kind == "add-on", (info.name, name)
        for name in defaults.get("regularizers") or {}:
            assert registry.get(name).kind == "regularizer", (info.name, name)

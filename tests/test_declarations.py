"""What a plugin declares (issue 25): its kind, its options (one typed, validated declaration each)
and its defaults per data kind, read before anything is created; and plugins written the old way
(options as ``__init__`` arguments, kind guessed, a ``default_config`` hook), which keep working."""

from __future__ import annotations

import pytest
import torch
from gancore_ema import EMA
from gancore_r1 import R1

from gancore import hookimpl
from gancore.data import EMBEDDED_SPECS
from gancore.declaration import NonNegativeFloat, PositiveInt, declare, option
from gancore.errors import PluginError
from gancore.losses import logistic_d, logistic_g
from gancore.nets import MLPDiscriminator, MLPGenerator, by_kind
from gancore.plugins import Registry
from gancore.run.resolve import resolve_run
from gancore.run.rundir import configure
from gancore.testing import assert_clean_error
from gancore.trainer import build_models

RING, DIGITS = EMBEDDED_SPECS["ring"], EMBEDDED_SPECS["digits"]


class OldFamily:
    """A family written against the contract before declarations: no kind, options as typed __init__
    arguments, its defaults from the default_config hook, its own options resolved in a build hook."""

    created = 0

    def __init__(self, hidden: PositiveInt | None = None, layers: PositiveInt = 1):
        type(self).created += 1
        self.hidden, self.layers = hidden, layers

    @hookimpl
    def default_config(self, data):
        return {"lr_g": 1e-3} if data.kind == "small-image" else {}

    @hookimpl
    def build_generator(self, config, data):
        return MLPGenerator(data, config.latent_dim, by_kind(self.hidden, data, {"small-image": 32}, 16), self.layers)

    @hookimpl
    def build_discriminator(self, data):
        return MLPDiscriminator(data, by_kind(self.hidden, data, {"small-image": 32}, 16), self.layers)

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.fake_scores())


class OldPenalty:
    """A regularizer the old way: the option named ``weight`` made it one."""

    def __init__(self, weight: NonNegativeFloat = 2.0):
        self.weight = weight

    @hookimpl
    def regularize(self, step, phase):
        return None


@declare
class Blur:
    """A declared add-on with an option named weight: declared, it stays an add-on."""

    kind = "add-on"
    weight: NonNegativeFloat = option(0.5, help="How much to blur.")

    @hookimpl
    def post_step(self, step, phase):
        return None


@declare
class NewFamily(OldFamily):
    """The same family, declared."""

    kind = "family"
    defaults = {"small-image": {"lr_g": 1e-3}}
    hidden: PositiveInt = option(16, by_kind={"small-image": 32}, help="Units per hidden layer.")
    layers: PositiveInt = option(1, help="Hidden layers.")

    def __attrs_post_init__(self):
        type(self).created += 1

    @hookimpl
    def build_generator(self, config, data):
        return MLPGenerator(data, config.latent_dim, self.hidden, self.layers)

    @hookimpl
    def build_discriminator(self, data):
        return MLPDiscriminator(data, self.hidden, self.layers)


def _registry(**plugins) -> Registry:
    registry = Registry()
    for name, obj in {"ema": EMA, "r1": R1, **plugins}.items():
        registry.add(name, obj)
    return registry


def test_a_plugin_written_the_old_way_keeps_working():
    registry = _registry(old=OldFamily, pen=OldPenalty)
    assert registry.get("old").kind == "family" and registry.get("old").kind_guessed
    assert registry.get("pen").kind == "regularizer" and registry.get("pen").kind_guessed
    OldFamily.created = 0
    config, run = configure(registry, DIGITS, {"plugins": ["old"], "regularizers": {"pen": None},
                                               "options": {"old": {"layers": 2.0}}})
    # Created once (asked for its defaults, then trained), with its options checked and converted.
    assert OldFamily.created == 1 and run.pm.get_plugin("old").layers == 2
    assert config.lr_g == 1e-3 and run.regularizers == {"pen": 2.0}
    torch.manual_seed(0)
    G, _ = build_models(run, config, DIGITS)
    assert G.net[0].out_features == 32  # its build hook still resolves its own option by data kind
    with pytest.raises(PluginError, match=r"bad value for option 'layers' of plugin 'old'.*int >= 1"):
        configure(registry, DIGITS, {"plugins": ["old"], "options": {"old": {"layers": 0}}})


def test_the_same_family_declared_resolves_before_it_is_created():
    registry = _registry(new=NewFamily)
    info = registry.get("new")
    assert info.kind == "family" and not info.kind_guessed and info.declaration.options["hidden"].help
    NewFamily.created = 0
    spec = resolve_run(registry, DIGITS, {"plugins": ["new"]})
    assert NewFamily.created == 0  # resolving creates nothing
    assert spec.plugin_options["new"] == {"hidden": 32, "layers": 1}
    assert spec.sources["options.new.hidden"] == "declaration (small-image)" and spec.config.lr_g == 1e-3
    config, run = configure(registry, DIGITS, {"plugins": ["new"]})
    assert NewFamily.created == 1 and run.pm.get_plugin("new").hidden == 32
    assert configure(registry, RING, {"plugins": ["new"]})[1].pm.get_plugin("new").hidden == 16
    with pytest.raises(PluginError, match=r"bad value for option 'hidden' of plugin 'new'.*int >= 1"):
        resolve_run(registry, DIGITS, {"plugins": ["new"], "options": {"new": {"hidden": -1}}})


def test_a_declared_kind_is_never_guessed():
    registry = _registry(blur=Blur, new=NewFamily)
    assert registry.get("blur").kind == "add-on"  # the old guess would make it a regularizer
    with pytest.raises(PluginError, match="'blur' is an add-on, not a regularizer"):
        configure(registry, DIGITS, {"plugins": ["new"], "regularizers": {"blur": 1.0}})
    run = configure(registry, DIGITS, {"plugins": ["new", "blur"], "options": {"blur": {"weight": 1}}})[1]
    assert run.addons == ["blur"] and run.pm.get_plugin("blur").weight == 1.0


def test_bad_declarations_are_reported_not_raised():
    class Banana:
        kind = "banana"

    @declare
    class Weightless:
        kind = "regularizer"
        every: PositiveInt = option(1)

    registry = _registry(banana=Banana, weightless=Weightless)
    assert "kind 'banana'" in registry._infos["banana"].error
    assert "no option 'weight'" in registry._infos["weightless"].error
    with pytest.raises(PluginError, match="failed to load: bad declaration"):
        registry.get("banana")


def test_option_defaults_by_kind_come_from_a_table_over_inherited_options():
    @declare
    class Base:
        width: PositiveInt = option(64, help="Channels.")

    @declare
    class Child(Base):
        kind = "add-on"
        option_defaults = {"image": {"width": 8}}

    registry = _registry(child=Child)
    assert registry.get("child").declaration.options["width"].by_kind == {"image": 8}
    assert Child().width == 64 and Base.__attrs_attrs__.width.metadata["gancore"].by_kind == {}
    with pytest.raises(PluginError, match="option_defaults names 'depth'"):
        @declare
        class Wrong(Base):
            option_defaults = {"image": {"depth": 1}}


def test_gan_plugins_shows_declarations_and_guessed_kinds(gan, monkeypatch):
    result = gan("plugins")
    assert result.exit_code == 0, result.output
    assert "hidden=256 (int >= 1; small-image: 512; image: 512): Units per hidden layer of G and D." in result.output
    assert "r1  [regularizer]" in result.output
    assert "kind guessed" not in result.output  # every shipped plugin declares its kind
    # A plugin written the old way is listed with its kind marked as the guess.
    import gancore.cli

    monkeypatch.setattr(gancore.cli, "_registry", lambda: _registry(pen=OldPenalty))
    result = gan("plugins")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith(("pen ", "ema "))]
    assert lines[0].startswith("ema  [add-on]") and "kind guessed" not in lines[0]
    assert lines[1].startswith("pen  [regularizer]") and "kind guessed" in lines[1]


def test_a_bad_declared_option_is_one_clear_line(gan, tmp_path):
    result = gan("train", "-p", "gancore-gan", "--set", "gancore-gan.hidden=0", "--steps", 1, "--out", tmp_path)
    assert_clean_error(result, "bad value for option 'hidden' of plugin 'gancore-gan'", "int >= 1")


def test_the_kit_checks_a_declared_kind_against_the_hooks():
    from gancore.testing import ConformanceError, _check_declaration

    @declare
    class Impostor:
        kind = "add-on"

        @hookimpl
        def d_loss(self, step):
            return None

    @declare
    class Typo:
        kind = "add-on"
        size: PositiveInt = option(1, by_kind={"image": 0})

        @hookimpl
        def post_step(self, step, phase):
            return None

    registry = _registry(impostor=Impostor, typo=Typo, new=NewFamily, old=OldFamily)
    with pytest.raises(ConformanceError, match="declares kind 'add-on' but implements the family hook d_loss"):
        _check_declaration(registry.get("impostor"))
    with pytest.raises(ConformanceError, match="the default of option 'size' for image data is 0, which breaks its "
                                               r"own declaration \(int >= 1\)"):
        _check_declaration(registry.get("typo"))
    assert _check_declaration(registry.get("new")).startswith("declaration: kind family; option defaults fit")
    assert _check_declaration(registry.get("old")).startswith("declaration: kind guessed (declares none); option")

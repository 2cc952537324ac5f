"""Plugin discovery, activation and the errors around them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gancore import hookimpl
from gancore.errors import PluginError
from gancore.plugins import Registry, parse_option_value

FIXTURE = Path(__file__).parent / "fixtures" / "gancore-hello"


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
        return step.discriminator(step.real).mean() - step.discriminator(step.fake).mean()

    @hookimpl
    def g_loss(self, step):
        return step.discriminator(step.fake).mean()


class OtherFamily(Family):
    """Another family."""


class LossStealer:
    """An add-on that (wrongly) implements a family hook as a plain hook."""

    @hookimpl
    def d_loss(self, step):
        return torch.tensor(0.0)


class Wrapper:
    """An add-on that wraps the discriminator, as add-ons should."""

    @hookimpl(wrapper=True)
    def build_discriminator(self):
        module = yield
        module.wrapped = True
        return module


class Penalty:
    """A regularizer: it takes a weight."""

    def __init__(self, weight: float = 3.0):
        self.weight = weight

    @hookimpl
    def regularize(self, step, phase):
        return {"pen": torch.tensor(self.weight)}


class Misspelled:
    @hookimpl
    def post_stpe(self, step):
        pass


def registry_with(**plugins) -> Registry:
    registry = Registry()
    for name, obj in plugins.items():
        registry.add(name.replace("_", "-"), obj)
    return registry


def test_kinds_hooks_and_options_are_read_from_the_plugin():
    registry = registry_with(fam=Family, pen=Penalty, wrap=Wrapper())
    info = {i.name: i for i in registry}
    assert info["fam"].kind == "family"
    assert info["fam"].hooks == ("build_discriminator", "build_generator", "d_loss", "g_loss")
    assert info["fam"].options == {"width": 4}
    assert info["pen"].kind == "regularizer" and info["pen"].options == {"weight": 3.0}
    assert info["wrap"].kind == "add-on" and info["wrap"].wrappers == ("build_discriminator",)


def test_activation_instantiates_with_options_and_weights():
    registry = registry_with(fam=Family, pen=Penalty)
    run = registry.activate(["fam"], {"fam": {"width": 7}})
    assert run.pm.get_plugin("fam").width == 7
    assert run.add_regularizers({"pen": None}) == {"pen": 3.0}
    assert run.pm.get_plugin("pen").weight == 3.0
    run2 = registry.activate(["fam"])
    assert run2.add_regularizers({"pen": 0.5}) == {"pen": 0.5}


def test_two_families_are_refused_naming_both():
    registry = registry_with(fam=Family, other=OtherFamily)
    with pytest.raises(PluginError, match=r"'fam'.*'other'"):
        registry.activate(["fam", "other"])


def test_an_add_on_implementing_a_family_hook_counts_as_a_second_family():
    # Registry.family_of refuses it up front: the only check there is for two owners of a family hook.
    registry = registry_with(fam=Family, stealer=LossStealer())
    with pytest.raises(PluginError, match=r"only one family per run, but both 'fam' and 'stealer'"):
        registry.activate(["fam", "stealer"])


class PenaltyStealer(Penalty):
    """A regularizer (it takes a weight) that (wrongly) implements a family hook as a plain hook."""

    @hookimpl
    def g_loss(self, step):
        return torch.tensor(0.0)


def test_a_regularizer_implementing_a_family_hook_is_refused_as_a_family():
    registry = registry_with(fam=Family, stealer=PenaltyStealer)
    run = registry.activate(["fam"])
    with pytest.raises(PluginError, match=r"'stealer' is a family, not a regularizer"):
        run.add_regularizers({"stealer": 1.0})


def test_a_wrapper_add_on_is_not_ambiguous():
    registry = registry_with(fam=Family, wrap=Wrapper())
    run = registry.activate(["fam", "wrap"])
    from gancore.config import TrainConfig
    from gancore.data import load_ring

    D = run.hook.build_discriminator(config=TrainConfig(), data=load_ring(64).spec)
    assert D.wrapped is True
    assert run.addons == ["wrap"]


def test_no_family_is_an_error_listing_the_families():
    registry = registry_with(fam=Family, wrap=Wrapper())
    with pytest.raises(PluginError, match="no GAN family.*fam"):
        registry.activate(["wrap"])


def test_unknown_plugin_lists_the_installed_ones():
    registry = registry_with(fam=Family, pen=Penalty)
    with pytest.raises(PluginError, match=r"unknown plugin 'nope'.*fam, pen"):
        registry.activate(["nope"])


def test_unknown_regularizer_lists_the_regularizers():
    registry = registry_with(fam=Family, pen=Penalty)
    run = registry.activate(["fam"])
    with pytest.raises(PluginError, match=r"unknown regularizer 'nope'.*pen"):
        run.add_regularizers({"nope": None})
    with pytest.raises(PluginError, match="not a regularizer"):
        registry.activate(["fam"]).add_regularizers({"fam": 1.0})


def test_unknown_option_lists_the_plugins_options():
    registry = registry_with(fam=Family)
    with pytest.raises(PluginError, match=r"no option 'depth'.*width"):
        registry.activate(["fam"], {"fam": {"depth": 3}})


def test_misspelled_hook_is_caught():
    registry = registry_with(fam=Family, bad=Misspelled())
    with pytest.raises(PluginError, match="post_stpe"):
        registry.activate(["fam", "bad"])


def test_option_values_are_parsed_as_toml():
    assert parse_option_value("0.5") == 0.5
    assert parse_option_value("true") is True
    assert parse_option_value("saturating") == "saturating"
    assert parse_option_value('"3"') == "3"


def test_built_in_plugins_are_found_through_entry_points(registry):
    for name in ("gancore-gan", "gancore-dcgan", "gancore-wgan", "gp", "clip", "div"):
        assert name in registry
    assert registry.get("gancore-wgan").distribution == "gancore-wgan"
    assert {registry.get(n).kind for n in ("gp", "clip", "div")} == {"regularizer"}


def _plugins_json(env_extra: dict[str, str], pythonpath: str | None = None) -> list[dict]:
    env = dict(os.environ, **env_extra)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-m", "gancore.cli", "plugins", "--json"], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def test_load_plugins_env_limits_what_is_loaded():
    assert [p["name"] for p in _plugins_json({"GANCORE_LOAD_PLUGINS": "gancore-gan"})] == ["gancore-gan"]
    names = {p["name"] for p in _plugins_json({"GANCORE_LOAD_PLUGINS": "gancore-wgan"})}
    assert names == {"gancore-wgan", "gp", "clip", "div"}  # a distribution name selects all its plugins
    assert _plugins_json({"GANCORE_LOAD_PLUGINS": ""}) == []


@pytest.fixture(scope="module")
def hello_site(tmp_path_factory) -> str:
    """The third-party fixture package, really installed (with its entry points) into a directory."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(FIXTURE)], check=True)
    return str(target)


def test_third_party_plugin_is_discovered_and_broken_ones_are_recorded(hello_site):
    plugins = {p["name"]: p for p in _plugins_json({}, hello_site)}
    hello = plugins["gancore-hello"]
    assert hello["distribution"] == "gancore-hello" and hello["version"] == "0.0.1"
    assert hello["kind"] == "family" and hello["error"] is None
    assert "d_loss" in hello["hooks"]
    broken = plugins["hello-broken"]
    assert broken["kind"] == "broken" and "does_not_exist" in broken["error"]
    assert plugins["gancore-wgan"]["error"] is None  # the broken one took nothing else down


def test_third_party_plugin_trains_and_a_broken_one_errors_only_when_asked_for(hello_site, tmp_path):
    env = dict(os.environ, PYTHONPATH=hello_site)
    cmd = [sys.executable, "-m", "gancore.cli", "train", "--data", "ring", "--steps", "3", "--out", str(tmp_path),
           "--name", "hello", "--log-every", "1"]
    done = subprocess.run(cmd + ["--plugin", "gancore-hello"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "hello" / "checkpoints" / "step-000003" / "generator.safetensors").is_file()
    broken = subprocess.run(cmd + ["--plugin", "hello-broken", "--name", "b"], env=env, capture_output=True, text=True)
    assert broken.returncode == 1
    assert "failed to load" in broken.stderr and "Traceback" not in broken.stderr


def test_standard_networks_take_an_mlp_for_images_when_asked():
    from gancore.data import DataSpec
    from gancore.nets import ConvGenerator, MLPDiscriminator, MLPGenerator, standard_discriminator, standard_generator

    spec = DataSpec("digits", (1, 8, 8))
    assert isinstance(standard_generator(spec, 4, width=4), ConvGenerator)
    G, D = standard_generator(spec, 4, hidden=8, arch="mlp"), standard_discriminator(spec, hidden=8, arch="mlp")
    assert isinstance(G, MLPGenerator) and isinstance(D, MLPDiscriminator)
    assert G(G.latent(3)).shape == (3, 1, 8, 8) and D(torch.zeros(3, 1, 8, 8)).shape == (3,)
    with pytest.raises(ValueError, match="arch must be one of conv, mlp"):
        standard_generator(spec, 4, arch="resnet")

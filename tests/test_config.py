"""Configuration: validation, precedence, TOML round trip."""

from __future__ import annotations

import attrs
import pytest

from gancore.config import TrainConfig, load_config, make_config, read_toml
from gancore.errors import ConfigError


def test_toml_round_trip(tmp_path):
    config = TrainConfig(plugins=("gancore-wgan", "ema"), regularizers={"gp": 10.0, "div": 2.0},
                         options={"gancore-wgan": {"width": 8, "norm": "none"}}, data="mnist", steps=123,
                         betas=(0.0, 0.9), lr_g=1e-4, name="x", image_size=32)
    path = tmp_path / "config.toml"
    config.save(path)
    assert load_config(path) == config


@pytest.mark.parametrize("key, value, message", [
    ("steps", 0, "'steps'"), ("steps", -5, "'steps'"), ("batch_size", 0, "'batch_size'"),
    ("lr_g", 0.0, "'lr_g'"), ("lr_d", -1e-3, "'lr_d'"), ("lr_d", float("nan"), "'lr_d'"),
    ("n_critic", 0, "'n_critic'"), ("optimizer", "adamw", "'optimizer'"), ("betas", (0.5, 1.5), "'betas'"),
    ("precision", "fp8", "'precision'"), ("steps", "many", "'steps'"), ("steps", True, "'steps'"),
    ("regularizers", {"gp": "big"}, "'regularizers.gp'"),
])
def test_bad_values_are_refused_with_the_key_named(key, value, message):
    with pytest.raises(ConfigError, match=message):
        make_config({key: value})


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('plugins = ["gancore-gan"]\nstpes = 10\n')
    with pytest.raises(ConfigError, match="unknown configuration key 'stpes'"):
        read_toml(path)


def test_invalid_toml_and_missing_file_are_clear(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("steps = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_toml(path)
    with pytest.raises(ConfigError, match="does not exist"):
        read_toml(tmp_path / "missing.toml")


def test_later_layers_win_and_plugin_options_merge():
    config = make_config({"steps": 5, "lr_g": 1e-3, "options": {"a": {"x": 1, "y": 2}}},
                         {"steps": 7, "options": {"a": {"y": 3}, "b": {"z": 4}}})
    assert config.steps == 7 and config.lr_g == 1e-3
    assert config.options == {"a": {"x": 1, "y": 3}, "b": {"z": 4}}


def test_config_is_frozen():
    config = TrainConfig()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.steps = 3
    assert attrs.evolve(config, steps=3).steps == 3

"""gan train's flags come from TrainConfig's fields; saved configurations of earlier runs still load."""

from __future__ import annotations

from pathlib import Path

import attrs
import click
import pytest

from gancore.config import TrainConfig, load_config
from gancore.plugins import Registry
from gancore.run.rundir import resolve
from gancore.run.flags import setting_options, settings_from_args

CONFIGS = Path(__file__).parent / "fixtures" / "configs"


def _options() -> dict[str, click.Option]:
    return {param.name: param for param in setting_options()}


def test_every_field_with_a_flag_has_one_with_its_help_choices_and_default():
    options = _options()
    for field in attrs.fields(TrainConfig):
        if field.metadata["flag"] is None:
            assert field.name not in options
            continue
        option = options[field.name]
        assert field.metadata["help"] in option.help
        choices = getattr(field.validator, "choices", None)
        if choices is not None:
            assert list(option.type.choices) == list(choices)
    # A flag not typed is None (or no items): only what the user types goes over the config file.
    parsed = click.Command("train", params=setting_options()).make_context("train", []).params
    assert set(parsed.values()) <= {None, ()} and settings_from_args([]) == {}
    # Defaults shown are the fields' own; the latent size names the data kind's default too.
    assert "[default: 5000 for small-image data, or 2000]" in options["steps"].help
    assert "[default: family's, or 8 for vector data, or 100]" in options["latent_dim"].help
    assert options["plugins"].opts == ["--plugin", "-p"] and options["plugins"].multiple
    assert options["compile"].secondary_opts == ["--no-compile"]
    assert options["download"].is_flag and not options["download"].secondary_opts


def test_flags_keep_their_order_and_extras_go_before_the_field_named():
    extra = click.Option(["--extra"])
    names = [param.name for param in setting_options(before={"nan": [extra]})]
    assert names[:5] == ["plugins", "regularizers", "default_plugins", "options", "config_file"]
    assert names.index("lr") + 1 == names.index("lr_g")
    assert names.index("extra") + 1 == names.index("nan") and names[-1] == "deterministic"


def test_settings_from_args_reads_every_flag():
    args = ["-p", "gancore-wgan", "-r", "gp=5", "-s", "gancore-wgan.width=8", "--no-default-plugins",
            "--data", "ring", "--data-root", "r", "--download", "--image-size", "32", "--layout", "paired",
            "--data-mode", "stream", "--data-workers", "0", "--steps", "5", "--batch-size", "3", "--n-critic", "2",
            "--optimizer", "sgd", "--lr", "1e-3", "--lr-d", "2e-3", "--lr-schedule", "linear", "--latent-dim", "4",
            "--seed", "3", "--out", "o", "--name", "n", "--log-every", "1", "--sample-every", "0",
            "--checkpoint-every", "0", "--keep", "1", "--grid-size", "4", "--eval-every", "2", "--eval-samples", "10",
            "--device", "cpu", "--precision", "no", "--channels-last", "--compile", "--nan", "skip",
            "--nan-limit", "3", "--deterministic"]
    assert settings_from_args(args) == {
        "plugins": ["gancore-wgan"], "regularizers": {"gp": 5.0}, "options": {"gancore-wgan": {"width": 8}},
        "default_plugins": False, "data": "ring", "data_root": "r", "download": True, "image_size": 32,
        "layout": "paired", "data_mode": "stream", "data_workers": 0, "steps": 5, "batch_size": 3, "n_critic": 2,
        "optimizer": "sgd", "lr_g": 1e-3, "lr_d": 2e-3, "lr_schedule": "linear", "latent_dim": 4, "seed": 3,
        "out": "o", "name": "n", "log_every": 1, "sample_every": 0, "checkpoint_every": 0, "keep": 1,
        "grid_size": 4, "eval_every": 2, "eval_samples": 10, "device": "cpu", "precision": "no",
        "channels_last": True, "compile": True, "nan": "skip", "nan_limit": 3, "deterministic": True}
    assert settings_from_args(["-r", "none", "--no-compile"]) == {"regularizers": {}, "compile": False}


def test_flags_go_over_the_config_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('steps = 7\nlr_g = 0.1\n[options.gancore-gan]\nloss = "saturating"\n')
    user = settings_from_args(["--config", str(path), "--lr", "0.5", "-s", "gancore-gan.hidden=16"])
    assert user == {"steps": 7, "lr_g": 0.5, "lr_d": 0.5,
                    "options": {"gancore-gan": {"loss": "saturating", "hidden": 16}}}


# Written by gancore before the settings flags were generated and families' defaults trimmed; each
# file is what these arguments resolved to then (small images' default steps were 2,000 then, 5,000 since).
SAVED = {
    "gancore-wgan": ["-p", "gancore-wgan", "-r", "gp", "--data", "ring", "--name", "x"],
    "gancore-dcgan": ["-p", "gancore-dcgan", "--data", "digits", "--steps", "2000", "-s", "gancore-dcgan.width=8",
                      "--name", "y"],
    "gancore-lsgan": ["-p", "gancore-lsgan", "--data", "ring", "--name", "z"],
    "gancore-sngan": ["-p", "gancore-sngan", "--data", "digits", "--steps", "2000", "--name", "z"],
    "gancore-stargan": ["-p", "gancore-stargan", "--data", "digits", "--steps", "2000", "--name", "z"],
    "gancore-relativistic": ["-p", "gancore-relativistic", "--data", "ring", "--name", "z"],
    "gancore-dragan": ["-p", "gancore-dragan", "--data", "ring", "--name", "z"],
}


@pytest.mark.parametrize("family", sorted(SAVED))
def test_saved_configs_load_unchanged_and_resolve_the_same(family, tmp_path):
    path = CONFIGS / f"{family}.toml"
    config = load_config(path)
    config.save(tmp_path / "config.toml")
    assert (tmp_path / "config.toml").read_text() == path.read_text()
    resolved, _run, _data = resolve(Registry.discover(), settings_from_args(SAVED[family]))
    assert resolved == config

"""Declare, resolve, then build (issue 25): one resolver, in one pass, remembering which layer set
each value; ``gan train --dry-run`` prints it without reading the data or building networks."""

from __future__ import annotations

import pytest
import torch

import gancore.data.load
from gancore.data import EMBEDDED_SPECS, load_data
from gancore.run.resolve import build_run, resolve_run
from gancore.run.flags import settings_from_args


@pytest.mark.parametrize("name", sorted(EMBEDDED_SPECS))
def test_the_embedded_specs_are_the_loaders(name):
    assert EMBEDDED_SPECS[name] == load_data(name).spec


def test_the_resolver_records_which_layer_set_each_value(registry, tmp_path):
    (tmp_path / "c.toml").write_text('steps = 7\n[options.ema]\nema_kimg = 2.0\n')
    user = settings_from_args(["-p", "gancore-gan", "--config", tmp_path / "c.toml", "--lr-d", "0.01",
                               "--set", "gancore-gan.layers=2"])
    spec = resolve_run(registry, EMBEDDED_SPECS["digits"], user)
    src = spec.sources
    assert src["steps"] == f"config file {tmp_path / 'c.toml'}" and src["lr_d"] == "flag"
    assert src["lr_g"] == "family gancore-gan" and "latent_dim" not in src  # gancore's own default
    ring = resolve_run(registry, EMBEDDED_SPECS["ring"], {"plugins": ["gancore-gan"]})
    assert ring.sources["latent_dim"] == "data kind vector" and ring.config.latent_dim == 8
    assert src["options.gancore-gan.layers"] == "flag (--set)" and spec.plugin_options["gancore-gan"]["layers"] == 2
    assert src["options.ema.ema_kimg"].startswith("config file") and spec.addons == ("ema",)
    assert spec.regularizers == {"r1": 0.1} and src["regularizers"] == "family gancore-gan"
    assert spec.config.steps == 7 and spec.config.lr_d == 0.01
    # Built once, from the specification: the plugins get exactly the resolved options.
    run = build_run(registry, spec)
    assert run.plugin_options["gancore-gan"] == spec.plugin_options["gancore-gan"]
    assert run.names == ["gancore-gan", "ema", "r1"]


def test_dry_run_prints_values_and_sources_without_data_or_networks(gan, monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("--dry-run read the data or built a network")

    monkeypatch.setattr(gancore.data.load, "load_digits", refuse)
    monkeypatch.setattr(torch.nn.Module, "__init__", refuse)
    result = gan("train", "-p", "gancore-gan", "--dry-run", "-r", "r1=2", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "lr_g               = 0.001  # family gancore-gan" in lines
    assert "r1.weight          = 2.0  # flag" in lines
    assert "steps              = 5000  # data kind small-image" in lines  # digits: KIND_DEFAULTS
    assert "batch_size         = 64  # gancore" in lines
    assert not list(tmp_path.iterdir())  # no run directory


def test_dry_run_of_a_resumed_run_names_its_saved_config(gan, tmp_path):
    assert gan("train", "-p", "gancore-gan", "--data", "ring", "--steps", 2, "--name", "r", "--out", tmp_path,
               "--sample-every", 0, "--log-every", 1).exit_code == 0
    result = gan("train", "--resume", tmp_path / "r", "--steps", 4, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "steps              = 4  # flag" in result.output.splitlines()
    assert f"lr_g               = 0.001  # {tmp_path / 'r'}/config.toml" in result.output.splitlines()
    assert len(list((tmp_path / "r" / "checkpoints").iterdir())) == 1  # nothing trained

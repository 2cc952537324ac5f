"""The `gan` command line end to end: train, plugins, sample, errors."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from safetensors.torch import load_file

# Small networks so a few training steps take well under a second.
TINY = {
    "gancore-gan": ["--set", "gancore-gan.hidden=16", "--set", "gancore-gan.layers=1"],
    "gancore-dcgan": ["--set", "gancore-dcgan.width=8"],
    "gancore-wgan": ["--set", "gancore-wgan.width=8", "--set", "gancore-wgan.hidden=16"],
}


def _train(gan, tmp_path, family, *extra, data="digits", steps=4, name="run"):
    result = gan("train", "--plugin", family, *TINY.get(family, []), "--data", data, "--steps", steps,
                 "--batch-size", 16, "--out", tmp_path, "--name", name, "--log-every", 2, "--sample-every", 2,
                 "--checkpoint-every", 2, "--grid-size", 16, *extra)
    return result, tmp_path / name


@pytest.mark.parametrize("family", ["gancore-gan", "gancore-dcgan", "gancore-wgan"])
@pytest.mark.parametrize("data", ["ring", "digits"])
def test_each_family_trains_and_leaves_a_complete_run_directory(gan, tmp_path, family, data):
    result, run = _train(gan, tmp_path, family, data=data)
    assert result.exit_code == 0, result.output
    assert (run / "config.toml").is_file()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4] and "d/loss" in rows[0] and "g/loss" in rows[0]
    assert Image.open(run / "samples" / "step-000004.png").size[0] > 8
    ckpt = run / "checkpoints" / "step-000004"
    assert load_file(str(ckpt / "generator.safetensors")) and load_file(str(ckpt / "discriminator.safetensors"))
    meta = json.loads((ckpt / "meta.json").read_text())
    assert meta["family"] == family and meta["step"] == 4 and meta["plugins"][family] == "0.1.0"


def test_wgan_clips_with_rmsprop_where_asked_and_gp_switches_to_adam(gan, tmp_path):
    # The paper's clipping with -r clip (the default on vectors); images default to WGAN-GP.
    result, run = _train(gan, tmp_path, "gancore-wgan", "-r", "clip", data="mnist", name="w")
    assert result.exit_code == 0 and "clip=0.01" in result.output
    text = (run / "config.toml").read_text()
    assert 'optimizer = "rmsprop"' in text and "n_critic = 5" in text and "clip = 0.01" in text
    result, run = _train(gan, tmp_path, "gancore-wgan", data="mnist", name="wm")
    assert result.exit_code == 0 and "gp=10" in result.output
    assert "n_critic = 1" in (run / "config.toml").read_text()
    result, run = _train(gan, tmp_path, "gancore-wgan", "--regularizer", "gp", name="wgp")
    assert result.exit_code == 0, result.output
    text = (run / "config.toml").read_text()
    assert 'optimizer = "adam"' in text and "gp = 10.0" in text and "clip =" not in text
    assert "d/gp" in json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])


def test_mixing_regularizers_across_families(gan, tmp_path):
    result, run = _train(gan, tmp_path, "gancore-dcgan", "-r", "gp", "-r", "div=0.5", name="mix")
    assert result.exit_code == 0, result.output
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"d/loss", "d/gp", "d/div", "g/loss"} <= set(row)
    assert "div = 0.5" in (run / "config.toml").read_text()


def test_config_file_and_flags(gan, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('plugins = ["gancore-gan"]\nsteps = 2\ndata = "ring"\n[options.gancore-gan]\nhidden = 8\n'
                      'loss = "saturating"\n')
    result = gan("train", "--config", config, "--steps", 3, "--out", tmp_path, "--name", "c", "--log-every", 1)
    assert result.exit_code == 0, result.output
    saved = (tmp_path / "c" / "config.toml").read_text()
    assert "steps = 3" in saved and 'loss = "saturating"' in saved and "hidden = 8" in saved


def test_sample_from_a_run_and_from_a_checkpoint(gan, tmp_path):
    _train(gan, tmp_path, "gancore-dcgan")
    out = tmp_path / "grid.png"
    result = gan("sample", tmp_path / "run", "-n", 9, "-o", out)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (3 * 33 + 1, 3 * 33 + 1)  # 3x3 grid of 8x8 images enlarged 4x, padding 1
    result = gan("sample", tmp_path / "run" / "checkpoints" / "step-000002", "-n", 4, "-o", tmp_path / "g2.png")
    assert result.exit_code == 0 and "step 2" in result.output
    first = (tmp_path / "grid.png").read_bytes()
    gan("sample", tmp_path / "run", "-n", 9, "-o", out)
    assert out.read_bytes() == first  # same seed, same picture


def test_sample_label_needs_a_conditional_family(gan, tmp_path):
    _train(gan, tmp_path, "gancore-gan", data="ring")
    result = gan("sample", tmp_path / "run", "--label", "3", "-o", tmp_path / "x.png")
    assert result.exit_code == 1 and "not conditional" in result.output


@pytest.mark.parametrize("args, message", [
    (["--plugin", "nope"], "unknown plugin 'nope'. Installed plugins:"),
    (["--plugin", "gancore-gan", "--regularizer", "nope"], "unknown regularizer 'nope'. Available regularizers:"),
    (["--plugin", "gancore-gan", "--regularizer", "gp=x"], "not a number"),
    (["--plugin", "gancore-gan", "--steps", "0"], "'steps'"),
    (["--plugin", "gancore-gan", "--lr", "-1"], "'lr_g'"),
    (["--plugin", "gancore-gan", "--batch-size", "5000"], "larger than the data set"),
    (["--plugin", "gancore-gan", "--set", "gancore-gan.depth=3"], "no option 'depth'"),
    (["--plugin", "gancore-gan", "--set", "nodot=3"], "PLUGIN.OPTION=VALUE"),
    (["--plugin", "gancore-gan", "--plugin", "gancore-wgan"], "only one family"),
    (["--plugin", "gp"], "no GAN family selected"),
    ([], "no plugin given"),
    (["--plugin", "gancore-gan", "--data", "/does/not/exist"], "unknown data"),
])
def test_bad_input_exits_with_a_clear_message(gan, tmp_path, args, message):
    result = gan("train", *args, "--out", tmp_path, "--steps" if "--steps" not in args else "--seed", 1)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    if "regularizer" in message:
        assert "gp" in result.output and "clip" in result.output and "div" in result.output


def test_sample_of_a_missing_run_is_clear(gan, tmp_path):
    result = gan("sample", tmp_path / "none")
    assert result.exit_code == 1 and "no checkpoint" in result.output


def test_plugins_command_lists_built_ins_with_hooks(gan):
    result = gan("plugins")
    assert result.exit_code == 0
    for name in ("gancore-gan", "gancore-dcgan", "gancore-wgan", "gp", "clip", "div"):
        assert name in result.output
    listed = {p["name"]: p for p in json.loads(gan("plugins", "--json").output)}
    assert listed["gp"]["kind"] == "regularizer" and listed["gp"]["hooks"] == ["regularize"]
    assert listed["clip"]["hooks"] == ["post_step"] and listed["clip"]["options"] == {"weight": 0.01}
    assert set(listed["gancore-wgan"]["hooks"]) >= {"build_generator", "build_discriminator", "d_loss", "g_loss"}


def test_train_help_lists_options_and_plugins(gan):
    result = gan("train", "--help")
    assert result.exit_code == 0
    for flag in ("--plugin", "--regularizer", "--set", "--data", "--steps", "--batch-size", "--lr-g", "--lr-d",
                 "--n-critic", "--seed", "--out", "--config"):
        assert flag in result.output
    assert "Families (--plugin)" in result.output and "gancore-wgan" in result.output and "weight=10.0" in result.output

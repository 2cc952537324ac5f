"""Hostile and mistaken input: one paragraph, a non-zero exit, no traceback (docs/reliability.md).

Every case runs the real `gan` command (click's CliRunner, in-process).
"""

from __future__ import annotations

import errno
import json
import os
import pathlib

import pytest
from PIL import Image

from gancore.testing import assert_clean_error as fails  # exit 1, one Error: paragraph, last, no traceback

TINY_GAN = ["--plugin", "gancore-gan", "--set", "gancore-gan.hidden=8", "--set", "gancore-gan.layers=1"]
TINY_WGAN = ["--plugin", "gancore-wgan", "--set", "gancore-wgan.width=8", "--set", "gancore-wgan.hidden=8"]


def run_ok(gan, tmp_path, name, *args, data="ring", steps=2):
    result = gan("train", *args, "--data", data, "--steps", steps, "--batch-size", 8, "--out", tmp_path,
                 "--name", name, "--sample-every", 0, "--grid-size", 4, "--no-progress")
    assert result.exit_code == 0, result.output
    return tmp_path / name


def resigned(meta):
    """``meta`` with its own checksum (format 2) recomputed: what a deliberate edit of meta.json needs
    to reach the checks behind the checksum."""
    from gancore.checkpoint import meta_digest

    return {**meta, "meta_sha256": meta_digest(meta)}


def save_png(path, size=(8, 8), mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, 128).save(path)
    return path


@pytest.mark.parametrize("flag, value, message", [
    ("--steps", "0", "bad value for 'steps': must be a whole number > 0, got 0"),
    ("--steps", "-5", "bad value for 'steps': must be a whole number > 0, got -5"),
    ("--batch-size", "20001", "batch size 20001 is larger than the data set (20000 samples)"),
    ("--lr", "0", "bad value for 'lr_g': must be a finite number > 0, got 0.0"),
    ("--lr-d", "-0.1", "bad value for 'lr_d': must be a finite number > 0, got -0.1"),
    ("--plugin", "nope", "unknown plugin 'nope'. Installed plugins:"),
    ("--regularizer", "nope", "unknown regularizer 'nope'. Available regularizers:"),
    ("--nan-limit", "-1", "bad value for 'nan_limit'"),
], ids=["zero-steps", "negative-steps", "batch-too-large", "lr-zero", "lr-negative", "unknown-plugin",
        "unknown-regularizer", "negative-nan-limit"])
def test_bad_flags(gan, tmp_path, flag, value, message):
    args = ["--plugin", "gancore-gan"] if flag != "--plugin" else []
    fails(gan("train", *args, flag, value, "--data", "ring", "--out", tmp_path), message)


def test_unknown_config_key(gan, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('plugins = ["gancore-gan"]\nstpes = 3\n')
    fails(gan("train", "--config", config, "--out", tmp_path), "unknown configuration key 'stpes'", str(config))


def test_config_value_of_the_wrong_type(gan, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('plugins = ["gancore-gan"]\nsteps = "ten"\n')
    fails(gan("train", "--config", config, "--out", tmp_path), "bad value for 'steps'")


def test_empty_data_folder(gan, tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    fails(gan("train", *TINY_GAN, "--data", tmp_path / "empty", "--out", tmp_path), "no images (.png",
          str(tmp_path / "empty"))


def test_truncated_png_names_the_file(gan, tmp_path):
    folder = tmp_path / "imgs"
    save_png(folder / "a.png")
    bad = save_png(folder / "b.png", size=(64, 64))
    Image.effect_noise((64, 64), 50).save(bad)  # incompressible, so a cut is inside the pixel data
    bad.write_bytes(bad.read_bytes()[:-300])
    fails(gan("train", *TINY_GAN, "--data", folder, "--out", tmp_path), f"cannot read image '{bad}'", "truncated")


def test_mixed_image_sizes_name_the_file(gan, tmp_path):
    folder = tmp_path / "imgs"
    save_png(folder / "a.png")
    save_png(folder / "b.png", size=(16, 16))
    fails(gan("train", *TINY_GAN, "--data", folder, "--out", tmp_path),
          f"image '{folder / 'b.png'}' is 16x16 but '{folder / 'a.png'}' is 8x8", "--image-size")


def test_mixed_channel_counts_name_the_file(gan, tmp_path):
    folder = tmp_path / "imgs"
    save_png(folder / "a.png")
    save_png(folder / "b.png", mode="RGB")
    fails(gan("train", *TINY_GAN, "--data", folder, "--out", tmp_path),
          f"image '{folder / 'b.png'}' has 3 channel(s) but '{folder / 'a.png'}' has 1")


def test_resume_with_another_family(gan, tmp_path):
    run = run_ok(gan, tmp_path, "gan", *TINY_GAN)
    fails(gan("train", "--resume", run, "--plugin", "gancore-wgan", "--steps", 4),
          "checkpoints were written by gancore-gan", "another family")


def test_checkpoint_from_another_family(gan, tmp_path):
    run = run_ok(gan, tmp_path, "gan", *TINY_GAN)
    other = run_ok(gan, tmp_path, "wgan", *TINY_WGAN)
    target = run / "checkpoints" / "step-000002"
    for file in target.iterdir():
        file.write_bytes((other / "checkpoints" / "step-000002" / file.name).read_bytes())
    fails(gan("train", "--resume", run, "--steps", 4),
          "was written by family 'gancore-wgan', but this run uses 'gancore-gan'")


def test_checkpoint_weights_that_do_not_fit(gan, tmp_path):
    run = run_ok(gan, tmp_path, "gan", *TINY_GAN)
    small = run_ok(gan, tmp_path, "small", "--plugin", "gancore-gan", "--set", "gancore-gan.hidden=4", "--set",
                   "gancore-gan.layers=1")
    target = run / "checkpoints" / "step-000002"
    for name in ("generator.safetensors", "meta.json"):
        source = (small / "checkpoints" / "step-000002" / name).read_bytes()
        (target / name).write_bytes(source)
    meta = json.loads((target / "meta.json").read_text())
    import hashlib

    for name in ("discriminator.safetensors", "state.safetensors"):
        meta["sha256"][name] = hashlib.sha256((target / name).read_bytes()).hexdigest()
    (target / "meta.json").write_text(json.dumps(resigned(meta)))
    fails(gan("train", "--resume", run, "--steps", 4), "the checkpoint's generator tensor", "has shape",
          "another family or configuration")


@pytest.mark.parametrize("who, version, message", [
    ("gancore-gan", "1.0.0", "was written by plugin 'gancore-gan' version 1.0.0; the installed version 0.1.0 "
                             "is incompatible"),
    ("gancore", "0.9.0", "was written by gancore 0.9.0; the installed gancore 0.1.0 cannot read it"),
], ids=["plugin", "core"])
def test_checkpoint_with_an_incompatible_version(gan, tmp_path, who, version, message):
    run = run_ok(gan, tmp_path, "gan", *TINY_GAN)
    meta_path = run / "checkpoints" / "step-000002" / "meta.json"
    meta = json.loads(meta_path.read_text())
    if who == "gancore":
        meta["gancore_version"] = version
    else:
        meta["plugins"][who] = version
    meta_path.write_text(json.dumps(resigned(meta)))
    fails(gan("train", "--resume", run, "--steps", 4), message)


def test_resume_cannot_change_the_configuration(gan, tmp_path):
    run = run_ok(gan, tmp_path, "gan", *TINY_GAN)
    fails(gan("train", "--resume", run, "--lr", "0.01", "--steps", 4),
          "cannot resume", "different 'lr_g' (saved 0.001, given 0.01)")
    fails(gan("train", "--resume", run), "already reached step 2 of 2", "--steps N")
    fails(gan("train", "--resume", tmp_path / "missing"), "no such run directory")


def test_read_only_output_directory(gan, tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.access(locked, os.W_OK):  # running as root: permissions are not enforced, so enforce them here
        real_mkdir, real_write = pathlib.Path.mkdir, pathlib.Path.write_text

        def refuse(self):
            if str(self).startswith(str(locked) + os.sep):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

        monkeypatch.setattr(pathlib.Path, "mkdir", lambda self, *a, **k: refuse(self) or real_mkdir(self, *a, **k))
        monkeypatch.setattr(pathlib.Path, "write_text",
                            lambda self, *a, **k: refuse(self) or real_write(self, *a, **k))
    try:
        fails(gan("train", *TINY_GAN, "--data", "ring", "--steps", 2, "--out", locked, "--name", "r"),
              f"cannot write the run directory '{locked / 'r'}'", "Permission denied")
    finally:
        locked.chmod(0o755)


def test_full_disk_while_writing_metrics(gan, tmp_path, monkeypatch):
    import gancore.files

    real_open = gancore.files._open_regular  # every append opens here (O_NOFOLLOW, regular files only)

    def full(path, flags):
        if pathlib.Path(path).name == "metrics.jsonl":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, flags)

    monkeypatch.setattr(gancore.files, "_open_regular", full)
    fails(gan("train", *TINY_GAN, "--data", "ring", "--steps", 2, "--out", tmp_path, "--name", "r",
              "--log-every", 1, "--no-progress"),
          "No space left on device", "metrics.jsonl", "--resume")


# --- issue 19: two runs in one directory, run names ---------------------------------------------------

def test_a_run_directory_in_use_is_refused_to_a_second_run(gan, tmp_path):
    from gancore.run.rundir import RunLock

    run = run_ok(gan, tmp_path, "r", *TINY_GAN)
    with RunLock(run):  # another process's lock: flock is per open file, so this stands for one
        fails(gan("train", *TINY_GAN, "--data", "ring", "--steps", 2, "--out", tmp_path, "--name", "r"),
              f"run directory '{run}' is in use by another run (PID {os.getpid()}", "another --name")
        fails(gan("train", "--resume", run, "--steps", 4, "--no-progress"),
              f"run directory '{run}' is in use by another run (PID {os.getpid()}")
        assert len(json.loads("[" + ",".join((run / "metrics.jsonl").read_text().splitlines()) + "]")) == 1
    result = gan("train", "--resume", run, "--steps", 4, "--no-progress")
    assert result.exit_code == 0, result.output


def test_the_lock_is_held_for_the_life_of_the_run(gan, tmp_path, monkeypatch):
    import gancore.cli
    from gancore import hookimpl
    from gancore.errors import ConfigError
    from gancore.plugins import Registry
    from gancore.run.rundir import RunLock

    seen = []

    class LockProbe:
        """Test add-on: tries to take the run's lock while the run trains."""

        @hookimpl
        def post_step(self, step, phase):
            if phase == "g":
                try:
                    RunLock(tmp_path / "r").acquire().release()
                    seen.append("free")
                except ConfigError as exc:
                    seen.append(str(exc))

    registry = Registry.discover()
    registry.add("lock-probe", LockProbe)
    monkeypatch.setattr(gancore.cli, "_registry", lambda: registry)
    run_ok(gan, tmp_path, "r", *TINY_GAN, "--plugin", "lock-probe", steps=3)
    assert len(seen) == 3 and all(f"is in use by another run (PID {os.getpid()}" in s for s in seen), seen
    RunLock(tmp_path / "r").acquire().release()  # released when the run ended
    result = gan("train", "--resume", tmp_path / "r", "--steps", 5, "--no-progress")  # a resumed run holds it too
    assert result.exit_code == 0, result.output
    assert len(seen) == 5 and "free" not in seen


def test_default_run_names_are_unique_within_one_second(gan, tmp_path, monkeypatch):
    import time

    monkeypatch.setattr(time, "strftime", lambda fmt, *args: "20260101-000000")
    for _ in range(2):
        result = gan("train", *TINY_GAN, "--data", "ring", "--steps", 1, "--batch-size", 8, "--out", tmp_path,
                     "--sample-every", 0, "--grid-size", 4, "--no-progress")
        assert result.exit_code == 0, result.output
    runs = sorted(p.name for p in tmp_path.iterdir())
    assert len(runs) == 2 and all(name.startswith("gancore-gan-ring-20260101-000000-") for name in runs), runs
    for name in runs:
        assert len((tmp_path / name / "metrics.jsonl").read_text().splitlines()) == 1


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".", "/tmp/abs"])
def test_a_run_name_cannot_leave_out(gan, tmp_path, name):
    out = tmp_path / "out"
    fails(gan("train", *TINY_GAN, "--data", "ring", "--steps", 1, "--out", out, "--name", name),
          f"bad --name {name!r}: a run name is one directory name under --out")
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "nothing is written"


# --- issue 19: --device cuda without a GPU; sample/eval on a damaged newest checkpoint -------------------

@pytest.mark.parametrize("extra", [[], ["--precision", "fp16"]], ids=["fp32", "fp16"])
def test_device_cuda_without_a_gpu_is_refused(gan, tmp_path, monkeypatch, extra):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    fails(gan("train", *TINY_GAN, "--data", "ring", "--steps", 1, "--device", "cuda", *extra, "--out", tmp_path,
              "--name", "r"), "--device cuda, but no CUDA GPU is available to torch", "--device cpu")
    assert not (tmp_path / "r").exists()


def test_sample_device_is_checked(gan, tmp_path, monkeypatch):
    import torch

    run = run_ok(gan, tmp_path, "r", *TINY_GAN)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    fails(gan("sample", run, "--device", "cuda", "-o", tmp_path / "s.png"), "--device cuda, but no CUDA GPU")
    fails(gan("sample", run, "--device", "bogus", "-o", tmp_path / "s.png"), "bad --device 'bogus'")


@pytest.mark.parametrize("command", ["sample", "eval"])
def test_sample_and_eval_fall_back_to_the_newest_intact_checkpoint(gan, tmp_path, command):
    run = tmp_path / "r"
    result = gan("train", *TINY_GAN, "--data", "ring", "--steps", 2, "--batch-size", 8, "--out", tmp_path,
                 "--name", "r", "--checkpoint-every", 1, "--sample-every", 0, "--grid-size", 4, "--no-progress")
    assert result.exit_code == 0, result.output
    damaged = run / "checkpoints" / "step-000002" / "generator.safetensors"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    args = ["-o", tmp_path / "s.png"] if command == "sample" else ["-n", 200]
    result = gan(command, run, *args)
    assert result.exit_code == 0, result.output
    assert "Skipping step-000002: checkpoint" in result.output and "does not match its checksum" in result.output
    assert "Falling back to step-000001, the newest intact checkpoint." in result.output
    assert "step-000001 (step 1" in result.output
    for checkpoint in ("step-000001", "step-000002"):
        meta = run / "checkpoints" / checkpoint / "meta.json"
        meta.write_text("{")
    fails(gan(command, run, *args), f"'{run}': it has no intact checkpoint. Skipping step-000002",
          "Skipping step-000001")


# --- issue 19, item 6: smaller ones ------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["train", "--stpes", "3"], "No such option '--stpes'"),
    (["train", "--steps", "abc"], "Invalid value for '--steps': 'abc' is not a valid integer"),
    (["train", "--device", "tpu"], "Invalid value for '--device'"),
    (["sample"], "Missing argument 'PATH'"),
    (["nope"], "No such command 'nope'"),
], ids=["unknown-flag", "not-a-number", "bad-choice", "missing-argument", "unknown-command"])
def test_click_usage_errors_exit_1(gan, args, message):
    fails(gan(*args), message)


def test_dash_o_is_not_set_in_train(gan, tmp_path):
    fails(gan("train", *TINY_GAN, "-o", "gancore-gan.hidden=4", "--data", "ring", "--out", tmp_path),
          "gan train has no -o (in gan sample, eval, translate and report it is --output)", "-s gancore-gan.hidden=4")
    run = run_ok(gan, tmp_path, "r", "--plugin", "gancore-gan", "-s", "gancore-gan.hidden=4", "-s",
                 "gancore-gan.layers=1")
    assert "hidden = 4" in (run / "config.toml").read_text()


def test_missing_data_folder_says_no_such_folder(gan, tmp_path):
    missing = tmp_path / "nowhere" / "images"
    fails(gan("train", *TINY_GAN, "--data", missing, "--out", tmp_path), f"unknown data '{missing}': no such folder")
    fails(gan("train", *TINY_GAN, "--data", "./imgs", "--out", tmp_path), "unknown data './imgs': no such folder")
    fails(gan("train", *TINY_GAN, "--data", "rnig", "--out", tmp_path), "unknown data 'rnig'")


def test_precision_is_recorded_as_the_help_says(gan, tmp_path):
    import tomllib

    from gancore.config import make_config

    run = run_ok(gan, tmp_path, "r", *TINY_GAN)
    assert tomllib.loads((run / "config.toml").read_text())["precision"] == "fp32"
    run = run_ok(gan, tmp_path, "no", *TINY_GAN, "--precision", "no")
    assert tomllib.loads((run / "config.toml").read_text())["precision"] == "fp32"
    assert make_config({"precision": "no"}).precision == "fp32"  # configurations saved before read the same
    config = run / "config.toml"
    config.write_text(config.read_text().replace('precision = "fp32"', 'precision = "no"'))
    result = gan("train", "--resume", run, "--steps", 4, "--precision", "fp32", "--no-progress")
    assert result.exit_code == 0, result.output


def test_ddp_settings_raise_no_deprecation_warning():
    import warnings

    import torch
    import torch.distributed as dist

    from gancore.config import make_config
    from gancore.trainer import ddp_kwargs, make_accelerator

    kwargs = make_accelerator(make_config({"device": "cpu"})).ddp_handler.to_kwargs()
    assert kwargs == ddp_kwargs().to_kwargs()
    assert kwargs in ({"forward_sync_buffers": False}, {"broadcast_buffers": False})
    if dist.is_initialized():
        pytest.skip("a process group already exists")
    dist.init_process_group("gloo", rank=0, world_size=1, store=dist.HashStore())
    try:
        module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ddp = torch.nn.parallel.DistributedDataParallel(module, **kwargs)
        assert getattr(ddp, "forward_sync_buffers", getattr(ddp, "broadcast_buffers", None)) is False
    finally:
        dist.destroy_process_group()


def test_training_the_eval_classifier_raises_no_warning():
    import warnings

    from gancore import classifier

    recipe = {**classifier.recipe_of("digits"), "epochs": 1, "channels": [4, 8], "features": 8}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classifier.train_classifier("digits", recipe, log=lambda text: None)

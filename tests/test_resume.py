"""Exact resume, crash-safe checkpoints, signals and the NaN guard, through the real CLI."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import gancore.checkpoint
from gancore.checkpoint import list_checkpoints, load_checkpoint

TINY_GAN = ["--plugin", "gancore-gan", "--set", "gancore-gan.hidden=16", "--set", "gancore-gan.layers=1"]
WEIGHTS = ("generator.safetensors", "discriminator.safetensors", "state.safetensors")


@pytest.fixture(autouse=True)
def _deterministic_off_afterwards():
    yield
    torch.use_deterministic_algorithms(False)


def train_args(out, name, steps, *extra):
    return ["train", *TINY_GAN, "--data", "ring", "--steps", str(steps), "--batch-size", "16", "--out", str(out),
            "--name", name, "--log-every", "10", "--sample-every", "0", "--grid-size", "16", "--deterministic",
            "--no-progress", *extra]


def same_bytes(a: Path, b: Path) -> None:
    for name in WEIGHTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs"


def test_sigkill_mid_run_then_resume_is_byte_identical(gan, tmp_path):
    steps = 200
    # Checkpointing reads the state but never changes it, so the reference may checkpoint less often.
    reference = gan(*train_args(tmp_path, "ref", steps, "--checkpoint-every", "0"))
    assert reference.exit_code == 0, reference.output

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gancore.cli",
                             *train_args(tmp_path, "killed", steps, "--checkpoint-every", "5", "--keep", "2")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoints = tmp_path / "killed" / "checkpoints"
    deadline = time.monotonic() + 120
    while not list_checkpoints(checkpoints) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # land somewhere between checkpoints (or inside a checkpoint write)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    done = list_checkpoints(checkpoints)
    assert done and int(done[-1].name[5:]) < steps, "killed before or after the run"
    metrics = tmp_path / "killed" / "metrics.jsonl"
    rows_before = metrics.read_text().splitlines() if metrics.exists() else []

    resumed = gan("train", "--resume", tmp_path / "killed", "--checkpoint-every", "0", "--no-progress")
    assert resumed.exit_code == 0, resumed.output
    assert "Resuming from" in resumed.output
    same_bytes(tmp_path / "ref" / "checkpoints" / f"step-{steps:06d}",
               tmp_path / "killed" / "checkpoints" / f"step-{steps:06d}")
    ref_steps = [json.loads(line)["step"] for line in (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()]
    got_steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert got_steps == ref_steps, (rows_before, got_steps)  # rows past the checkpoint were not duplicated


def test_truncated_newest_checkpoint_falls_back_with_a_message(gan, tmp_path):
    # The run is trained further (20 -> 30 steps): a constant rate, as a linear decay ends at each run's last step.
    constant = ("--lr-schedule", "constant")
    assert gan(*train_args(tmp_path, "ref", 30, "--checkpoint-every", "10", *constant)).exit_code == 0
    assert gan(*train_args(tmp_path, "run", 20, "--checkpoint-every", "10", *constant)).exit_code == 0
    newest = tmp_path / "run" / "checkpoints" / "step-000020" / "generator.safetensors"
    newest.write_bytes(newest.read_bytes()[:50])
    partial = tmp_path / "run" / "checkpoints" / ".tmp-step-000030-0badf00d"
    partial.mkdir()
    (partial / "generator.safetensors").write_bytes(b"half")
    again = gan(*train_args(tmp_path, "run", 30, *constant))
    assert again.exit_code == 1 and f"gan train --resume {tmp_path / 'run'}" in again.output
    result = gan("train", "--resume", "run", "--out", tmp_path, "--steps", "30", "--no-progress")  # a run name
    assert result.exit_code == 0, result.output
    assert "Removed the unfinished .tmp-step-000030-0badf00d" in result.output and not partial.exists()
    assert "Skipping step-000020" in result.output and "does not match its checksum" in result.output
    assert "Falling back to step-000010" in result.output
    same_bytes(tmp_path / "ref" / "checkpoints" / "step-000030", tmp_path / "run" / "checkpoints" / "step-000030")


def test_resume_with_nothing_intact_is_a_clear_error(gan, tmp_path):
    assert gan(*train_args(tmp_path, "run", 10, "--checkpoint-every", "10")).exit_code == 0
    (tmp_path / "run" / "checkpoints" / "step-000010" / "meta.json").write_text("{")
    result = gan("train", "--resume", tmp_path / "run", "--steps", "20")
    assert result.exit_code == 1 and "no intact checkpoint" in result.output and "corrupt meta.json" in result.output


@pytest.mark.parametrize("family, signum", [
    (["--plugin", "gancore-dcgan", "--set", "gancore-dcgan.width=8"], signal.SIGINT),
    (["--plugin", "gancore-wgan", "--set", "gancore-wgan.width=8", "-r", "gp"], signal.SIGTERM),
])
def test_signal_writes_a_final_checkpoint_and_resume_matches(gan, tmp_path, with_test_addons, family, signum):
    def run(name, *extra):
        return gan("train", *family, "--plugin", "signaller", "--data", "digits", "--steps", "8", "--batch-size",
                   "16", "--out", tmp_path, "--name", name, "--checkpoint-every", "0", "--sample-every", "0",
                   "--grid-size", "4", "--deterministic", "--no-progress", *extra)

    assert run("ref").exit_code == 0
    stopped = run("stopped", "--set", "signaller.at=2", "--set", f"signaller.signum={int(signum)}")
    assert stopped.exit_code == 128 + signum, stopped.output
    assert f"Stopped by {signal.Signals(signum).name} at step 3" in stopped.output
    assert [p.name for p in list_checkpoints(tmp_path / "stopped" / "checkpoints")] == ["step-000003"]
    assert signal.getsignal(signum) is not None  # handlers restored
    resumed = gan("train", "--resume", tmp_path / "stopped", "--no-progress")
    assert resumed.exit_code == 0, resumed.output
    same_bytes(tmp_path / "ref" / "checkpoints" / "step-000008", tmp_path / "stopped" / "checkpoints" / "step-000008")


def test_full_disk_keeps_the_previous_checkpoint(gan, tmp_path, monkeypatch):
    real_save = gancore.checkpoint.save_file
    calls = []

    def save_file(tensors, filename, *args, **kwargs):
        calls.append(filename)
        if len(calls) > 3:  # the second checkpoint's first file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename)
        return real_save(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(gancore.checkpoint, "save_file", save_file)
    result = gan(*train_args(tmp_path, "run", 20, "--checkpoint-every", "10", "--keep", "1"))
    assert result.exit_code == 1
    assert "No space left on device" in result.output and "step-000010" in result.output
    assert "is intact" in result.output and "Traceback" not in result.output
    root = tmp_path / "run" / "checkpoints"
    assert [p.name for p in root.iterdir()] == ["step-000010"]  # no half-written directory, old one kept
    load_checkpoint(root / "step-000010")


def test_keep_prunes_only_after_the_new_checkpoint_is_complete(gan, tmp_path, monkeypatch):
    seen = []
    real_rmtree = gancore.checkpoint.shutil.rmtree

    def rmtree(path, *args, **kwargs):
        deleted = re.search(r"step-\d{6}", Path(path).name).group()
        seen.append((deleted, [p.name for p in list_checkpoints(Path(path).parent)]))
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(gancore.checkpoint.shutil, "rmtree", rmtree)
    result = gan(*train_args(tmp_path, "run", 30, "--checkpoint-every", "10", "--keep", "1"))
    assert result.exit_code == 0, result.output
    # Each deletion happened while the newer, complete checkpoint was already in place.
    assert seen == [("step-000010", ["step-000020"]), ("step-000020", ["step-000030"])]
    load_checkpoint(tmp_path / "run" / "checkpoints" / "step-000030")


@pytest.mark.parametrize("where, phase, message", [
    ("value", "d", "non-finite loss term(s) 'bad' at step 4 in phase 'd' (discriminator update)"),
    ("grad", "g", "non-finite gradient at step 4 in phase 'g' (generator update)"),
])
def test_nan_stops_naming_phase_and_terms_and_keeps_the_last_checkpoint(gan, tmp_path, with_test_addons, where,
                                                                         phase, message):
    result = gan(*train_args(tmp_path, "run", 10, "--checkpoint-every", "2", "--plugin", "bad-term", "--set",
                             "bad-term.at=4", "--set", f"bad-term.phase=\"{phase}\"", "--set",
                             f"bad-term.where=\"{where}\""))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert message in result.output and "bad = " in result.output
    assert "step-000004" in result.output and "is intact" in result.output
    kept = list_checkpoints(tmp_path / "run" / "checkpoints")
    assert [p.name for p in kept][-1] == "step-000004"
    assert all(torch.isfinite(v).all() for v in load_checkpoint(kept[-1]).generator.values())


def test_nan_skip_counts_and_respects_the_limit(gan, tmp_path, with_test_addons):
    addon = ["--plugin", "bad-term", "--set", "bad-term.at=6"]
    result = gan(*train_args(tmp_path, "skip", 8, *addon, "--nan", "skip", "--nan-limit", "2"))
    assert result.exit_code == 0, result.output
    last = json.loads((tmp_path / "skip" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["nan_skipped"] == 2 and "d/bad" not in last
    result = gan(*train_args(tmp_path, "over", 8, *addon, "--nan", "skip", "--nan-limit", "1"))
    assert result.exit_code == 1 and "after skipping the allowed 1 non-finite update(s)" in result.output

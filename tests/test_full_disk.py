"""A real full disk (issue 19, item 1): a small tmpfs the test mounts, filled while the run trains.

Every write a run makes (checkpoints, sample grids, metrics.jsonl, eval.json) must end in one
``Error:`` paragraph, exit 1, the last good checkpoint intact and no half-written files left.
Mounting needs root (or CAP_SYS_ADMIN); elsewhere these tests are skipped, saying why.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gancore.cli
from gancore import hookimpl
from gancore.checkpoint import list_checkpoints, load_checkpoint
from gancore.plugins import Registry
from gancore.testing import assert_clean_error as fails  # exit 1, one Error: paragraph, last, no traceback

TINY = ["--plugin", "gancore-gan", "--set", "gancore-gan.hidden=64", "--set", "gancore-gan.layers=2",
        "--data", "ring", "--batch-size", "8", "--grid-size", "16", "--no-progress"]


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs mounted at ``tmp_path/disk`` for the test, unmounted after it."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not sys.platform.startswith("linux") or shutil.which("mount") is None:
        pytest.skip("a real full disk needs Linux's mount(8) to mount a small tmpfs")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a 1 MiB tmpfs (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def fill(folder) -> None:
    """Write ``folder/filler`` until the filesystem is full, to the last byte."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for size in (65536, 4096, 512, 64, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    finally:
        os.close(fd)


FILLED: list[int] = []  # once per test: a resumed run (which has the add-on too) does not fill again


class DiskFiller:
    """Test add-on: fills the run's filesystem after the generator update of step ``at``."""

    def __init__(self, at: int = 1):
        self.at = at

    @hookimpl
    def post_step(self, step, phase):
        if phase == "g" and step.index == self.at and not FILLED:
            FILLED.append(step.index)
            fill(Path(step.config.out))


@pytest.fixture
def with_filler(monkeypatch):
    FILLED.clear()
    registry = Registry.discover()
    registry.add("disk-filler", DiskFiller)
    monkeypatch.setattr(gancore.cli, "_registry", lambda: registry)



def leftovers(run):
    return [str(p.relative_to(run)) for p in run.rglob("*") if p.name.startswith(".") and p.name != ".lock"
            or ".tmp" in p.name]


def test_full_disk_while_writing_a_checkpoint(gan, small_disk, with_filler):
    run = small_disk / "r"
    fails(gan("train", *TINY, "--plugin", "disk-filler", "--set", "disk-filler.at=3", "--steps", 10,
              "--checkpoint-every", 2, "--sample-every", 0, "--log-every", 1000, "--out", small_disk, "--name", "r"),
          "cannot write checkpoint step-000004", "No space left on device",
          f"the previous checkpoint '{run / 'checkpoints' / 'step-000002'}' is intact", "gan train --resume")
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["step-000002"]
    assert load_checkpoint(run / "checkpoints" / "step-000002").step == 2
    assert leftovers(run) == []
    (small_disk / "filler").unlink()
    result = gan("train", "--resume", run, "--steps", 4, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "Resuming from" in result.output and "step 2" in result.output


def test_full_disk_while_writing_the_first_checkpoint(gan, small_disk, with_filler):
    fails(gan("train", *TINY, "--plugin", "disk-filler", "--set", "disk-filler.at=1", "--steps", 10,
              "--checkpoint-every", 2, "--sample-every", 0, "--log-every", 1000, "--out", small_disk, "--name", "r"),
          "cannot write checkpoint step-000002", "No space left on device", "no earlier checkpoint exists")
    assert leftovers(small_disk / "r") == []


@pytest.mark.parametrize("what, flags, file", [
    ("samples", ["--sample-every", 2, "--log-every", 1000], "samples"),
    ("metrics", ["--sample-every", 0, "--log-every", 2], "metrics.jsonl"),
])
def test_full_disk_while_writing_samples_or_metrics(gan, small_disk, with_filler, what, flags, file):
    run = small_disk / "r"
    fails(gan("train", *TINY, "--plugin", "disk-filler", "--set", "disk-filler.at=1", "--steps", 10,
              "--checkpoint-every", 0, *flags, "--out", small_disk, "--name", "r"),
          f"cannot write to '{run}': No space left on device", file,
          "checkpoints already written are intact", f"gan train --resume {run}")
    assert leftovers(run) == []


@pytest.mark.parametrize("command, output, args", [("eval", "eval.json", ["-n", 200]),
                                                   ("sample", "s.png", ["-n", 16])])
def test_full_disk_while_writing_a_commands_output(gan, tmp_path, small_disk, command, output, args):
    # gan eval's eval.json and gan sample's PNG: one clear line, and no half-written file left.
    result = gan("train", *TINY, "--steps", 2, "--sample-every", 0, "--out", tmp_path, "--name", "r")
    assert result.exit_code == 0, result.output
    fill(small_disk)
    out = small_disk / output
    fails(gan(command, tmp_path / "r", *args, "-o", out), f"cannot write '{out}': No space left on device")
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]

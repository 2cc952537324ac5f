"""The training trajectory under a fixed seed is pinned: a change to the loop that should change
nothing (the phase table, the lazy-regularization mechanism) must leave every weight as it was.

Each case trains a few steps through ``gan train`` and is compared with
``tests/fixtures/trajectory.json``, recorded on the loop before the phase table: every logged
value of every step (losses, regularizer terms, EMA's beta), the sum of every weight of G and D
and of every tensor of plugin state that is not a counter, and a SHA-256 of the bytes of all of
them. The bytes are compared where the fixture was recorded (same torch, Python and CPU model and
capability), the values everywhere. The cases cover what the schedule decides: ``n_critic`` > 1 (WGAN with clipping, its
post_step after every critic update, and WGAN-GP), a lazy regularizer counted over critic updates
beside an eager one in the same phase (``r1`` every 3 with ``r2``, two critic updates a step),
StyleGAN2's lazy R1 and lazy path length with its moving average, EMA (DCGAN's and StyleGAN2's
defaults on digits), and BatchNorm discriminators scoring real and fake in one batch (WGAN) and
in separate ones (DCGAN).

Record again (only for a change meant to change training): ``python tests/test_trajectory.py``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import pytest
import torch

FIXTURE = Path(__file__).parent / "fixtures" / "trajectory.json"

#: Case name -> (gan train arguments, steps).
CASES = {
    "wgan-clip-ncritic5-batchnorm": (["-p", "gancore-wgan", "--set", "gancore-wgan.width=8", "--set",
                                      "gancore-wgan.norm=batch", "-r", "clip", "--data", "digits"], 2),
    "wgan-gp-ncritic5": (["-p", "gancore-wgan", "--set", "gancore-wgan.hidden=16", "-r", "gp", "--data", "ring"], 3),
    "gan-r1-every3-r2-ncritic2": (["-p", "gancore-gan", "--set", "gancore-gan.hidden=16", "-r", "r1", "-r", "r2=1",
                                   "--set", "r1.every=3", "--n-critic", "2", "--data", "ring"], 5),
    "stylegan2-lazy-r1-pathlength-ema": (["-p", "gancore-stylegan2", "--set", "gancore-stylegan2.width=4",
                                          "--set", "gancore-stylegan2.most=8", "--set", "gancore-stylegan2.w_dim=8",
                                          "--set", "gancore-stylegan2.mapping_layers=2", "--set", "r1.every=4",
                                          "--set", "pathlength.every=2", "--data", "digits"], 5),
    "dcgan-batchnorm-separate-r1-ema": (["-p", "gancore-dcgan", "--set", "gancore-dcgan.width=8", "--set",
                                         "gancore-dcgan.norm=batch", "--data", "digits"], 3),
}
#: Plugin-state entries that count updates: bookkeeping of the schedule, not training state.
COUNTERS = ("d_updates", "g_updates")


def _cpu() -> str:
    """The CPU's model and the kernels torch picks for it: two machines with the same torch and Python but
    other CPUs gave the same values with other last bits (reductions and matrix products)."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), "")
    return f"{model or platform.processor()} {torch.backends.cpu.get_cpu_capability()}"


def environment() -> str:
    return f"torch {torch.__version__} {platform.machine()} {platform.python_version()} {_cpu()}"


def fingerprint(args: list[str], steps: int, out: Path) -> dict:
    """Train one case and describe where it ended."""
    from gancore.checkpoint import load_checkpoint
    from gancore.testing import run_cli

    torch.set_num_threads(1)
    result = run_cli("train", *args, "--steps", steps, "--batch-size", 8, "--seed", 3, "--out", out, "--name", "run",
                     "--log-every", 1, "--sample-every", 0, "--checkpoint-every", 0, "--grid-size", 4,
                     "--no-progress")
    assert result.exit_code == 0, result.output
    run = out / "run"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    checkpoint = load_checkpoint(run / "checkpoints" / f"step-{steps:06d}")
    tensors = {f"G.{k}": v for k, v in checkpoint.generator.items()}
    tensors.update({f"D.{k}": v for k, v in checkpoint.discriminator.items()})
    for plugin, state in sorted(checkpoint.state["plugins"].items()):
        tensors.update({f"{plugin}.{k}": v for k, v in state.items() if k not in COUNTERS})
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].detach().cpu().contiguous().numpy().tobytes())
    # time varies; the learning rates (lr_g, lr_d, logged since --log-with) are the schedule's, not the trajectory's
    return {"metrics": [{k: v for k, v in row.items() if k not in ("time", "lr_g", "lr_d")} for row in rows],
            "sums": {name: float(tensors[name].double().sum()) for name in sorted(tensors)
                     if tensors[name].is_floating_point()},
            "sha256": digest.hexdigest()}


@pytest.fixture(scope="module")
def recorded() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_seed_same_trajectory(case, recorded, tmp_path):
    expected = recorded["cases"][case]
    got = fingerprint(*CASES[case], tmp_path)
    assert len(got["metrics"]) == len(expected["metrics"])
    for step, (row, want) in enumerate(zip(got["metrics"], expected["metrics"])):
        assert sorted(row) == sorted(want), f"step {step + 1}: logged names differ"
        assert row == pytest.approx(want, rel=1e-5, abs=1e-7), f"step {step + 1}"
    assert sorted(got["sums"]) == sorted(expected["sums"])
    assert got["sums"] == pytest.approx(expected["sums"], rel=1e-5, abs=1e-6)
    if recorded["environment"] == environment():
        assert got["sha256"] == expected["sha256"], "same values, other bytes: the weights moved"


def test_the_cases_cover_what_the_schedule_decides(recorded):
    # Every recorded step holds the terms the case is there for (a lazy term only on its updates).
    metrics = {case: recorded["cases"][case]["metrics"] for case in CASES}
    # r1 every 3 D updates, two a step: updates 0, 3, 6, 9 fall in steps 1, 2, 4 and 5, none in step 3.
    assert ["d/r1" in row for row in metrics["gan-r1-every3-r2-ncritic2"]] == [True, True, False, True, True]
    assert all("d/r2" in row for row in metrics["gan-r1-every3-r2-ncritic2"])
    assert any("g/pl" in row for row in metrics["stylegan2-lazy-r1-pathlength-ema"])
    assert not all("g/pl" in row for row in metrics["stylegan2-lazy-r1-pathlength-ema"])
    assert any("d/r1" in row for row in metrics["stylegan2-lazy-r1-pathlength-ema"])
    assert all("d/gp" in row for row in metrics["wgan-gp-ncritic5"])
    assert all("ema/beta" in row for row in metrics["dcgan-batchnorm-separate-r1-ema"])


if __name__ == "__main__":
    import tempfile

    cases = {}
    for case, (args, steps) in sorted(CASES.items()):
        with tempfile.TemporaryDirectory() as tmp:
            cases[case] = fingerprint(args, steps, Path(tmp))
        print(case, cases[case]["sha256"], file=sys.stderr)
    FIXTURE.write_text(json.dumps({"environment": environment(), "cases": cases}, indent=1) + "\n")

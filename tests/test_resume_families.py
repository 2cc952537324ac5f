"""Every built-in family (and the EMA add-on) resumes byte-identically: plugin state included.

Each case trains 4 steps uninterrupted, then the same run stopped by SIGTERM after step 2
(a final checkpoint) and resumed, and compares the final safetensors files. The
image-to-image families need the slower ``mnist-*`` tasks; `benchmarks/resume_exactness.py`
checks them.
"""

from __future__ import annotations

import signal

import pytest

WEIGHTS = ("generator.safetensors", "discriminator.safetensors", "state.safetensors")

CASES = {
    "gancore-began": ["--set", "gancore-began.width=8", "--set", "gancore-began.hidden=16", "--set",
                      "gancore-began.code_dim=8"],  # k_t is plugin state
    "gancore-ebgan": ["--set", "gancore-ebgan.width=8", "--set", "gancore-ebgan.hidden=16", "--set",
                      "gancore-ebgan.code_dim=8"],
    "ema": ["--plugin", "gancore-dcgan", "--set", "gancore-dcgan.width=8"],  # EMA weights are plugin state
    "gancore-infogan": ["--set", "gancore-infogan.width=8", "--set", "gancore-infogan.hidden=16"],
    "gancore-aae": ["--set", "gancore-aae.hidden=16"],
    "gancore-acgan": ["--set", "gancore-acgan.width=8", "--set", "gancore-acgan.hidden=16"],
    "gancore-cgan": ["--set", "gancore-cgan.width=8", "--set", "gancore-cgan.hidden=16"],
}


@pytest.fixture(autouse=True)
def _deterministic_off_afterwards():
    import torch

    yield
    torch.use_deterministic_algorithms(False)


@pytest.mark.parametrize("plugin", sorted(CASES))
def test_family_resumes_byte_identically(gan, tmp_path, with_test_addons, plugin):
    def run(name, *extra):
        return gan("train", "--plugin", plugin, *CASES[plugin], "--plugin", "signaller", "--data", "digits",
                   "--steps", 4, "--batch-size", 4, "--out", tmp_path, "--name", name, "--checkpoint-every", 0,
                   "--sample-every", 0, "--grid-size", 4, "--deterministic", "--no-progress", *extra)

    assert run("ref").exit_code == 0
    assert run("stopped", "--set", "signaller.at=1").exit_code == 128 + signal.SIGTERM
    resumed = gan("train", "--resume", tmp_path / "stopped", "--no-progress")
    assert resumed.exit_code == 0, resumed.output
    for name in WEIGHTS:
        ref = (tmp_path / "ref" / "checkpoints" / "step-000004" / name).read_bytes()
        assert (tmp_path / "stopped" / "checkpoints" / "step-000004" / name).read_bytes() == ref, name

"""Runs written before translation left gancore's core still resume, translate and refuse ``gan sample``.

The fixtures are run directories (config.toml and the step-2 checkpoint) that gancore at commit
be8d8b1 wrote, when the networks were ``gancore.nets.UNet`` etc., the data ``gancore.domains``
and the command ``gancore.cli.translate``: 2 steps of each family on its embedded task at 8x8,
networks of width 2. A checkpoint records the family's entry-point name, the data's name and
state dicts, no Python module path, so nothing in them names what moved. (Resuming these
directories with the code before and after the move gave byte-identical step-4 checkpoints.)

One line was added since: ``condition = "shift"`` in the StarGAN run's ``[options.gancore-stargan]``.
On 2026-12-07 StarGAN's default generator became ``condition = "norm"`` (conditional instance norm,
other tensors); a StarGAN run written before then resumes with that line added to its config.toml
(docs/families/stargan.md says so), and without it refuses with a clear checkpoint error.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gancore.testing import assert_clean_error

FIXTURES = Path(__file__).parent / "fixtures" / "runs-before-the-move"
DOMAINS = {"pix2pix": ["edges"], "cyclegan": ["thin", "thick"], "stargan": ["rot0", "rot90", "rot180", "rot270"]}


@pytest.mark.parametrize("family", sorted(DOMAINS))
def test_a_run_written_before_the_move_resumes_and_translates(tmp_path, family, gan):
    run = tmp_path / family
    shutil.copytree(FIXTURES / family, run)
    resumed = gan("train", "--resume", run, "--steps", 3, "--no-progress")
    assert resumed.exit_code == 0, resumed.output
    assert "Resuming from" in resumed.output
    assert (run / "checkpoints" / "step-000003" / "generator.safetensors").is_file()
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(tmp_path / "digit.png")
    translated = gan("translate", run, tmp_path / "digit.png", "--to", "all", "-o", tmp_path / "out")
    assert translated.exit_code == 0, translated.output
    names = DOMAINS[family]
    expected = ["digit.png"] if len(names) == 1 else [f"digit-{name}.png" for name in names]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(expected)
    assert_clean_error(gan("sample", run, "-o", tmp_path / "grid.png"), "gan translate")

"""Does every installed family resume byte-identically? (slow: includes the image-to-image families)

    OMP_NUM_THREADS=1 python benchmarks/resume_exactness.py              # all families below
    OMP_NUM_THREADS=1 python benchmarks/resume_exactness.py cyclegan     # some of them

For each family: train ``--steps`` steps uninterrupted; train the same run, stopped by
SIGTERM after step ``--stop`` (it writes a final checkpoint), then ``gan train --resume``
it; compare the final generator, discriminator and state safetensors files byte for byte.
Runs through the real CLI (in-process), on CPU with ``--deterministic``.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

import gancore.cli
from gancore import hookimpl
from gancore.cli import main as cli_main
from gancore.plugins import Registry

FILES = ("generator.safetensors", "discriminator.safetensors", "state.safetensors")
CASES = {
    "gan": (["--plugin", "gancore-gan", "--set", "gancore-gan.hidden=16"], "ring"),
    "dcgan": (["--plugin", "gancore-dcgan", "--set", "gancore-dcgan.width=8"], "digits"),
    "wgan-gp": (["--plugin", "gancore-wgan", "--set", "gancore-wgan.width=8", "-r", "gp"], "digits"),
    "began": (["--plugin", "gancore-began", "--set", "gancore-began.width=8", "--set", "gancore-began.hidden=16",
               "--set", "gancore-began.code_dim=8"], "digits"),
    "ebgan": (["--plugin", "gancore-ebgan", "--set", "gancore-ebgan.width=8", "--set", "gancore-ebgan.hidden=16",
               "--set", "gancore-ebgan.code_dim=8"], "digits"),
    "ema": (["--plugin", "gancore-dcgan", "--set", "gancore-dcgan.width=8", "--plugin", "ema"], "digits"),
    "infogan": (["--plugin", "gancore-infogan", "--set", "gancore-infogan.width=8", "--set",
                 "gancore-infogan.hidden=16"], "digits"),
    "aae": (["--plugin", "gancore-aae", "--set", "gancore-aae.hidden=16"], "digits"),
    "acgan": (["--plugin", "gancore-acgan", "--set", "gancore-acgan.width=8", "--set", "gancore-acgan.hidden=16"],
              "digits"),
    "cgan": (["--plugin", "gancore-cgan", "--set", "gancore-cgan.width=8", "--set", "gancore-cgan.hidden=16"],
             "digits"),
    "cyclegan": (["--plugin", "gancore-cyclegan", "--set", "gancore-cyclegan.width=4", "--set",
                  "gancore-cyclegan.d_width=4", "--set", "gancore-cyclegan.pool=4"], "mnist-thick"),
    "pix2pix": (["--plugin", "gancore-pix2pix", "--set", "gancore-pix2pix.width=4", "--set",
                 "gancore-pix2pix.d_width=4"], "mnist-edges"),
    "discogan": (["--plugin", "gancore-discogan", "--set", "gancore-discogan.width=4", "--set",
                  "gancore-discogan.d_width=4"], "mnist-thick"),
    "stargan": (["--plugin", "gancore-stargan", "--set", "gancore-stargan.width=4", "--set",
                 "gancore-stargan.d_width=4", "--set", "gancore-stargan.blocks=1"], "mnist-rotations"),
}


class StopAt:
    """Sends this process SIGTERM after the generator update of step ``at``."""

    def __init__(self, at: int = -1):
        self.at = at

    @hookimpl
    def post_step(self, step, phase):
        if phase == "g" and step.index == self.at:
            os.kill(os.getpid(), signal.SIGTERM)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("families", nargs="*", metavar="FAMILY", help=f"some of: {', '.join(sorted(CASES))}")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--stop", type=int, default=2)
    args = parser.parse_args(argv)
    unknown = [name for name in args.families if name not in CASES]
    if unknown:
        parser.error(f"unknown family {unknown[0]!r}; choose from {', '.join(sorted(CASES))}")
    args.families = args.families or sorted(CASES)
    registry = Registry.discover()
    registry.add("stop-at", StopAt)
    gancore.cli._registry = lambda: registry
    failures = 0
    with tempfile.TemporaryDirectory() as out:
        for name in args.families:
            flags, data = CASES[name]
            started = time.perf_counter()

            def train(run, *extra):
                return CliRunner().invoke(cli_main, [
                    "train", *flags, "--plugin", "stop-at", "--data", data, "--steps", str(args.steps),
                    "--batch-size", "4", "--out", out, "--name", run, "--checkpoint-every", "0",
                    "--sample-every", "0", "--grid-size", "4", "--deterministic", "--no-progress", *extra])

            ref, stopped = train(f"{name}-ref"), train(f"{name}-stop", "--set", f"stop-at.at={args.stop}")
            resumed = CliRunner().invoke(cli_main, ["train", "--resume", f"{out}/{name}-stop", "--no-progress"])
            if ref.exit_code or stopped.exit_code != 128 + signal.SIGTERM or resumed.exit_code:
                print(f"{name:10s} FAILED to run: {(ref.output + stopped.output + resumed.output)[-400:]}")
                failures += 1
                continue
            last = f"checkpoints/step-{args.steps:06d}"
            differ = [f for f in FILES if (Path(out) / f"{name}-ref" / last / f).read_bytes()
                      != (Path(out) / f"{name}-stop" / last / f).read_bytes()]
            failures += bool(differ)
            print(f"{name:10s} {'DIFFERS: ' + ', '.join(differ) if differ else 'byte-identical'}"
                  f"  ({time.perf_counter() - started:.1f} s)", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

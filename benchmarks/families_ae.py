"""EBGAN and BEGAN (auto-encoder discriminators) on `ring`, and the ema add-on, in one table.

    python benchmarks/families_ae.py                  # every configuration below, 5,000 steps, seed 0
    python benchmarks/families_ae.py --only began,ebgan   # just these configurations

Each configuration is one run of `benchmarks/ring.py` (same training path as
`gan train`, same metric: modes covered out of 8 and the share of samples
within 3 std of a mode), printed as it finishes, then a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ring  # noqa: E402

CONFIGURATIONS = {
    "ebgan": ["--plugin", "gancore-ebgan", "--regularizer", "none"],
    "ebgan-linear": ["--plugin", "gancore-ebgan", "--regularizer", "none", "--lr-schedule", "linear"],
    "ebgan-linear-ema": ["--plugin", "gancore-ebgan", "--regularizer", "none", "--lr-schedule", "linear",
                         "--ema", "10"],
    "began": ["--plugin", "gancore-began", "--regularizer", "none"],
    "began-code1-linear": ["--plugin", "gancore-began", "--regularizer", "none", "--lr-schedule", "linear",
                           "--set", "gancore-began.code_dim=1"],
    "wgan-gp-linear": ["--lr-schedule", "linear"],
    "wgan-gp-linear-ema": ["--lr-schedule", "linear", "--ema", "10"],
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated configuration names to run (default: all)")
    args = parser.parse_args(argv)
    rows = []
    for name, extra in CONFIGURATIONS.items():
        if args.only and name not in args.only.split(","):
            continue
        argv = [*extra, "--steps", str(args.steps), "--seed", str(args.seed)]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            ring.main(argv)
        text = out.getvalue()
        print(text, flush=True)
        modes = re.search(r"modes covered: (\d+)/8", text).group(1)
        hq = re.search(r"high-quality samples .*: ([\d.]+)%", text).group(1)
        rows.append((name, " ".join(argv), modes, hq))
    print("| configuration | `benchmarks/ring.py` arguments | modes | HQ % |")
    print("|---|---|---|---|")
    for name, command, modes, hq in rows:
        print(f"| {name} | `{command}` | {modes}/8 | {hq} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

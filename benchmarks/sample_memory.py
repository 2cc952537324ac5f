"""Memory and time of ``gan sample -n N``: a large grid is drawn and written in batches.

    OMP_NUM_THREADS=1 python benchmarks/sample_memory.py                 # digits, N = 64 .. 100,000
    OMP_NUM_THREADS=1 python benchmarks/sample_memory.py --data ring --sizes 64 100000

Trains a two-step run of ``gancore-gan`` on the data, then runs ``gan sample -n N`` for each N in
a fresh process and reports its peak resident memory (``ru_maxrss``), its wall time and the PNG's
size. Memory that stays flat as N grows is what streaming promises (docs/reliability.md, "Limits").
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import resource, sys
from gancore.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    print("MAXRSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def run_sample(run: Path, n: int, out: Path) -> tuple[float, float]:
    """Peak memory (MiB) and wall seconds of ``gan sample RUN -n N -o OUT`` in a fresh process."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, "sample", str(run), "-n", str(n), "-o", str(out)],
                          capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    kib = int(next(line.split()[1] for line in done.stderr.splitlines() if line.startswith("MAXRSS")))
    return kib / 1024, seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 10_000, 100_000])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "-m", "gancore.cli", "train", "--plugin", "gancore-gan", "--data", args.data,
                        "--steps", "2", "--batch-size", "8", "--out", str(tmp), "--name", "run", "--no-progress"],
                       check=True, capture_output=True)
        print(f"gan sample on {args.data} (gancore-gan, 2 steps), one process per row")
        print(f"{'N':>9}  {'peak RSS MiB':>12}  {'seconds':>8}  {'PNG MiB':>8}")
        for n in args.sizes:
            out = tmp / f"grid-{n}.png"
            mib, seconds = run_sample(tmp / "run", n, out)
            print(f"{n:>9}  {mib:>12.0f}  {seconds:>8.1f}  {out.stat().st_size / 2 ** 20:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

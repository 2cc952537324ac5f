"""Cost of the reliability features: the per-update NaN/Inf guard and checkpoint writes.

    OMP_NUM_THREADS=1 python benchmarks/reliability.py                       # DCGAN on digits
    OMP_NUM_THREADS=1 python benchmarks/reliability.py --plugin gancore-gan --data ring

Trains the same run three times through :class:`gancore.trainer.Trainer` (interleaved,
best of ``--repeats``): with the guard, with the guard's checks replaced by
``return True``, and with the guard plus a checkpoint every 10 steps. Reports
milliseconds per step and the relative overheads.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch


def timed_run(args, guard: bool, checkpoint_every: int) -> float:
    from gancore.plugins import Registry
    from gancore.run.rundir import resolve
    from gancore.trainer import Trainer

    user = {"plugins": [args.plugin], "data": args.data, "steps": args.steps, "batch_size": args.batch_size,
            "log_every": args.steps, "sample_every": 0, "checkpoint_every": checkpoint_every, "keep": 2,
            "name": "bench"}
    with tempfile.TemporaryDirectory() as out:
        config, run, dataset = resolve(Registry.discover(), {**user, "out": out})
        trainer = Trainer(config, run, dataset, f"{out}/bench", progress=False)
        if not guard:
            trainer.guard.update_ok = lambda *a, **k: True
        started = time.perf_counter()
        trainer.fit()
        return (time.perf_counter() - started) / args.steps * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plugin", default="gancore-dcgan")
    parser.add_argument("--data", default="digits")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = {"no guard": [], "guard": [], "guard + checkpoint/10 steps": []}
    for _ in range(args.repeats):
        results["no guard"].append(timed_run(args, False, 0))
        results["guard"].append(timed_run(args, True, 0))
        results["guard + checkpoint/10 steps"].append(timed_run(args, True, 10))
    best = {name: min(values) for name, values in results.items()}
    base = best["no guard"]
    print(f"{args.plugin} on {args.data}, batch {args.batch_size}, {args.steps} steps, best of {args.repeats}:")
    for name, value in best.items():
        print(f"  {name:28s} {value:7.2f} ms/step  ({(value / base - 1) * 100:+.1f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

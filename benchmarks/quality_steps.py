"""Quality of one family's run measured at several steps, printed (nothing is written to docs/).

    python benchmarks/quality_steps.py --data mnist --steps 5000 --at 2000 --only "-p gancore-began"
    python benchmarks/quality_steps.py --data digits --only "-p gancore-vaegan --set gancore-vaegan.gamma=0.1"
    python benchmarks/quality_steps.py --data ring --only "-p gancore-aae" --log began/k

For fixing a family: the same training path and measures as `benchmarks/quality.py` (classifier-FID
against its real-vs-real floor and classes covered on image data, modes and the high-quality share on
`ring`), at every ``--at`` step as well as the end (``--data mnist-inverted``, ``--data mnist-redrawn``:
the second sets of `benchmarks/second_set.py`, measured as quality.py measures them), plus any logged
metric (``--log``) from the run's ``metrics.jsonl``. Unlike quality.py it takes any data set `gan train`
does (``mnist`` included) and keeps no store: the rows it prints go into a family's page by hand, with
this command.
"""

from __future__ import annotations

import argparse
import json
import shlex
import tempfile
import time

import second_set
import torch


def measure(generator, data: str, n: int, seed: int) -> dict:
    """classifier-FID / floor and classes covered (images), or ring modes and the high-quality share."""
    from gancore.classifier import load_classifier
    from gancore.evaluation import generate
    from gancore.metrics import class_histogram, classifier_fid, ring_modes_metrics

    samples = generate(generator, n, seed)
    if data == "ring":
        ring = ring_modes_metrics(samples)
        return {"modes": ring["modes"], "high_quality": round(ring["high_quality"], 4)}
    if data in (second_set.NAME, second_set.REDRAWN):  # the second sets: see benchmarks/second_set.py
        clf = load_classifier("mnist")
        if data == second_set.NAME:
            samples = second_set.undo(samples)
        fid = second_set.redrawn_fid(clf, samples) if data == second_set.REDRAWN else classifier_fid(clf, samples)
    else:
        clf = load_classifier(data)
        fid = classifier_fid(clf, samples)
    return {"fid": round(fid["fid"], 3), "floor": round(fid["floor"], 3), "ratio": round(fid["ratio"], 2),
            "classes_covered": class_histogram(clf.predict(samples), 10)["classes_covered"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--only", action="append", required=True, metavar="FLAGS",
                        help='a variant as `gan train` flags, e.g. "-p gancore-began"; repeatable')
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--at", type=int, nargs="*", default=[], help="also measure at these steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--log", nargs="*", default=[], metavar="NAME", help="logged metrics to print")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    from gancore.plugins import Registry
    from gancore.run.flags import settings_from_args
    from gancore.run.rundir import resolve
    from gancore.trainer import Trainer

    for variant in args.only:
        from quality import data_argument

        user = {**settings_from_args(shlex.split(variant)), "data": data_argument(args.data), "steps": args.steps,
                "seed": args.seed, "sample_every": 0, "checkpoint_every": 0,
                "log_every": max(1, args.steps // 20), "name": "bench"}
        with tempfile.TemporaryDirectory() as out:
            config, run, dataset = resolve(Registry.discover(), {**user, "out": out})
            trainer = Trainer(config, run, dataset, f"{out}/bench", progress=False)
            started = time.perf_counter()
            for at in sorted({*(s for s in args.at if s < args.steps), args.steps}):
                trainer.fit(until=at)
                row = measure(trainer.sampling_generator(), args.data, args.samples, args.seed + 1)
                print(f"{variant} | {args.data} | step {at} | {time.perf_counter() - started:.0f} s: "
                      + json.dumps(row), flush=True)
            if args.log:
                for line in (trainer.run_dir / "metrics.jsonl").read_text().splitlines():
                    logged = json.loads(line)
                    print(f"  step {logged.get('step')}: "
                          + ", ".join(f"{k} {logged[k]:.4g}" for k in args.log if k in logged))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Training on a fraction of `digits`: what data-efficiency add-ons and regularizers are for.

    python benchmarks/fewshot.py --fraction 0.1 --only "-p gancore-dcgan" \
        --only "-p gancore-dcgan -p gancore-diffaugment" --output /tmp/fewshot.md
    python benchmarks/fewshot.py --fraction 0.1 --steps 3000 --only "-p gancore-dcgan" \
        --addon none --addon ada --addon diffaugment --output /tmp/fewshot.md
    python benchmarks/fewshot.py --data mnist --fraction 0.01 --steps 2000 --only "-p gancore-dcgan" \
        --addon none --addon ada --output /tmp/fewshot.md

Each variant (written as `gan train` flags) trains, through the same path as `gan train`, on a
fixed random subset of ``--data`` (`digits`, the default, or `mnist`; ``--fraction`` of its samples,
drawn with ``--subset-seed``, the same subset for every variant), for ``--steps`` steps at ``--seed``.
Its final sampling
generator is then measured as `benchmarks/quality.py` measures it on `digits`: classifier-FID
against the *whole* real training split (so a generator that only reproduces its few training
images scores worse than one that generalises), with the real-vs-real floor, and classes
covered. gancore has no option to train on part of a data set, hence this script.
``--addon NAME`` (repeatable) runs every ``--only`` variant once per add-on, with
``-p gancore-NAME`` appended (``--addon none``: the variant as given), so one command compares
augmentations (``ada``, ``diffaugment``) against none on the same subset.
Rows are kept in the .json beside ``--output`` by (variant, fraction, steps, seed); the markdown
table is rebuilt from them.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch


def subset(dataset, fraction: float, seed: int):
    """The first ``fraction`` of ``dataset`` in a random order fixed by ``seed``."""
    from gancore.data import Dataset

    keep = max(1, round(fraction * len(dataset)))
    index = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:keep]
    return Dataset(dataset.spec, dataset.x[index], None if dataset.labels is None else dataset.labels[index])


def with_addon(variant: str, addon: str) -> str:
    """``variant`` with ``-p gancore-ADDON`` appended (``none``: unchanged; a full name is kept)."""
    if addon == "none":
        return variant
    return f"{variant} -p {addon if addon.startswith('gancore-') else 'gancore-' + addon}"


def run_one(variant: str, fraction: float, subset_seed: int, steps: int, seed: int, n: int,
            data: str = "digits") -> dict:
    """Train ``variant`` on the subset of ``data``; measure its final sampling generator."""
    from gancore.run.flags import settings_from_args
    from gancore.evaluation import generate
    from gancore.metrics import class_histogram, classifier_fid, load_classifier
    from gancore.plugins import Registry
    from gancore.run.rundir import resolve
    from gancore.trainer import Trainer

    user = {**settings_from_args(shlex.split(variant)), "data": data, "steps": steps, "seed": seed,
            "sample_every": 0, "checkpoint_every": 0, "log_every": max(1, steps // 10), "name": "fewshot"}
    with tempfile.TemporaryDirectory() as out:
        config, run, dataset = resolve(Registry.discover(), {**user, "out": out})
        part = subset(dataset, fraction, subset_seed)
        trainer = Trainer(config, run, part, f"{out}/fewshot", progress=False)
        started = time.perf_counter()
        trainer.fit()
        seconds = time.perf_counter() - started
        samples = generate(trainer.sampling_generator(), n, seed + 1)
    clf = load_classifier(data)
    fid = classifier_fid(clf, samples)
    return {"train_samples": len(part), "of": len(dataset), "seconds": seconds, "fid": fid["fid"],
            "floor": fid["floor"], "ratio": fid["ratio"], "regularizers": run.regularizers,
            "addons": list(run.addons), "batch": config.batch_size, "data": data,
            **{k: v for k, v in class_histogram(clf.predict(samples), 10).items() if k != "counts"}}


def write_markdown(rows: dict, path: Path, command_note: str) -> None:
    lines = ["| variant (`gan train` flags) | data | training samples | steps | seed | classifier-FID | FID / floor | "
             "classes covered | time (s) |", "|---|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows.values(), key=lambda r: (r.get("data", "digits"), r["fraction"], r["variant"], r["seed"])):
        lines.append(f"| `{row['variant']}` | {row.get('data', 'digits')} | "
                     f"{row['train_samples']} of {row['of']} ({row['fraction']:.0%}) | "
                     f"{row['steps']} | {row['seed']} | {row['fid']:.2f} | {row['ratio']:.1f} | "
                     f"{row['classes_covered']}/10 | {row['seconds']:.0f} |")
    commands = sorted({row["command"] for row in rows.values()})
    lines += ["", f"Machine: {platform.machine()}, torch {torch.__version__}, CPU, 1 thread. {command_note}", "",
              "```bash", *commands, "```", ""]
    path.write_text("\n".join(lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", required=True, metavar="FLAGS",
                        help='a variant as `gan train` flags, e.g. "-p gancore-dcgan -p gancore-diffaugment"')
    parser.add_argument("--addon", action="append", metavar="NAME",
                        help="run each --only variant with -p gancore-NAME added (repeatable; 'none': as given)")
    parser.add_argument("--data", choices=("digits", "mnist"), default="digits", help="the data set to subsample")
    parser.add_argument("--fraction", type=float, default=0.1, help="share of the data to train on (0, 1]")
    parser.add_argument("--subset-seed", type=int, default=1234)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--output", required=True, help="the markdown file; rows are kept in the .json beside it")
    args = parser.parse_args(argv)
    if not 0 < args.fraction <= 1:
        parser.error(f"--fraction must be in (0, 1], got {args.fraction}")
    torch.set_num_threads(1)
    command = "python benchmarks/fewshot.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    store = Path(args.output).with_suffix(".json")
    store.parent.mkdir(parents=True, exist_ok=True)
    rows = json.loads(store.read_text()) if store.exists() else {}
    for seed in args.seeds:
        for variant in [with_addon(v, a) for v in args.only for a in (args.addon or ["none"])]:
            key = f"{variant} | {args.fraction} | {args.steps} steps | seed {seed}"
            if args.data != "digits":  # digits rows keep the keys they had before --data
                key = f"{args.data} | {key}"
            if key in rows:
                continue
            row = run_one(variant, args.fraction, args.subset_seed, args.steps, seed, args.samples, args.data)
            rows[key] = {**row, "variant": variant, "fraction": args.fraction, "steps": args.steps, "seed": seed,
                         "command": command}
            print(f"{key}: {json.dumps(rows[key])}", flush=True)
            store.write_text(json.dumps(rows, indent=1, sort_keys=True))
            write_markdown(rows, Path(args.output), f"Subset seed {args.subset_seed}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

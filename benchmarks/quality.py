"""Results tables: unconditional families on `digits`, `ring`, `mnist` (28x28) and a second 28x28 set.

    python benchmarks/quality.py --defaults --jobs 2      # every family at its defaults, no flags
    python benchmarks/quality.py --defaults --steps cli --data mnist --only "-p gancore-dcgan"
    python benchmarks/quality.py --defaults --steps cli --data mnist-inverted --only "-p gancore-dcgan"
    python benchmarks/quality.py --defaults --jobs 2 --seeds 1 2 --only "-p gancore-gan"   # more seeds
    python benchmarks/quality.py --jobs 2                 # every variant, 5,000 steps, seed 0
    python benchmarks/quality.py --only "-p gancore-wgan -r gp --lr-schedule linear" --data ring
    python benchmarks/quality.py --only "-p gancore-dcgan -p ema" --data digits --jobs 2

A variant is written exactly as `gan train` flags (plugins, regularizers,
--set, --lr-schedule, --batch-size, ...). Without --only, every installed
unconditional family runs with its defaults, plus the variants in VARIANTS
(the issue's mixed runs). Each variant trains through the same path as
`gan train` at a fixed step budget and seed, then its final generator (or an
add-on's sampling generator, e.g. EMA) is measured the way `gan eval` measures
it: classifier-FID on `digits` and `mnist` (with the real-vs-real floor), classes
covered and KL to uniform; on `ring` modes covered and the high-quality share.
`--steps cli` trains for the steps `gan train` uses when --steps is not typed
(the data kind's or the family's default), recorded in the row.

`mnist-inverted` (`benchmarks/second_set.py`) is a folder of PNGs that `gan
train --data DIR` reads as any user's images: `mnist` inverted and transposed.
Its samples are measured with the `mnist` classifier after undoing that exact
transform, against `mnist`'s floor: a check that defaults chosen on `mnist`
hold on images that are not `mnist`'s.

Rows are kept in `docs/results.json` by (variant, data, steps, seed) and the
table in `docs/results.md` is rebuilt from all of them, so runs made at
different times (or in parallel with --jobs) add up to one table; each row
names the command that produced it. Families that are conditional or need
paired data are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch
import second_set
from results_file import replace_section

#: Variants benchmarked besides each family's defaults: other regularizers of a family, and
#: mixed runs (a regularizer or add-on of one plugin on another family).
VARIANTS = [
    "-p gancore-wgan -r gp",
    "-p gancore-wgan -r div",
    "-p gancore-lsgan -r gp",
    "-p gancore-dcgan -r r1=10 -p ema",
    "-p gancore-dcgan -p spectral-norm",
    "-p gancore-relativistic --set gancore-relativistic.loss=ralsgan",
]
DATA = ("digits", "ring")
#: Data measured only when asked for (--data): 28x28 sets.
IMAGE_DATA = ("mnist", second_set.NAME, second_set.REDRAWN)
DOCS = Path(__file__).resolve().parents[1] / "docs"


def default_variants(registry, defaults_only: bool = False) -> list[str]:
    out = [f"-p {info.name}" for info in registry if info.kind == "family" and not info.error]
    return out if defaults_only else out + VARIANTS


def data_argument(data: str) -> str:
    """What ``gan train --data`` is given for benchmark data set ``data`` (the second set: its folder)."""
    if data not in (second_set.NAME, second_set.REDRAWN):
        return data
    from gancore.classifier import cache_dir

    write = second_set.write if data == second_set.NAME else second_set.write_redrawn
    return str(write(cache_dir() / "benchmarks" / data))


def cli_steps(variant: str, data: str) -> int:
    """The steps ``gan train`` trains ``variant`` on ``data`` for when --steps is not typed."""
    from gancore.plugins import Registry
    from gancore.run.rundir import resolve
    from gancore.run.flags import settings_from_args

    with tempfile.TemporaryDirectory() as out:
        config, _, _ = resolve(Registry.discover(), {**settings_from_args(shlex.split(variant)),
                                                      "data": data_argument(data), "out": out})
    return config.steps


def run_one(variant: str, data: str, steps: int | None, seed: int, n: int, threads: int) -> dict:
    """Train ``variant`` on ``data`` and measure its final sampling generator (``steps=None``: the CLI's)."""
    torch.set_num_threads(threads)
    from gancore.run.flags import settings_from_args
    from gancore.errors import GanError
    from gancore.evaluation import generate
    from gancore.classifier import load_classifier
    from gancore.metrics import class_histogram, classifier_fid, ring_modes_metrics
    from gancore.plugins import Registry
    from gancore.run.rundir import resolve
    from gancore.trainer import Trainer

    user = {**settings_from_args(shlex.split(variant)), "data": data_argument(data), "seed": seed,
            "sample_every": 0, "checkpoint_every": 0, "name": "bench"}
    if steps is not None:
        user.update(steps=steps, log_every=max(1, steps // 10))
    with tempfile.TemporaryDirectory() as out:
        try:
            config, run, dataset = resolve(Registry.discover(), {**user, "out": out})
            trainer = Trainer(config, run, dataset, f"{out}/bench", progress=False)
        except GanError as exc:
            return {"skipped": str(exc)}
        if getattr(trainer.generator, "conditional", False):
            return {"skipped": "conditional family (see GAN-test in gan eval)"}
        if getattr(trainer.generator, "translates", False):  # e.g. SRGAN: its input is a real image, not noise
            return {"skipped": "image-to-image family (measured by its own benchmark)"}
        steps = config.steps  # the CLI's when none was given (its log interval too)
        started = time.perf_counter()
        trainer.fit()
        seconds = time.perf_counter() - started
        if trainer.stopped_by:  # Ctrl-C / SIGTERM: the trainer checkpointed and returned early
            raise SystemExit(f"{variant} on {data}: stopped by signal {trainer.stopped_by} at step "
                             f"{trainer.index} of {steps}; nothing recorded.")
        samples = generate(trainer.sampling_generator(), n, seed + 1)
    if data == second_set.NAME:  # measured as `mnist` after undoing the transform (see second_set)
        samples = second_set.undo(samples)
    row = {"steps": steps, "seed": seed, "seconds": seconds, "threads": threads, "n_critic": config.n_critic,
           "batch": config.batch_size, "optimizer": config.optimizer, "lr_g": config.lr_g, "lr_d": config.lr_d,
           "lr_schedule": config.lr_schedule, "latent_dim": config.latent_dim, "regularizers": run.regularizers,
           "addons": list(run.addons), "options": {k: dict(v) for k, v in config.options.items() if v},
           "betas": list(config.betas), "n_samples": n,
           # Every option the family ran with (declared defaults for the data's kind, then the typed ones).
           "family_options": json.loads(json.dumps(run.plugin_options.get(run.family, {}), default=str))}
    if data == "ring":
        row.update(ring_modes_metrics(samples))
    else:
        clf = load_classifier("mnist" if data in (second_set.NAME, second_set.REDRAWN) else data)
        # The re-drawn set: in `mnist`'s classifier's features, against its own split and floor.
        fid = second_set.redrawn_fid(clf, samples) if data == second_set.REDRAWN else classifier_fid(clf, samples)
        row.update({"fid": fid["fid"], "floor": fid["floor"], "ratio": fid["ratio"], "classifier": clf.recipe_hash,
                    **{k: v for k, v in class_histogram(clf.predict(samples), 10).items() if k != "counts"}})
    return row


HEADING = "## Unconditional families on `digits` and `ring`"


def settings_of(row: dict) -> str:
    """The resolved training settings of a row, in words (empty for a skipped row)."""
    if "optimizer" not in row:
        return ""
    return (f"{row['optimizer']} lr {row['lr_g']:g}/{row['lr_d']:g} {row['lr_schedule']}, n_critic {row['n_critic']}, "
            f"batch {row['batch']}, regularizers {row['regularizers']}"
            + (f", betas ({row['betas'][0]:g}, {row['betas'][1]:g})" if row.get("betas") else "")
            + (f", add-ons {row['addons']}" if row["addons"] else "")
            + (f", family options {row['family_options']}" if row.get("family_options")
               else f", options {row['options']}" if row.get("options") else ""))


def settings_changed(earlier: dict, row: dict) -> bool:
    """Whether ``row`` ran other settings than ``earlier`` (the same key), over what both recorded: rows
    from before the betas and the family's resolved options were recorded are compared without them."""
    return settings_of(earlier) != settings_of({k: v for k, v in row.items()
                                                if k in earlier or k not in ("betas", "family_options")})


def steps_cell(row: dict) -> str:
    """A row's steps as the tables show them: ``(CLI default)`` when `gan train`'s own default chose them."""
    return f"{row['steps']} (CLI default)" if row.get("steps_from") == "cli" else str(row["steps"])


def key_of(variant: str, steps: int, seed: int, cli: bool = False) -> str:
    """The store's key of a row (with its data set after it); ``cli``: trained for the CLI's steps."""
    return f"{' '.join(shlex.split(variant))} | {steps} steps{' (CLI default)' if cli else ''} | seed {seed}"


def write_markdown(rows: dict, path: Path) -> None:
    """The section from every stored row: one table line per (variant, steps, seed)."""
    lines = [HEADING, "",
             "Generated by `benchmarks/quality.py` from `docs/results.json`; do not edit by hand. Each variant is "
             "written as `gan train` flags; the data set, steps and seed are the benchmark's. Metrics on the "
             "final generator (an add-on's sampling generator, e.g. EMA's average, when one is named), "
             "latent seed = seed + 1. CPU, one thread per run; wall times are indicative (shared machine).", "",
             "Classifier-FID is measured in the penultimate features of the cached `digits` classifier against the "
             "real training split; the floor is the held-out real split against the same reference "
             "(`gancore.metrics`); target: FID / floor <= 3. Ring: modes with a sample within 3 std of their "
             "centre (of 8), and the share of samples within 3 std of a centre (high quality); target: 8/8 "
             "and >= 80%.", "",
             "| variant (`gan train` flags) | steps | classifier-FID | FID / floor | classes covered | KL to uniform "
             "| digits time (s) | ring modes | high-quality share | ring time (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    rows = {key: row for key, row in rows.items() if row["data"] in DATA and not row.get("superseded")}
    grouped: dict[tuple, dict] = {}
    for row in rows.values():
        grouped.setdefault((row["variant"], steps_cell(row), row["seed"]), {})[row["data"]] = row
    commands, skipped = [], []
    for (variant, steps, seed), by_data in sorted(grouped.items(), key=lambda item: (item[0][0], item[0][1])):
        d, r = by_data.get("digits", {}), by_data.get("ring", {})
        if all("skipped" in row for row in by_data.values()):
            reason = next(iter(by_data.values()))["skipped"].split(";")[0].split("(")[0].strip()
            skipped.append(f"`{variant}` ({reason})")
            continue

        def cell(row, key, fmt):
            return "-" if not row else "skipped" if "skipped" in row else format(row[key], fmt)

        fid_ratio = cell(d, "ratio", ".1f")
        if d and "ratio" in d and d["ratio"] <= 3:
            fid_ratio = f"**{fid_ratio}**"
        ring_ok = r and "modes" in r and r["modes"] == 8 and r["high_quality"] >= 0.8
        modes, share = cell(r, "modes", "d"), cell(r, "high_quality", ".1%")
        lines.append(
            f"| `{variant}` | {steps} | {cell(d, 'fid', '.2f')} | {fid_ratio} | "
            f"{cell(d, 'classes_covered', 'd')}{'/10' if d and 'skipped' not in d else ''} | "
            f"{cell(d, 'kl_uniform', '.3f')} | {cell(d, 'seconds', '.0f')} | "
            f"{'**' if ring_ok else ''}{modes}{'/8' if r and 'skipped' not in r else ''}{'**' if ring_ok else ''} | "
            f"{'**' + share + '**' if ring_ok else share} | {cell(r, 'seconds', '.0f')} |")
        for row in by_data.values():
            if row.get("command") and row["command"] not in commands:
                commands.append(row["command"])
    if skipped:
        lines += ["", "Not in this table (measured in their own sections): " + "; ".join(skipped) + "."]
    floors = sorted({round(row["floor"], 3) for row in rows.values() if "floor" in row})
    lines += ["", f"Real-vs-real floor of classifier-FID on `digits`: {', '.join(map(str, floors))}.", "",
              "Resolved settings of each row (family defaults plus the flags named):", ""]
    for row in sorted(rows.values(), key=lambda row: (row["variant"], row["steps"], row["data"])):
        if "skipped" not in row:
            lines.append(f"- `{row['variant']}` on {row['data']}, {row['steps']} steps: optimizer {row['optimizer']}, "
                         f"lr G/D {row['lr_g']:g}/{row['lr_d']:g} ({row['lr_schedule']}), n_critic {row['n_critic']}, "
                         f"batch {row['batch']}, latent {row['latent_dim']}, regularizers {row['regularizers']}"
                         + (f", add-ons {row['addons']}" if row["addons"] else "")
                         + (f", betas {tuple(row['betas'])}" if row.get("betas") else "")
                         + (f"; family options {row['family_options']}" if row.get("family_options") else ""))
    lines += ["", "Commands that produced these rows (machine: "
              f"{platform.machine()}, torch {torch.__version__}):", "", "```bash", *commands, "```"]
    replace_section(path, HEADING, "\n".join(lines))


DEFAULTS_HEADING = "## Every family at its defaults"


def write_defaults(rows: dict, path: Path) -> None:
    """The section of bare ``-p FAMILY`` rows: each family at its defaults, every seed measured."""
    by_family: dict[tuple, dict] = {}
    for row in rows.values():
        if row["data"] not in DATA or row.get("superseded"):
            continue
        variant = row["variant"].split()
        if len(variant) == 2 and variant[0] == "-p" and "skipped" not in row:
            by_family.setdefault((row["variant"], steps_cell(row)), {}).setdefault(row["data"], []).append(row)
    lines = [DEFAULTS_HEADING, "",
             "Generated by `benchmarks/quality.py --defaults` from `docs/results.json`: each family with no flag but "
             "`--plugin`, its defaults chosen by the data's kind (`ring`: vector, `digits`: small image). Values "
             "per seed, in seed order; targets: FID / floor <= 3 with 10/10 classes, ring >= 7/8 modes (and "
             ">= 80% high quality for at least five families). CPU, one thread per run.", "",
             "| family | steps | seeds | FID / floor (digits) | classes | ring modes | high-quality share | "
             "digits time (s) | ring time (s) |", "|---|---|---|---|---|---|---|---|---|"]
    for (variant, steps), by_data in sorted(by_family.items()):
        d = sorted(by_data.get("digits", []), key=lambda r: r["seed"])
        r = sorted(by_data.get("ring", []), key=lambda r: r["seed"])
        seeds = sorted({row["seed"] for row in d + r})

        def cells(found, key, fmt):
            return " / ".join(format(row[key], fmt) for row in found) or "-"

        lines.append(f"| `{variant}` | {steps} | {', '.join(map(str, seeds))} | {cells(d, 'ratio', '.2f')} | "
                     f"{cells(d, 'classes_covered', 'd')} | {cells(r, 'modes', 'd')} | "
                     f"{cells(r, 'high_quality', '.1%')} | {cells(d, 'seconds', '.0f')} | "
                     f"{cells(r, 'seconds', '.0f')} |")
    replace_section(path, DEFAULTS_HEADING, "\n".join(lines))


def steps_argument(text: str) -> int | None:
    """``--steps``: a whole number, or ``cli`` (``None``): the steps `gan train` uses unless told."""
    if text == "cli":
        return None
    try:
        steps = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of steps or 'cli', got {text!r}") from None
    if steps < 1:
        raise argparse.ArgumentTypeError(f"at least 1 step, got {steps}")
    return steps


IMAGES_HEADING = "## Unconditional families on 28x28 images (`mnist`, `mnist-inverted`, `mnist-redrawn`)"


def write_images(rows: dict, path: Path) -> None:
    """The section of 28x28 rows: one table line per (variant, data, steps, seed)."""
    found = sorted((row for row in rows.values() if row["data"] in IMAGE_DATA and "skipped" not in row),
                   key=lambda row: (row["variant"], row["data"], row["steps"], row["seed"], not row.get("superseded")))
    if not found:
        return
    lines = [IMAGES_HEADING, "",
             "Generated by `benchmarks/quality.py --data mnist --data mnist-inverted` from `docs/results.json`; do not "
             "edit by hand. `mnist`: the embedded 5,000 28x28 digits (data kind `image`). `mnist-inverted`: the same "
             "digits inverted and transposed, written as PNGs into class folders and read through `--data DIR` "
             "(`benchmarks/second_set.py`), measured after undoing that transform, so with the same classifier and "
             "floor: the check that defaults chosen on `mnist` hold on other draws of it. `mnist-redrawn`: every digit "
             "re-drawn (thicker strokes, rotated up to 15 degrees, shifted up to 3 px; `benchmarks/second_set.py`), "
             "the same folder path, measured in the `mnist` classifier's features against the re-drawn training "
             "split, with its own floor (re-drawn held-out split against it): a different distribution. "
             "Classifier-FID in the cached "
             "`mnist` classifier's features against its training split, floor = its held-out split against the "
             "same; target FID / floor <= 3 with 10/10 classes. `(CLI default)`: the steps `gan train` trains for "
             "when --steps is not typed, and `-p FAMILY` its defaults, both as of when the row was measured: the "
             "settings column says what ran (a family's defaults may have changed since). Metrics on the final "
             "sampling generator, 5,000 samples, latent seed = seed + 1; CPU, one thread per run, shared machine "
             "(times indicative).", "",
             "| variant (`gan train` flags) | data | steps | seed | classifier-FID | FID / floor | classes | "
             "KL to uniform | time (s) | settings |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in found:
        ratio = f"{row['ratio']:.2f}"
        if row["ratio"] <= 3 and row["classes_covered"] == 10:
            ratio = f"**{ratio}**"
        settings = settings_of(row) + (" (the family's earlier defaults)" if row.get("superseded") else "")
        lines.append(f"| `{row['variant']}` | {row['data']} | {steps_cell(row)} | {row['seed']} | {row['fid']:.2f} | "
                     f"{ratio} | {row['classes_covered']}/10 | {row['kl_uniform']:.3f} | {row['seconds']:.0f} | "
                     f"{settings} |")
    floors = {data: sorted({round(row["floor"], 3) for row in found if row["data"] == data}) for data in IMAGE_DATA}
    commands = list(dict.fromkeys(row["command"] for row in found))
    lines += ["", "Real-vs-real floor of classifier-FID: " + "; ".join(
                  f"`{data}` {', '.join(map(str, values))}" for data, values in floors.items() if values) + ".", "",
              "Commands that produced these rows:", "", "```bash", *commands, "```"]
    replace_section(path, IMAGES_HEADING, "\n".join(lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=steps_argument, default=5000,
                        help="steps per run (default 5000), or 'cli': those `gan train` uses when --steps is "
                             "not typed (the data kind's or family's default), as the README's commands run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", help="several seeds (each a row of its own)")
    parser.add_argument("--defaults", action="store_true",
                        help="every installed family at its defaults only (no variants); its own table")
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, each in its own process")
    parser.add_argument("--only", action="append", metavar="FLAGS",
                        help='a variant as `gan train` flags, e.g. "-p gancore-wgan -r gp"; repeatable')
    parser.add_argument("--common", default="", metavar="FLAGS",
                        help='`gan train` flags added to every variant, e.g. "--lr-schedule linear"')
    parser.add_argument("--data", action="append", choices=DATA + IMAGE_DATA,
                        help=f"data sets (repeatable; default: {', '.join(DATA)})")
    parser.add_argument("--redo", action="store_true",
                        help="measure again rows already in the store (default: skip them)")
    parser.add_argument("--output", default=str(DOCS / "results.md"),
                        help="the markdown file; rows are kept in the .json beside it")
    args = parser.parse_args(argv)
    command = "python benchmarks/quality.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))

    from gancore.plugins import Registry

    variants = [" ".join(shlex.split(f"{v} {args.common}"))
                for v in (args.only or default_variants(Registry.discover(), args.defaults))]
    seeds = args.seeds or [args.seed]
    # Each job: (variant, data, seed, steps to ask for (None: the CLI's), the steps it will train for).
    jobs = [(variant, data, seed, args.steps, args.steps or cli_steps(variant, data))
            for seed in seeds for variant in variants for data in args.data or DATA]
    store = Path(args.output).with_suffix(".json")
    store.parent.mkdir(parents=True, exist_ok=True)
    rows = json.loads(store.read_text()) if store.exists() else {}
    rows = {key: row for key, row in rows.items() if "variant" in row}  # rows of this format only
    if not args.redo:
        jobs = [job for job in jobs if f"{key_of(job[0], job[4], job[2], job[3] is None)} | {job[1]}" not in rows]
    started = time.perf_counter()

    def record(variant, data, seed, steps, row):
        row = {"steps": steps, **row, "variant": variant, "data": data, "seed": seed, "command": command,
               "steps_from": "cli" if args.steps is None else "benchmark"}
        # Read again: another benchmark process may have added rows since.
        rows.update(json.loads(store.read_text()) if store.exists() else {})
        key = f"{key_of(variant, row['steps'], seed, args.steps is None)} | {data}"
        if key in rows and settings_changed(rows[key], row):
            # The family's defaults changed since (--redo): the earlier row stays, marked superseded.
            rows[f"{key} | earlier defaults: {settings_of(rows[key])}"] = {**rows[key], "superseded": True}
        rows[key] = row
        print(f"{variant} on {data}, seed {seed}: " + json.dumps(row), flush=True)
        # Saved after every run, so a long benchmark that is stopped keeps what it measured.
        store.write_text(json.dumps(rows, indent=1, sort_keys=True))
        write_markdown(rows, Path(args.output))
        write_defaults(rows, Path(args.output))
        write_images(rows, Path(args.output))

    if args.jobs == 1:
        for variant, data, seed, steps, trained in jobs:
            record(variant, data, seed, trained, run_one(variant, data, steps, seed, args.samples, args.threads))
    else:
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(run_one, variant, data, steps, seed, args.samples, args.threads):
                       (variant, data, seed, trained) for variant, data, seed, steps, trained in jobs}
            from concurrent.futures import as_completed

            for future in as_completed(futures):
                record(*futures[future], future.result())
    print(f"wrote {args.output} and {store}; {len(jobs)} runs, {args.jobs} at a time, in "
          f"{time.perf_counter() - started:.0f} s wall time")
    return 0


if __name__ == "__main__":
    sys.exit(main())

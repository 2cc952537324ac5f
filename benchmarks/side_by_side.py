"""gancore next to the classic per-script loops: steps reached and classifier-FID in the same time.

    python benchmarks/side_by_side.py                                  # DCGAN and WGAN-GP on the CPU
    python benchmarks/side_by_side.py --families DCGAN --rounds 3 --budget 90 --jobs 2

Each side trains in a fresh process on the same 4,000 MNIST images (the training split of the
classifier-FID's ``mnist`` split, written as torchvision IDX files), batch 64, 1 thread, the same seed:

* ``classic``: the PyTorch-GAN-style loop of ``benchmarks/classic_loops.py`` (``dcgan.py`` /
  ``wgan_gp.py``), on gancore's networks and settings for the same flags;
* ``gancore``: ``gan train`` with the family's flags (``--data mnist --data-root ...``), its defaults;
* ``gancore, speed options``: the same with ``--precision bf16 --channels-last``.

Every side gets the same budget of its process's **CPU time** counted from the process's start
(imports and set-up included; on a quiet machine with one thread that is its wall time, and other
jobs on a shared machine barely move it): the classic loop stops itself; ``gan train`` gets SIGTERM,
finishes its step and writes a checkpoint. Then each generator draws 2,000 samples (seed 0) and the
classifier-FID against the 4,000 training images is computed (``gancore.metrics.classifier_fid``, the
floor is the held-out 1,000's). Steps/s = steps reached / budget. Rounds alternate the order of the
sides; ratios are medians of per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAMILIES = {"DCGAN": ["--plugin", "gancore-dcgan"], "WGAN-GP": ["--plugin", "gancore-wgan", "-r", "gp"]}
SIDES = {"classic": None, "gancore": [], "gancore, speed options": ["--precision", "bf16", "--channels-last"]}
SAMPLES = 2000


def flags(family: str, root: Path, seed: int) -> list[str]:
    return [*FAMILIES[family], "--data", "mnist", "--data-root", str(root), "--seed", str(seed)]


def fid_of(generator) -> dict:
    from gancore.evaluation import generate
    from gancore.metrics import classifier_fid, load_classifier

    samples = generate(generator.eval(), SAMPLES, seed=0)
    result = classifier_fid(load_classifier("mnist"), samples)
    return {"fid": result["fid"], "ratio": result["ratio"]}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_classic(family: str, root: Path, budget: float, seed: int) -> dict:
    command = [sys.executable, __file__, "--child", json.dumps({"family": family, "root": str(root),
                                                               "budget": budget, "seed": seed})]
    result = subprocess.run(command, check=True, capture_output=True, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(result.stdout.strip().splitlines()[-1])


def classic_child(job: dict) -> int:
    import torch
    from accelerate.utils import set_seed

    from gancore.run.flags import settings_from_args
    from gancore.plugins import Registry
    from gancore.run.rundir import resolve
    from gancore.trainer import build_models

    from classic_loops import classic_step

    torch.set_num_threads(1)
    config, run, dataset = resolve(Registry.discover(), settings_from_args(flags(job["family"], Path(job["root"]),
                                                                               job["seed"])))
    set_seed(config.seed)
    generator, discriminator = build_models(run, config, dataset.spec)
    one_step = classic_step(job["family"], generator, discriminator, config, Path(job["root"]), "cpu")
    steps = 0
    # The main thread's CPU time (the one thread doing the work): a cheap read, unlike the process's.
    while time.thread_time() < job["budget"]:
        one_step()
        steps += 1
    print(json.dumps({"steps": steps, **fid_of(generator)}))
    return 0


def run_gancore(family: str, extra: list[str], root: Path, budget: float, seed: int, out: Path) -> dict:
    from gancore.plugins import Registry
    from gancore.run.rundir import load_generator

    name = f"{family}-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "gancore.cli", "train", *flags(family, root, seed), *extra,
               "--steps", "1000000", "--sample-every", "0", "--checkpoint-every", "0", "--log-every", "50",
               "--out", str(out), "--name", name, "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    while process.poll() is None and cpu_seconds(process.pid) < budget:
        time.sleep(0.05)
    if process.poll() is not None:
        raise RuntimeError(f"gan train stopped before its budget: {process.stderr.read()}")
    process.send_signal(signal.SIGTERM)  # the trainer finishes its step and writes a checkpoint
    _, errors = process.communicate(timeout=600)
    if "Stopped by SIGTERM" not in errors:  # its exit status says it was stopped, not that it failed
        raise RuntimeError(f"gan train failed: {errors}")
    generator, _, _, checkpoint = load_generator(Registry.discover(), out / name)
    return {"steps": checkpoint.step, **fid_of(generator)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", default="DCGAN,WGAN-GP")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=90.0, help="CPU seconds per side and round (DCGAN)")
    parser.add_argument("--wgan-budget", type=float, default=180.0, help="CPU seconds per side and round (WGAN-GP)")
    parser.add_argument("--jobs", type=int, default=1, help="sides trained at once")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sys.path.insert(0, str(HERE))
        return classic_child(json.loads(args.child))

    import torch

    from gancore.metrics import load_classifier, real_split

    print(f"side-by-side benchmark: {' '.join(sys.argv)}")
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU(s), 1 thread per side, {args.jobs} side(s) at once")
    load_classifier("mnist")  # trained (or read from the cache) once, before any timing
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "mnist-4k"
        split = real_split("mnist")
        images = split["train_x"].add(1).mul(127.5).round().to(torch.uint8)
        sys.path.insert(0, str(HERE))
        from classic_loops import write_mnist_idx

        write_mnist_idx(root, images, split["train_y"])
        for family in args.families.split(","):
            budget = args.wgan_budget if family == "WGAN-GP" else args.budget
            tasks = []
            for index in range(args.rounds):
                names = list(SIDES) if index % 2 == 0 else list(SIDES)[::-1]
                tasks += [(index, side) for side in names]

            def one(task):
                side = task[1]
                if SIDES[side] is None:
                    return task, run_classic(family, root, budget, args.seed)
                return task, run_gancore(family, SIDES[side], root, budget, args.seed, Path(tmp) / "runs")

            with ThreadPoolExecutor(args.jobs) as pool:
                results = dict(pool.map(one, tasks))
            print(f"\n### {family}: {args.rounds} rounds, {budget:.0f} CPU-seconds per side and round, "
                  f"mnist (4,000 images), batch 64\n")
            print("| side | steps reached (median) | steps/s | ratio to classic (median, range) | "
                  "classifier-FID (median) | FID / floor | FID per round |")
            print("|---|---|---|---|---|---|---|")
            for side in SIDES:
                rows = [results[(index, side)] for index in range(args.rounds)]
                ratios = [row["steps"] / results[(index, "classic")]["steps"] for index, row in enumerate(rows)]
                steps = statistics.median(row["steps"] for row in rows)
                per_round = ", ".join(f"{row['fid']:.2f}" for row in rows)
                print(f"| {side} | {steps:.0f} | {steps / budget:.2f} | **{statistics.median(ratios):.3f}** "
                      f"({min(ratios):.3f} - {max(ratios):.3f}) | {statistics.median(r['fid'] for r in rows):.2f} | "
                      f"{statistics.median(r['ratio'] for r in rows):.2f} | "
                      f"{per_round} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

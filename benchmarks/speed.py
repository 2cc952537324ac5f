"""Training speed of gancore's loop, as ratios measured in one run, alternating.

    python benchmarks/speed.py                      # everything that this machine can run
    python benchmarks/speed.py --sections overhead,classic --rounds 7 --steps 40

Sections (each prints a table; ratios are medians of the per-round ratios of
alternating rounds, with their range as the noise):

* ``overhead``: gancore's Trainer vs a bare hand-written PyTorch loop doing
  the same steps (same networks, optimizers, batch, losses and penalty; data
  on the same device, sampled by index) for DCGAN and WGAN-GP on ``mnist``.
  Ratio = gancore steps/s / bare steps/s (target >= 0.97).
* ``interleaved``: the same comparison with the two loops interleaved step by
  step in one process (an add-on runs one bare step after each gancore step and
  reads the clock around it), so a machine whose speed drifts moves both alike.
* ``classic``: gancore vs the PyTorch-GAN-style per-script loops of
  ``classic_loops.py`` (``dcgan.py``, ``wgan_gp.py``: a DataLoader over
  torchvision's ``MNIST`` dataset of the same 5,000 images written as IDX
  files, ToTensor/Normalize per image, fresh targets and numpy noise every
  step), on the same networks and settings. Ratio = gancore / classic (targets:
  >= 1.0 like for like, >= 1.3 with gancore's CPU speed options
  --precision bf16 --channels-last), each gancore side timed in a fresh process.
* ``scaling``: ``torchrun --nproc_per_node 1`` vs ``2`` running ``gan train``
  on the CPU (gloo), per-process batch fixed: steps/s and images/s.
* ``data``: the two data paths of an image folder (``mnist``'s 5,000 images
  written as PNGs in class subfolders): held in memory vs streamed through
  DataLoader workers (``--data-workers``) and decoded in the training
  process (0 workers), DCGAN, steps/s by wall-clock time (the workers'
  CPU time is not the training process's). Ratio = streamed / memory.
* ``gpu``: on a CUDA device only: images/s of DCGAN at 64x64 and WGAN-GP at
  fp32 vs bf16, with and without ``--channels-last`` / ``--compile``
  (WGAN-GP cannot compile: its penalty needs double backward). The GPU model
  is printed. Skipped (reported as not measured) without CUDA.

Both sides of a comparison use the same threads (``--threads``, default 1)
and the same device. On the CPU each side is timed by the process's CPU time
(other jobs on a shared machine barely move it); on a GPU by wall-clock time
after a synchronize; the scaling section by wall-clock time from
``metrics.jsonl``. Look at the spread column.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

FAMILIES = {
    "DCGAN": {"plugins": ["gancore-dcgan"], "regularizers": {}},
    "WGAN-GP": {"plugins": ["gancore-wgan"], "regularizers": {"gp": 10.0}},
}


#: Network width for every side (``--width``); None keeps the family's default (64).
WIDTH: list = [None]


def resolve_run(name: str, out: str, steps: int, batch: int, log_every: int, device: str, wall: bool = False,
                **extra):
    from gancore import hookimpl
    from gancore.plugins import Registry
    from gancore.run.rundir import resolve

    registry = Registry.discover()
    registry.add("step-clock", type("StepClock", (StepClock,), {"post_step": hookimpl(StepClock.post_step)}))

    if WIDTH[0] is not None:
        extra.setdefault("options", {plugin: {"width": WIDTH[0]} for plugin in FAMILIES[name]["plugins"]})
    user = {**FAMILIES[name], "plugins": [*FAMILIES[name]["plugins"], "step-clock"], "data": "mnist", "steps": steps,
            "batch_size": batch, "seed": 0, "log_every": log_every, "sample_every": 0, "checkpoint_every": 0,
            "grid_size": 4, "out": out, "name": f"{name}-{time.monotonic_ns()}", "device": device, **extra}
    user["options"] = {**user.get("options", {}),
                       "step-clock": {"device": device, "wall": wall, "first": log_every - 1, "last": steps - 1}}
    return resolve(registry, user)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def clock(device: str, wall: bool = False) -> float:
    """Seconds: this process's CPU time on the CPU (other jobs on a shared machine barely move it)
    unless ``wall``, wall-clock time after a synchronize on a GPU."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        return time.perf_counter()
    return time.perf_counter() if wall else time.process_time()


class StepClock:
    """An add-on plugin: reads the clock after generator updates ``first`` and ``last`` (0-based), gancore's
    side of a comparison. Only there: reading a process's CPU time costs up to milliseconds on a busy
    virtual machine, which the other side of a comparison pays twice per measurement, not every step."""

    def __init__(self, device: str = "cpu", wall: bool = False, first: int = 0, last: int = 0):
        self.device, self.wall, self.marks, self.readings = device, wall, (first, last), {}

    def post_step(self, step, phase):
        if phase == "g" and step.index in self.marks:
            self.readings[step.index] = clock(self.device, self.wall)


# --- gancore's trainer ---------------------------------------------------------

def time_gancore(name: str, out: str, steps: int, warmup: int, batch: int, device: str, wall: bool = False,
                 **extra) -> float:
    """Steps/s of Trainer.fit over ``steps`` steps after ``warmup`` steps (the StepClock add-on's readings)."""
    from gancore.trainer import Trainer

    config, run, dataset = resolve_run(name, out, warmup + steps, batch, warmup, device, wall, **extra)
    trainer = Trainer(config, run, dataset, Path(out) / config.name, progress=False)
    trainer.fit()
    readings = run.pm.get_plugin("step-clock").readings
    return steps / (readings[warmup + steps - 1] - readings[warmup - 1])


# --- the bare hand-written loop --------------------------------------------------

def time_bare(name: str, out: str, steps: int, warmup: int, batch: int, device: str) -> float:
    """Steps/s of the same steps written out by hand: no hooks, no Step, no Accelerate."""
    one_step = bare_step(name, out, batch, device)
    for _ in range(warmup):
        one_step()
    started = clock(device)
    for _ in range(steps):
        one_step()
    return steps / (clock(device) - started)


def bare_step(name: str, out: str, batch: int, device: str):
    """A function doing one training step of ``name`` by hand, on networks of its own."""
    from accelerate.utils import set_seed

    from gancore.trainer import build_models, make_optimizer

    config, run, dataset = resolve_run(name, out, 1, batch, 1, device)
    set_seed(config.seed)
    G, D = build_models(run, config, dataset.spec)
    G, D = G.to(device), D.to(device)
    opt_g = make_optimizer(config, G.parameters(), config.lr_g)
    opt_d = make_optimizer(config, D.parameters(), config.lr_d)
    images = dataset.x.to(device)
    n, latent_dim, gp = len(images), config.latent_dim, "gp" in config.regularizers
    perm, cursor = torch.randperm(n, device=device), 0
    batch_norm = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in D.modules())
    separate = batch_norm and getattr(run.pm.get_plugin(run.family), "separate_batches", False)

    def real_batch():
        nonlocal perm, cursor
        if cursor + batch > n:
            perm, cursor = torch.randperm(n, device=device), 0
        x = images[perm[cursor:cursor + batch]].float().div_(127.5).sub_(1.0)
        cursor += batch
        return x

    def one_step():
        for critic in range(config.n_critic):
            real = real_batch()
            opt_d.zero_grad(set_to_none=True)
            # As gancore's trainer: the last critic update's fakes keep G's graph for G's update.
            if critic == config.n_critic - 1:
                attached = G(torch.randn(batch, latent_dim, device=device))
                fake = attached.detach()
            else:
                with torch.no_grad():
                    fake = G(torch.randn(batch, latent_dim, device=device))
            if separate:  # DCGAN's BatchNorm D: a real batch and a fake batch (Step.real_and_fake_scores)
                real_scores, fake_scores = D(real), D(fake)
            else:
                real_scores, fake_scores = D(torch.cat([real, fake])).split([batch, batch])
            if gp:
                loss = fake_scores.mean() - real_scores.mean()
                eps = torch.rand(batch, 1, 1, 1, device=device)
                x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
                (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
                loss = loss + config.regularizers["gp"] * ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
            else:
                loss = F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()
            loss.backward()
            opt_d.step()
        D.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        # As Step.fake_scores: a BatchNorm D that saw a real+fake batch scores fakes inside one.
        fake_scores = D(torch.cat([real, attached]))[batch:] if batch_norm and not separate else D(attached)
        loss = -fake_scores.mean() if gp else F.softplus(-fake_scores).mean()
        loss.backward()
        opt_g.step()
        D.requires_grad_(True)

    return one_step


class Interleaved:
    """An add-on that runs one bare step after each of gancore's steps and reads the clock around it.

    Both loops then run under the same conditions to within a step, so a machine whose speed
    drifts (other jobs, a noisy host) moves both alike.
    """

    def __init__(self, step=None, device: str = "cpu"):
        self.bare, self.device, self.marks = step, device, []

    def post_step(self, phase):
        if phase == "g":
            started = clock(self.device)
            with torch.enable_grad():  # post_step runs under no_grad
                self.bare()
            self.marks.append((started, clock(self.device)))


def time_interleaved(name: str, out: str, steps: int, warmup: int, batch: int, device: str) -> tuple[float, float]:
    """(gancore steps/s, bare steps/s), one bare step run after each gancore step."""
    from gancore import hookimpl
    from gancore.plugins import Registry
    from gancore.run.rundir import resolve
    from gancore.trainer import Trainer

    step = bare_step(name, out, batch, device)
    registry = Registry.discover()
    registry.add("interleaved", type("Interleave", (Interleaved,), {"post_step": hookimpl(Interleaved.post_step)}))
    user = {**FAMILIES[name], "plugins": [*FAMILIES[name]["plugins"], "interleaved"], "data": "mnist",
            "steps": warmup + steps, "batch_size": batch, "seed": 0, "log_every": warmup, "sample_every": 0,
            "checkpoint_every": 0, "grid_size": 4, "out": out, "name": f"{name}-{time.monotonic_ns()}",
            "device": device}
    if WIDTH[0] is not None:
        user["options"] = {plugin: {"width": WIDTH[0]} for plugin in FAMILIES[name]["plugins"]}
    config, run, dataset = resolve(registry, user)
    plugin = run.pm.get_plugin("interleaved")
    plugin.bare, plugin.device = step, device
    Trainer(config, run, dataset, Path(out) / config.name, progress=False).fit()
    marks = plugin.marks[warmup - 1:warmup + steps]
    bare_time = sum(end - start for start, end in marks[1:])
    ours_time = sum(start - previous_end for (_, previous_end), (start, _) in zip(marks, marks[1:]))
    return steps / ours_time, steps / bare_time


# --- the classic PyTorch-GAN-style scripts ------------------------------------------

def time_classic(name: str, out: str, steps: int, warmup: int, batch: int, device: str, root: Path) -> float:
    """Steps/s of PyTorch-GAN's ``dcgan.py`` / ``wgan_gp.py`` loop (:mod:`classic_loops`), gancore's networks."""
    from accelerate.utils import set_seed

    from classic_loops import classic_step
    from gancore.trainer import build_models

    config, run, dataset = resolve_run(name, out, warmup + steps, batch, warmup, device)
    set_seed(config.seed)
    generator, discriminator = build_models(run, config, dataset.spec)
    one_step = classic_step(name, generator.to(device), discriminator.to(device), config, root, device)
    for _ in range(warmup):
        one_step()
    started = clock(device)
    for _ in range(steps):
        one_step()
    return steps / (clock(device) - started)


# --- sections --------------------------------------------------------------------

def alternate(rounds: int, sides: dict) -> dict:
    """Run every side once per round, in an order that alternates; steps/s per side per round."""
    results = {name: [] for name in sides}
    names = list(sides)
    for index in range(rounds):
        for name in (names if index % 2 == 0 else names[::-1]):
            results[name].append(sides[name]())
    return results


def ratio_row(label: str, ours: list, theirs: list) -> str:
    # The median of per-round ratios: each pairs two runs made back to back, so a slow drift of
    # the machine's speed cancels out of it, which it does not out of a ratio of medians.
    ratios = [a / b for a, b in zip(ours, theirs)]
    return (f"| {label} | {statistics.median(ours):.2f} | {statistics.median(theirs):.2f} | "
            f"**{statistics.median(ratios):.3f}** | {min(ratios):.3f} - {max(ratios):.3f} |")


def section_interleaved(args, out):
    print("\n### gancore Trainer vs a bare hand-written loop, interleaved step by step, mnist 28x28, batch "
          f"{args.batch_size}, {args.threads} thread(s), device {args.device}\n")
    print("| family | gancore steps/s | bare steps/s | ratio (median) | per-round ratio range |")
    print("|---|---|---|---|---|")
    for name in FAMILIES:
        steps = args.steps if name == "DCGAN" else max(args.warmup, args.steps // 5 // args.warmup * args.warmup)
        pairs = [time_interleaved(name, out, steps, args.warmup, args.batch_size, args.device)
                 for _ in range(args.rounds)]
        print(ratio_row(name, [a for a, _ in pairs], [b for _, b in pairs]), flush=True)


def section_overhead(args, out):
    print("\n### gancore Trainer vs a bare hand-written loop (same steps), mnist 28x28, batch "
          f"{args.batch_size}, {args.threads} thread(s), device {args.device}\n")
    print("| family | gancore steps/s | bare steps/s | ratio (median) | per-round ratio range |")
    print("|---|---|---|---|---|")
    for name in FAMILIES:
        steps = args.steps if name == "DCGAN" else max(args.warmup, args.steps // 5 // args.warmup * args.warmup)
        results = alternate(args.rounds, {
            "gancore": lambda: time_gancore(name, out, steps, args.warmup, args.batch_size, args.device),
            "bare": lambda: time_bare(name, out, steps, args.warmup, args.batch_size, args.device)})
        print(ratio_row(name, results["gancore"], results["bare"]), flush=True)


#: gancore's settings in the classic comparison: its defaults (the like-for-like row), then its CPU
#: speed options, which the classic script does not have (bf16 autocast changes the arithmetic).
CLASSIC_SIDES = {"gancore (fp32, defaults)": {},
                 "gancore --precision bf16 --channels-last": {"precision": "bf16", "channels_last": True}}


def time_gancore_in_child(name: str, steps: int, warmup: int, batch: int, device: str, threads: int,
                          extra: dict) -> float:
    """:func:`time_gancore` in a fresh process: Accelerate fixes the precision once per process."""
    command = [sys.executable, __file__, "--child", json.dumps({"name": name, "steps": steps, "warmup": warmup,
                                                               "batch": batch, "device": device, "extra": extra}),
               "--threads", str(threads)] + (["--width", str(WIDTH[0])] if WIDTH[0] is not None else [])
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return float(result.stdout.strip().splitlines()[-1])


def child(spec: str) -> int:
    job = json.loads(spec)
    with tempfile.TemporaryDirectory() as out:
        print(time_gancore(job["name"], out, job["steps"], job["warmup"], job["batch"], job["device"], **job["extra"]))
    return 0


def section_classic(args, out):
    from classic_loops import write_mnist_idx
    from gancore.data import load_mnist_5k

    root = Path(out) / "torchvision"
    mnist = load_mnist_5k()
    write_mnist_idx(root, mnist.x, mnist.labels)
    print("\n### gancore vs PyTorch-GAN-style per-script loops (dcgan.py, wgan_gp.py), mnist 28x28, batch "
          f"{args.batch_size}, {args.threads} thread(s), device {args.device}\n")
    print("| family | gancore side | gancore steps/s | classic steps/s (fp32) | ratio (median) "
          "| per-round ratio range |")
    print("|---|---|---|---|---|---|")
    for name in FAMILIES:
        steps = args.steps if name == "DCGAN" else max(args.warmup, args.steps // 5 // args.warmup * args.warmup)
        sides = {label: (lambda extra=extra: time_gancore_in_child(name, steps, args.warmup, args.batch_size,
                                                                   args.device, args.threads, extra))
                 for label, extra in CLASSIC_SIDES.items()}
        sides["classic"] = lambda: time_classic(name, out, steps, args.warmup, args.batch_size, args.device, root)
        results = alternate(args.rounds, sides)
        for label in CLASSIC_SIDES:
            print(ratio_row(f"{name} | {label}", results[label], results["classic"]), flush=True)


def torchrun_steps_per_second(processes: int, args, out) -> float:
    name = f"scale{processes}-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "gancore.cli", "train", "--plugin", "gancore-dcgan", "--data", "mnist", "--device", "cpu",
               "--steps", str(args.warmup + args.steps), "--log-every", str(args.warmup), "--batch-size",
               str(args.batch_size), "--sample-every", "0", "--checkpoint-every", "0", "--grid-size", "4",
               "--out", out, "--name", name, "--no-progress"]
    if WIDTH[0] is not None:
        command += ["--set", f"gancore-dcgan.width={WIDTH[0]}"]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = [json.loads(line) for line in (Path(out) / name / "metrics.jsonl").read_text().splitlines()]
    times = {row["step"]: row["time"] for row in rows}
    return args.steps / (times[args.warmup + args.steps] - times[args.warmup])


def section_scaling(args, out):
    print(f"\n### 1 vs 2 CPU processes (torchrun, gloo), DCGAN on mnist, batch {args.batch_size} per process, "
          f"{args.threads} thread(s) per process\n")
    results = alternate(args.rounds, {p: (lambda p=p: torchrun_steps_per_second(p, args, out)) for p in (1, 2)})
    print("| processes | steps/s (median) | images/s (median) | per-round steps/s range |")
    print("|---|---|---|---|")
    for processes, values in results.items():
        median = statistics.median(values)
        print(f"| {processes} | {median:.2f} | {median * args.batch_size * processes:.0f} | "
              f"{min(values):.2f} - {max(values):.2f} |")
    print(f"\nspeed-up of 2 processes in images/s: "
          f"{2 * statistics.median(results[2]) / statistics.median(results[1]):.2f}x", flush=True)


def section_gpu(args, out):
    print("\n### GPU: images/s (real images per second through D)\n")
    if not torch.cuda.is_available():
        print("not measured: no CUDA device on this machine.")
        return
    print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}\n")
    print("| family | precision | channels-last | compile | images/s |")
    print("|---|---|---|---|---|")
    for name, image_size in (("DCGAN", 64), ("WGAN-GP", 64)):
        for precision in ("fp32", "bf16"):
            for channels_last, compile_ in ((False, False), (True, False), (False, True), (True, True)):
                if compile_ and name == "WGAN-GP":
                    continue  # the gradient penalty needs double backward
                config, _, _ = resolve_run(name, out, 1, args.gpu_batch_size, 1, "cuda")
                extra = {"precision": precision, "channels_last": channels_last, "compile": compile_,
                         "image_size": image_size}
                values = [time_gancore(name, out, args.steps, args.warmup, args.gpu_batch_size, "cuda", **extra)
                          for _ in range(args.rounds)]
                images = statistics.median(values) * args.gpu_batch_size * config.n_critic
                print(f"| {name} {image_size}x{image_size} | {precision} | {channels_last} | {compile_} | "
                      f"{images:.0f} |", flush=True)


def write_png_folder(root: Path) -> Path:
    """``mnist``'s images as PNG files in one subfolder per class."""
    from PIL import Image

    from gancore.data import load_data

    dataset = load_data("mnist")
    for index, (image, label) in enumerate(zip(dataset.x, dataset.labels.tolist())):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0].numpy()).save(root / str(label) / f"{index:05d}.png")
    return root


def section_data(args, out):
    folder = write_png_folder(Path(out) / "mnist-png")
    print(f"\n### Data paths of an image folder (mnist, 5,000 28x28 PNGs), DCGAN, batch {args.batch_size}, "
          f"{args.threads} thread(s), device {args.device}, wall-clock time\n")
    print("| data path | steps/s (median) | ratio to memory (median) | per-round ratio range |")
    print("|---|---|---|---|")
    paths = {"memory (one tensor on the device)": {"data_mode": "memory"},
             f"stream, {args.data_workers} workers": {"data_mode": "stream", "data_workers": args.data_workers},
             "stream, 0 workers (decoded in the training process)": {"data_mode": "stream", "data_workers": 0}}
    results = alternate(args.rounds, {
        label: (lambda extra=extra: time_gancore("DCGAN", out, args.steps, args.warmup, args.batch_size,
                                                 args.device, wall=True, data=str(folder), **extra))
        for label, extra in paths.items()})
    memory = results[next(iter(paths))]
    for label, values in results.items():
        ratios = [a / b for a, b in zip(values, memory)]
        ratio = statistics.median(values) / statistics.median(memory)
        print(f"| {label} | {statistics.median(values):.2f} | **{ratio:.3f}** | "
              f"{min(ratios):.3f} - {max(ratios):.3f} |", flush=True)


SECTIONS = {"overhead": section_overhead, "interleaved": section_interleaved, "classic": section_classic,
            "scaling": section_scaling, "data": section_data, "gpu": section_gpu}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated: " + ", ".join(SECTIONS))
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per comparison")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per round (WGAN-GP: a fifth)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first; --steps is a multiple")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--gpu-batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, the same for every side")
    parser.add_argument("--data-workers", type=int, default=2, help="DataLoader workers of the data section's "
                                                                   "streamed side")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--width", type=int, default=None,
                        help="base width of both convolutional networks, every side (default: the family's, 64)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one timing in a fresh process (JSON)
    args = parser.parse_args(argv)
    WIDTH[0] = args.width
    torch.set_num_threads(args.threads)
    if args.child:
        return child(args.child)
    os.environ.setdefault("GANCORE_PROGRESS", "0")
    print(f"speed benchmark: {' '.join(sys.argv)}")
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU(s), threads {args.threads}, device {args.device}, "
          f"network width {args.width or 'default (64)'}")
    with tempfile.TemporaryDirectory() as out:
        for section in args.sections.split(","):
            SECTIONS[section.strip()](args, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""WGAN-GP (or any family) on the `ring` mixture: modes covered and sample quality.

    python benchmarks/ring.py                      # WGAN-GP, 5,000 steps, seed 0
    python benchmarks/ring.py --plugin gancore-gan --regularizer none --steps 5000
    python benchmarks/ring.py --lr-schedule linear --ema 10   # sample with the ema add-on's average

Trains through the same path as `gan train`, then draws 10,000 samples from
the final generator and reports how many of the 8 modes are covered (a mode
counts when at least one sample lies within 3 std of its centre) and the
share of high-quality samples (within 3 std of some centre).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import torch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plugin", action="append", default=None)
    parser.add_argument("--regularizer", action="append", default=None)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--lr-schedule", default=None, choices=["constant", "linear"])
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="PLUGIN.OPTION=VALUE",
                        help="a plugin option, as `gan train --set`")
    parser.add_argument("--ema", type=float, default=None, metavar="KIMG",
                        help="add the ema add-on with this half-life in thousands of images and sample with "
                             "its average")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from gancore.run.flags import parse_regularizer, parse_set
    from gancore.metrics import ring_modes_metrics
    from gancore.plugins import Registry
    from gancore.run.rundir import resolve
    from gancore.trainer import Trainer

    plugins = list(args.plugin or ["gancore-wgan"])
    if args.ema is not None:
        plugins.append("ema")
        user_options = {"ema": {"ema_kimg": args.ema}}
    else:
        user_options = {}
    for plugin, option, value in map(parse_set, args.set):
        user_options.setdefault(plugin, {})[option] = value
    regs = args.regularizer if args.regularizer is not None else ["gp"]
    user = {"plugins": plugins, "data": "ring", "steps": args.steps, "seed": args.seed, "sample_every": 0,
            "checkpoint_every": 0, "log_every": 100, "name": "bench",
            "regularizers": {} if regs == ["none"] else dict(map(parse_regularizer, regs)), "options": user_options}
    for key in ("lr_schedule", "batch_size"):
        if getattr(args, key) is not None:
            user[key] = getattr(args, key)
    with tempfile.TemporaryDirectory() as out:
        config, run, dataset = resolve(Registry.discover(), {**user, "out": out})
        trainer = Trainer(config, run, dataset, f"{out}/bench", progress=False)
        started = time.perf_counter()
        trainer.fit()
        seconds = time.perf_counter() - started
        generator = trainer.sampling_generator().eval()  # the ema average when --ema is given
        with torch.no_grad():
            samples = generator(generator.latent(args.samples, rng=torch.Generator().manual_seed(args.seed + 1)))
    result = ring_modes_metrics(samples)
    label = " ".join([*(f"--plugin {p}" for p in args.plugin or ["gancore-wgan"]),
                      *(f"--regularizer {r}" for r in regs),
                      *(f"--set {o}" for o in args.set)] + ([f"--ema {args.ema:g}"] if args.ema is not None else []))
    print(f"ring benchmark: {label} --steps {args.steps} --seed {args.seed}")
    print(f"  config: optimizer={config.optimizer} lr_g={config.lr_g} lr_d={config.lr_d} betas={config.betas} "
          f"n_critic={config.n_critic} lr_schedule={config.lr_schedule} batch={config.batch_size} "
          f"latent_dim={config.latent_dim} "
          f"regularizers={run.regularizers}")
    print(f"  train time: {seconds:.1f} s ({args.steps / seconds:.1f} steps/s, {args.threads} thread(s))")
    print(f"  modes covered: {result['modes']}/8")
    print(f"  high-quality samples (within 3 std of a mode): {100 * result['high_quality']:.1f}%")
    print(f"  median distance to the nearest mode: {result['median_distance_std']:.1f} std")
    return 0


if __name__ == "__main__":
    sys.exit(main())

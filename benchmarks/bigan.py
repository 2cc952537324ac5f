"""What an encoder learned: reconstruction error and a linear probe of the codes (BiGAN, VAE-GAN).

    python benchmarks/bigan.py                                  # gancore-bigan on mnist, 3,000 steps, seed 0
    python benchmarks/bigan.py --steps 1500 -- --set gancore-bigan.width=32
    python benchmarks/bigan.py --plugin gancore-vaegan --data digits

The data set (labelled: `mnist`, the 5,000 embedded MNIST digits, or `digits`)
is shuffled once (seed 1234) and split: the first 80% train the family (and
the probe), the last 20% are held out. The family trains through the same
path as `gan train` (its defaults for the data's kind, plus any `gan train`
flags after `--`), then the sampling generator module (EMA's average when
the defaults name it) is measured in eval mode:

* reconstruction: mean squared error of `G(E(x))` against `x` on the held-out
  split (pixels in [-1, 1]), beside the error of predicting the training
  mean image (a scale for the number);
* linear probe: multinomial logistic regression on the codes `E(x)` of the
  training split (standardised with the training split's mean and std; full-
  batch L-BFGS, 300 iterations, L2 penalty 1e-3), accuracy on the held-out
  split.

Both are also measured for the same generator module freshly initialised
(the same seed, untrained): the baseline that shows what the encoder learned;
the same probe on the raw pixels is printed beside them.
The family's generator module must offer `encode(x)` (a code, or a tuple
whose first part is the code, such as VAE-GAN's `(mu, log sigma^2)`) and
`reconstruct(x)`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time

import torch
import torch.nn.functional as F


def split(dataset, fraction: float = 0.8, seed: int = 1234):
    """The data set shuffled once, as (train, held-out) data sets."""
    from gancore.data import Dataset

    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    cut = int(fraction * len(dataset))
    parts = order[:cut], order[cut:]
    return tuple(Dataset(dataset.spec, dataset.x[idx], dataset.labels[idx]) for idx in parts)


@torch.no_grad()
def codes_and_reconstructions(G, dataset, batch: int = 500) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(E(x), G(E(x)), x)`` for every sample, in eval mode, on the CPU."""
    G.eval()
    codes, recs, xs = [], [], []
    for start in range(0, len(dataset), batch):
        x = dataset.batch(torch.arange(start, min(start + batch, len(dataset)))).x
        code = G.encode(x)
        codes.append((code[0] if isinstance(code, tuple) else code).float())
        recs.append(G.reconstruct(x).float())
        xs.append(x)
    return torch.cat(codes), torch.cat(recs), torch.cat(xs)


def linear_probe(train_codes, train_labels, test_codes, test_labels, classes: int = 10,
                 iterations: int = 300, l2: float = 1e-3) -> float:
    """Accuracy on the test codes of a logistic regression fitted to the training codes (L-BFGS)."""
    mean, std = train_codes.mean(0), train_codes.std(0).clamp_min(1e-6)
    a, b = (train_codes - mean) / std, (test_codes - mean) / std
    torch.manual_seed(0)
    layer = torch.nn.Linear(a.shape[1], classes)
    opt = torch.optim.LBFGS(layer.parameters(), max_iter=iterations, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(layer(a), train_labels) + l2 * layer.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        return (layer(b).argmax(1) == test_labels).float().mean().item()


def measure(G, train, test) -> dict[str, float]:
    train_codes, _, _ = codes_and_reconstructions(G, train)
    test_codes, test_recs, test_x = codes_and_reconstructions(G, test)
    return {"reconstruction_mse": F.mse_loss(test_recs, test_x).item(),
            "probe_accuracy": linear_probe(train_codes, train.labels, test_codes, test.labels)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plugin", default="gancore-bigan")
    parser.add_argument("--data", default="mnist", choices=("mnist", "digits"))
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("train_flags", nargs="*", help="further `gan train` flags, after --")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from gancore.run.flags import settings_from_args
    from gancore.plugins import Registry
    from gancore.run.rundir import resolve
    from gancore.trainer import Trainer

    flags = ["-p", args.plugin, *args.train_flags]
    user = {**settings_from_args(flags), "data": args.data, "steps": args.steps, "seed": args.seed,
            "sample_every": 0, "checkpoint_every": 0, "log_every": max(1, args.steps // 10), "name": "bench"}
    with tempfile.TemporaryDirectory() as out:
        config, run, dataset = resolve(Registry.discover(), {**user, "out": out})
        train, test = split(dataset)
        torch.manual_seed(args.seed)
        untrained = run.hook.build_generator(config=config, data=train.spec)
        trainer = Trainer(config, run, train, f"{out}/bench", progress=False)
        started = time.perf_counter()
        trainer.fit()
        seconds = time.perf_counter() - started
        trained = trainer.sampling_generator().cpu()
    train_x = train.batch(torch.arange(len(train))).x
    held_out = test.batch(torch.arange(len(test))).x
    mean_image = train_x.mean(0, keepdim=True)
    pixels = linear_probe(train_x.flatten(1), train.labels, held_out.flatten(1), test.labels)
    result = {"command": "python benchmarks/bigan.py " + shlex.join(sys.argv[1:] if argv is None else argv),
              "plugin": args.plugin, "data": args.data, "steps": args.steps, "seed": args.seed,
              "seconds": round(seconds), "train": len(train), "held_out": len(test),
              "trained": measure(trained, train, test), "untrained": measure(untrained, train, test),
              "mean_image_mse": F.mse_loss(mean_image.expand_as(held_out), held_out).item(),
              "pixel_probe_accuracy": pixels,
              "settings": {"lr_g": config.lr_g, "lr_d": config.lr_d, "lr_schedule": config.lr_schedule,
                           "latent_dim": config.latent_dim, "regularizers": run.regularizers,
                           "addons": list(run.addons), "batch": config.batch_size}}
    t, u = result["trained"], result["untrained"]
    print(f"{args.plugin} on {args.data}, {args.steps} steps ({result['seconds']} s), "
          f"{len(train)} train / {len(test)} held out")
    print("| encoder | held-out reconstruction MSE | linear-probe accuracy |")
    print("|---|---|---|")
    print(f"| trained | {t['reconstruction_mse']:.4f} | {t['probe_accuracy']:.1%} |")
    print(f"| untrained (same seed) | {u['reconstruction_mse']:.4f} | {u['probe_accuracy']:.1%} |")
    print(f"| raw pixels (no encoder) | - | {pixels:.1%} |")
    print(f"mean-image MSE on the held-out split: {result['mean_image_mse']:.4f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Semi-supervised GAN: test accuracy of D's K-class head with a few labels, against a supervised-only baseline.

    python benchmarks/sgan.py                        # mnist, 100 labels, the family's defaults, 3,000 steps
    python benchmarks/sgan.py --steps 1000 --labels 1000 --set generator_loss=feature-matching

3,000 steps take about 16 CPU-minutes at the 28x28 defaults (batch 128, two convolutions per
resolution, R1 at every D step; SGAN and the baseline; 4 at the earlier defaults). The family's
defaults for the data, except ``width=32`` on ``mnist`` (half the default: as
``benchmarks/conditional.py``, so that it fits a CPU); ``--set width=64`` restores it.

The data set's fixed train / held-out split (``gancore.metrics.real_split``:
a seeded 80/20 permutation, the split the classifier-FID uses; on ``mnist``
4,000 train and 1,000 test images) keeps the test images out of training
entirely: SGAN trains on a :class:`gancore.data.Dataset` of the train split
only, through the same :class:`gancore.trainer.Trainer` as ``gan train``,
with the family's defaults for the data. It chooses its ``labels`` labelled
examples from that split (its checkpointed state); the baseline is the same
discriminator network (``build_discriminator`` of the family, same options)
trained with cross-entropy on exactly those labelled examples alone, with
the same optimizer, rate, batch size and number of updates. Both are
evaluated on the held-out split every ``--eval-every`` steps; the final and
best accuracy are printed. Also printed: the classifier-FID of SGAN's
generator (its sampling generator, e.g. the EMA) against the train split,
with its floor (``gancore.metrics.classifier_fid``), as ``gan eval`` gives it.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
import torch.nn.functional as F


def accuracy(D, x: torch.Tensor, y: torch.Tensor) -> float:
    """The share of ``x`` whose argmax over D's K logits is ``y`` (D in eval mode)."""
    was = D.training
    D.eval()
    with torch.no_grad():
        predicted = torch.cat([D(part).argmax(1) for part in x.split(500)])
    D.train(was)
    return (predicted == y).float().mean().item()


def parse_set(items):
    from gancore.plugins import parse_option_value

    options = {}
    for item in items or []:
        key, _, value = item.partition("=")
        options[key] = parse_option_value(value)
    return options


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="mnist", choices=["mnist", "digits"])
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", metavar="OPTION=VALUE", help="a gancore-sgan option")
    parser.add_argument("--no-fid", action="store_true", help="skip the generator's classifier-FID")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)

    from gancore.data import Dataset, load_data
    from gancore.metrics import classifier_fid, load_classifier, real_split
    from gancore.plugins import Registry
    from gancore.run.rundir import configure
    from gancore.trainer import Trainer
    from gancore.evaluation import generate

    split = real_split(args.data)
    spec = load_data(args.data).spec
    train = Dataset(spec, split["train_x"], split["train_y"])
    test_x, test_y = split["test_x"], split["test_y"]
    options = {"labels": args.labels, **({"width": 32} if args.data == "mnist" else {}), **parse_set(args.set)}
    user = {"plugins": ["gancore-sgan"], "data": args.data, "steps": args.steps, "seed": args.seed,
            "sample_every": 0, "checkpoint_every": 0, "log_every": 100, "name": "bench",
            "options": {"gancore-sgan": options}}
    print(f"{args.data}: {len(train)} train, {len(test_x)} held-out test images; gancore-sgan {options}", flush=True)

    with tempfile.TemporaryDirectory() as out:
        config, run = configure(Registry.discover(), spec, {**user, "out": out})
        print(f"config: lr_d {config.lr_d}, lr_g {config.lr_g}, schedule {config.lr_schedule}, batch "
              f"{config.batch_size}, regularizers {config.regularizers}, add-ons {list(config.plugins)}", flush=True)
        trainer = Trainer(config, run, train, f"{out}/bench", progress=False)
        started, at, sgan_history = time.perf_counter(), 0, []
        while at < args.steps:
            at = min(args.steps, at + args.eval_every)
            trainer.fit(until=at)
            sgan_history.append((at, accuracy(trainer.discriminator, test_x, test_y)))
            print(f"  sgan step {at}: test accuracy {100 * sgan_history[-1][1]:.1f}% "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
        sgan_seconds = time.perf_counter() - started
        state = trainer.plugin_state["gancore-sgan"]  # the family's checkpointed state: its labelled examples
        lab_x, lab_y = state["x"].cpu(), state["y"].cpu()
        print(f"labelled examples: {len(lab_y)}, "
              f"per class {torch.bincount(lab_y, minlength=spec.num_classes).tolist()}", flush=True)
        fid = None
        if not args.no_fid:
            G = trainer.sampling_generator()
            G.eval()
            fid = classifier_fid(load_classifier(args.data), generate(G, 2000, args.seed + 1))

    # The baseline: the same D network, only the labelled examples, the same optimizer and updates.
    torch.manual_seed(args.seed)
    family = Registry.discover().get("gancore-sgan").obj(**options)
    D = family.build_discriminator(data=spec)
    opt = torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=tuple(config.betas))
    linear = config.lr_schedule == "linear"
    started, base_history = time.perf_counter(), []
    for step in range(1, args.steps + 1):
        if linear:
            for group in opt.param_groups:
                group["lr"] = config.lr_d * (1 - (step - 1) / args.steps)
        pick = torch.randint(0, len(lab_y), (config.batch_size,))
        loss = F.cross_entropy(D(lab_x[pick]), lab_y[pick])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % args.eval_every == 0 or step == args.steps:
            base_history.append((step, accuracy(D, test_x, test_y)))
    base_seconds = time.perf_counter() - started

    def show(name, history, seconds):
        best = max(history, key=lambda item: item[1])
        print(f"{name}: final {100 * history[-1][1]:.1f}%, best {100 * best[1]:.1f}% (step {best[0]}), "
              f"{seconds:.0f} s; " + ", ".join(f"{s}: {100 * a:.1f}%" for s, a in history))

    print(f"\n== {args.data}, {args.labels} labels, {args.steps} steps, seed {args.seed}, test = "
          f"{len(test_y)} held-out images ==")
    show("SGAN D's K-class head", sgan_history, sgan_seconds)
    show("supervised-only baseline (same D, labelled examples only)", base_history, base_seconds)
    if fid is not None:
        print(f"SGAN generator classifier-FID {fid['fid']:.2f} (floor {fid['floor']:.2f}, {fid['ratio']:.1f}x), "
              f"{fid['n_fake']} samples vs {fid['real_split']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

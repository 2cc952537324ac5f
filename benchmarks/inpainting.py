"""Inpainting (Context Encoder, CCGAN): masked-region L1 on held-out digits against mean-fill.

Trains each family at its defaults (the configuration ``gan train -p FAMILY
--data mnist`` resolves, with ``--steps`` if given) on the 4,000 training
images of ``mnist``'s fixed split (:func:`gancore.metrics.real_split`) and
measures it on the 1,000 held-out images it never trains on. Two hole sets,
both half the image's side (14x14 of 28x28): the centre square, and a square
at a random place per image (fixed seed). The error is the mean absolute
difference over the hole's pixels, in ``[0, 1]`` pixel units, averaged over
images. Baselines: mean-fill (each hole pixel set to the mean of the training
images at that pixel, the best constant image under L2) and grey-fill (0 in
``[-1, 1]``, what G sees in the hole). The label column is the ``mnist``
classifier's accuracy on the completed held-out images (is the digit still
that digit?), against the same on the uncut images and on the mean-filled ones.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/inpainting.py --steps 1000
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/inpainting.py --families gancore-ccgan --steps 1000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

FAMILIES = ("gancore-contextencoder", "gancore-ccgan")


def train(family: str, options: dict, args, train_set):
    """Train ``family`` at its defaults; the sampling generator, the config and the seconds taken."""
    from gancore.plugins import Registry
    from gancore.run.rundir import configure
    from gancore.trainer import Trainer

    user = {"plugins": [family], "data": "mnist", "seed": args.seed, "sample_every": 0, "checkpoint_every": 0,
            "log_every": max(1, (args.steps or 2000) // 4), "name": "bench", "options": {family: options}}
    if args.steps:
        user["steps"] = args.steps
    with tempfile.TemporaryDirectory() as out:
        config, run = configure(Registry.discover(), train_set.spec, {**user, "out": out})
        print(f"{family} {options or '(defaults)'}: {config.steps} steps, batch {config.batch_size}, lr "
              f"{config.lr_g}/{config.lr_d} {config.lr_schedule}, betas {config.betas}", flush=True)
        trainer = Trainer(config, run, train_set, f"{out}/bench", progress=False)
        started = time.perf_counter()
        trainer.fit()
        return trainer.sampling_generator().eval(), config, time.perf_counter() - started


@torch.no_grad()
def complete(generator, images: torch.Tensor, masks: torch.Tensor, batch: int = 250) -> torch.Tensor:
    return torch.cat([generator(generator.masked_latent(x, m)) for x, m in zip(images.split(batch),
                                                                               masks.split(batch))])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, help="training steps [default: the family's]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--option", action="append", default=[], metavar="FAMILY.NAME=VALUE",
                        help="a family option (repeatable), e.g. gancore-ccgan.reconstruction=1")
    parser.add_argument("--json", help="write the rows to this JSON file")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)

    from gancore_inpainting.masks import hole_side, masked_l1, square_masks

    from gancore.data import Dataset, load_data
    from gancore.metrics import load_classifier, real_split

    split = real_split("mnist")
    spec = load_data("mnist").spec
    train_set = Dataset(spec, split["train_x"].add(1).mul(127.5).round().to(torch.uint8), split["train_y"])
    truth, labels = split["test_x"], split["test_y"]
    classifier = load_classifier("mnist")
    side = hole_side(spec.image_size, 0.5)
    holes = {"centre": square_masks(len(truth), spec.image_size, side, "centre"),
             "random": square_masks(len(truth), spec.image_size, side, "random",
                                    rng=torch.Generator().manual_seed(1000 + args.seed))}
    mean_image = split["train_x"].mean(0, keepdim=True)
    options = {}
    for item in args.option:
        key, value = item.split("=", 1)
        family, name = key.rsplit(".", 1)
        options.setdefault(family, {})[name] = json.loads(value) if value[:1] in "0123456789-[{tf" else value

    def row(method, completed_by_hole, extra=None):
        r = {"method": method, **(extra or {})}
        for hole, mask in holes.items():
            out = completed_by_hole[hole]
            r[f"l1_{hole}"] = (masked_l1(out, truth, mask) / 2).mean().item()  # [-1, 1] -> [0, 1] units
            r[f"label_{hole}"] = (classifier.predict(out) == labels).float().mean().item()
        return r

    rows = [row("mean-fill", {h: truth * (1 - m) + mean_image * m for h, m in holes.items()}),
            row("grey-fill", {h: truth * (1 - m) for h, m in holes.items()})]
    print(f"mnist: {len(train_set)} train, {len(truth)} held-out images; holes {side}x{side}; classifier on the "
          f"uncut held-out images {(classifier.predict(truth) == labels).float().mean().item():.1%}", flush=True)
    for family in args.families:
        generator, config, seconds = train(family, options.get(family, {}), args, train_set)
        rows.append(row(family, {h: complete(generator, truth, m) for h, m in holes.items()},
                        {"steps": config.steps, "batch": config.batch_size, "seconds": round(seconds, 1),
                         "options": options.get(family, {})}))
    print("\n| method | steps | hole L1, centre (0..1) | hole L1, random place | digit kept, centre | "
          "digit kept, random |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r.get('steps', '-')} | {r['l1_centre']:.4f} | {r['l1_random']:.4f} | "
              f"{r['label_centre']:.1%} | {r['label_random']:.1%} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"rows": rows, "seed": args.seed, "test_images": len(truth)}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

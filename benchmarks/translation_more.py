"""Two-domain and translation families beyond benchmarks/translation.py: CoGAN, DualGAN, UNIT, MUNIT,
BicycleGAN and PixelDA, each on an embedded task and measured on held-out digits against a stated
baseline.

Each family is trained with ``gan train`` (a run that already holds its final checkpoint is reused)
and measured on the 500 held-out digits of the translation tasks' ``test`` split, which no run
trains on. The digit classifier is benchmarks/translation.py's (``gancore.metrics.load_classifier
('mnist')``); label shares are given on all 500 digits and, in brackets, on the ~100 the classifier
never trained on either. Pixel distances are mean absolute differences in pixel values scaled to
[0, 1].

* **CoGAN** on ``mnist-negative`` (digits and negatives, unpaired; gancore-pixelda adds it): 500
  generated pairs ``(a, b)`` from fixed noise. A pair *corresponds* when the classifier gives ``a``
  and the un-negated ``b`` (``-b``) the same digit. Baseline: the same pairs with their ``b``
  halves shuffled (two generators with these marginals but no coupling). Also the pixel distance
  ``|a - (-b)|`` against the shuffled pairs'.
* **DualGAN**, **UNIT**, **MUNIT** on ``mnist-thick`` (unpaired): label preservation as for CycleGAN
  (thin -> thick and thick -> thin; ceiling: the classifier on real thick / thin digits), and,
  since this task's true map is known, the pixel distance of thin -> thick outputs to the exact
  dilation of their input against the identity baseline (the input itself).
* **MUNIT** also: diversity for one input, the mean pairwise pixel L1 between 8 translations of the
  same thin digit with 8 random styles (100 digits); baseline: a unimodal translator (0: UNIT and
  CycleGAN give one output per input); scale: the same distance between real thick digits of the
  same class.
* **BicycleGAN** on ``mnist-edges`` (paired): held-out L1 to the true edge map (random ``z`` per
  input), against pix2pix's baselines (identity, all black); diversity as for MUNIT (8 random
  ``z``).
* **PixelDA** on ``mnist-negative``: accuracy of its task classifier on the 500 held-out negatives,
  against a **source-only** classifier: the same network (:class:`gancore.nets.translation
  .ConvClassifier`, same width) trained with the same optimizer, batch size and steps on the
  labelled source digits alone, measured on the same negatives.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/translation_more.py --out /tmp/more --families cogan pixelda
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gancore_translation.domains import dilate, mnist_digits, mnist_task
from translation import classifier, pct, to_float, translate, unseen_by_classifier

from gancore.plugins import Registry
from gancore.run.rundir import find_checkpoint, load_generator

RUNS = {
    "cogan": {"data": "mnist-negative", "batch": 32, "steps": 600, "sets": {"width": 32, "d_width": 32}},
    "dualgan": {"data": "mnist-thick", "batch": 16, "steps": 300, "sets": {"width": 16, "d_width": 16},
                    "flags": ["--lr-g", "2e-4", "--lr-d", "2e-4"]},
    "unit": {"data": "mnist-thick", "batch": 8, "steps": 300, "sets": {"width": 8, "blocks": 1, "d_width": 16}},
    "munit": {"data": "mnist-thick", "batch": 8, "steps": 300,
              "sets": {"width": 8, "blocks": 2, "mlp": 64, "d_width": 16, "cycle": 10}, "flags": ["--lr", "5e-4"]},
    "bicyclegan": {"data": "mnist-edges", "batch": 16, "steps": 400,
                   "sets": {"width": 16, "e_width": 16, "d_width": 16}},
    "pixelda": {"data": "mnist-negative", "batch": 32, "steps": 400,
                    "sets": {"width": 16, "blocks": 2, "c_width": 32, "d_width": 16}},
}


def train_command(family: str, out: Path, steps: int) -> list[str]:
    run = RUNS[family]
    command = ["gan", "train", "-p", f"gancore-{family}", "--data", run["data"], "--steps", str(steps),
               "--batch-size", str(run["batch"]), "--out", str(out), "--name", family, "--checkpoint-every",
               str(steps), "--sample-every", str(steps), "--log-every", "50", "--no-progress", *run.get("flags", [])]
    for key, value in run["sets"].items():
        command += ["--set", f"gancore-{family}.{key}={value}"]
    return command


def trained(family: str, out: Path, steps: int) -> Path:
    """The run's last checkpoint, training it first when it is not complete."""
    final = out / family / "checkpoints" / f"step-{steps:06d}"
    if not final.is_dir():
        command = train_command(family, out, steps)
        print("$", " ".join(command), flush=True)
        subprocess.run([str(Path(sys.executable).with_name("gan")), *command[1:]], check=True)
    return final


def l1(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean absolute difference in pixel values scaled to [0, 1] (images in [-1, 1])."""
    return float((a - b).abs().mean() / 2)


def pairwise_l1(outputs: torch.Tensor) -> float:
    """Mean L1 (0..1) over the distinct pairs of the ``k`` outputs of each input: ``(n, k, C, H, W)``."""
    _n, k = outputs.shape[:2]
    flat = outputs.flatten(2)
    distances = (flat[:, :, None] - flat[:, None]).abs().mean(-1) / 2  # (n, k, k)
    return float(distances.sum((1, 2)).mean() / (k * (k - 1)))


def same_class_l1(images: torch.Tensor, digits: torch.Tensor, per_class: int = 8) -> float:
    """The pairwise L1 between real images of the same digit (the first ``per_class`` of each)."""
    groups = [images[digits == d][:per_class] for d in range(10)]
    return sum(pairwise_l1(g[None]) for g in groups) / len(groups)


def _both(model, images, digits, unseen):
    right = (model.predict(images) == digits).float()
    return [float(right.mean()), float(right[unseen].mean())]


@torch.no_grad()
def cogan(checkpoint: Path, model) -> dict:
    from gancore_cogan import split_pairs

    generator, *_ = load_generator(Registry.discover(), checkpoint)
    generator.eval()
    z = generator.latent(500, rng=torch.Generator().manual_seed(0))
    a, b = split_pairs(generator(z))
    undone = -b
    shuffled = undone[torch.randperm(500, generator=torch.Generator().manual_seed(1))]
    la, lb, ls = model.predict(a), model.predict(undone), model.predict(shuffled)
    return {"corresponding": float((la == lb).float().mean()), "shuffled_baseline": float((la == ls).float().mean()),
            "pair_l1": l1(a, undone), "shuffled_l1": l1(a, shuffled),
            "a_digit_shares": torch.bincount(la, minlength=10).div(500).tolist()}


@torch.no_grad()
def unpaired(checkpoint: Path, model, styles: bool = False) -> dict:
    generator, *_ = load_generator(Registry.discover(), checkpoint)
    generator.eval()
    upright, digits = mnist_digits("test")
    thin, thick = to_float(upright), to_float(dilate(upright))
    unseen = unseen_by_classifier()
    torch.manual_seed(0)
    to_thick = translate(generator, thin, 1, 0)
    result = {"thin_to_thick": _both(model, to_thick, digits, unseen),
              "thick_to_thin": _both(model, translate(generator, thick, 0, 1), digits, unseen),
              "real_thin": _both(model, thin, digits, unseen), "real_thick": _both(model, thick, digits, unseen),
              "unseen": int(unseen.sum()), "to_dilation_l1": l1(to_thick, thick), "identity_l1": l1(thin, thick)}
    if styles:
        outputs = torch.stack([translate(generator, thin[:100], 1, 0) for _ in range(8)], 1)
        result["diversity_l1"] = pairwise_l1(outputs)
        result["real_same_class_l1"] = same_class_l1(thick, digits)
    return result


@torch.no_grad()
def bicyclegan(checkpoint: Path) -> dict:
    generator, *_ = load_generator(Registry.discover(), checkpoint)
    generator.eval()
    data, digits = mnist_task("mnist-edges", "test")
    source, target = to_float(data.x), to_float(data.extra["b"])
    torch.manual_seed(0)
    output = translate(generator, source, 1)
    outputs = torch.stack([translate(generator, source[:100], 1) for _ in range(8)], 1)
    return {"l1": l1(output, target), "identity_l1": l1(source, target),
            "black_l1": l1(torch.full_like(target, -1.0), target), "diversity_l1": pairwise_l1(outputs),
            "real_same_class_l1": same_class_l1(target, digits)}


def pixelda(checkpoint: Path, steps: int) -> dict:
    from gancore_pixelda.tasks import negative_task

    from gancore.nets.translation import ConvClassifier

    generator, *_ = load_generator(Registry.discover(), checkpoint)
    generator.eval()
    test, negatives, digits = negative_task("test")
    source_test, target_test = to_float(test.x), to_float(negatives)
    with torch.no_grad():
        adapted_acc = float((generator.classifier(target_test).argmax(1) == digits).float().mean())
        adapted_src = float((generator.classifier(source_test).argmax(1) == digits).float().mean())
    # The source-only baseline: the same classifier, optimizer, batch size and steps, source digits only.
    train, *_ = negative_task("train")
    run = RUNS["pixelda"]
    torch.manual_seed(0)
    baseline = ConvClassifier(1, 10, 28, run["sets"]["c_width"], norm="layer")
    optimizer = torch.optim.Adam(baseline.parameters(), lr=2e-4, betas=(0.5, 0.999))
    x, y = to_float(train.x), train.labels
    for _ in range(steps):
        rows = torch.randint(0, len(x), (run["batch"],))
        loss = torch.nn.functional.cross_entropy(baseline(x[rows]), y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    baseline.eval()
    with torch.no_grad():
        only_target = float((baseline(target_test).argmax(1) == digits).float().mean())
        only_source = float((baseline(source_test).argmax(1) == digits).float().mean())
    return {"target_accuracy": adapted_acc, "source_accuracy": adapted_src,
            "source_only_target_accuracy": only_target, "source_only_source_accuracy": only_source}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark-translation-more"))
    parser.add_argument("--families", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--steps", action="append", default=[], metavar="FAMILY=N",
                        help="Train FAMILY for N steps instead of its default (repeatable).")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, described = classifier()
    results: dict = {"classifier": described}
    wanted = {family: int(n) for family, n in (item.split("=") for item in args.steps)}
    for family in args.families:
        started = time.time()
        steps = wanted.get(family, RUNS[family]["steps"])
        checkpoint = find_checkpoint(trained(family, args.out, steps))
        step = int(json.loads((checkpoint / "meta.json").read_text())["step"])
        measured = (cogan(checkpoint, model) if family == "cogan" else
                    bicyclegan(checkpoint) if family == "bicyclegan" else
                    pixelda(checkpoint, steps) if family == "pixelda" else
                    unpaired(checkpoint, model, styles=family == "munit"))
        results[family] = {"command": " ".join(train_command(family, args.out, steps)), "step": step, **measured,
                           "seconds": round(time.time() - started, 1)}
        report({"classifier": described, family: results[family]})
    print(json.dumps(results, indent=1))


def report(results: dict) -> None:
    for family, r in results.items():
        if family == "classifier":
            continue
        head = f"{family:10s} {RUNS[family]['data']}  (step {r['step']}, {r['seconds']} s)"
        if family == "cogan":
            print(f"{head} corresponding pairs: {r['corresponding']:.1%}   shuffled-pairs baseline "
                  f"{r['shuffled_baseline']:.1%};  pair L1 |a - (-b)| {r['pair_l1']:.4f}   "
                  f"shuffled {r['shuffled_l1']:.4f}")
        elif family == "bicyclegan":
            print(f"{head} held-out L1 (0..1): {r['l1']:.4f}   identity {r['identity_l1']:.4f}   all-black "
                  f"{r['black_l1']:.4f};  diversity (pairwise L1 of 8 z) {r['diversity_l1']:.4f}   (unimodal 0; "
                  f"real same-class edges {r['real_same_class_l1']:.4f})")
        elif family == "pixelda":
            print(f"{head} target (negatives) accuracy of T: {r['target_accuracy']:.1%}   source-only classifier "
                  f"{r['source_only_target_accuracy']:.1%}   (on source digits: T {r['source_accuracy']:.1%}, "
                  f"source-only {r['source_only_source_accuracy']:.1%})")
        else:
            line = (f"{head} label preservation thin->thick {pct(r['thin_to_thick'])}   thick->thin "
                    f"{pct(r['thick_to_thin'])}   (real thick {pct(r['real_thick'])}, "
                    f"real thin {pct(r['real_thin'])}); "
                    f"L1 to the exact dilation {r['to_dilation_l1']:.4f}   identity {r['identity_l1']:.4f}")
            if "diversity_l1" in r:
                line += (f";  diversity (pairwise L1 of 8 styles) {r['diversity_l1']:.4f}   (unimodal 0; real "
                         f"same-class thick {r['real_same_class_l1']:.4f})")
            print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

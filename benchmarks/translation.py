"""Image-to-image benchmark: pix2pix, CycleGAN and StarGAN on the embedded mnist tasks.

Trains each family from the command line (the same ``gan train`` users run;
a run that already holds its final checkpoint is reused) and measures it on
the 500 held-out digits of :func:`gancore_translation.domains.mnist_task`'s ``test``
split, which no run trains on:

* pix2pix on ``mnist-edges``: mean absolute error to the ground-truth edge
  map, in pixel values scaled to [0, 1], against two baselines for scale:
  the identity (the source digit itself) and an all-black image.
* CycleGAN on ``mnist-thick``: label preservation, the share of translated
  digits that a digit classifier gives the source's label. thin -> thick
  outputs are classified as they are (the classifier's accuracy on real
  thickened digits, shown as the ceiling, says how much that costs);
  thick -> thin outputs are already in the classifier's domain.
* StarGAN on ``mnist-rotations``: every held-out digit, rotated into each
  source domain, is translated into each of the 3 other domains; the output
  is rotated back by the target's angle (mapped back to the upright look)
  and classified. Baselines: no translation (the source rotated back by the
  target's angle) and the oracle (the exact rotation: the classifier's own
  accuracy).
* StarGAN on ``mnist-styles`` (``--families stargan-styles``, StarGAN's
  local-edit task): every held-out digit, drawn in each of the 4 styles,
  translated into each of the 3 others; target-domain accuracy by a
  classifier of (style, digit) trained here on the real styled train digits
  (its held-out accuracies are printed) and digit identity by it and by the
  ``mnist`` classifier; baselines no translation and the exact edit.

The classifier is ``gancore.metrics.load_classifier("mnist")`` (trained on
its own 80% of ``mnist``): label preservation is reported on all 500
held-out digits and, in brackets, on the ~100 of them the classifier never
trained on either.

Usage::

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/translation.py --out runs/benchmark-translation

trains every family for its default steps (``RUNS``) and measures it. What
docs/results.md reports was made, for lack of CPU time, with shorter runs:
the three ``gan train`` commands of ``RUNS`` (``train_command``) started
side by side and stopped together with SIGTERM (gancore then writes a final
checkpoint) at a fixed time, followed by::

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/translation.py --out /tmp/bench6/runs \
        --latest pix2pix --latest cyclegan --latest stargan
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from gancore_translation.domains import (
    STYLES,
    dilate,
    mnist_digits,
    mnist_task,
    rotate,
    style,
)

from gancore.plugins import Registry
from gancore.run.rundir import find_checkpoint, load_generator

RUNS = {
    "pix2pix": dict(data="mnist-edges", batch=32, steps=1500, sets={"width": 32, "d_width": 32}),
    "cyclegan": dict(data="mnist-thick", batch=16, steps=1500, sets={"width": 16, "blocks": 3, "d_width": 32}),
    "stargan": dict(data="mnist-rotations", batch=16, steps=1500,
                    sets={"width": 32, "blocks": 3, "mix": 256, "d_width": 32}),
    "stargan-styles": dict(family="stargan", data="mnist-styles", batch=16, steps=1500,
                           sets={"width": 16, "blocks": 2, "d_width": 16}),
}


def train_command(name: str, out: Path, steps: int) -> list[str]:
    run = RUNS[name]
    family = run.get("family", name)
    command = ["gan", "train", "-p", f"gancore-{family}", "--data", run["data"], "--steps", str(steps),
               "--batch-size", str(run["batch"]), "--out", str(out), "--name", name, "--checkpoint-every", "250",
               "--sample-every", "250", "--log-every", "50", "--no-progress"]
    for key, value in run["sets"].items():
        command += ["--set", f"gancore-{family}.{key}={value}"]
    return command


def trained(family: str, out: Path, steps: int) -> Path:
    """The run's last checkpoint, training it first when it is not complete."""
    run = out / family
    final = run / "checkpoints" / f"step-{steps:06d}"
    if not final.is_dir():
        command = train_command(family, out, steps)
        print("$", " ".join(command), flush=True)
        gan = str(Path(sys.executable).with_name("gan"))
        subprocess.run([gan, *command[1:]], check=True)
    return final


# --- the digit classifier -------------------------------------------------------------

def classifier():
    """The evaluation classifier (``.predict(x in [-1, 1]) -> labels``) and a line describing it."""
    from gancore.metrics import load_classifier

    model = load_classifier("mnist")
    return model, (f"gancore.metrics.load_classifier('mnist'), recipe {model.recipe_hash[:12]}, "
                   f"held-out accuracy {model.accuracy:.1%}")


def unseen_by_classifier() -> torch.Tensor:
    """Which of the 500 held-out task digits the classifier never trained on either.

    The classifier holds out its own 20% of ``mnist`` (another seed), so
    most of the tasks' held-out digits are in its training set; results are
    reported on all 500 and on this subset (about 100).
    """
    from gancore_translation import domains

    from gancore import classifier

    ours = torch.randperm(5000, generator=torch.Generator().manual_seed(domains.SPLIT_SEED))[domains.TRAIN_SIZE:]
    theirs = torch.randperm(5000, generator=torch.Generator().manual_seed(classifier.SPLIT_SEED))
    held_out = set(theirs[:int(round(classifier.HELD_OUT * 5000))].tolist())
    return torch.tensor([int(i) in held_out for i in ours])


# --- measurements -----------------------------------------------------------------------

def to_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 127.5 - 1


@torch.no_grad()
def translate(generator, images: torch.Tensor, target: int, source_domain: int | None = None) -> torch.Tensor:
    return torch.cat([generator(generator.translation_latent(chunk, target, source_domain))
                      for chunk in images.split(250)])


def pix2pix(checkpoint: Path) -> dict:
    generator, *_ = load_generator(Registry.discover(), checkpoint)
    data, _ = mnist_task("mnist-edges", "test")
    source, target = to_float(data.x), to_float(data.extra["b"])
    output = translate(generator, source, 1)
    l1 = lambda a, b: float((a - b).abs().mean() / 2)  # noqa: E731  (pixel values in [0, 1])
    return {"pix2pix_l1": l1(output, target), "identity_l1": l1(source, target),
            "black_l1": l1(torch.full_like(target, -1.0), target)}


def cyclegan(checkpoint: Path, model) -> dict:
    generator, *_ = load_generator(Registry.discover(), checkpoint)
    upright, digits = mnist_digits("test")  # all 500 (the task's own test split puts half in each domain)
    thin, thick = to_float(upright), to_float(dilate(upright))
    unseen = unseen_by_classifier()

    def accuracy(images):
        right = (model.predict(images) == digits).float()
        return [float(right.mean()), float(right[unseen].mean())]

    return {"thin_to_thick": accuracy(translate(generator, thin, 1, 0)),
            "thick_to_thin": accuracy(translate(generator, thick, 0, 1)),
            "real_thin": accuracy(thin), "real_thick": accuracy(thick), "unseen": int(unseen.sum())}


def stargan(checkpoint: Path, model) -> dict:
    generator, *_ = load_generator(Registry.discover(), checkpoint)
    upright, digits = mnist_digits("test")
    unseen = unseen_by_classifier()
    kept, unchanged, pairs = [], [], 0
    for source in range(4):
        images = to_float(rotate(upright, source))
        for target in range(4):
            if target == source:
                continue
            output = translate(generator, images, target, source)
            back = rotate(output, (4 - target) % 4)
            kept.append(model.predict(back) == digits)
            unchanged.append(model.predict(rotate(images, (4 - target) % 4)) == digits)
            pairs += 1
    kept, unchanged = torch.stack(kept).float(), torch.stack(unchanged).float()
    oracle = (model.predict(to_float(upright)) == digits).float()
    both = lambda right: [float(right.mean()), float(right[..., unseen].mean())]  # noqa: E731
    return {"label_preservation": both(kept), "per_pair": [round(float(k), 3) for k in kept.mean(1)],
            "no_translation": both(unchanged), "oracle": both(oracle), "pairs": pairs, "unseen": int(unseen.sum())}


# --- StarGAN on mnist-styles: a domain classifier and digit identity ------------------

def style_classifier(epochs: int = 3, seed: int = 0):
    """A classifier of (style, digit) trained on real ``mnist-styles`` images; its held-out accuracies.

    Every digit of the tasks' ``train`` split, drawn in each of the 4 styles
    (18,000 images), labelled ``style * 10 + digit``; measured on the 500
    ``test`` digits in each style (2,000 images, none trained on). Its domain
    is the style whose 10 logits hold the most probability, its digit the
    digit whose 4 logits do. Returns ``(net, domain_accuracy, digit_accuracy)``.
    """
    from gancore.classifier import ClassifierNet

    def rendered(split):
        x, digits = mnist_digits(split)
        images = torch.cat([style(x, k) for k in range(len(STYLES))])
        domains = torch.arange(len(STYLES)).repeat_interleave(len(x))
        return to_float(images), domains, digits.repeat(len(STYLES))

    torch.manual_seed(seed)
    net = ClassifierNet((1, 28, 28), 10 * len(STYLES), (32, 64), 128)
    x, domains, digits = rendered("train")
    y = domains * 10 + digits
    optimizer = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    rng = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=rng)
        for start in range(0, len(x), 64):
            index = order[start:start + 64]
            loss = torch.nn.functional.cross_entropy(net(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    net.eval()
    x, domains, digits = rendered("test")
    found_domain, found_digit = style_predict(net, x)
    return net, float((found_domain == domains).float().mean()), float((found_digit == digits).float().mean())


@torch.no_grad()
def style_predict(net, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(domain, digit) of each image by the :func:`style_classifier` (marginals of the joint logits)."""
    logits = torch.cat([net(chunk) for chunk in images.split(500)])
    joint = logits.log_softmax(1).view(len(images), len(STYLES), 10)
    return joint.logsumexp(2).argmax(1), joint.logsumexp(1).argmax(1)


def stargan_styles(checkpoint: Path, model, judge) -> dict:
    """Every held-out digit in each source style, translated into each of the 3 other styles (12 pairs).

    Target-domain accuracy: the share of outputs the style classifier puts in
    the target style. Digit identity: the share whose digit is the source's,
    by the style classifier and by the ``mnist`` classifier (``inverted``
    outputs are inverted back for it first). Baselines: no translation (the
    source itself) and the oracle (the exact edit, :func:`style`).
    """
    generator, *_ = load_generator(Registry.discover(), checkpoint) if checkpoint is not None else (None,)
    upright, digits = mnist_digits("test")
    net = judge[0]
    rows = {"stargan": [], "no_translation": [], "oracle": []}
    for source in range(len(STYLES)):
        images = to_float(style(upright, source))
        for target in range(len(STYLES)):
            if target == source:
                continue
            outputs = {"no_translation": images, "oracle": to_float(style(upright, target))}
            if generator is not None:
                outputs["stargan"] = translate(generator, images, target, source).clamp(-1, 1)
            for name, output in outputs.items():
                domain, digit = style_predict(net, output)
                plain = -output if STYLES[target] == "inverted" else output
                rows[name].append([float((domain == target).float().mean()), float((digit == digits).float().mean()),
                                   float((model.predict(plain) == digits).float().mean())])
    out = {}
    for name, values in rows.items():
        if values:
            mean = torch.tensor(values).mean(0).tolist()
            out[name] = {"target_domain": mean[0], "digit_identity": mean[1], "digit_identity_mnist": mean[2]}
            if name == "stargan":
                out[name]["per_pair_target_domain"] = [round(v[0], 3) for v in values]
                out[name]["per_pair_digit_identity"] = [round(v[1], 3) for v in values]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark-translation"))
    parser.add_argument("--families", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--steps", action="append", default=[], metavar="FAMILY=N",
                        help="Train FAMILY for N steps instead of its default (repeatable).")
    parser.add_argument("--latest", action="append", default=[], metavar="FAMILY",
                        help="Measure FAMILY's newest checkpoint as it is, without training it further "
                             "(for a run stopped early; its step is reported).")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.time()
    model, described = classifier()
    results: dict = {"classifier": described}
    wanted = {family: int(n) for family, n in (item.split("=") for item in args.steps)}
    judge = None
    for family in args.families:
        steps = wanted.get(family, RUNS[family]["steps"])
        if family in args.latest:
            checkpoint = find_checkpoint(args.out / family)
        else:
            checkpoint = find_checkpoint(trained(family, args.out, steps))
        step = int(json.loads((checkpoint / "meta.json").read_text())["step"])
        if family == "stargan-styles":
            if judge is None:
                judge = style_classifier()
                results["style_classifier"] = {"held_out_domain": judge[1], "held_out_digit": judge[2]}
            measured = stargan_styles(checkpoint, model, judge)
        else:
            measured = (pix2pix(checkpoint) if family == "pix2pix" else
                        cyclegan(checkpoint, model) if family == "cyclegan" else stargan(checkpoint, model))
        results[family] = {"command": " ".join(train_command(family, args.out, steps)), "step": step, **measured}
    results["seconds"] = round(time.time() - started, 1)
    print(json.dumps(results, indent=1))
    report(results)


def report(results: dict) -> None:
    print(f"\nclassifier: {results['classifier']}")
    if "pix2pix" in results:
        r = results["pix2pix"]
        print(f"pix2pix   mnist-edges  (step {r['step']}) held-out mean L1 (0..1): {r['pix2pix_l1']:.4f}   "
              f"identity baseline {r['identity_l1']:.4f}   all-black baseline {r['black_l1']:.4f}")
    if "cyclegan" in results:
        r = results["cyclegan"]
        print(f"CycleGAN  mnist-thick  (step {r['step']}) label preservation: thin->thick {pct(r['thin_to_thick'])}   "
              f"thick->thin {pct(r['thick_to_thin'])}   (classifier on real thin {pct(r['real_thin'])}, "
              f"real thick {pct(r['real_thick'])}); [in brackets: the {r['unseen']} digits the classifier "
              "never saw]")
    if "stargan" in results:
        r = results["stargan"]
        print(f"StarGAN   mnist-rotations  (step {r['step']}) label preservation over {r['pairs']} domain pairs: "
              f"{pct(r['label_preservation'])}   (no translation {pct(r['no_translation'])}, "
              f"oracle rotation {pct(r['oracle'])}); [in brackets: the {r['unseen']} digits the classifier "
              "never saw]")
    if "stargan-styles" in results:
        r, c = results["stargan-styles"], results["style_classifier"]
        print(f"style classifier: held-out domain accuracy {c['held_out_domain']:.1%}, digit accuracy "
              f"{c['held_out_digit']:.1%} (500 test digits in each of {', '.join(STYLES)})")
        for name in ("stargan", "no_translation", "oracle"):
            m = r[name]
            label = f"StarGAN (step {r['step']})" if name == "stargan" else name.replace("_", " ")
            print(f"StarGAN   mnist-styles  {label:>20}: target domain {m['target_domain']:.1%}   digit identity "
                  f"{m['digit_identity']:.1%} (mnist classifier {m['digit_identity_mnist']:.1%})  over 12 pairs")


def pct(pair) -> str:
    return f"{pair[0]:.1%} [{pair[1]:.1%}]"


if __name__ == "__main__":
    main()

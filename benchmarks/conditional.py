"""Conditional and latent-code families: GAN-test accuracy and InfoGAN's code/class alignment.

    python benchmarks/conditional.py                          # everything below, 5,000 steps each
    python benchmarks/conditional.py --only cgan:digits --steps 2000
    python benchmarks/conditional.py --write docs/results.md  # also write the table there
    python benchmarks/conditional.py --only cgan:mnist --plugin gancore-diffaugment   # with an add-on

Runs (each trained through the same path as `gan train`, evaluated every
``--eval-every`` steps and at the end):

* CGAN and ACGAN on ``digits`` and ``mnist``: **GAN-test accuracy**, the
  share of samples generated for a requested label that a classifier of real
  data assigns to that label (``--per-class`` samples per class, every class).
  Beside it, the classifier-FID / floor of the same samples (GAN-test alone
  cannot see a class collapsed onto one image). For ACGAN also the share of the same samples that D's own auxiliary
  classifier assigns to the requested label (when it stays high while
  GAN-test falls, G is fooling D's classifier).
* InfoGAN on ``digits``: how well the categorical code aligns with the
  classes, as the accuracy of the best one-to-one mapping between code values
  and classes (Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``),
  measured two ways: (a) Q's predicted category on every *real* image against
  its true label (the paper's "classify MNIST with c1" measure; InfoGAN never
  saw the labels), (b) the classifier's class of samples generated for each
  code value.

The classifier is ``gancore.metrics.load_classifier(name)`` when that module
exists; otherwise (``--classifier local``, or automatically) a small CNN is
trained here on 80% of the real data and its held-out accuracy is printed,
and every number is labelled with the classifier used.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from results_file import read_section, replace_section

RUNS = {
    # (family, data) -> family options (the families' defaults otherwise). On mnist the convolutional
    # networks are half the default width (32 rather than 64) so that 5,000 steps fit on a shared CPU.
    ("cgan", "digits"): {},
    ("cgan", "mnist"): {"width": 32},
    ("acgan", "digits"): {},
    ("acgan", "mnist"): {"width": 32},
    ("infogan", "digits"): {},
}


# -- classifiers ----------------------------------------------------------------

class SmallCNN(nn.Module):
    def __init__(self, channels: int, size: int, classes: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(64 * (size // 4) ** 2, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, classes))

    def forward(self, x):
        return self.net(x)


class LocalClassifier:
    """A small CNN trained in this script on 80% of the real data (held-out accuracy in ``.test_accuracy``)."""

    label = "benchmark-local CNN"

    def __init__(self, dataset, seed: int = 0, epochs: int = 15):
        torch.manual_seed(seed)
        x = dataset.batch(torch.arange(len(dataset))).x
        y = dataset.labels
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
        cut = int(0.8 * len(x))
        train, test = order[:cut], order[cut:]
        self.model = SmallCNN(x.shape[1], x.shape[-1], dataset.spec.num_classes)
        opt = torch.optim.Adam(self.model.parameters(), 1e-3)
        for _ in range(epochs):
            self.model.train()
            for idx in train[torch.randperm(len(train))].split(64):
                xb = x[idx]
                # Small shifts so the classifier does not key on exact pixel positions.
                xb = torch.roll(xb, shifts=(int(torch.randint(-1, 2, ())), int(torch.randint(-1, 2, ()))), dims=(2, 3))
                loss = F.cross_entropy(self.model(xb), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.model.eval()
        self.test_accuracy = float((self.predict(x[test]) == y[test]).float().mean())

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.model(part).argmax(1) for part in x.split(500)])


class SharedClassifier:
    """``gancore.metrics.load_classifier(name)`` (the evaluation issue's classifier)."""

    label = "gancore.metrics classifier"

    def __init__(self, name: str):
        from gancore.classifier import load_classifier

        self.inner = load_classifier(name)
        self.test_accuracy = getattr(self.inner, "accuracy", None)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner.predict(x)
        out = torch.as_tensor(out)
        return out.argmax(1) if out.dim() == 2 else out.long()


def make_classifier(kind: str, dataset):
    if kind in ("auto", "shared"):
        try:
            return SharedClassifier(dataset.spec.name)
        except ImportError:
            if kind == "shared":
                raise
    return LocalClassifier(dataset)


# -- measures -------------------------------------------------------------------

def best_mapping_accuracy(codes: np.ndarray, labels: np.ndarray, k: int, classes: int) -> float:
    """Accuracy of the best one-to-one mapping from code values to classes."""
    from scipy.optimize import linear_sum_assignment

    counts = np.zeros((k, classes), dtype=np.int64)
    np.add.at(counts, (codes, labels), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(codes))


@torch.no_grad()
def gan_test_accuracy(generator, classifier, classes: int, per_class: int, seed: int) -> float:
    labels = torch.arange(classes).repeat_interleave(per_class)
    samples = generator(generator.latent(len(labels), labels=labels, rng=torch.Generator().manual_seed(seed)))
    return float((classifier.predict(samples) == labels).float().mean())


@torch.no_grad()
def conditional_fid_ratio(generator, classifier, classes: int, per_class: int, seed: int) -> float:
    """classifier-FID / its real-vs-real floor (``gancore.metrics.classifier_fid``) of the GAN-test samples
    (every class, equal counts): GAN-test alone cannot see samples collapsed within a class."""
    from gancore.metrics import classifier_fid

    labels = torch.arange(classes).repeat_interleave(per_class)
    samples = generator(generator.latent(len(labels), labels=labels, rng=torch.Generator().manual_seed(seed)))
    return float(classifier_fid(classifier.inner, samples)["ratio"])


@torch.no_grad()
def d_class_accuracy(generator, discriminator, classes: int, per_class: int, seed: int) -> float:
    """AC-GAN's own auxiliary classifier on the samples GAN-test scores (the same latents): the share D's
    class head assigns to the requested label. Far above GAN-test, G is fooling D's classifier with
    images that a classifier of real data does not read as the label."""
    labels = torch.arange(classes).repeat_interleave(per_class)
    samples = generator(generator.latent(len(labels), labels=labels, rng=torch.Generator().manual_seed(seed)))
    return float((discriminator(samples)[:, 1:].argmax(1) == labels).float().mean())


@torch.no_grad()
def infogan_alignment(generator, discriminator, dataset, classifier, per_class: int, seed: int) -> dict:
    k = generator.latent_codes["cat"].size
    classes = dataset.spec.num_classes
    # (a) Q's category of every real image vs. its true label.
    x = dataset.batch(torch.arange(len(dataset))).x
    q_cat = torch.cat([discriminator(part)[:, 1:1 + k].argmax(1) for part in x.split(500)])
    real = best_mapping_accuracy(q_cat.numpy(), dataset.labels.numpy(), k, classes)
    # (b) the classifier's class of samples generated for each code value.
    latent = generator.latent(k * per_class, rng=torch.Generator().manual_seed(seed))
    latent["cat"] = torch.arange(k).repeat_interleave(per_class)
    predicted = classifier.predict(generator(latent))
    generated = best_mapping_accuracy(latent["cat"].numpy(), predicted.numpy(), k, classes)
    return {"q_real": real, "generated": generated}


# -- driver ---------------------------------------------------------------------

def run_one(family: str, data: str, args, classifiers: dict) -> dict:
    from gancore.plugins import Registry
    from gancore.run.rundir import resolve
    from gancore.trainer import Trainer

    user = {"plugins": [f"gancore-{family}"], "data": data, "steps": args.steps, "seed": args.seed,
            "sample_every": 0, "checkpoint_every": 0, "log_every": 100, "name": "bench"}
    options = {**RUNS.get((family, data), {}), **dict(args.options or [])}
    if args.plugins:
        user["plugins"] += args.plugins
    if options:
        user["options"] = {f"gancore-{family}": options}
    for key in ("batch_size", "lr_g", "lr_d"):
        if getattr(args, key) is not None:
            user[key] = getattr(args, key)
    history = []
    with tempfile.TemporaryDirectory() as out:
        config, run, dataset = resolve(Registry.discover(), {**user, "out": out})
        if data not in classifiers:
            classifiers[data] = make_classifier(args.classifier, dataset)
        classifier = classifiers[data]
        trainer = Trainer(config, run, dataset, f"{out}/bench", progress=False)
        started = time.perf_counter()
        at = 0
        while at < args.steps:
            at = min(args.steps, at + args.eval_every)
            trainer.fit(until=at)
            if trainer.stopped_by:  # Ctrl-C / SIGTERM: the trainer checkpointed and returned early
                raise SystemExit(f"{family} on {data}: stopped by signal {trainer.stopped_by} at step "
                                 f"{trainer.index}; nothing recorded.")
            # The generator samples are drawn with (an add-on's, e.g. EMA's average) and D with Q.
            G, D = trainer.sampling_generator(), trainer.discriminator
            G.eval(), D.eval()
            if family == "infogan":
                value = infogan_alignment(G, D, dataset, classifier, args.per_class, args.seed + 1)
            else:
                value = {"gan_test": gan_test_accuracy(G, classifier, dataset.spec.num_classes, args.per_class,
                                                       args.seed + 1)}
                if isinstance(classifier, SharedClassifier):
                    value["fid_ratio"] = conditional_fid_ratio(G, classifier, dataset.spec.num_classes,
                                                               args.per_class, args.seed + 1)
                if family == "acgan":
                    value["d_class"] = d_class_accuracy(G, D, dataset.spec.num_classes, args.per_class,
                                                        args.seed + 1)
            G.train(), D.train()
            history.append((at, value))
            print(f"  {family} {data} step {at}: " + ", ".join(_format(k, v) for k, v in value.items()),
                  flush=True)
            if args.stop_at is not None and list(value.values())[0] >= args.stop_at:
                break
        seconds = time.perf_counter() - started
    return {"family": family, "data": data, "history": history, "seconds": seconds, "options": options,
            "plugins": list(args.plugins or []),
            "classifier": classifier}


def _format(measure: str, value: float) -> str:
    return f"{measure}={value:.2f}" if measure == "fid_ratio" else f"{measure}={100 * value:.1f}%"


HEADER = ("| family | data | options | steps | measure | final | best (step) | accuracy at each evaluation | "
          "classifier | train time | command |")


def table_rows(results: list[dict], command: str) -> list[str]:
    rows = []
    for r in results:
        last_step = r["history"][-1][0]
        for measure in r["history"][-1][1]:
            values = [(step, v[measure]) for step, v in r["history"]]
            ratio = measure == "fid_ratio"  # lower is better, printed as a ratio rather than a percentage
            best = (min if ratio else max)(values, key=lambda sv: sv[1])
            scale, unit, fmt = (1, "x", ".2f") if ratio else (100, "%", ".1f")
            clf = r["classifier"]
            clf_text = clf.label + (f" (held-out acc {100 * clf.test_accuracy:.1f}%)"
                                    if clf.test_accuracy is not None else "")
            name = {"gan_test": "GAN-test accuracy", "d_class": "D's own class head on the same samples",
                    "fid_ratio": "classifier-FID / floor of the same samples",
                    "q_real": "code/class alignment, Q on real images",
                    "generated": "code/class alignment, generated samples"}[measure]
            opts = ", ".join([f"{k}={v}" for k, v in r["options"].items()] + [f"-p {p}" for p in r["plugins"]])
            opts = opts or "defaults"
            rows.append(f"| {r['family']} | {r['data']} | {opts} | {last_step} | {name} | "
                        f"{format(scale * values[-1][1], fmt)}{unit} | "
                        f"{format(scale * best[1], fmt)}{unit} ({best[0]}) | "
                        + " ".join(format(scale * v, ".1f" if ratio else ".0f") for _, v in values)
                        + f" | {clf_text} | {r['seconds'] / 60:.1f} min | `{command}` |")
    return rows


HEADING_CONDITIONAL = "## Conditional families"


def section(rows: list[str]) -> str:
    return "\n".join([
        HEADING_CONDITIONAL, "",
        "GAN-test accuracy: the classifier's accuracy on samples generated for each requested label "
        "(every class, equal counts). InfoGAN: best one-to-one mapping accuracy between its categorical "
        "code and the classes — Q's code of the real images vs. their labels (the paper's measure), and "
        "the classifier's class of samples generated per code value. Evaluated every `--eval-every` steps "
        f"(the accuracies at each evaluation are listed in %); CPU, {torch.get_num_threads()} thread(s).", "",
        HEADER, "|" + "---|" * HEADER.count(" | ") + "---|", *rows, "", ""])


def old_rows(text: str) -> list[str]:
    """The table rows of an existing section (older ones without a command column get the section's command)."""
    command = ""
    rows = []
    for line in text.splitlines():
        if line.startswith("Command: `"):
            command = line.split("`")[1]
        elif line.startswith("| ") and not line.startswith("| family") and not line.startswith("|---"):
            if line.count(" | ") == HEADER.count(" | ") - 1:
                line = f"{line} `{command}` |"
            rows.append(line)
    return rows


def write_section(path: Path, results: list[dict], command: str) -> str:
    """Write the "## Conditional families" section, leaving the rest of the file alone.

    Rows of earlier runs are kept unless this run measured the same family on the same data again.
    """
    old = read_section(path, HEADING_CONDITIONAL)
    done = {(r["family"], r["data"]) for r in results}
    kept = [row for row in old_rows(old) if tuple(cell.strip() for cell in row.split("|")[1:3]) not in done]
    body = section(kept + table_rows(results, command))
    replace_section(path, HEADING_CONDITIONAL, body)
    return body


def parse_option(text: str):
    from gancore.plugins import parse_option_value

    key, _, value = text.partition("=")
    return key, parse_option_value(value)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", metavar="FAMILY:DATA",
                        help="Run only these (cgan:digits, acgan:mnist, infogan:digits, ...). Repeatable.")
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--per-class", type=int, default=100, help="Generated samples per class/code value.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr-g", type=float, default=None)
    parser.add_argument("--lr-d", type=float, default=None)
    parser.add_argument("--option", dest="options", action="append", type=parse_option, metavar="OPTION=VALUE",
                        help="A family option (with --only of one family).")
    parser.add_argument("--plugin", dest="plugins", action="append", metavar="ADDON",
                        help="An add-on to train with (e.g. gancore-diffaugment). Repeatable.")
    parser.add_argument("--stop-at", type=float, default=None, metavar="ACC",
                        help="End a run at the first evaluation whose (first) measure reaches ACC (0..1); the "
                             "table then shows the steps actually trained.")
    parser.add_argument("--classifier", choices=["auto", "shared", "local"], default="auto")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", type=Path, help="Write the table into this Markdown file's section.")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    runs = [tuple(item.split(":", 1)) for item in args.only] if args.only else list(RUNS)
    classifiers: dict = {}
    results = [run_one(family, data, args, classifiers) for family, data in runs]
    command = "python benchmarks/conditional.py " + " ".join(argv if argv is not None else sys.argv[1:])
    command = command.strip()
    if args.write:
        print(write_section(args.write, results, command))
    else:
        print(section(table_rows(results, command)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

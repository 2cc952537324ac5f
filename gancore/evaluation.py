"""Evaluating a generator: which metrics fit which data, and ``eval.json``.

:func:`evaluate` is what ``gan eval`` runs: it draws ``n`` samples from a
generator with a seeded latent (the same numbers every time), measures the
chosen metrics and returns them with the provenance a reader needs to
reproduce them. :func:`training_metrics` is the small, fast subset the
trainer logs every ``--eval-every`` steps.

Which feature extractor measures what:

* ``digits``, ``mnist`` (embedded): the cached classifier of
  :mod:`gancore.metrics` (fid, kid, is, modes = class histogram, accuracy =
  GAN-test for conditional generators).
* ``ring``: modes covered and high-quality share (``modes``).
* any other image data: Inception-v3 (the FID network) through torchmetrics
  and torch-fidelity, with weights read from a local safetensors file (fid,
  kid, is); nothing is ever downloaded or unpickled.
"""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from gancore import __version__
from gancore import classifier as C
from gancore import fidelity as F
from gancore import metrics as M
from gancore.data import DataSpec
from gancore.generator import samples_of
from gancore.errors import ConfigError
from gancore.files import sha256, write_text
from gancore.weights import fetched as fetched_weights, provenance as weights_provenance

METRICS = ("fid", "kid", "is", "modes", "accuracy", "pr", "dc")
#: How images reach Inception's 299x299 input, by ``--resize`` name (recorded in eval.json).
RESIZES = {"pil-bicubic": "clean-fid's resize (cleanfid.resize.make_resizer('PIL', False, 'bicubic', (299, 299))): PIL "
                          "bicubic per channel in float32, clipped; then rounded to uint8 for the network",
           "bilinear": "the network's own: torch bilinear with antialiasing to 299x299 from uint8 (torchmetrics' "
                       "NoTrainInceptionV3)"}
INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.safetensors"
INCEPTION_ENV = "GANCORE_INCEPTION_WEIGHTS"
BATCH = 500
#: Memory ``gan eval`` may hold for its samples and their features: ``-n`` is refused above it, before
#: anything is drawn (docs/reliability.md, "Limits").
EVAL_MEMORY = 8 << 30


def extractor_kind(spec: DataSpec) -> str:
    """``classifier``, ``ring`` or ``inception``: how samples of this data are measured."""
    if spec.name in C.CLASSIFIER_DATA and tuple(spec.shape) == {"digits": (1, 8, 8), "mnist": (1, 28, 28)}[spec.name]:
        return "classifier"
    if spec.name == "ring":
        return "ring"
    if spec.is_image:
        return "inception"
    raise ConfigError(f"no metrics for data {spec.name!r} of shape {spec.shape}.")


def default_metrics(spec: DataSpec, conditional: bool) -> tuple[str, ...]:
    kind = extractor_kind(spec)
    if kind == "classifier":
        return ("fid", "modes", "accuracy") if conditional else ("fid", "modes")
    if kind == "ring":
        return ("modes",)
    return ("fid",)


@torch.no_grad()
def generate(generator: torch.nn.Module, n: int, seed: int, labels: torch.Tensor | None = None,
             progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """``n`` samples on the CPU from one seeded CPU generator, drawn in batches; ``progress(done, n)``
    after each batch."""
    rng = torch.Generator().manual_seed(seed)
    was_training = generator.training
    generator.eval()
    out = []
    try:
        for start in range(0, n, BATCH):
            count = min(BATCH, n - start)
            part = None if labels is None else labels[start:start + count]
            out.append(samples_of(generator(generator.latent(count, labels=part, rng=rng))).detach().float().cpu())
            if progress is not None:
                progress(start + count, n)
    finally:
        generator.train(was_training)
    return torch.cat(out)


def check_eval_size(n: int, spec: DataSpec) -> None:
    """Refuse ``-n`` whose samples and features would not fit :data:`EVAL_MEMORY`, before drawing any."""
    per_sample = 4 * math.prod(spec.shape) + (24 << 10 if extractor_kind(spec) == "inception" else 1 << 10)
    most = max(2, EVAL_MEMORY // per_sample)
    if n > most:
        raise ConfigError(f"bad value for -n: {n} samples of shape {tuple(spec.shape)} would need "
                          f"{n * per_sample / 2 ** 30:.1f} GiB, more than gan eval's limit of "
                          f"{EVAL_MEMORY >> 30} GiB; use at most -n {most}.")


# --- Inception ------------------------------------------------------------------------------

def find_inception_weights(path: str | os.PathLike | None) -> Path:
    """The Inception weights file: ``path``, else ``$GANCORE_INCEPTION_WEIGHTS``, else the torch hub cache."""
    if path is None and os.environ.get(INCEPTION_ENV):
        path = os.environ[INCEPTION_ENV]
    if path is None:
        if fetched_weights("inception") is not None:  # `gan weights fetch inception` put it there
            return fetched_weights("inception")
        candidate = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
        if candidate.is_file():
            return candidate
        raise ConfigError(
            "Inception metrics (fid/kid/is on data other than digits, mnist and ring) need the FID Inception-v3 "
            "weights as a local safetensors file, and gancore never downloads them unasked: run `gan weights "
            "fetch inception` once (download, SHA-256 check, conversion), or get "
            "weights-inception-2015-12-05-6726825d.pth (torch-fidelity's release), convert it once with "
            "`python -c \"import torch, safetensors.torch as s; s.save_file(torch.load('IN.pth', "
            "weights_only=True), 'OUT.safetensors')\"`, then pass --inception-weights OUT.safetensors, set "
            f"${INCEPTION_ENV}, or put it at {str(candidate)!r}. Also install the extra: "
            "pip install 'gancore[inception]'.")
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--inception-weights {str(path)!r} does not exist.")
    return path


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ConfigError(f"--inception-weights {str(path)!r} is not a readable safetensors file ({exc}); "
                          "gancore does not read pickled .pth files: "
                          "convert it once (see docs/evaluation.md).") from None


class _TorchWithLoad:
    """``torch`` as torch-fidelity sees it while building the network: ``load`` returns the given state."""

    def __init__(self, state: dict[str, torch.Tensor]):
        self._state = state

    def load(self, *_args, **_kwargs) -> dict[str, torch.Tensor]:
        return self._state

    def __getattr__(self, name: str):
        return getattr(torch, name)


def inception_extractor(weights: Path) -> torch.nn.Module:
    """torchmetrics' ``NoTrainInceptionV3`` (the FID network) with weights from a safetensors file.

    torch-fidelity reads weight files with ``torch.load(..., weights_only=False)``
    (unpickling). While the network is built, that module's ``torch.load`` is
    routed to a safetensors reader, so no pickle is ever read.
    """
    state = _read_safetensors(weights)
    try:
        import torch_fidelity.feature_extractor_inceptionv3 as tf_inception
        from torchmetrics.image.fid import NoTrainInceptionV3
    except ImportError:
        raise ConfigError("Inception metrics need torch-fidelity: pip install 'gancore[inception]' "
                          "(or pip install torch-fidelity).") from None
    proxy = _TorchWithLoad(state)
    original = tf_inception.torch
    tf_inception.torch = proxy
    try:
        return NoTrainInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"], str(weights))
    except RuntimeError as exc:
        raise ConfigError(f"--inception-weights {str(weights)!r} does not hold the FID Inception-v3 weights: "
                          f"{str(exc).splitlines()[0]}") from None
    finally:
        tf_inception.torch = original


def _to_uint8_rgb(x: torch.Tensor) -> torch.Tensor:
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


@torch.no_grad()
def resize_bicubic(x: torch.Tensor, size: int = 299) -> torch.Tensor:
    """clean-fid's resize (Parmar et al. 2022, ``cleanfid.resize.make_resizer("PIL", False,
    "bicubic", ...)``): each channel of each ``uint8`` RGB image as a float32 PIL image, bicubic to
    ``size`` x ``size``, clipped to [0, 255]; rounded back to ``uint8`` here, the input type the FID
    network takes."""
    import numpy as np

    if tuple(x.shape[-2:]) == (size, size):
        return x
    try:
        from cleanfid.resize import make_resizer
    except ImportError:
        raise ConfigError("--resize pil-bicubic uses clean-fid's resize: pip install 'gancore[inception]' (or pip "
                          "install clean-fid), or pass --resize bilinear.") from None
    resize = make_resizer("PIL", False, "bicubic", (size, size))
    out = np.stack([resize(image) for image in x.permute(0, 2, 3, 1).numpy()])  # (N, size, size, 3) float32
    return torch.from_numpy(np.rint(out).astype(np.uint8)).permute(0, 3, 1, 2).contiguous()


def inception_outputs(net: torch.nn.Module, x, batch: int = 50,
                      progress: Callable[[int, int], None] | None = None,
                      resize: str = "pil-bicubic") -> tuple[torch.Tensor, torch.Tensor]:
    """Pool features ``(N, 2048)`` and class probabilities ``(N, 1008)`` of images in ``[-1, 1]``.

    :param x: a tensor, or a :class:`gancore.data.stream.StreamingDataset`, read
        ``batch`` images at a time so that it is never held whole.
    :param resize: ``pil-bicubic`` (:func:`resize_bicubic`) or ``bilinear`` (the network's own).
    """
    from gancore.data.stream import StreamingDataset

    chunks = (x.images(batch) if isinstance(x, StreamingDataset)
              else (x[start:start + batch] for start in range(0, len(x), batch)))
    features, probs = [], []
    done, total = 0, len(x)
    for chunk in chunks:
        images = _to_uint8_rgb(chunk)
        pool, logits = net._torch_fidelity_forward(resize_bicubic(images) if resize == "pil-bicubic" else images)
        features.append(pool.double())
        probs.append(torch.softmax(logits.double(), dim=1))
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    return torch.cat(features), torch.cat(probs)


# --- evaluate ---------------------------------------------------------------------------------

def _versions(meta: Mapping[str, Any]) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {"gancore": __version__, "gancore_at_training": meta.get("gancore_version"),
            "plugins_at_training": meta.get("plugins", {}), "torch": torch.__version__,
            "torchmetrics": installed("torchmetrics"), "torch_fidelity": installed("torch-fidelity"),
            "python": platform.python_version()}


def evaluate(generator: torch.nn.Module, spec: DataSpec, metrics: tuple[str, ...] | None = None, n: int = 10_000,
             seed: int = 0, inception_weights: str | None = None, real: Callable[[], Any] | None = None,
             log: Callable[[str], None] | None = None, real_name: str | None = None,
             resize: str = "pil-bicubic") -> dict[str, Any]:
    """Measure ``metrics`` of ``generator`` on ``n`` seeded samples.

    :param real: a function returning the real data to compare with: images in ``[-1, 1]`` (or a
        streamed data set of them), or vectors. Needed for Inception metrics, ``pr``, ``dc`` and
        ``ring``; on ``digits``/``mnist`` the classifier's training split is used unless ``real_name``.
    :param real_name: the chosen real set (``gan eval --real``): it replaces the default one, also
        on ``digits``/``mnist`` (FID and KID then have no floor: there is no held-out split of it).
    :param resize: how images reach Inception's 299x299: ``pil-bicubic`` (clean-fid's resize,
        the default) or ``bilinear`` (the network's own, torch-fidelity's).
    :return: ``{"results": {metric: {...}}, "provenance": {...}}``; every
        result holds its value(s) and the extractor, sample counts and split
        it was measured with.
    """
    if n < 2:
        raise ConfigError(f"bad value for -n: at least 2 samples are needed, got {n}.")
    check_eval_size(n, spec)
    conditional = bool(getattr(generator, "conditional", False))
    metrics = tuple(dict.fromkeys(metrics or default_metrics(spec, conditional)))
    for metric in metrics:
        if metric not in METRICS:
            raise ConfigError(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}.")
    if resize not in RESIZES:
        raise ConfigError(f"unknown --resize {resize!r}: use one of {', '.join(RESIZES)}.")
    kind = extractor_kind(spec)
    if "accuracy" in metrics and not conditional:
        raise ConfigError("--metric accuracy (GAN-test) needs a conditional generator, which can be asked for a label.")
    if "accuracy" in metrics and kind != "classifier":
        raise ConfigError(f"--metric accuracy needs a classifier for the data; there is none for {spec.name!r}.")
    if kind == "ring" and set(metrics) - {"modes", "pr", "dc"}:
        raise ConfigError("ring data has only the modes metric (modes covered, high-quality share), "
                          "and pr and dc on the points themselves.")
    if kind == "inception" and "modes" in metrics:
        raise ConfigError(f"--metric modes needs a classifier or the ring; {spec.name!r} has neither.")

    results: dict[str, Any] = {}
    provenance: dict[str, Any] = {"data": spec.name, "shape": list(spec.shape), "n_fake": n, "seed": seed,
                                  "latent": f"generator.latent(n, rng=torch.Generator().manual_seed({seed})), "
                                            f"batches of {BATCH}"}
    if real_name is not None:
        provenance["real"] = real_name
    samples = generate(generator, n, seed, progress=progress_lines(log, "Generating samples"))
    fake_features = real_features = None
    real_label = "the data set" if real_name is None else f"--real {real_name}"
    if kind == "ring":
        results["modes"] = {**M.ring_modes_metrics(samples), "n_fake": n, "extractor": "ring modes (8, 3 std)"}
        provenance["extractor"] = {"name": "ring-modes", "modes": 8, "pr_dc_features": "the points themselves"}
        if {"pr", "dc"} & set(metrics):
            fake_features, real_features = samples.flatten(1).double(), _real_set(real).flatten(1).double()
        if "modes" not in metrics:
            del results["modes"]
    elif kind == "classifier":
        clf = C.load_classifier(spec.name, log=log)
        provenance["extractor"] = clf.describe()
        features = clf.features(samples)
        fake_features = features
        common = {"extractor": f"classifier-{spec.name}@{clf.recipe_hash}", "n_fake": n}
        split = C.real_split(spec.name)
        if real_name is None:
            real_x, real_label = split["train_x"], f"train split of {spec.name} (split seed {C.SPLIT_SEED})"
        else:
            real_x = _real_set(real)
            if tuple(real_x.shape[1:]) != tuple(spec.shape):
                raise ConfigError(f"--real {real_name}: images of shape {tuple(real_x.shape[1:])}; the {spec.name} "
                                  f"classifier measures {tuple(spec.shape)} (give images of that size and channels).")
        if {"fid", "kid", "pr", "dc"} & set(metrics):
            real_features = clf.features(real_x)
        if "fid" in metrics and real_name is None:
            ref = M.reference_stats(clf)
            fid = M.frechet_distance(*M.gaussian_stats(features), ref["mu"], ref["sigma"])
            results["fid"] = {"fid": fid, "floor": ref["floor"], "ratio": fid / ref["floor"], **common,
                              "n_real": ref["n_real"], "n_floor": ref["n_floor"],
                              "real_split": f"train ({ref['n_real']} of {spec.name}, split seed {C.SPLIT_SEED}); "
                                            f"floor: held-out ({ref['n_floor']}) vs train"}
        elif "fid" in metrics:
            results["fid"] = {"fid": M.fid_from_features(features, real_features), **common,
                              "n_real": len(real_features), "real_split": real_label}
        if "kid" in metrics:
            mean, std = M.kernel_distance(features, real_features, seed=seed)
            results["kid"] = {"kid": mean, "kid_std": std, **common, "n_real": len(real_features),
                              "subsets": 100, "subset_size": min(1000, n, len(real_features)), "real_split": real_label}
            if real_name is None:
                results["kid"]["floor"], _ = M.kernel_distance(clf.features(split["test_x"]), real_features, seed=seed)
                results["kid"]["real_split"] = "train; floor: held-out vs train"
        if "is" in metrics:
            mean, std = M.inception_score(torch.softmax(clf.logits(samples).double(), 1), splits=10)
            real_is, _ = M.inception_score(torch.softmax(clf.logits(split["test_x"]).double(), 1), splits=1)
            results["is"] = {"is": mean, "is_std": std, "splits": 10, "real_held_out": real_is, **common}
        if "modes" in metrics:
            results["modes"] = {**M.class_histogram(clf.predict(samples), spec.num_classes or 10),
                                "num_classes": spec.num_classes or 10, **common}
        if "accuracy" in metrics:
            labels = torch.arange(n) % generator.num_classes
            predicted = clf.predict(generate(generator, n, seed, labels=labels,
                                             progress=progress_lines(log, "Generating labelled samples")))
            results["accuracy"] = {"accuracy": M.gan_test_accuracy(predicted, labels),
                                   "classifier_test_accuracy": clf.accuracy, **common,
                                   "labels": f"arange(n) % {generator.num_classes}"}
    else:
        weights = find_inception_weights(inception_weights)
        net = inception_extractor(weights)
        if real is None:
            raise ConfigError("Inception metrics need the real data of the run.")
        real_x = real()
        fake_features, fake_probs = inception_outputs(net, samples, resize=resize,
                                                      progress=progress_lines(log, "Inception features of the samples"))
        provenance["extractor"] = {"name": "inception-v3-compat (torch-fidelity via torchmetrics)",
                                   "weights": str(weights), "weights_sha256": sha256(weights),
                                   "weights_source": weights_provenance(weights),
                                   "features": "pool3 (2048)", "resize": RESIZES[resize]}
        common = {"extractor": "inception-v3-compat", "n_fake": n}
        if real_name is None:
            real_label = "all training images"
        if {"fid", "kid"} & set(metrics):
            real_features, _ = inception_outputs(net, real_x, resize=resize,
                                                 progress=progress_lines(log, "Inception features of the data"))
            if "fid" in metrics:
                results["fid"] = {"fid": M.fid_from_features(fake_features, real_features), **common,
                                  "n_real": len(real_x), "real_split": real_label}
            if "kid" in metrics:
                mean, std = M.kernel_distance(fake_features, real_features, seed=seed)
                results["kid"] = {"kid": mean, "kid_std": std, **common, "n_real": len(real_x),
                                  "subsets": 100, "subset_size": min(1000, n, len(real_x)), "real_split": real_label}
        elif {"pr", "dc"} & set(metrics):
            # Only the seeded subset the k-NN metrics compare with goes through the network.
            if isinstance(real_x, torch.Tensor):
                provenance["n_real_available"] = len(real_x)
                real_x = F.subset(real_x, n, seed)
            real_features, _ = inception_outputs(net, real_x, resize=resize,
                                                 progress=progress_lines(log, "Inception features of the data"))
        if "is" in metrics:
            mean, std = M.inception_score(fake_probs, splits=10)
            results["is"] = {"is": mean, "is_std": std, "splits": 10, **common}
    if {"pr", "dc"} & set(metrics):
        available = provenance.pop("n_real_available", len(real_features))
        chosen = F.subset(real_features, n, seed)
        base = {"extractor": (provenance["extractor"].get("name") if kind != "classifier"
                              else f"classifier-{spec.name}@{provenance['extractor'].get('recipe_hash')}"),
                "n_fake": n, "n_real": len(chosen), "n_real_available": available, "real_split": real_label}
        if len(chosen) < available:
            base["real_subset"] = f"torch.randperm(N, generator=torch.Generator().manual_seed({seed}))[:{n}]"
        if "pr" in metrics:
            results["pr"] = {**F.precision_recall(fake_features, chosen), **base}
        if "dc" in metrics:
            results["dc"] = {**F.density_coverage(fake_features, chosen), **base}
    return {"metrics": list(metrics), "results": results, "provenance": provenance}


def _real_set(real: Callable[[], Any] | None) -> torch.Tensor:
    """The real set as one tensor (a streamed folder is read whole: the k-NN metrics compare all of it)."""
    from gancore.data.stream import StreamingDataset

    if real is None:
        raise ConfigError("this metric needs the real data of the run.")
    x = real()
    if isinstance(x, StreamingDataset):
        x = torch.cat(list(x.images(BATCH)))
    return x.float()


def real_set(source: str, spec: DataSpec) -> Any:
    """``gan eval --real SOURCE``: a data set name or a folder of images, read as ``gan train --data``
    reads it, at the generator's image size; images in ``[-1, 1]`` (or the streamed set), or vectors."""
    from gancore.data import load_data
    from gancore.data.stream import StreamingDataset
    from gancore.installed import installed_data

    dataset = load_data(source, None, False, spec.image_size if spec.is_image else None, "auto", "auto",
                        readers=installed_data)
    if dataset.spec.is_image != spec.is_image or (not spec.is_image and dataset.spec.shape != spec.shape):
        raise ConfigError(f"--real {source}: its samples have shape {tuple(dataset.spec.shape)}, the generator's "
                          f"{tuple(spec.shape)}: compare images with images, vectors with vectors of the same size.")
    if isinstance(dataset, StreamingDataset):
        return dataset
    return dataset.x.float().div(127.5).sub(1.0) if dataset.x.dtype == torch.uint8 else dataset.x


def real_images(config) -> Any:
    """A run's training data (``config``'s data settings) as FID's real set: images in ``[-1, 1]``,
    or the streamed data set itself (too large to hold decoded: :func:`inception_outputs` reads it
    batch by batch). Plugin-registered data sets and layouts are read as ``gan train`` reads them."""
    from gancore.data import load_data
    from gancore.data.stream import StreamingDataset
    from gancore.installed import installed_data

    dataset = load_data(config.data, config.data_root, False, config.image_size, config.layout,
                        config.data_mode, readers=installed_data)
    if isinstance(dataset, StreamingDataset):
        return dataset
    return dataset.x.float().div(127.5).sub(1.0) if dataset.x.dtype == torch.uint8 else dataset.x


def evaluate_checkpoint(registry, path: str | os.PathLike, metrics: tuple[str, ...] | None = None, n: int = 10_000,
                        seed: int = 0, inception_weights: str | None = None,
                        log: Callable[[str], None] | None = None,
                        trained_weights: bool = False, real: str | None = None,
                        resize: str = "pil-bicubic") -> tuple[dict[str, Any], Path]:
    """Evaluate a run's newest checkpoint (or the given one); returns the record and the run directory.

    The generator measured is the one an active plugin offers for sampling (EMA weights), unless
    ``trained_weights`` or none offers one; the record's ``provenance.generator`` names it
    (``"ema"``, or ``"trained"``). ``real``: a data set name or image folder to compare with
    instead of the run's data (:func:`real_set`)."""
    from gancore.run.rundir import load_sampler

    generator, spec, config, checkpoint, source = load_sampler(registry, path, trained_weights=trained_weights,
                                                               log=log)

    def real_data():
        return real_images(config) if real is None else real_set(real, spec)

    record = evaluate(generator, spec, metrics, n, seed, inception_weights, real_data, log, real_name=real,
                      resize=resize)
    record["provenance"].update({"checkpoint": str(checkpoint.path), "step": checkpoint.step,
                                 "family": checkpoint.meta.get("family"),
                                 "regularizers": checkpoint.meta.get("regularizers", {}),
                                 "plugins": list(config.plugins),
                                 # "trained", or the plugin that offered the generator sampled ("ema")
                                 "generator": source,
                                 "generator_class": type(generator).__name__,
                                 "versions": _versions(checkpoint.meta)})
    run_dir = checkpoint.path.parent.parent if checkpoint.path.parent.name == "checkpoints" else checkpoint.path
    return record, run_dir


def write_eval(record: Mapping[str, Any], path: Path) -> Path:
    """Write ``eval.json`` atomically, never through a link (:mod:`gancore.files`)."""
    try:
        write_text(path, json.dumps(record, indent=1, sort_keys=True, allow_nan=True))
    except OSError as exc:
        raise ConfigError(f"cannot write {str(path)!r}: {exc.strerror}.") from None
    return path


def progress_lines(log: Callable[[str], None] | None, what: str,
                   every: float = 2.0) -> Callable[[int, int], None] | None:
    """A ``progress(done, total)`` that tells ``log`` how far ``what`` is, at most every ``every``
    seconds and at the end; silent for work of one batch."""
    import time

    if log is None:
        return None
    last = [time.monotonic()]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if total > BATCH and (done == total or now - last[0] >= every):
            last[0] = now
            log(f"{what}: {done}/{total} ({100 * done // total}%)")

    return progress


def table_rows(record: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(metric, value, details)`` rows for a printed table or a report."""
    rows = []
    for metric, result in record["results"].items():
        if metric == "fid":
            value = f"{result['fid']:.3f}"
            ratio = f" ({result['fid'] / result['floor']:.2f}x)" if result.get("floor") else ""
            detail = (f"floor {result['floor']:.3f}{ratio}" if "floor" in result
                      else "") + f"  n_fake={result['n_fake']} n_real={result['n_real']}"
        elif metric == "kid":
            value = f"{result['kid']:.5f} ± {result['kid_std']:.5f}"
            detail = (f"floor {result['floor']:.5f}  " if "floor" in result else "") + f"n_fake={result['n_fake']}"
        elif metric == "is":
            value = f"{result['is']:.3f} ± {result['is_std']:.3f}"
            detail = f"real held-out {result['real_held_out']:.3f}" if "real_held_out" in result else ""
        elif metric == "modes" and "classes_covered" in result:
            value = f"{result['classes_covered']}/{result['num_classes']} classes"
            detail = f"KL to uniform {result['kl_uniform']:.4f} nats; counts {result['counts']}"
        elif metric == "modes":
            value = f"{result['modes']}/8 modes"
            detail = f"high quality {100 * result['high_quality']:.1f}%; median {result['median_distance_std']:.1f} std"
        elif metric == "pr":
            value = f"precision {result['precision']:.3f}, recall {result['recall']:.3f}"
            detail = f"k={result['k']}  n_fake={result['n_fake']} n_real={result['n_real']}"
        elif metric == "dc":
            value = f"density {result['density']:.3f}, coverage {result['coverage']:.3f}"
            detail = f"k={result['k']}  n_fake={result['n_fake']} n_real={result['n_real']}"
        else:
            value = f"{100 * result['accuracy']:.1f}%"
            detail = f"classifier test accuracy {100 * result['classifier_test_accuracy']:.1f}%"
        rows.append((metric, value, detail.strip()))
    return rows


def format_table(record: Mapping[str, Any]) -> str:
    rows = [("metric", "value", "details")] + table_rows(record)
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(f"{m:<{widths[0]}}  {v:<{widths[1]}}  {d}".rstrip() for m, v, d in rows)


# --- during training -------------------------------------------------------------------------------

def training_metrics(generator: torch.nn.Module, spec: DataSpec, n: int, seed: int) -> dict[str, float]:
    """Quick figures for ``metrics.jsonl`` every ``--eval-every`` steps.

    Classifier data: ``eval/fid``, ``eval/fid_floor``, ``eval/classes_covered``;
    ring: ``eval/modes``, ``eval/high_quality``; other data: nothing (Inception
    is too slow to run inside training on a CPU; use ``gan eval``).
    """
    kind = extractor_kind(spec) if spec.is_image or spec.name == "ring" else None
    if kind == "ring":
        found = M.ring_modes_metrics(generate(generator, n, seed))
        return {"eval/modes": found["modes"], "eval/high_quality": found["high_quality"]}
    if kind == "classifier":
        clf = C.load_classifier(spec.name)
        samples = generate(generator, n, seed)
        fid = M.classifier_fid(clf, samples)
        covered = M.class_histogram(clf.predict(samples), spec.num_classes or 10)["classes_covered"]
        return {"eval/fid": fid["fid"], "eval/fid_floor": fid["floor"], "eval/classes_covered": covered}
    return {}


__all__ = ["METRICS", "evaluate", "evaluate_checkpoint", "format_table", "table_rows", "training_metrics",
           "write_eval", "inception_extractor", "find_inception_weights", "generate"]

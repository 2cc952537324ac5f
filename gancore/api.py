"""gancore from Python: train a run, load a trained generator and draw samples.

``gancore.train(...)`` trains as ``gan train`` does, with the same settings as keyword arguments
(the names of :class:`gancore.config.TrainConfig`'s fields), and returns the finished run::

    run = gancore.train("gancore-wgan", regularizers={"gp": 10}, data="ring", steps=200)
    x = run.load().sample(256, seed=0)

``gancore.load(path)`` takes a run directory (its newest intact checkpoint), a
checkpoint directory or an exported bundle (``gan export``) and returns a
:class:`LoadedGenerator`, ready to sample::

    import gancore

    g = gancore.load("runs/gancore-dcgan-digits-...")
    x = g.sample(16, seed=0)            # (16, 1, 8, 8) float tensor in [-1, 1]
    x = g.sample(10, labels=range(10))   # conditional families: one per class
    g.save_grid(x, "grid.png")

Run and checkpoint directories load through :func:`gancore.run.rundir.load_generator`
(what ``gan sample`` uses: the sampling weights an add-on such as ``ema``
offers), bundles through :func:`gancore.bundle.read_bundle`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import attrs
import torch

from gancore import bundle as B
from gancore.config import TrainConfig
from gancore.data import DataSpec
from gancore.errors import ConfigError
from gancore.generator import map_latent, samples_of, truncated


@attrs.define
class LoadedGenerator:
    """A generator with what it was trained on, ready to sample.

    :param module: the generator (an ``nn.Module`` in eval mode) — use it directly for
        anything :meth:`sample` does not cover.
    :param spec: the data it was trained on (sample shape, classes).
    :param config: the run's configuration.
    :param step: the training step of its weights.
    :param source: the folder it was loaded from (a checkpoint or a bundle).
    """

    module: torch.nn.Module
    spec: DataSpec
    config: TrainConfig
    step: int
    source: Path
    family: str

    @property
    def conditional(self) -> bool:
        return bool(getattr(self.module, "conditional", False))

    @property
    def num_classes(self) -> int:
        return int(getattr(self.module, "num_classes", 0) or 0)

    @property
    def device(self) -> torch.device:
        for tensor in self.module.parameters():
            return tensor.device
        return torch.device("cpu")

    def _labels(self, n: int, labels: Any) -> torch.Tensor | None:
        if labels is None:
            return None
        if not self.conditional:
            raise ConfigError(f"labels need a conditional generator; this {self.family} one is not.")
        if isinstance(labels, (int, str)):
            labels = [labels] * n
        values = []
        for label in (labels.tolist() if isinstance(labels, torch.Tensor) else list(labels)):
            if isinstance(label, str):
                if label not in self.spec.class_names:
                    raise ConfigError(f"label {label!r} is not a class name of {self.spec.name!r}"
                                      + (f": use one of {', '.join(self.spec.class_names)}."
                                         if self.spec.class_names else " (it has none: use 0..."
                                         f"{self.num_classes - 1})."))
                label = self.spec.class_names.index(label)
            if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < self.num_classes:
                raise ConfigError(f"label {label!r} is not a class: use 0..{self.num_classes - 1}.")
            values.append(label)
        if len(values) != n:
            raise ConfigError(f"{len(values)} labels for {n} samples: give one label, or one per sample.")
        return torch.tensor(values, dtype=torch.int64)

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, labels: int | str | Iterable | torch.Tensor | None = None,
               batch_size: int = 500, truncation: float | None = None) -> torch.Tensor:
        """``n`` samples as one CPU tensor (images ``(n, C, H, W)`` in ``[-1, 1]``, vectors ``(n, D)``).

        :param seed: seed of the latent draw (the same seed gives the same samples, on the CPU);
            ``None`` draws from torch's global random state.
        :param labels: for conditional generators: one class (index or name) for all samples,
            or one per sample; ``None`` draws them uniformly.
        :param batch_size: samples per forward pass; the latent is drawn once for all ``n``, so it
            changes the samples only by floating-point rounding.
        :param truncation: the truncation trick's ``psi`` (1 = none), for generators that define
            ``forward_truncated`` (:mod:`gancore.generator`); others refuse it.
        """
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"sample(n): n must be a positive int, got {n!r}.")
        if getattr(self.module, "translates", False):
            raise ConfigError("this generator translates images, it does not draw from noise: use "
                              "`gan translate` (or call .module with a batch).")
        forward = truncated(self.module, truncation, self.family)
        wanted = self._labels(n, labels)
        rng = None if seed is None else torch.Generator().manual_seed(seed)
        # One draw of the whole latent, then forward passes over slices of it: the samples do not
        # depend on batch_size.
        latent = self.module.latent(n, labels=wanted, rng=rng)
        out = [samples_of(forward(map_latent(latent, lambda t, a=start: t[a:a + batch_size]))).detach().float().cpu()
               for start in range(0, n, batch_size)]
        return torch.cat(out)

    def save_grid(self, samples: torch.Tensor, path: str | os.PathLike, nrow: int | None = None) -> Path:
        """Write ``samples`` as one PNG grid (images) or density picture (2-D points), as ``gan sample`` does."""
        import torchvision.utils as vutils

        from gancore.data import samples_to_image

        path = Path(path)
        vutils.save_image(samples_to_image(samples, self.spec, nrow=nrow), str(path))
        return path

    def fidelity(self, n: int = 10_000, seed: int = 0, inception_weights: str | None = None,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Precision/recall (k=3) and density/coverage (k=5) of ``n`` seeded samples against the
        run's real data, on FID's features: ``gan eval -m pr -m dc``'s numbers, as one flat
        ``results`` dict (``precision``, ``recall``, ``f_score``, ``density``, ``coverage``,
        ``precision_k``, ``density_k``) and the provenance."""
        from gancore.evaluation import evaluate as measure, real_images

        record = measure(self.module, self.spec, ("pr", "dc"), n, seed, inception_weights,
                         lambda: real_images(self.config), log)
        pr, dc = record["results"]["pr"], record["results"]["dc"]
        provenance = {**record["provenance"], **{key: pr[key] for key in
                                                 ("n_real", "n_real_available", "real_subset", "real_split")
                                                 if key in pr}}
        return {"results": {"precision": pr["precision"], "recall": pr["recall"], "f_score": pr["f_score"],
                            "density": dc["density"], "coverage": dc["coverage"], "precision_k": pr["k"],
                            "density_k": dc["k"]}, "provenance": provenance}

    def to(self, device: str | torch.device) -> "LoadedGenerator":
        """Move the generator to ``device`` (``sample`` still returns CPU tensors)."""
        self.module.to(device)
        return self


def load(path: str | os.PathLike, device: str = "cpu", trained_weights: bool = False, registry=None,
         log: Callable[[str], None] | None = None) -> LoadedGenerator:
    """Load a generator from a run directory, a checkpoint directory or an exported bundle.

    :param device: where to put it (``cpu``, ``cuda``, ``cuda:1``).
    :param trained_weights: for runs and checkpoints, the trained weights even when an add-on
        (``ema``) offers others to sample with; a bundle holds the one set it was exported with.
    :param registry: the plugin registry (default: the installed plugins); the plugins the run
        used must be installed.
    :param log: receives notes such as a damaged newest checkpoint skipped.
    :raises gancore.errors.GanError: a missing, damaged or foreign folder, with what to do.
    """
    from gancore.plugins import Registry
    from gancore.run.rundir import check_device, load_generator

    registry = registry or Registry.discover()
    path = Path(path)
    if path.exists() and not path.is_dir():  # a missing folder: load_generator says what it looked for
        raise ConfigError(f"{str(path)!r} is not a folder: give a run directory, a checkpoint directory or an "
                          "exported bundle (gan export).")
    if B.is_bundle(path):
        check_device(device)
        if trained_weights:
            raise ConfigError("trained_weights applies to runs and checkpoints; a bundle holds the weights it was "
                              "exported with.")
        module, info = B.read_bundle(registry, path, device)
        return LoadedGenerator(module, info.spec, info.config, info.step, path, info.family)
    module, spec, config, checkpoint = load_generator(registry, path, device, trained_weights, log=log)
    return LoadedGenerator(module, spec, config, checkpoint.step, checkpoint.path,
                           str(checkpoint.meta.get("family", config.plugins[0])))


def evaluate(path: str | os.PathLike, metrics: Sequence[str] | None = None, *, n: int = 10_000, seed: int = 0,
             real: str | os.PathLike | None = None, inception_weights: str | os.PathLike | None = None,
             resize: str = "pil-bicubic", trained_weights: bool = False, output: str | os.PathLike | None = None,
             registry=None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure a run (its newest intact checkpoint) or a checkpoint as ``gan eval`` does, with the
    same numbers for the same arguments, and return the ``eval.json`` record.

    :param metrics: any of ``fid``, ``kid``, ``is``, ``modes``, ``accuracy``, ``pr``
        (precision/recall, k=3), ``dc`` (density/coverage, k=5); ``None``: the data's defaults.
    :param n: generated samples; :param seed: the latent draw's seed.
    :param real: compare with this data set name or folder of images instead of the run's data
        (``gan eval --real``).
    :param inception_weights: the FID Inception weights file (else found as ``gan eval`` finds it).
    :param resize: ``pil-bicubic`` (clean-fid's, default) or ``bilinear``: how images reach 299x299.
    :param trained_weights: the trained weights even when an add-on (``ema``) offers others.
    :param output: also write the record there (``gan eval -o``); by default nothing is written.
    :return: ``{"metrics", "results": {metric: {...}}, "provenance": {...}}``.
    :raises gancore.errors.GanError: a missing run, a metric the data has no extractor for,
        missing Inception weights, with what to do.
    """
    from gancore.evaluation import evaluate_checkpoint, write_eval
    from gancore.plugins import Registry

    record, _run = evaluate_checkpoint(registry or Registry.discover(), path, tuple(metrics) if metrics else None, n,
                                       seed, None if inception_weights is None else str(inception_weights), log=log,
                                       trained_weights=trained_weights, real=None if real is None else str(real),
                                       resize=resize)
    if output is not None:
        write_eval(record, Path(output))
    return record


__all__ = ["FinishedRun", "LoadedGenerator", "evaluate", "load", "train"]


@attrs.frozen
class FinishedRun:
    """What :func:`train` returns: the run directory and how the run ended.

    :param path: the run directory (``config.toml``, ``metrics.jsonl``, checkpoints).
    :param config: the resolved configuration it trained with.
    :param step: the steps trained.
    :param stopped_by: the signal that stopped it early (it checkpointed first), else ``None``.
    """

    path: Path
    config: TrainConfig
    step: int
    stopped_by: int | None = None

    def load(self, device: str = "cpu", trained_weights: bool = False) -> LoadedGenerator:
        """The run's generator from its newest checkpoint (see :func:`load`)."""
        return load(self.path, device=device, trained_weights=trained_weights)


def train(plugin: str | Sequence[str], *, regularizers: Mapping[str, float | None] | None = None,
          options: Mapping[str, Mapping[str, Any]] | None = None, resume: str | os.PathLike | None = None,
          progress: bool = False, quiet: bool = True, registry=None, log_with: Sequence[str] | None = None,
          **settings: Any) -> FinishedRun:
    """Train a run as ``gan train`` does and return it when it ends.

    :param plugin: the family, or the family and add-ons (``["gancore-dcgan", "gancore-diffaugment"]``).
    :param regularizers: name -> weight (``None``: the regularizer's default weight); ``{}`` is
        ``-r none``; left out, the family's defaults.
    :param options: plugin -> option -> value (``--set PLUGIN.OPTION=VALUE``).
    :param resume: continue this run directory (or checkpoint directory) instead.
    :param settings: any other ``gan train`` setting by its configuration name (``data="ring"``,
        ``steps=200``, ``batch_size=32``, ``out="runs"``, ``name=...``); an unknown name is a
        :class:`gancore.errors.ConfigError`.
    :param quiet: print nothing (``False``: the lines ``gan train`` prints).
    :param log_with: experiment trackers, as ``gan train --log-with`` (``["tensorboard", "mlflow"]``);
        a resumed run given none continues those it logged to.
    """
    from gancore.run.launch import train_run

    user: dict[str, Any] = {"plugins": [plugin] if isinstance(plugin, str) else list(plugin), **settings}
    if regularizers is not None:
        user["regularizers"] = dict(regularizers)
    if options is not None:
        user["options"] = {name: dict(table) for name, table in options.items()}
    echo = (lambda *args, **kwargs: None) if quiet else None
    trainer = train_run(user, progress, None if resume is None else str(resume), settings.get("out"),
                        registry=registry, log_with=log_with, **({"echo": echo} if echo else {}))
    return FinishedRun(trainer.run_dir, trainer.config, trainer.index, trainer.stopped_by)

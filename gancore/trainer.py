"""The training loop: one loop for every family, on HuggingFace Accelerate.

A step runs the rows of its phase table (:func:`gancore.step.phase_table`): D main
``n_critic`` times, each on a fresh real batch, with D reg on the updates its lazy
interval picks, then G main and G reg. Each update is "family loss + regularizer
terms, one backward, one optimizer step" per pass, then the post_step hooks.
Everything a family does differently enters through the hooks in :mod:`gancore.hookspecs`.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from gancore import __version__
from gancore.checkpoint import Checkpoint, load_weights, module_tensors, rng_state, save_checkpoint, set_rng_state
from gancore.config import TrainConfig
from gancore.data import Dataset, Sampler, samples_to_image
from gancore.errors import ConfigError, PluginError, TrainingError
from gancore.files import append_text, atomic_write, make_dir
from gancore.generator import build_within_limits, check_generator, samples_of
from gancore.growth import Growth
from gancore.guard import NanGuard, StopSignals
from gancore.hookspecs import DOUBLE_BACKWARD, FRESH_FAKES, LAZY_EVERY, SEPARATE_BATCHES
from gancore.losses import loss_scaling
from gancore.plugins import Run
from gancore.step import Phase, Step, Update, lazy_ratio, loss_terms, phase_table, require_graph, schedule
from gancore.trackers import Trackers
from gancore.data.stream import Batches, StreamingDataset


def ddp_kwargs():
    """Accelerate's DDP settings: buffers are not synced on every forward.

    A BatchNorm discriminator is called on real, fake and penalty inputs before one backward,
    and a broadcast in between would modify tensors autograd still needs. torch 2.13 renamed
    ``broadcast_buffers`` to ``forward_sync_buffers`` (the old name warns, a FutureWarning on
    every process); Accelerate's handler knows only the old name, so a subclass adds the new one
    (Accelerate accepts only its own class in ``kwargs_handlers``: :func:`make_accelerator` sets it
    as the accelerator's ``ddp_handler``, which ``prepare`` reads).
    """
    import dataclasses
    import inspect

    from accelerate.utils import DistributedDataParallelKwargs

    if "forward_sync_buffers" not in inspect.signature(torch.nn.parallel.DistributedDataParallel).parameters:
        return DistributedDataParallelKwargs(broadcast_buffers=False)

    @dataclasses.dataclass
    class Kwargs(DistributedDataParallelKwargs):
        forward_sync_buffers: bool | None = None

    return Kwargs(forward_sync_buffers=False)


def make_accelerator(config: TrainConfig):
    """The run's Accelerator: device, mixed precision, DDP settings."""
    from accelerate import Accelerator

    ddp = ddp_kwargs()
    if config.device == "cuda" and not torch.cuda.is_available():
        # Accelerate would silently train on the CPU (and --precision fp16 in fp32).
        raise ConfigError("--device cuda, but no CUDA GPU is available to torch (torch.cuda.is_available() is "
                          f"false; torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none'}). Use "
                          "--device cpu (or auto), or install a CUDA build of torch on a machine with a GPU.")
    cpu = config.device == "cpu" or (config.device == "auto" and not torch.cuda.is_available())
    if config.precision == "fp16" and cpu:
        # Accelerate would silently train in fp32: fp16 loss scaling is CUDA-only there.
        raise ConfigError("--precision fp16 needs a CUDA GPU; on the CPU use --precision bf16 (or fp32).")
    mixed = "no" if config.precision in ("fp32", "no") else config.precision
    accelerator = Accelerator(cpu=cpu, mixed_precision=mixed)
    accelerator.ddp_handler = ddp
    return accelerator


def broadcast_text(accelerator, text: str, size: int = 1024) -> str:
    """``text`` as the main process has it, on every process (one collective, nothing pickled)."""
    if accelerator.num_processes == 1:
        return text
    from accelerate.utils import broadcast

    raw = text.encode()[:size]
    buffer = torch.zeros(size, dtype=torch.uint8)
    buffer[:len(raw)] = torch.tensor(list(raw), dtype=torch.uint8)
    buffer = broadcast(buffer.to(accelerator.device), from_process=0).cpu()
    return bytes(buffer.tolist()).rstrip(b"\0").decode()


def speed_options(config: TrainConfig, run: Run, G: nn.Module, D: nn.Module) -> None:
    """Apply ``channels_last`` and ``compile`` to the bare networks, in place."""
    if config.compile:
        needing = [name for name, plugin in run.pm.list_name_plugin() if getattr(plugin, DOUBLE_BACKWARD, False)]
        if needing:
            raise ConfigError(f"--compile cannot be used with {', '.join(map(repr, needing))}: its loss needs "
                              "double backward (gradients of gradients), which torch.compile does not support. "
                              "Drop --compile, or train without that plugin.")
    for module in (G, D):
        if config.channels_last:
            module.to(memory_format=torch.channels_last)
        if config.compile:
            module.compile()


def make_optimizer(config: TrainConfig, params, lr: float, ratio: float = 1.0) -> torch.optim.Optimizer:
    """The configured optimizer; ``ratio`` (StyleGAN2's lazy ``mb_ratio``) multiplies the learning rate
    and is the power the betas (SGD's momentum, beta1) are raised to."""
    betas = tuple(beta ** ratio for beta in config.betas)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr * ratio, betas=betas)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr * ratio)
    return torch.optim.SGD(params, lr=lr * ratio, momentum=betas[0])


def lazy_intervals(run: Run) -> dict[str, dict[str, int]]:
    """Every active plugin implementing ``regularize``, in the hook's call order, to the lazy
    intervals it declares by network (``lazy_every``, see :mod:`gancore.hookspecs`)."""
    found = {}
    for impl in reversed(run.hook.regularize.get_hookimpls()):
        every = getattr(impl.plugin, LAZY_EVERY, None) or {}
        if not (isinstance(every, dict) and set(every) <= {"d", "g"} and all(
                isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in every.values())):
            raise PluginError(f"plugin {impl.plugin_name!r}: {LAZY_EVERY} must map 'd' or 'g' to a whole number "
                              f">= 1; got {every!r}.")
        found.setdefault(impl.plugin_name, dict(every))
    return found


def build_models(run: Run, config: TrainConfig, spec) -> tuple[nn.Module, nn.Module]:
    """Ask the family for its networks and check the generator protocol."""
    run.check_complete()
    generator = build_within_limits(lambda: run.hook.build_generator(config=config, data=spec), "generator",
                                    run.family)
    check_generator(generator, run.family)
    discriminator = build_within_limits(lambda: run.hook.build_discriminator(config=config, data=spec),
                                        "discriminator", run.family)
    if not isinstance(discriminator, nn.Module):
        raise PluginError(f"plugin {run.family!r}: build_discriminator must return an nn.Module; got "
                          f"{type(discriminator).__name__}.")
    return generator, discriminator


def append_lines(path: Path, lines: list[str]) -> None:
    """Append ``lines`` to a JSON-lines file; an ``OSError`` (a full disk) names the file.

    A line cut short by a full disk is dropped on resume (see :func:`gancore.run.resume.truncate_metrics`).
    """
    try:
        append_text(path, "".join(line + "\n" for line in lines))  # never through a planted link
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None


class Trainer:
    """Trains one run; ``fit()`` runs it to ``config.steps``.

    :param config: the resolved configuration.
    :param run: the activated plugins (:meth:`gancore.plugins.Registry.activate`).
    :param dataset: the training data, in memory or streamed (:mod:`gancore.data.stream`).
    :param run_dir: where ``metrics.jsonl``, ``samples/`` and ``checkpoints/`` go.
    :param progress: show a progress bar (main process only).
    """

    def __init__(self, config: TrainConfig, run: Run, dataset: Dataset | StreamingDataset, run_dir: str | Path,
                 accelerator: Any = None, progress: bool = True):
        from accelerate.utils import set_seed

        self.config, self.run, self.run_dir = config, run, Path(run_dir)
        self.acc = accelerator or make_accelerator(config)
        self.spec = dataset.spec
        if config.deterministic:
            torch.use_deterministic_algorithms(True)
        set_seed(config.seed)
        G, D = build_models(run, config, self.spec)
        speed_options(config, run, G, D)
        lazy = lazy_intervals(run)
        #: The step's rows: D main (n_critic), D reg, G main, G reg (see :func:`gancore.step.phase_table`).
        self.phases = phase_table(config.n_critic, lazy, config.lazy_regularization or "inline")
        self._ratio = {network: lazy_ratio(self.phases, network) for network in ("d", "g")}
        # One caller per regularizer, in the hook's order, so that each is called on its rows' updates only.
        self._regularize = [(name, run.pm.subset_hook_caller(
            "regularize", [plugin for other, plugin in run.pm.list_name_plugin() if other != name])) for name in lazy]
        opt_g = make_optimizer(config, G.parameters(), config.lr_g, self._ratio["g"])
        opt_d = make_optimizer(config, D.parameters(), config.lr_d, self._ratio["d"])
        self.G, self.D, self.opt_g, self.opt_d = self.acc.prepare(G, D, opt_g, opt_d)
        # Without a loss scaler, Accelerate's optimizer wrapper steps the optimizer it holds, after
        # looking for an optional package (lomo_optim) on the import path twice per step: ~10% of a
        # CPU DCGAN step with every plugin's editable install on that path. The updates step it directly.
        self._stepped = {"d": self.opt_d, "g": self.opt_g} if self.acc.scaler is not None else \
            {"d": self.opt_d.optimizer, "g": self.opt_g.optimizer}
        # unwrap_model walks the module tree (~0.5 ms); the loop asks for the bare modules every update.
        self._bare = (self.acc.unwrap_model(self.G), self.acc.unwrap_model(self.D))
        #: Networks that change during training: their stage by step, optimizers extended (gancore.growth).
        self.growth = Growth(dict(zip("gd", self._bare)), self._stepped, run.hook.grow)
        self.dataset = dataset.to(self.acc.device)
        #: The data order of the batches trained on so far (workers may have read further).
        self.sampler = Sampler(len(dataset), config.batch_size, config.seed, self.acc.process_index,
                               self.acc.num_processes)
        self.batches = Batches(self.dataset, self.sampler, config.data_workers)
        self.plugin_state: dict[str, dict[str, torch.Tensor]] = {}
        self.index = 0
        self.progress = progress and self.acc.is_main_process
        self.guard = NanGuard(config.nan, config.nan_limit, self.run_dir / "checkpoints")
        #: The signal (number) that stopped ``fit`` early, after a final checkpoint.
        self.stopped_by: int | None = None
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}
        self._warnings: list[dict[str, Any]] = []  # Step.warn's, shared by the steps of one iteration
        self._reuse_fakes = not any(getattr(plugin, FRESH_FAKES, False) for _, plugin in run.pm.list_name_plugin())
        self._separate_batches = bool(getattr(run.pm.get_plugin(run.family), SEPARATE_BATCHES, False))
        self._fixed = self._fixed_latent()
        #: Experiment trackers (``--log-with``): they receive each metrics.jsonl row and sample grid.
        self.trackers = Trackers(self.acc, ())
        # Different processes must draw different noise and batches' latents.
        set_seed(config.seed + self.acc.process_index)

    # -- helpers -------------------------------------------------------------
    @property
    def generator(self) -> nn.Module:
        return self._bare[0]

    @property
    def discriminator(self) -> nn.Module:
        return self._bare[1]

    def _fixed_latent(self):
        """The latent of the sample grids, the same at every step and on resume."""
        rng = torch.Generator().manual_seed(self.config.seed + 7919)
        n = min(self.config.grid_size, len(self.dataset))
        indices = torch.randperm(len(self.dataset), generator=rng)[:n]
        generator = self.generator
        labels = None
        if getattr(generator, "conditional", False):
            # One row per class, so conditional grids are readable at a glance.
            labels = torch.arange(n) % max(1, generator.num_classes)
        return generator.latent(n, labels=labels, batch=self.dataset.batch(indices), rng=rng)

    def _new_step(self) -> Step:
        batch = next(self.batches)
        if self.config.channels_last and batch.x.dim() == 4:
            batch = attrs.evolve(batch, x=batch.x.contiguous(memory_format=torch.channels_last))
        step = Step(index=self.index, batch=batch, generator=self.G, discriminator=self.D, G=self.generator,
                    D=self.discriminator, config=self.config, data=self.spec, accelerator=self.acc,
                    state=self.plugin_state, name_of=self.run.name_of, warnings=self._warnings)
        step.separate_batches = self._separate_batches
        return step

    def _update(self, step: Step, update: Update) -> None:
        """One scheduled update: its passes, then post_step if any of them stepped the optimizer."""
        phase, stepped = update.network, False
        # In G's phases gradients reach G through D, whose parameters stay untouched.
        self.discriminator.requires_grad_(phase == "d")
        try:
            for number, rows in enumerate(update.passes):
                if number == 0 or phase == "g":
                    # A separate D reg pass reuses the main pass's batch, fakes and views (D has
                    # stepped); a G reg pass draws fresh fakes, the main pass's graph being spent.
                    step.begin(phase, keep_fakes=self._reuse_fakes and update.last)
                stepped = self._pass(step, phase, rows) or stepped
        finally:
            self.discriminator.requires_grad_(True)
        if stepped:
            with torch.no_grad():
                self.run.hook.post_step(step=step, phase=phase)

    def _pass(self, step: Step, phase: str, rows: tuple[Phase, ...]) -> bool:
        """One backward and one optimizer step on the rows' terms; whether the optimizer stepped."""
        hook = self.run.hook
        optimizer = self._stepped[phase]
        optimizer.zero_grad(set_to_none=True)
        name = "d_loss" if phase == "d" else "g_loss"
        terms = dict(loss_terms(getattr(hook, name)(step=step), name, self.run.family)) if rows[0].loss else {}
        if phase == "d":
            # After d_loss, which may publish the family's own step.views: every regularizer of
            # phase "d" finds the views it is promised, the default D(real)-vs-D(fake) one if none.
            step.discriminator_views()
        # A reg row's terms count `interval` times: the regularization keeps its average strength.
        gains = {plugin: row.interval for row in rows for plugin in row.regularizers}
        # Under fp16, penalties built on input_gradient scale their inner gradient as the loss is.
        with loss_scaling(self.acc.scaler):
            extras = [(plugin, extra) for plugin, call in self._regularize if plugin in gains
                      for extra in call(step=step, phase=phase)]
        for plugin, extra in extras:
            for term, value in loss_terms(extra, "regularize", plugin).items():
                if term in terms:
                    raise PluginError(f"two plugins return a loss term named {term!r} in phase {phase!r}.")
                terms[term] = value if gains[plugin] == 1 else gains[plugin] * value
        if not terms:  # a separate reg pass whose regularizers returned nothing: no update
            return False
        total = sum(terms.values())
        require_graph(total, phase, self.run.family)
        self.acc.backward(total)
        # Under fp16 the loss scaler itself skips updates with overflowing gradients.
        module = self.discriminator if phase == "d" else self.generator
        if not self.guard.update_ok(terms, module if self.acc.scaler is None else None, phase, self.index):
            optimizer.zero_grad(set_to_none=True)
            return False
        optimizer.step()
        if getattr(optimizer, "step_was_skipped", False):
            # fp16 loss scaling found inf/NaN gradients and skipped this update: no post_step
            # (averages, clipping) for an update that did not happen, and no logs of its terms.
            return False
        for term, value in terms.items():
            step.logs[f"{phase}/{term}"] = value.detach()
        return True

    # -- the loop --------------------------------------------------------------
    def fit(self, until: int | None = None) -> Path:
        """Train to step ``until`` (default: ``config.steps``); returns the last checkpoint's directory.

        The learning-rate schedule runs to ``config.steps`` whatever ``until`` is, so a run trained in
        pieces (evaluated between them, say) trains as one trained at once.
        """
        from tqdm.auto import tqdm

        config = self.config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        bar = tqdm(total=config.steps, initial=self.index, disable=not self.progress, dynamic_ncols=True,
                   desc=self.run.family)
        started = time.perf_counter()
        try:
            with StopSignals() as stop:  # SIGINT/SIGTERM: finish the step, checkpoint, return
                last = self._loop(bar, started, stop, min(until or config.steps, config.steps))
        finally:
            self.batches.close()
        bar.close()
        return last

    def _loop(self, bar, started: float, stop: StopSignals, end: int) -> Path | None:
        config, last = self.config, None
        while self.index < end:
            self.growth.update(self.index)  # a growing network's stage and fade of this step
            self._set_learning_rates()
            step = None
            for update in schedule(self.phases, self.index):  # D main + reg, n_critic times; G main + reg
                if update.network == "d":  # each D update on a fresh real batch
                    if step is not None:
                        # Every critic update counts in the logged means; the last one's logs go
                        # with the generator update's, which plugins may still read in phase "g".
                        self._accumulate(step.logs)
                    step = self._new_step()
                self._update(step, update)
            self.index += 1
            self._accumulate(step.logs)
            self._warn(bar)
            bar.update(1)
            done = self.index == end
            if self.index % config.log_every == 0 or done:
                row = self._log(time.perf_counter() - started)
                bar.set_postfix({k: f"{v:.3g}" for k, v in row.items() if "/" in k}, refresh=False)
            if (config.sample_every and self.index % config.sample_every == 0) or done:
                self.save_samples()
            if config.eval_every and (self.index % config.eval_every == 0 or done):
                self.log_evaluation()
            if (config.checkpoint_every and self.index % config.checkpoint_every == 0) or done or stop.received:
                last = self.save_checkpoint()
            if stop.received and not done:
                self.stopped_by = stop.received
                break
        return last

    def _warn(self, bar) -> None:
        """Show plugins' warnings (``Step.warn``) above the bar and append them to ``warnings.jsonl``."""
        warnings, self._warnings[:] = list(self._warnings), []
        if not warnings or not self.acc.is_main_process:
            return
        import sys

        for warning in warnings:
            bar.write(f"warning at step {warning['step']} [{warning['code']}]: {warning['message']}",
                      file=sys.stderr)
        append_lines(self.run_dir / "warnings.jsonl", [json.dumps(warning) for warning in warnings])
        bar.set_postfix_str(f"warning: {warnings[-1]['code']}", refresh=False)

    def _set_learning_rates(self) -> None:
        """Learning rates as a function of the step index alone, so resuming needs no scheduler state."""
        factor = 1.0 - self.index / self.config.steps if self.config.lr_schedule == "linear" else 1.0
        for optimizer, base, ratio in ((self.opt_g, self.config.lr_g, self._ratio["g"]),
                                       (self.opt_d, self.config.lr_d, self._ratio["d"])):
            for group in optimizer.param_groups:
                group["lr"] = base * factor * ratio

    def _accumulate(self, logs: dict[str, torch.Tensor]) -> None:
        # Per-name counts: a value a plugin logs on some steps only is the mean of those steps.
        for name, value in logs.items():
            self._sums[name] = self._sums.get(name, 0) + value
            self._counts[name] = self._counts.get(name, 0) + 1

    def _log(self, elapsed: float) -> dict[str, float]:
        """Average the interval's values, refuse non-finite ones, append to metrics.jsonl."""
        # One transfer per interval, averaged over processes so that every
        # process sees (and stops on) the same values.
        names = sorted(self._sums)
        means = (torch.stack([torch.as_tensor(self._sums[name], dtype=torch.float32).to(self.acc.device)
                              / self._counts[name] for name in names]) if names else torch.zeros(0))
        if self.acc.num_processes > 1 and names:
            means = self.acc.reduce(means, "mean")
        values = dict(zip(names, means.tolist()))
        self._sums, self._counts = {}, {}
        bad = {name: value for name, value in values.items() if not math.isfinite(value)}
        if bad:
            phases = sorted({name.split("/")[0] for name in bad if "/" in name}) or ["?"]
            raise TrainingError(
                f"non-finite loss at step {self.index} in phase {'/'.join(phases)}: "
                + ", ".join(f"{k} = {v}" for k, v in sorted(bad.items()))
                + ". Training stopped; the last checkpoint written before this point is intact. Try a lower "
                  "learning rate, a different regularizer weight, or fp32 precision.")
        row = {"step": self.index, "time": round(elapsed, 3), **values,
               # The learning rates of the last step, as the optimizers hold them (schedule, lazy ratio).
               "lr_g": self.opt_g.param_groups[0]["lr"], "lr_d": self.opt_d.param_groups[0]["lr"]}
        if self.guard.skipped:
            row["nan_skipped"] = self.guard.skipped
        if self.acc.is_main_process:
            append_lines(self.run_dir / "metrics.jsonl", [json.dumps(row)])
            self.trackers.log(row)
        return row

    def log_evaluation(self) -> dict[str, float]:
        """Measure the quick figures of :func:`gancore.evaluation.training_metrics` and append them
        to ``metrics.jsonl`` as one row (``step``, ``eval/...``). Main process only; a fixed seed, so
        rows of different steps compare the same latent draw."""
        if not self.acc.is_main_process:
            return {}
        from gancore.evaluation import training_metrics

        rng_before = torch.get_rng_state()
        values = training_metrics(self.sampling_generator(), self.spec, self.config.eval_samples, self.config.seed)
        torch.set_rng_state(rng_before)
        if values:
            row = {"step": self.index, **values}
            append_lines(self.run_dir / "metrics.jsonl", [json.dumps(row)])
            self.trackers.log(row)
        return values

    # -- outputs -----------------------------------------------------------------
    def sampling_generator(self) -> nn.Module:
        """The generator samples are drawn with (see the ``sampling_generator`` hook)."""
        return self.run.sampling_generator(self.generator, self.plugin_state)

    @torch.no_grad()
    def sample_fixed(self) -> torch.Tensor:
        generator = self.sampling_generator()
        was_training = generator.training
        generator.eval()
        try:
            return samples_of(generator(self._fixed))
        finally:
            generator.train(was_training)

    def save_samples(self) -> Path | None:
        if not self.acc.is_main_process:
            return None
        import torchvision.utils as vutils

        path = self.run_dir / "samples" / f"step-{self.index:06d}.png"
        image = samples_to_image(self.sample_fixed(), self.spec)
        try:
            make_dir(path.parent)
            with atomic_write(path) as handle:  # no half-written grid is left behind, no link followed
                vutils.save_image(image, handle, format="png")
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        self.trackers.log_grid(path, self.index)
        return path

    def state_dict(self) -> dict[str, Any]:
        """Everything but the weights needed to continue this run."""
        return {"opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "plugins": self.plugin_state, "sampler": self.sampler.state_dict(), "rng": rng_state(),
                "nan_skipped": self.guard.skipped, "logs": {"sums": self._sums, "counts": self._counts},
                "scaler": self.acc.scaler.state_dict() if self.acc.scaler is not None else None,
                **self.growth.state_dict()}

    def save_checkpoint(self) -> Path | None:
        self.acc.wait_for_everyone()
        if not self.acc.is_main_process:
            return None
        meta = {
            "gancore_version": __version__,
            "family": self.run.family,
            "plugins": self.run.versions(),
            "regularizers": self.run.regularizers,
            "config": self.config.to_dict(),
            "data": self.spec.to_dict(),
        }
        return save_checkpoint(self.run_dir / "checkpoints", self.index, module_tensors(self.generator),
                               module_tensors(self.discriminator), self.state_dict(), meta, keep=self.config.keep,
                               protect=getattr(self, "protected_steps", ()))

    def load_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Continue from ``checkpoint``: weights, optimizers, plugin state, data order, RNG."""
        self.growth.load_state_dict(checkpoint.state, checkpoint.step)  # its stage's parameters first
        load_weights(self.generator, checkpoint.generator, "generator")
        load_weights(self.discriminator, checkpoint.discriminator, "discriminator")
        state = checkpoint.state
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.plugin_state.clear()
        self.plugin_state.update({name: {key: value.to(self.acc.device) for key, value in values.items()}
                                  for name, values in state["plugins"].items()})
        self.batches.load_state_dict(state["sampler"])
        set_rng_state(state["rng"])
        self.guard.skipped = int(state.get("nan_skipped", 0))
        if self.acc.scaler is not None and state.get("scaler"):
            self.acc.scaler.load_state_dict(state["scaler"])
        logs = state.get("logs", {"sums": {}, "counts": {}})
        self._sums = {name: value.to(self.acc.device) for name, value in logs["sums"].items()}
        self._counts = {name: int(n) for name, n in logs.get("counts", {}).items()}
        self.index = checkpoint.step

"""Train a run from the user's settings: resolve (or resume), create the run directory, fit, report.

What ``gan train`` does after reading its flags (:mod:`gancore.run.flags`), for the CLI, tests and
benchmarks alike: ``train_run(settings_from_args(["-p", "gancore-wgan", "-r", "gp"]))``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, Callable, Sequence

import attrs
import click

from gancore.errors import TrainingError
from gancore.run.rundir import RunLock, create_run_dir, resolve, run_dir


def train_run(user: dict[str, Any], progress: bool | None = None, resume: str | None = None,
              out: str | None = None, *, registry=None, echo: Callable[..., None] = click.echo,
              log_with: Sequence[str] | None = None):
    """Train a new run from the user's settings (or continue run ``resume``, found under ``out``);
    returns the finished :class:`~gancore.trainer.Trainer`.

    ``log_with`` names experiment trackers (``gan train --log-with``, :mod:`gancore.trackers`);
    a resumed run given none continues the trackers its ``trackers.json`` names (``["none"]``: none).

    ``registry`` holds the plugins (default: the installed ones); ``echo(text, err=False)`` reports
    progress. ``progress`` shows a progress bar (default: when stderr is a terminal). A run stopped
    by a signal has ``trainer.stopped_by`` set (``gan train`` then exits 128 + the signal number).
    Every process of a distributed launch runs this.
    """
    if registry is None:
        from gancore.plugins import Registry

        registry = Registry.discover()
    # The main process holds the run directory's lock for the life of the run (the
    # others of a torchrun / accelerate launch have RANK > 0 and write nothing there).
    lock = RunLock() if os.environ.get("RANK", "0") == "0" else None
    try:
        return _train_run(registry, echo, user, progress, resume, out, lock, log_with)
    finally:
        if lock is not None:
            lock.release()


def dry_run(user: dict[str, Any], resume: str | None = None, out: str | None = None, *, registry=None):
    """The :class:`~gancore.run.resolve.RunSpec` ``train_run`` would train (``gan train --dry-run``):
    resolved from the data's spec alone (an embedded set is not read) and the plugins'
    declarations; no network is built and no run directory written. ``resume``: the settings a
    resumed run ``resume`` (found under ``out``) would train with."""
    from gancore.config import make_config
    from gancore.data import data_spec
    from gancore.errors import ConfigError
    from gancore.installed import installed_data
    from gancore.run.resolve import resolve_run

    if registry is None:
        from gancore.plugins import Registry

        registry = Registry.discover()
    if resume:
        from gancore.run.resume import find_run, resumed_settings
        from gancore.run.flags import UserSettings

        path = find_run(resume, out)
        flags = dict(getattr(user, "sources", {}))
        user = resumed_settings(path, user)
        sources = {key: f"{path}/config.toml" for key in user if key != "options"}
        sources.update({f"options.{name}.{key}": f"{path}/config.toml"
                        for name, table in user.get("options", {}).items() for key in table})
        user = UserSettings(user, {**sources, **flags})
    first = make_config(user)  # the user's values checked before any data is opened
    if not first.plugins:
        raise ConfigError("no plugin given: use --plugin NAME (see `gan plugins` for the installed ones).")
    spec = data_spec(first.data, first.data_root, first.image_size, first.layout, first.data_mode,
                     readers=installed_data)
    return resolve_run(registry, spec, user)


def _train_run(registry, say, user, progress, resume, out, lock, log_with=None):
    from gancore import trackers as T
    from gancore.trainer import Trainer, broadcast_text, make_accelerator

    if log_with:
        T.check(log_with)  # before anything is resolved or written

    checkpoint = None
    if resume:
        from gancore.run.resume import find_run, prepare_resume

        if lock is not None:
            # Before anything is cleaned or rewritten: a run still training keeps its directory.
            lock.acquire(find_run(resume, out))
        config, run, dataset, path, checkpoint, notes = prepare_resume(registry, resume, user, out)
    else:
        config, run, dataset = resolve(registry, user)
        notes = []
    # Under torchrun / accelerate launch every process runs this command; they
    # agree on the run name (it holds the time of day) and only the main one
    # writes the run directory and talks.
    accelerator = make_accelerator(config)
    config = attrs.evolve(config, name=broadcast_text(accelerator, config.name))
    echo = say if accelerator.is_main_process else (lambda *args, **kwargs: None)
    for note in notes:
        echo(note, err=True)
    if progress is None:
        progress = sys.stderr.isatty()
    if not resume:
        path = run_dir(config)
    trainer = Trainer(config, run, dataset, path, accelerator=accelerator, progress=progress)
    if not resume and accelerator.is_main_process:
        # Taken where the directory is first written: a run refused before (such as --compile
        # with a gradient penalty) leaves nothing behind.
        if lock is not None:
            lock.acquire(path)
        create_run_dir(config, getattr(run, "spec", None))
    processes = f" on {accelerator.num_processes} processes" if accelerator.num_processes > 1 else ""
    held = ""
    if trainer.batches.streamed:
        workers = config.data_workers
        held = f", streamed by {workers} worker{'s' * (workers != 1)}" if workers else ", streamed, no workers"
    echo(f"Training {run.family} on {dataset.spec.name} ({len(dataset)} samples{held}) for {config.steps} steps"
         + (f" with {', '.join(f'{k}={v:g}' for k, v in run.regularizers.items())}" if run.regularizers else "")
         + (f", add-ons: {', '.join(run.addons)}" if run.addons else "") + processes + f"; run directory: {path}")
    if checkpoint is not None:
        from gancore.run.resume import restore

        restore(trainer, checkpoint)
        echo(f"Resuming from {checkpoint.path} (step {checkpoint.step}).")
    if not log_with and resume:
        log_with = list(T.read_record(path)) if accelerator.is_main_process else []
    if log_with:
        trainer.trackers = T.Trackers.start(accelerator, log_with, path, config.name,
                                            T.hyperparameters(config, run.family, run.regularizers), trainer.index)
        if trainer.trackers.names:
            echo(f"Logging to {', '.join(trainer.trackers.names)} (run ids in {path / T.RECORD}).")
    try:
        last = trainer.fit()
    except OSError as exc:
        # A full disk or a directory gone read-only while writing metrics or samples.
        raise TrainingError(f"cannot write to {str(path)!r}: {exc.strerror or exc}"
                            + (f" ({exc.filename})" if exc.filename else "")
                            + ". Training stopped; checkpoints already written are intact; free space or fix "
                              f"permissions, then `gan train --resume {path}`.") from None
    finally:
        trainer.trackers.finish()
    if trainer.stopped_by:
        echo(f"Stopped by {signal.Signals(trainer.stopped_by).name} at step {trainer.index}; wrote "
             f"checkpoint {last}. Continue with `gan train --resume {path}`.", err=True)
        return trainer
    echo(f"Done. Last checkpoint: {last}; samples: {path / 'samples'}; metrics: {path / 'metrics.jsonl'}")
    return trainer

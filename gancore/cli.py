"""The ``gan`` command line: train, plugins, sample."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import click

from gancore.errors import ConfigError, GanError, TrainingError

PROGRESS_ENV = "GANCORE_PROGRESS"


def _registry():
    from gancore.plugins import Registry

    return Registry.discover()


def friendly_errors(func):
    """Print a :class:`GanError` as one paragraph and exit 1, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except GanError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper


def parse_regularizer(text: str) -> tuple[str, float | None]:
    name, sep, weight = text.partition("=")
    if not name:
        raise ConfigError(f"bad --regularizer {text!r}: use NAME or NAME=WEIGHT.")
    if not sep:
        return name, None
    try:
        return name, float(weight)
    except ValueError:
        raise ConfigError(f"bad --regularizer {text!r}: the weight {weight!r} is not a number.") from None


def parse_set(text: str) -> tuple[str, str, Any]:
    from gancore.plugins import parse_option_value

    key, sep, value = text.partition("=")
    plugin, dot, option = key.rpartition(".")
    if not sep or not dot or not plugin or not option:
        raise ConfigError(f"bad --set {text!r}: use PLUGIN.OPTION=VALUE, e.g. --set gancore-gan.loss=saturating.")
    return plugin, option, parse_option_value(value)


def _no_output_flag(ctx, param, value):
    """``gan train -o``: ``-o`` is ``--output`` in the other commands; plugin options are ``--set``/``-s``."""
    if value:
        raise click.UsageError(f"gan train has no -o (in gan sample, eval, translate and report it is --output): "
                               f"give plugin options with --set/-s PLUGIN.OPTION=VALUE, e.g. -s {value[0]}.", ctx)
    return value


class GanGroup(click.Group):
    """The ``gan`` group: click's own usage errors (an unknown flag, a bad number) exit 1 like every
    other error, as the docs promise, instead of click's 2."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = 1
            raise

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.exit_code = 1
            raise

    # Commands that installed plugins add (the register_commands hook) are collected only
    # when a command gan does not hold is asked for, or the commands are listed: `gan train`
    # and the other core commands never look for them. Only module entry points are
    # imported for it (gancore.installed.libraries), so `gan --help` does not import torch.
    _plugins_added = False
    #: Module plugins that failed to load, (name, error): one of them may be a missing command's.
    _broken: tuple = ()

    def _add_plugin_commands(self) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        from gancore.installed import add_commands, libraries

        try:
            registry = libraries()
            self._broken = tuple((info.name, info.error) for info in registry if info.error is not None)
            problems = add_commands(self, registry)
        except Exception as exc:  # listing commands must never fail
            problems = [f"could not look for plugins' commands: {type(exc).__name__}: {exc}"]
        for problem in problems:
            click.echo(f"Warning: {problem}", err=True)

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            if self._broken and "No such command" in exc.message:
                exc.message += "".join(f" Plugin {name!r} failed to load ({error}); it may be the one that adds "
                                       "this command." for name, error in self._broken)
            raise

    def get_command(self, ctx, name):
        if name not in self.commands:
            self._add_plugin_commands()
        return super().get_command(ctx, name)

    def list_commands(self, ctx):
        self._add_plugin_commands()
        return super().list_commands(ctx)


class TrainCommand(click.Command):
    """``gan train --help`` ends with the installed plugins and their options."""

    def format_epilog(self, ctx, formatter):
        super().format_epilog(ctx, formatter)
        try:
            registry = _registry()
        except Exception as exc:  # help must never fail
            formatter.write_paragraph()
            formatter.write_text(f"(could not list plugins: {exc})")
            return
        for kind, title in (("family", "Families (--plugin)"), ("regularizer", "Regularizers (--regularizer)"),
                            ("add-on", "Add-ons (--plugin)")):
            rows = []
            for info in registry:
                if info.kind != kind:
                    continue
                options = ", ".join(info.option_text(k) for k in info.options)
                rows.append((info.name, info.doc + (f"  [options: {options}]" if options else "")))
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


@click.group(cls=GanGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gancore")
def main():
    """gancore: train GANs where every family is a plugin.

    Start with `gan plugins` to see what is installed, then for example
    `gan train --plugin gancore-wgan --regularizer gp --data ring`.
    """


FLAG_FIELDS = {
    "data": "data", "data_root": "data_root", "download": "download", "image_size": "image_size",
    "layout": "layout", "data_mode": "data_mode", "data_workers": "data_workers",
    "steps": "steps", "batch_size": "batch_size", "n_critic": "n_critic", "optimizer": "optimizer",
    "lr_g": "lr_g", "lr_d": "lr_d", "lr_schedule": "lr_schedule", "latent_dim": "latent_dim", "seed": "seed", "out": "out", "name": "name",
    "log_every": "log_every", "sample_every": "sample_every", "checkpoint_every": "checkpoint_every",
    "keep": "keep", "grid_size": "grid_size", "device": "device", "precision": "precision",
    "channels_last": "channels_last", "compile": "compile",
    "nan": "nan", "nan_limit": "nan_limit", "deterministic": "deterministic",
    "eval_every": "eval_every", "eval_samples": "eval_samples", "default_plugins": "default_plugins",
}


@main.command(cls=TrainCommand)
@click.option("--plugin", "-p", "plugins", multiple=True,
              help="Plugin to activate, by entry-point or distribution name: exactly one family, plus any "
                   "add-ons. Repeatable.")
@click.option("--regularizer", "-r", "regularizers", multiple=True, metavar="NAME[=WEIGHT]",
              help="Regularizer to add, with an optional weight (default: the plugin's). Repeatable; when "
                   "given, replaces the family's default regularizers. `-r none` uses none.")
@click.option("--default-plugins/--no-default-plugins", default=None,
              help="Turn on the add-ons the family uses by default for the data (such as ema; the run's first "
                   "line names them). [default: on]")
@click.option("--set", "-s", "sets", multiple=True, metavar="PLUGIN.OPTION=VALUE",
              help="A plugin option (VALUE is read as TOML: 0.5, true, \"text\"), checked against the "
                   "plugin's signature (`gan plugins` lists options and types). Repeatable.")
@click.option("-o", "output_flag", multiple=True, hidden=True, expose_value=False, callback=_no_output_flag)
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML file of settings; flags override it.")
@click.option("--data", help="Embedded data set (ring, digits, mnist), mnist/fashion-mnist/cifar10 with "
                             "--data-root, or an image folder. [default: digits]")
@click.option("--data-root", type=click.Path(file_okay=False),
              help="Directory of torchvision-format data files for --data mnist|fashion-mnist|cifar10.")
@click.option("--download", is_flag=True, default=None, help="Allow downloading --data-root files (off by default).")
@click.option("--image-size", type=int, help="Resize images to this size (square).")
@click.option("--layout", type=click.Choice(["auto", "classes", "paired", "unpaired", "side-by-side"]),
              help="How to read an image folder: class subfolders, A/B folders paired by file name or "
                   "unpaired, or side-by-side A|B images. [default: auto]")
@click.option("--data-mode", type=click.Choice(["auto", "memory", "stream"]),
              help="Hold the data as one tensor on the device (memory), or decode an image folder's batches "
                   "in DataLoader workers (stream); auto streams single-domain image folders over 1 GiB "
                   "decoded. [default: auto]")
@click.option("--data-workers", type=int, help="DataLoader worker processes of a streamed folder; 0 decodes "
                                               "in the training process. [default: 2]")
@click.option("--steps", type=int, help="Generator updates to train for. [default: 2000]")
@click.option("--batch-size", type=int, help="Batch size per process. [default: 64]")
@click.option("--n-critic", type=int, help="Discriminator updates per generator update. [default: family's, or 1]")
@click.option("--optimizer", type=click.Choice(["adam", "rmsprop", "sgd"]), help="[default: family's, or adam]")
@click.option("--lr", type=float, help="Learning rate of both networks (sets --lr-g and --lr-d).")
@click.option("--lr-g", type=float, help="Generator learning rate. [default: family's, or 2e-4]")
@click.option("--lr-d", type=float, help="Discriminator learning rate. [default: family's, or 2e-4]")
@click.option("--lr-schedule", type=click.Choice(["constant", "linear"]),
              help="Learning-rate schedule: constant, or linear decay to 0 at the last step. "
                   "[default: family's, or constant]")
@click.option("--latent-dim", type=int, help="Size of the generator's noise vector. [default: family's, or 8 for "
                                                   "vector data, or 100]")
@click.option("--seed", type=int, help="Random seed. [default: 0]")
@click.option("--out", type=click.Path(file_okay=False), help="Parent directory of run directories. [default: runs]")
@click.option("--name", help="Run directory name, one directory under --out. [default: "
                             "FAMILY-DATA-TIMESTAMP-RANDOM]")
@click.option("--log-every", type=int, help="Steps between metrics lines. [default: 50]")
@click.option("--sample-every", type=int, help="Steps between sample grids, 0 for only the last. [default: 500]")
@click.option("--checkpoint-every", type=int, help="Steps between checkpoints, 0 for only the last. [default: 1000]")
@click.option("--keep", type=int, help="Checkpoints to keep. [default: 3]")
@click.option("--grid-size", type=int, help="Samples in each grid. [default: 64]")
@click.option("--eval-every", type=int, help="Steps between quick evaluations (classifier-FID and classes "
              "covered, or ring modes) logged to metrics.jsonl, 0 for never. [default: 0]")
@click.option("--eval-samples", type=int, help="Samples per --eval-every evaluation. [default: 2000]")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="[default: auto]")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16", "no"]),
              help="Mixed precision through Accelerate: bf16 (CPU or GPU), fp16 (GPU, with loss scaling), or "
                   "fp32 (= no; config.toml records fp32). [default: fp32]")
@click.option("--channels-last/--no-channels-last", default=None,
              help="Channels-last memory layout for image models and batches. [default: off]")
@click.option("--compile/--no-compile", default=None,
              help="torch.compile both networks; refused with double-backward penalties (gp, div, ...). "
                   "[default: off]")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar. [default: on a terminal]")
@click.option("--resume", metavar="RUN",
              help="Continue the run directory RUN (or a run name under --out) from its newest intact "
                   "checkpoint, with its saved configuration; --steps N trains it further.")
@click.option("--nan", type=click.Choice(["stop", "skip"]),
              help="On a NaN/Inf loss or gradient: stop (keeping the last good checkpoint) or skip that "
                   "update. [default: stop]")
@click.option("--nan-limit", type=int, help="Most updates --nan skip may drop in a run. [default: 10]")
@click.option("--deterministic/--no-deterministic", default=None,
              help="Use deterministic algorithms only (bit-exact resume). [default: off]")
@friendly_errors
def train(plugins, regularizers, sets, config_file, lr, progress, resume, **flags):
    """Train a GAN: one family plus optional regularizers and add-ons.

    \b
    Examples:
      gan train --plugin gancore-wgan --data mnist          # WGAN, weight clipping (the paper)
      gan train --plugin gancore-wgan --regularizer gp      # WGAN-GP
      gan train --plugin gancore-dcgan -r gp -r div=2 --data mnist
    """
    user = settings_from_flags(plugins, regularizers, sets, config_file, lr, flags)
    train_run(user, progress, resume, flags.get("out"))


def settings_from_flags(plugins, regularizers, sets, config_file, lr, flags) -> dict[str, Any]:
    """The user's settings (``resolve``'s input) from ``gan train``'s parsed flags."""
    from gancore.config import read_toml

    user: dict[str, Any] = read_toml(config_file) if config_file else {}
    user.update({FLAG_FIELDS[key]: value for key, value in flags.items() if value is not None})
    for key in ("lr_g", "lr_d"):
        if lr is not None and flags.get(key) is None:
            user[key] = lr
    if plugins:
        user["plugins"] = list(plugins)
    if regularizers:
        user["regularizers"] = {} if regularizers == ("none",) else dict(map(parse_regularizer, regularizers))
    if sets:
        options = {name: dict(table) for name, table in user.get("options", {}).items()}
        for plugin, option, value in map(parse_set, sets):
            options.setdefault(plugin, {})[option] = value
        user["options"] = options
    return user


def settings_from_args(args: list[str]) -> dict[str, Any]:
    """The settings ``gan train ARGS`` would train with (before defaults), for scripts that describe
    runs the way users type them: ``settings_from_args(["-p", "gancore-wgan", "-r", "gp"])``."""
    try:
        params = train.make_context("train", list(args)).params
    except click.UsageError as exc:
        raise ConfigError(f"bad training arguments {' '.join(args)!r}: {exc.format_message()}") from None
    params.pop("progress"), params.pop("resume")
    return settings_from_flags(params.pop("plugins"), params.pop("regularizers"), params.pop("sets"),
                               params.pop("config_file"), params.pop("lr"), params)


def train_run(user: dict[str, Any], progress: bool | None = None, resume: str | None = None,
              out: str | None = None):
    """``gan train`` after its flags are read: resolve, train, report; returns the finished Trainer.

    Every process of a distributed launch runs this.
    """
    import os

    from gancore.runs import RunLock

    # The main process holds the run directory's lock for the life of the run (the
    # others of a torchrun / accelerate launch have RANK > 0 and write nothing there).
    lock = RunLock() if os.environ.get("RANK", "0") == "0" else None
    try:
        return _train_run(user, progress, resume, out, lock)
    finally:
        if lock is not None:
            lock.release()


def _train_run(user, progress, resume, out, lock):
    import attrs

    from gancore.runs import create_run_dir, resolve, run_dir
    from gancore.trainer import Trainer, broadcast_text, make_accelerator

    checkpoint = None
    if resume:
        from gancore.resume import find_run, prepare_resume

        resume = find_run(resume, out)
        if lock is not None:
            # Before anything is cleaned or rewritten: a run still training keeps its directory.
            lock.acquire(resume)
        config, run, dataset, path, checkpoint, notes = prepare_resume(_registry(), resume, user, out)
    else:
        config, run, dataset = resolve(_registry(), user)
        notes = []
    # Under torchrun / accelerate launch every process runs this command; they
    # agree on the run name (it holds the time of day) and only the main one
    # writes the run directory and talks.
    accelerator = make_accelerator(config)
    config = attrs.evolve(config, name=broadcast_text(accelerator, config.name))
    echo = click.echo if accelerator.is_main_process else (lambda *args, **kwargs: None)
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
        create_run_dir(config)
    processes = f" on {accelerator.num_processes} processes" if accelerator.num_processes > 1 else ""
    held = ""
    if trainer.batches.streamed:
        workers = config.data_workers
        held = f", streamed by {workers} worker{'s' * (workers != 1)}" if workers else ", streamed, no workers"
    echo(f"Training {run.family} on {dataset.spec.name} ({len(dataset)} samples{held}) for {config.steps} steps"
         + (f" with {', '.join(f'{k}={v:g}' for k, v in run.regularizers.items())}" if run.regularizers else "")
         + (f", add-ons: {', '.join(run.addons)}" if run.addons else "") + processes + f"; run directory: {path}")
    if checkpoint is not None:
        from gancore.resume import restore

        restore(trainer, checkpoint)
        echo(f"Resuming from {checkpoint.path} (step {checkpoint.step}).")
    try:
        last = trainer.fit()
    except OSError as exc:
        # A full disk or a directory gone read-only while writing metrics or samples.
        raise TrainingError(f"cannot write to {str(path)!r}: {exc.strerror or exc}"
                            + (f" ({exc.filename})" if exc.filename else "")
                            + ". Training stopped; checkpoints already written are intact; free space or fix "
                              f"permissions, then `gan train --resume {path}`.") from None
    if trainer.stopped_by:
        import signal

        echo(f"Stopped by {signal.Signals(trainer.stopped_by).name} at step {trainer.index}; wrote "
             f"checkpoint {last}. Continue with `gan train --resume {path}`.", err=True)
        sys.exit(128 + trainer.stopped_by)
    echo(f"Done. Last checkpoint: {last}; samples: {path / 'samples'}; metrics: {path / 'metrics.jsonl'}")
    return trainer


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@friendly_errors
def plugins(as_json):
    """List installed plugins: name, distribution, version, kind, hooks, load errors."""
    registry = _registry()
    infos = list(registry)
    if as_json:
        click.echo(json.dumps([info.to_dict() for info in infos], indent=2))
        return
    if not infos:
        click.echo("No plugins installed (entry-point group 'gancore').")
        return
    for info in infos:
        click.echo(f"{info.name}  [{info.kind}]  {info.distribution} {info.version}")
        if info.error:
            click.echo(f"    load error: {info.error}")
            continue
        if info.doc:
            click.echo(f"    {info.doc}")
        click.echo(f"    hooks: {', '.join(info.hooks) or '-'}"
                   + (f"; wrappers: {', '.join(info.wrappers)}" if info.wrappers else ""))
        if info.options:
            click.echo("    options: " + ", ".join(info.option_text(k) for k in info.options))


@main.command()
@click.argument("path", type=click.Path())
@click.option("-n", "num", type=int, default=64, show_default=True, help="Number of samples.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="samples.png", show_default=True,
              help="PNG file to write.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the latent draw.")
@click.option("--label", help="Class to generate (conditional families), or 'all' for one row per class.")
@click.option("--traverse", metavar="CODE",
              help="Vary one latent code of the generator (e.g. InfoGAN's cat, c1) along each row, the rest of "
                   "the row's latent fixed; about N/columns rows.")
@click.option("--device", default="cpu", show_default=True, help="Torch device to sample on.")
@click.option("--trained-weights", is_flag=True,
              help="Sample with the generator's trained weights even when a plugin of the run (such as ema) "
                   "offers other weights to sample with.")
@friendly_errors
def sample(path, num, output, seed, label, traverse, device, trained_weights):
    """Generate a grid of samples from a run directory or checkpoint PATH."""
    import torch
    import torchvision.utils as vutils

    from gancore.data import samples_to_image
    from gancore.generator import samples_of, traverse_latent
    from gancore.runs import load_generator

    if num <= 0:
        raise ConfigError(f"bad value for -n: must be > 0, got {num}.")
    if label is not None and traverse is not None:
        raise ConfigError("use either --label or --traverse, not both.")
    generator, spec, _config, checkpoint = load_generator(_registry(), path, device, trained_weights,
                                                          log=lambda text: click.echo(text, err=True))
    labels, nrow, latent = None, None, None
    if traverse is not None:
        codes = getattr(generator, "latent_codes", {}) or {}
        if not codes:
            raise ConfigError(f"--traverse needs a family whose generator declares latent codes; "
                              f"{checkpoint.meta.get('family')!r} declares none.")
        columns = len(codes[traverse].sweep(10)) if traverse in codes else 1
        latent, nrow = traverse_latent(generator, traverse, max(1, num // columns), 10,
                                       rng=torch.Generator().manual_seed(seed))
        num = max(1, num // columns) * nrow
    if label is not None:
        if not getattr(generator, "conditional", False):
            raise ConfigError(f"--label needs a conditional family; {checkpoint.meta.get('family')!r} is not "
                              "conditional.")
        classes = generator.num_classes
        if label == "all":
            per_class = max(1, num // classes)
            labels, nrow, num = torch.arange(classes).repeat_interleave(per_class), per_class, per_class * classes
        else:
            try:
                value = int(label)
            except ValueError:
                value = spec.class_names.index(label) if label in spec.class_names else -1
            if not 0 <= value < classes:
                raise ConfigError(f"--label {label!r} is not a class: use 0..{classes - 1}"
                                  + (f" or one of {', '.join(spec.class_names)}" if spec.class_names else "")
                                  + " or 'all'.")
            labels = torch.full((num,), value)
    rng = torch.Generator().manual_seed(seed)
    if latent is None:
        latent = generator.latent(num, labels=labels, rng=rng)
    with torch.no_grad():
        samples = samples_of(generator(latent))
    out = Path(output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        vutils.save_image(samples_to_image(samples, spec, nrow=nrow), str(out))
    except OSError as exc:
        if out.is_file():
            out.unlink(missing_ok=True)  # a grid cut short by a full disk
        raise ConfigError(f"cannot write {str(out)!r}: {exc.strerror}.") from None
    click.echo(f"Wrote {num} samples from {checkpoint.path} (step {checkpoint.step}) to {out}")


@main.command("eval")
@click.argument("path", type=click.Path())
@click.option("--metric", "-m", "metrics", multiple=True, type=click.Choice(["fid", "kid", "is", "modes", "accuracy"]),
              help="Metric to measure. Repeatable. [default: fid and modes (+ accuracy for conditional "
                   "families) on digits/mnist, modes on ring, fid on other images]")
@click.option("-n", "num", type=int, default=10_000, show_default=True, help="Number of generated samples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the latent draw.")
@click.option("--inception-weights", type=click.Path(dir_okay=False),
              help="FID Inception-v3 weights as a local safetensors file (data other than digits, mnist, ring). "
                   "Also read from $GANCORE_INCEPTION_WEIGHTS or the torch hub cache; never downloaded.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Where to write the JSON record. [default: RUN/eval.json]")
@friendly_errors
def eval_(path, metrics, num, seed, inception_weights, output):
    """Measure a run's newest checkpoint (or checkpoint PATH) and write eval.json.

    \b
    On digits and mnist, features come from a small CNN classifier trained on
    a fixed real training split (cached under $GANCORE_CACHE or
    ~/.cache/gancore); FID is reported with its floor, the FID between the
    real held-out split and the training split. The same command gives the
    same numbers: samples come from a seeded latent draw.
    """
    from gancore.evaluation import evaluate_checkpoint, format_table, write_eval

    record, run = evaluate_checkpoint(_registry(), path, metrics or None, num, seed, inception_weights,
                                      log=lambda text: click.echo(text, err=True))
    prov = record["provenance"]
    click.echo(f"{prov['checkpoint']} (step {prov['step']}, {prov['family']}), {prov['n_fake']} samples, seed {seed}, "
               f"extractor {prov['extractor']['name']}"
               + (f" @{prov['extractor']['recipe_hash']} (test accuracy {100 * prov['extractor']['test_accuracy']:.1f}%)"
                  if "recipe_hash" in prov["extractor"] else ""))
    click.echo(format_table(record))
    out = write_eval(record, Path(output) if output else run / "eval.json")
    click.echo(f"Wrote {out}")


@main.command()
@click.argument("path", type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="[default: RUN/report.html]")
@friendly_errors
def report(path, output):
    """Write a self-contained report.html for run directory PATH: sample grids over time,
    loss and metric curves, the configuration and the eval.json table."""
    from gancore.report import write_report

    out = write_report(Path(path), Path(output) if output else None)
    click.echo(f"Wrote {out}")


@main.command("new-plugin")
@click.argument("name")
@click.option("--kind", type=click.Choice(["family", "regularizer", "add-on"]), default="family", show_default=True,
              help="What the plugin is: a GAN family, a regularizer (--regularizer), or an add-on (--plugin).")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Where to create the package directory gancore-NAME.")
@friendly_errors
def new_plugin(name, kind, directory):
    """Write a ready-to-install plugin package gancore-NAME.

    \b
    It holds a pyproject.toml with the entry point, a module with documented
    hook implementations, a README and tests that run gancore's conformance
    kit. Then:  pip install -e ./gancore-NAME  and  gan train --plugin ...
    """
    from gancore.scaffold import new_plugin as write

    root = write(name, kind, directory)
    click.echo(f"Wrote {root}. Next: pip install -e {root} && {_next_command(root)}")


def _next_command(root: Path) -> str:
    readme = (root / "README.md").read_text()
    return next(line for line in readme.splitlines() if line.startswith("gan train"))



if __name__ == "__main__":
    main()

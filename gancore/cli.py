"""The ``gan`` command line: train, plugins, sample."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import click

from gancore.errors import ConfigError, GanError

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
                options = ", ".join(f"{k}={v!r}" for k, v in info.options.items())
                rows.append((info.name, info.doc + (f"  [options: {options}]" if options else "")))
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gancore")
def main():
    """gancore: train GANs where every family is a plugin.

    Start with `gan plugins` to see what is installed, then for example
    `gan train --plugin gancore-wgan --regularizer gp --data ring`.
    """


FLAG_FIELDS = {
    "data": "data", "data_root": "data_root", "download": "download", "image_size": "image_size",
    "steps": "steps", "batch_size": "batch_size", "n_critic": "n_critic", "optimizer": "optimizer",
    "lr_g": "lr_g", "lr_d": "lr_d", "lr_schedule": "lr_schedule", "latent_dim": "latent_dim", "seed": "seed", "out": "out", "name": "name",
    "log_every": "log_every", "sample_every": "sample_every", "checkpoint_every": "checkpoint_every",
    "keep": "keep", "grid_size": "grid_size", "device": "device", "precision": "precision",
    "channels_last": "channels_last", "compile": "compile",
}


@main.command(cls=TrainCommand)
@click.option("--plugin", "-p", "plugins", multiple=True,
              help="Plugin to activate, by entry-point or distribution name: exactly one family, plus any "
                   "add-ons. Repeatable.")
@click.option("--regularizer", "-r", "regularizers", multiple=True, metavar="NAME[=WEIGHT]",
              help="Regularizer to add, with an optional weight (default: the plugin's). Repeatable; when "
                   "given, replaces the family's default regularizers. `-r none` uses none.")
@click.option("--set", "-o", "sets", multiple=True, metavar="PLUGIN.OPTION=VALUE",
              help="A plugin option (VALUE is read as TOML: 0.5, true, \"text\"). Repeatable.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML file of settings; flags override it.")
@click.option("--data", help="Embedded data set (ring, digits, mnist), mnist/fashion-mnist/cifar10 with "
                             "--data-root, or an image folder. [default: digits]")
@click.option("--data-root", type=click.Path(file_okay=False),
              help="Directory of torchvision-format data files for --data mnist|fashion-mnist|cifar10.")
@click.option("--download", is_flag=True, default=None, help="Allow downloading --data-root files (off by default).")
@click.option("--image-size", type=int, help="Resize images to this size (square).")
@click.option("--steps", type=int, help="Generator updates to train for. [default: 2000]")
@click.option("--batch-size", type=int, help="Batch size per process. [default: 64]")
@click.option("--n-critic", type=int, help="Discriminator updates per generator update. [default: family's, or 1]")
@click.option("--optimizer", type=click.Choice(["adam", "rmsprop", "sgd"]), help="[default: family's, or adam]")
@click.option("--lr", type=float, help="Learning rate of both networks (sets --lr-g and --lr-d).")
@click.option("--lr-g", type=float, help="Generator learning rate. [default: family's, or 2e-4]")
@click.option("--lr-d", type=float, help="Discriminator learning rate. [default: family's, or 2e-4]")
@click.option("--lr-schedule", type=click.Choice(["constant", "linear"]),
              help="Learning-rate schedule: constant, or linear decay to 0 at the last step. [default: constant]")
@click.option("--latent-dim", type=int, help="Size of the generator's noise vector. [default: family's, or 100]")
@click.option("--seed", type=int, help="Random seed. [default: 0]")
@click.option("--out", type=click.Path(file_okay=False), help="Parent directory of run directories. [default: runs]")
@click.option("--name", help="Run directory name. [default: FAMILY-DATA-TIMESTAMP]")
@click.option("--log-every", type=int, help="Steps between metrics lines. [default: 50]")
@click.option("--sample-every", type=int, help="Steps between sample grids, 0 for only the last. [default: 500]")
@click.option("--checkpoint-every", type=int, help="Steps between checkpoints, 0 for only the last. [default: 1000]")
@click.option("--keep", type=int, help="Checkpoints to keep. [default: 3]")
@click.option("--grid-size", type=int, help="Samples in each grid. [default: 64]")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="[default: auto]")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16", "no"]),
              help="Mixed precision through Accelerate: bf16 (CPU or GPU), fp16 (GPU, with loss scaling), or "
                   "fp32 (= no). [default: fp32]")
@click.option("--channels-last/--no-channels-last", default=None,
              help="Channels-last memory layout for image models and batches. [default: off]")
@click.option("--compile/--no-compile", default=None,
              help="torch.compile both networks; refused with double-backward penalties (gp, div, ...). "
                   "[default: off]")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar. [default: on a terminal]")
@friendly_errors
def train(plugins, regularizers, sets, config_file, lr, progress, **flags):
    """Train a GAN: one family plus optional regularizers and add-ons.

    \b
    Examples:
      gan train --plugin gancore-wgan                       # WGAN, weight clipping
      gan train --plugin gancore-wgan --regularizer gp      # WGAN-GP
      gan train --plugin gancore-dcgan -r gp -r div=2 --data mnist
    """
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
    train_run(user, progress)


def train_run(user: dict[str, Any], progress: bool | None = None):
    """``gan train`` after its flags are read: resolve, train, report; returns the finished Trainer.

    Every process of a distributed launch runs this.
    """
    import attrs

    from gancore.runs import create_run_dir, resolve, run_dir
    from gancore.trainer import Trainer, broadcast_text, make_accelerator

    config, run, dataset = resolve(_registry(), user)
    # Under torchrun / accelerate launch every process runs this command; they
    # agree on the run name (it holds the time of day) and only the main one
    # writes the run directory and talks.
    accelerator = make_accelerator(config)
    config = attrs.evolve(config, name=broadcast_text(accelerator, config.name))
    echo = click.echo if accelerator.is_main_process else (lambda *args, **kwargs: None)
    if progress is None:
        progress = sys.stderr.isatty()
    trainer = Trainer(config, run, dataset, run_dir(config), accelerator=accelerator, progress=progress)
    path = create_run_dir(config) if accelerator.is_main_process else run_dir(config)
    processes = f" on {accelerator.num_processes} processes" if accelerator.num_processes > 1 else ""
    echo(f"Training {run.family} on {dataset.spec.name} ({len(dataset)} samples) for {config.steps} steps"
         + (f" with {', '.join(f'{k}={v:g}' for k, v in run.regularizers.items())}" if run.regularizers else "")
         + (f", add-ons: {', '.join(run.addons)}" if run.addons else "") + processes + f"; run directory: {path}")
    last = trainer.fit()
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
            click.echo("    options: " + ", ".join(f"{k}={v!r}" for k, v in info.options.items()))


@main.command()
@click.argument("path", type=click.Path())
@click.option("-n", "num", type=int, default=64, show_default=True, help="Number of samples.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="samples.png", show_default=True,
              help="PNG file to write.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the latent draw.")
@click.option("--label", help="Class to generate (conditional families), or 'all' for one row per class.")
@click.option("--device", default="cpu", show_default=True, help="Torch device to sample on.")
@friendly_errors
def sample(path, num, output, seed, label, device):
    """Generate a grid of samples from a run directory or checkpoint PATH."""
    import torch
    import torchvision.utils as vutils

    from gancore.data import samples_to_image
    from gancore.runs import load_generator

    if num <= 0:
        raise ConfigError(f"bad value for -n: must be > 0, got {num}.")
    generator, spec, _config, checkpoint = load_generator(_registry(), path, device)
    labels, nrow = None, None
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
    with torch.no_grad():
        samples = generator(generator.latent(num, labels=labels, rng=rng))
    out = Path(output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        vutils.save_image(samples_to_image(samples, spec, nrow=nrow), str(out))
    except OSError as exc:
        raise ConfigError(f"cannot write {str(out)!r}: {exc.strerror}.") from None
    click.echo(f"Wrote {num} samples from {checkpoint.path} (step {checkpoint.step}) to {out}")


if __name__ == "__main__":
    main()

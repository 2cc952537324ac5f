"""The ``gan`` command line: thin click commands over the library.

``gan train``'s settings flags come from :mod:`gancore.run.flags`; the training itself is
:func:`gancore.run.launch.train_run`.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from gancore.errors import ConfigError, GanError
from gancore.run.flags import setting_options, settings_from_flags



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


#: ``gan train``'s parameters that are not settings of the run, by the settings flag they come before.
_TRAIN_ONLY = {
    "nan": [
        click.Option(["--progress/--no-progress"], default=None, help="Show a progress bar. [default: on a terminal]"),
        click.Option(["--resume"], metavar="RUN",
                     help="Continue the run directory RUN (or a run name under --out) from its newest intact "
                          "checkpoint, or a checkpoint directory RUN/checkpoints/step-N from exactly that one, "
                          "with its saved configuration; --steps N trains it further."),
        click.Option(["--dry-run"], is_flag=True, default=False,
                     help="Print the resolved run (every setting and plugin option, and which layer set it: "
                          "gancore, data kind, family, add-on, declaration, config file, flag) and exit, without "
                          "reading the data or building networks."),
        click.Option(["log_with", "--log-with"], multiple=True, metavar="TRACKER",
                     help="Also log losses, learning rates, eval metrics, sample grids and the configuration to an "
                          "experiment tracker through Accelerate: tensorboard, wandb, mlflow, aim, comet_ml, clearml, "
                          "dvclive, swanlab, trackio (pip install 'gancore[NAME]'). Repeatable. --resume continues "
                          "the run's trackers (RUN/trackers.json) unless given; 'none' logs to none."),
    ],
    "data": [click.Option(["-o", "output_flag"], multiple=True, hidden=True, expose_value=False,
                          callback=_no_output_flag)],
}


@main.command(cls=TrainCommand, params=setting_options(before=_TRAIN_ONLY))
@friendly_errors
def train(progress, resume, dry_run, log_with, **flags):
    """Train a GAN: one family plus optional regularizers and add-ons.

    \b
    Examples:
      gan train --plugin gancore-wgan --data mnist -r clip  # WGAN, weight clipping (the paper)
      gan train --plugin gancore-wgan --regularizer gp      # WGAN-GP
      gan train --plugin gancore-dcgan -r gp -r div=2 --data mnist
    """
    from gancore.run.launch import train_run

    if dry_run:
        from gancore.run.launch import dry_run as resolved_run

        click.echo("\n".join(resolved_run(settings_from_flags(flags), resume, flags.get("out"),
                                           registry=_registry()).lines()))
        return
    trainer = train_run(settings_from_flags(flags), progress, resume, flags.get("out"), registry=_registry(),
                        log_with=log_with)
    if trainer.stopped_by:
        sys.exit(128 + trainer.stopped_by)


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
        guessed = "  (kind guessed: it declares none; see docs/authoring/declarations.md)" if info.kind_guessed else ""
        click.echo(f"{info.name}  [{info.kind}]  {info.distribution} {info.version}{guessed}")
        if info.error:
            click.echo(f"    load error: {info.error}")
            continue
        if info.doc:
            click.echo(f"    {info.doc}")
        click.echo(f"    hooks: {', '.join(info.hooks) or '-'}"
                   + (f"; wrappers: {', '.join(info.wrappers)}" if info.wrappers else ""))
        if info.options:
            click.echo("    options:")
            for name, opt in info.declaration.options.items():
                click.echo(f"      {info.option_text(name)}" + (f": {opt.help}" if opt.help else ""))


class _Seed(click.IntRange):
    """Seeds of gan sample and gan eval: those of gan train (numpy's legacy seeding takes 32 bits)."""

    name = "integer"  # "'1e20' is not a valid integer." rather than "... integer range."


SEED = _Seed(0, 2 ** 32 - 1)


def _progress(what: str):
    """``progress(done, total)`` for a long job: a line on stderr at most every 2 seconds and at the end."""
    from gancore.evaluation import progress_lines as progress

    return progress(lambda text: click.echo(text, err=True), what)


@main.command()
@click.argument("path", type=click.Path())
@click.option("-n", "num", type=int, default=64, show_default=True, help="Number of samples.")
@click.option("--format", "fmt", type=click.Choice(["grid", "png", "npz"]), default="grid", show_default=True,
              help="grid: one PNG picture; png: a new folder of numbered PNGs (+ labels.csv when conditional); "
                   "npz: one .npz with x (uint8 N,H,W,C images, or float32 N,D vectors) and labels. Written in "
                   "batches: memory stays at one batch whatever -n is.")
@click.option("-o", "--output", type=click.Path(),
              help="Where to write. [default: samples.png, samples/ or samples.npz by --format]")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the latent draw.")
@click.option("--label", help="Class to generate (conditional families), or 'all' for one row per class.")
@click.option("--traverse", metavar="CODE",
              help="Vary one latent code of the generator (e.g. InfoGAN's cat, c1) along each row, the rest of the "
                   "row's latent fixed; about N/columns rows.")
@click.option("--interpolate", type=click.Choice(["lerp", "slerp"]),
              help="Latent walks: each row goes from one seeded latent to another in --walk-steps steps (about "
                   "N/steps rows), written as the grid and as an animated GIF beside it (OUTPUT.gif).")
@click.option("--walk-steps", type=click.IntRange(2, 1000), default=10, show_default=True,
              help="Points per latent walk (--interpolate).")
@click.option("--truncation", "psi", type=float, metavar="PSI",
              help="Truncation trick (families whose generator supports it, such as StyleGAN2): pull the latent "
                   "towards its average; 1 = none, 0.5-0.8 usual.")
@click.option("--device", default="cpu", show_default=True, help="Torch device to sample on.")
@click.option("--trained-weights", is_flag=True,
              help="Sample with the generator's trained weights even when a plugin of the run (such as ema) "
                   "offers other weights to sample with.")
@friendly_errors
def sample(path, num, fmt, output, seed, label, traverse, interpolate, walk_steps, psi, device, trained_weights):
    """Generate samples from a run directory, checkpoint or exported bundle PATH: a grid picture, a folder
    of PNGs or an .npz array.

    Samples are drawn and written in batches (memory stays at one batch), with progress on stderr.
    """
    import torch

    from gancore import samples as S
    from gancore.generator import map_latent, samples_of, traverse_latent, truncated
    from gancore.grids import MAX_SAMPLES, write_grid

    if num <= 0:
        raise ConfigError(f"bad value for -n: must be > 0, got {num}.")
    if num > MAX_SAMPLES:
        raise ConfigError(f"bad value for -n: at most {MAX_SAMPLES} samples in one "
                          f"{'grid' if fmt == 'grid' else 'call'} "
                          "(a limit of gancore, see "
                          f"docs/reliability.md), got {num}.")
    out = Path(output or {"grid": "samples.png", "png": "samples", "npz": "samples.npz"}[fmt])
    if fmt == "grid" and out.suffix.lower() != ".png":
        raise ConfigError(f"bad --output {str(out)!r}: gan sample writes a PNG image; give a file name ending in "
                          ".png (or --format png for a folder, npz for an array).")
    if sum(option is not None for option in (traverse, interpolate)) > 1 or (label == "all" and interpolate):
        raise ConfigError("use one of --traverse, --interpolate and --label all.")
    if label is not None and traverse is not None:
        raise ConfigError("use either --label or --traverse, not both.")
    if interpolate and fmt != "grid":
        raise ConfigError("--interpolate draws a grid and a GIF: leave out --format (or use --format grid).")
    from gancore.api import load

    loaded = load(path, device=device, trained_weights=trained_weights, registry=_registry(),
                  log=lambda text: click.echo(text, err=True))
    generator, spec, family = loaded.module, loaded.spec, loaded.family
    forward = truncated(generator, psi, family)
    labels, nrow, latent = None, None, None
    if label is not None:
        if not getattr(generator, "conditional", False):
            raise ConfigError(f"--label needs a conditional family; {family!r} is not conditional.")
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
    if traverse is not None:
        codes = getattr(generator, "latent_codes", {}) or {}
        if not codes:
            raise ConfigError(f"--traverse needs a family whose generator declares latent codes; {family!r} "
                              "declares none.")
        columns = len(codes[traverse].sweep(10)) if traverse in codes else 1
        latent, nrow = traverse_latent(generator, traverse, max(1, num // columns), 10,
                                       rng=torch.Generator().manual_seed(seed))
        num = max(1, num // columns) * nrow
    if interpolate:
        walks = max(1, num // walk_steps)
        latent = S.walk_latent(generator, walks, walk_steps, interpolate,
                               labels=None if labels is None else labels[:walks],
                               rng=torch.Generator().manual_seed(seed))
        nrow, num, labels = walk_steps, walks * walk_steps, None
    rng = torch.Generator().manual_seed(seed)
    drawn_labels: list = []  # the classes of conditional samples, as their latents hold them

    @torch.no_grad()
    def draw(start: int, count: int) -> torch.Tensor:
        # Latents are drawn in order from one seeded generator (all at once when one batch holds them).
        part = (map_latent(latent, lambda t: t[start:start + count]) if latent is not None
                else generator.latent(count, labels=None if labels is None else labels[start:start + count],
                                      rng=rng))
        if isinstance(part, dict) and isinstance(part.get("labels"), torch.Tensor) and getattr(
                generator, "conditional", False):
            drawn_labels.append(part["labels"].cpu())
        return samples_of(forward(part)).float()

    def written_labels():
        return torch.cat(drawn_labels) if drawn_labels else None

    progress, bar = _progress_bar(num, f"Sampling to {out}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "grid":
            # Written whole under a temporary name: a full disk leaves an existing file as it was.
            write_grid(out, draw, num, spec, nrow=nrow, progress=progress)
            if interpolate:
                gif = S.write_gif(out.with_suffix(".gif"), draw(0, num), num // walk_steps, walk_steps, spec)
                click.echo(f"Wrote {gif}", err=True)
        elif fmt == "png":
            S.write_png_folder(out, draw, num, spec, labels=written_labels, progress=progress)
        else:
            S.write_npz(out, draw, num, spec, labels=written_labels, progress=progress)
    except OSError as exc:
        raise ConfigError(f"cannot write {str(out)!r}: {exc.strerror or exc}.") from None
    finally:
        bar.close()
    click.echo(f"Wrote {num} samples from {loaded.source} (step {loaded.step}) to {out}")


def _progress_bar(total: int, what: str):
    """``(progress(done, total), bar)``: a tqdm bar on stderr when it is a terminal, else progress lines."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit="sample", desc=what, disable=not sys.stderr.isatty(), leave=False)
    lines = _progress(what)

    def progress(done: int, all_: int) -> None:
        bar.update(done - bar.n)
        if bar.disable and lines is not None:
            lines(done, all_)

    return progress, bar


@main.command("eval")
@click.argument("path", type=click.Path())
@click.option("--metric", "-m", "metrics", multiple=True,
              type=click.Choice(["fid", "kid", "is", "modes", "accuracy", "pr", "dc"]),
              help="Metric to measure. Repeatable. pr: precision/recall (k=3), dc: density/coverage (k=5), on FID's "
                   "features. [default: fid and modes (+ accuracy for conditional families) on digits/mnist, modes "
                   "on ring, fid on other images]")
@click.option("-n", "num", type=int, default=10_000, show_default=True,
              help="Number of generated samples (at most what fits 8 GiB with their features).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the latent draw.")
@click.option("--inception-weights", type=click.Path(dir_okay=False),
              help="FID Inception-v3 weights as a local safetensors file (data other than digits, mnist, ring). "
                   "Also read from $GANCORE_INCEPTION_WEIGHTS or the torch hub cache; never downloaded.")
@click.option("--real", metavar="DATA_OR_FOLDER",
              help="Compare with this data set (a --data name) or folder of images instead of the run's data; read "
                   "at the generator's image size. On digits/mnist FID and KID then have no floor.")
@click.option("--resize", type=click.Choice(["pil-bicubic", "bilinear"]), default="pil-bicubic", show_default=True,
              help="How images reach the Inception network's 299x299: clean-fid's PIL bicubic, or the network's own "
                   "bilinear (torch-fidelity). Recorded in eval.json.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Where to write the JSON record. [default: RUN/eval.json]")
@click.option("--trained-weights", is_flag=True,
              help="Measure the generator's trained weights even when a plugin of the run (such as ema) offers "
                   "others to sample with. eval.json's provenance.generator names the one measured.")
@friendly_errors
def eval_(path, metrics, num, seed, inception_weights, real, resize, output, trained_weights):
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
                                      log=lambda text: click.echo(text, err=True), trained_weights=trained_weights,
                                      real=real, resize=resize)
    prov = record["provenance"]
    click.echo(f"{prov['checkpoint']} (step {prov['step']}, {prov['family']}, {prov['generator']} generator), "
               f"{prov['n_fake']} samples, seed {seed}, "
               f"extractor {prov['extractor']['name']}"
               + (f" @{prov['extractor']['recipe_hash']} "
                  f"(test accuracy {100 * prov['extractor']['test_accuracy']:.1f}%)"
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
@click.option("--stateful", is_flag=True, default=False,
              help="A family with per-plugin state: Fisher GAN, its Lagrange multiplier in step.state_for(self), "
                   "updated in post_step.")
@friendly_errors
def new_plugin(name, kind, directory, stateful):
    """Write a ready-to-install plugin package gancore-NAME.

    \b
    It holds a pyproject.toml with the entry point, a module with documented
    hook implementations, a README and tests that run gancore's conformance
    kit and a command-line test. Then:  pip install -e ./gancore-NAME  and
    gan train --plugin ...
    """
    from gancore.scaffold import new_plugin as write

    root = write(name, kind, directory, stateful=stateful)
    click.echo(f"Wrote {root}. Next: pip install -e {root} && {_next_command(root)}")


def _next_command(root: Path) -> str:
    readme = (root / "README.md").read_text()
    return next(line for line in readme.splitlines() if line.startswith("gan train"))



# --- weights, export, push (gancore.weights, gancore.export) ---------------------------------

@main.group()
def weights():
    """Standard weights gancore downloads only when asked (the FID Inception-v3)."""


@weights.command("list")
@friendly_errors
def weights_list():
    """What can be fetched, from where, its SHA-256, and whether it is in the cache."""
    from gancore.weights import KNOWN, fetched, provenance

    for source in KNOWN.values():
        path = fetched(source.name)
        record = (provenance(path) or {}) if path else {}
        state = (f"fetched {record.get('fetched', '(date unknown)')}: {path}" if path
                 else f"not fetched (gan weights fetch {source.name})")
        click.echo(f"{source.name}  {source.description}\n    {source.url}\n    sha256 {source.sha256}, "
                   f"{source.size} bytes\n    {state}")


@weights.command("fetch")
@click.argument("name", type=click.Choice(["inception"]))
@click.option("--url", help="Download from this mirror instead, or file:///PATH for a file you downloaded; it "
                             "must still have the published SHA-256.")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Cache folder to convert into. [default: $GANCORE_CACHE/weights or ~/.cache/gancore/weights]")
@friendly_errors
def weights_fetch(name, url, directory):
    """Download weights NAME, check their SHA-256 before reading them, convert them to safetensors.

    \b
    gan eval then finds them by itself (Inception FID/KID/IS on your own images);
    eval.json records where they came from. Nothing else in gancore downloads them.
    """
    from tqdm import tqdm

    from gancore.weights import fetch, source_of

    with tqdm(total=source_of(name).size, unit="B", unit_scale=True, disable=not sys.stderr.isatty(),
              leave=False) as bar:
        path = fetch(name, directory=directory, url=url, progress=lambda done, _total: bar.update(done - bar.n),
                     log=lambda text: click.echo(text, err=True))
    click.echo(f"Wrote {path}")



@main.command("export")
@click.argument("path", type=click.Path())
@click.option("--to", "to", required=True, type=click.Path(), help="New folder to write the bundle into.")
@click.option("--format", "fmt", type=click.Choice(["safetensors", "onnx"]), default="safetensors", show_default=True,
              help="onnx also writes generator.onnx, checked against PyTorch with ONNX Runtime (gancore[onnx]).")
@click.option("--trained-weights", is_flag=True,
              help="Export the trained weights even when a plugin of the run (such as ema) offers others to sample "
                   "with.")
@friendly_errors
def export(path, to, fmt, trained_weights):
    """Write the generator of run or checkpoint PATH as a self-contained bundle in folder --to.

    \b
    The bundle (Hugging Face Hub layout): generator.safetensors, config.json,
    a model card README.md (family, data, eval.json's numbers and provenance,
    a sample grid), samples.png, eval.json. Load it with gancore.load(DIR);
    upload it with gan push.
    """
    from gancore.export import export_run

    out = export_run(_registry(), path, to, fmt, trained_weights, log=lambda text: click.echo(text, err=True))
    click.echo(f"Wrote {out}: {', '.join(sorted(p.name for p in out.iterdir()))}")


@main.command("push")
@click.argument("path", type=click.Path())
@click.argument("repo_id")
@click.option("--private", is_flag=True, help="Create the repository private (when it does not exist).")
@click.option("--revision", help="Branch to commit to. [default: main]")
@click.option("--message", help="Commit message.")
@click.option("--token", envvar="HF_TOKEN", help="Hub token. [default: $HF_TOKEN or the saved login]")
@click.option("--trained-weights", is_flag=True, help="As in gan export (when PATH is a run).")
@friendly_errors
def push(path, repo_id, private, revision, message, token, trained_weights):
    """Upload run PATH (exported on the fly) or bundle PATH to the Hugging Face Hub as model REPO_ID.

    \b
    Needs gancore[hub] and a Hub login (huggingface-cli login, or $HF_TOKEN).
    One commit holds the whole bundle; the repository is created if missing.
    """
    import tempfile

    from gancore.bundle import is_bundle
    from gancore.export import check_repo_id, export_run, push as push_bundle

    check_repo_id(repo_id)
    with tempfile.TemporaryDirectory(prefix="gancore-push-") as scratch:
        folder = Path(path)
        if not is_bundle(folder):
            folder = export_run(_registry(), path, Path(scratch) / "bundle", "safetensors", trained_weights,
                                log=lambda text: click.echo(text, err=True))
        info = push_bundle(folder, repo_id, token=token, private=private, revision=revision, message=message)
    click.echo(f"Pushed {path} to {repo_id}: {getattr(info, 'commit_url', info)}")



if __name__ == "__main__":
    main()

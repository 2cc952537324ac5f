"""``gan translate``: the command this package adds to ``gan`` (through ``register_commands``)."""

from __future__ import annotations

from pathlib import Path

import click

from gancore.cli import friendly_errors
from gancore.errors import ConfigError
from gancore.plugins import Registry


@click.command()
@click.argument("checkpoint", type=click.Path())
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--to", "target", help="Target domain, by name or number, or 'all' (multi-domain families). "
                                    "[default: the other domain of a two-domain family]")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Directory to write the translated images to (one PNG per input).")
@click.option("--grid", is_flag=True, help="Also write grid.png: each input next to its translation(s).")
@click.option("--device", default="cpu", show_default=True, help="Torch device to translate on.")
@friendly_errors
def translate(checkpoint, inputs, target, output, grid, device):
    """Translate image files (or folders of them) with an image-to-image CHECKPOINT.

    CHECKPOINT is a run directory (its newest checkpoint) or a checkpoint
    directory. Each input image must have the size and channel count the
    model was trained on. Results go to OUTPUT/<name>.png
    (OUTPUT/<name>-<domain>.png with --to all).

    \b
    Examples:
      gan translate runs/pix2pix-mnist-edges digit.png -o out
      gan translate runs/stargan-faces photos/ --to smiling -o out --grid
    """
    from gancore.run.rundir import load_generator
    from gancore_translation.translate import (file_part, read_images, resolve_targets, translate_images,
                                               write_outputs)

    generator, spec, _config, ckpt = load_generator(Registry.discover(), checkpoint, device,
                                                    log=lambda text: click.echo(text, err=True))
    if not getattr(generator, "translates", False):
        raise ConfigError(f"{str(checkpoint)!r} holds a {ckpt.meta.get('family')!r} generator, which does not "
                          "translate images: use `gan sample`.")
    targets = resolve_targets(generator, target)
    paths, images = read_images(inputs, spec)
    results = translate_images(generator, images, targets)
    written = write_outputs(Path(output), paths, images, results, [generator.domains[t] for t in targets], spec,
                            grid, indices=targets)
    into = ", ".join(repr(generator.domains[t]) if file_part(generator.domains[t], t) != generator.domains[t]
                     else generator.domains[t] for t in targets)
    click.echo(f"Translated {len(paths)} image(s) into {into} with "
               f"{ckpt.path} (step {ckpt.step}); wrote {written} file(s) to {output}")

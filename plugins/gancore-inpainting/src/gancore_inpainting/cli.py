"""``gan inpaint``: the command this package adds to ``gan`` (through ``register_commands``)."""

from __future__ import annotations

from pathlib import Path

import click

from gancore.cli import friendly_errors
from gancore.errors import ConfigError
from gancore.plugins import Registry


@click.command()
@click.argument("checkpoint", type=click.Path())
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--mask", "mask_path", type=click.Path(dir_okay=False),
              help="A mask image of the model's size: white (brighter than mid-grey) where pixels are to be "
                   "filled, black where they are kept; the same mask for every input. "
                   "[default: the model's own hole, the centre square]")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Directory to write the completed images to (one PNG per input).")
@click.option("--grid", is_flag=True, help="Also write grid.png: each input with its hole, next to its completion.")
@click.option("--device", default="cpu", show_default=True, help="Torch device to inpaint on.")
@friendly_errors
def inpaint(checkpoint, inputs, mask_path, output, grid, device):
    """Fill the holes of image files (or folders of them) with an inpainting CHECKPOINT.

    CHECKPOINT is a run directory (its newest checkpoint) or a checkpoint
    directory of an inpainting family (gancore-contextencoder,
    gancore-ccgan). Each input must have the model's size and channel count.
    Pixels outside the mask are kept exactly. Results go to OUTPUT/<name>.png.

    \b
    Examples:
      gan inpaint runs/contextencoder-mnist digit.png -o out
      gan inpaint runs/ccgan-mnist photos/ --mask hole.png -o out --grid
    """
    import torch
    from gancore_translation.translate import read_images, write_outputs

    from gancore.run.rundir import load_generator
    from gancore_inpainting.masks import read_mask, square_masks

    generator, spec, _config, ckpt = load_generator(Registry.discover(), checkpoint, device,
                                                    log=lambda text: click.echo(text, err=True))
    if not hasattr(generator, "masked_latent"):
        raise ConfigError(f"{str(checkpoint)!r} holds a {ckpt.meta.get('family')!r} generator, which does not "
                          "inpaint images: use `gan sample` or `gan translate`.")
    paths, images = read_images(inputs, spec)
    mask = (read_mask(mask_path, spec.image_size) if mask_path
            else square_masks(1, spec.image_size, generator.side, "centre"))
    generator.eval()
    with torch.no_grad():
        filled = torch.cat([generator(generator.masked_latent(chunk, mask)).float().cpu()
                            for chunk in images.split(64)])
    shown = images * (1 - mask)  # the grid shows each input as the model saw it
    written = write_outputs(Path(output), paths, shown, [filled], ["completed"], spec, grid)
    click.echo(f"Inpainted {len(paths)} image(s) with {ckpt.path} (step {ckpt.step}); wrote {written} file(s) "
               f"to {output}")

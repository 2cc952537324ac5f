"""``gan translate`` (:mod:`gancore_translation.cli`): read user images, translate them, write the results.

Kept apart from the CLI so that notebooks can use the same checks: an input
must have the model's image size and channel count, and the target domain
must be one the model can produce; anything else is a clear
:class:`gancore.errors.DataError` or :class:`gancore.errors.ConfigError`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from gancore.data import IMAGE_SUFFIXES, DataSpec
from gancore.errors import ConfigError, DataError

MODES = {"1": 1, "L": 1, "I": 1, "I;16": 1, "F": 1, "LA": 2, "RGB": 3, "P": 3, "RGBA": 4, "CMYK": 4}


def resolve_targets(generator, target: str | None) -> list[int]:
    """Domain indices for ``--to`` (a name, a number, ``all``, or ``None`` for the default)."""
    domains, allowed = generator.domains, generator.allowed_targets()
    names = ", ".join(f"{domains[i]!r} ({i})" for i in allowed)
    if target is None:
        if len(allowed) == 1 or (len(domains) == 2 and not generator.conditional):
            return [allowed[-1]]
        raise ConfigError(f"this model translates into {len(allowed)} domains: choose one with --to "
                          f"({names}, or 'all').")
    if target == "all":
        return list(allowed)
    if target in domains:
        index = domains.index(target)
    else:
        try:
            index = int(target)
        except ValueError:
            index = -1
    if index not in allowed:
        raise ConfigError(f"unknown or unreachable domain {target!r} for --to: this model translates into "
                          f"{names}" + (" or 'all'." if len(allowed) > 1 else "."))
    return [index]


def _files(inputs: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {str(item)!r}.")
            files.extend(found)
        elif item.is_file():
            files.append(item)
        else:
            raise DataError(f"input {str(item)!r} does not exist.")
    return files


def read_images(inputs: Sequence[str], spec: DataSpec) -> tuple[list[Path], torch.Tensor]:
    """Read image files (folders expand to their images) as ``(N, C, H, W)`` in ``[-1, 1]``.

    Refuses, naming the file, an image whose channel count or size is not
    the model's.
    """
    from PIL import Image, UnidentifiedImageError

    channels, size = spec.channels, spec.image_size
    paths, arrays = _files(inputs), []
    for path in paths:
        try:
            with Image.open(path) as image:
                image.load()
                found = MODES.get(image.mode, len(image.getbands()))
                if found != channels:
                    want = "greyscale (1 channel)" if channels == 1 else f"{channels}-channel (RGB)"
                    raise DataError(f"image {str(path)!r} has {found} channel(s) (mode {image.mode}) but the model "
                                    f"translates {want} images; convert it first.")
                if image.size != (size, size):
                    raise DataError(f"image {str(path)!r} is {image.size[0]}x{image.size[1]} but the model "
                                    f"translates {size}x{size} images; resize it first.")
                array = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise DataError(f"cannot read image {str(path)!r}: {exc}.") from None
        arrays.append(array[None] if array.ndim == 2 else array.transpose(2, 0, 1))
    images = torch.from_numpy(np.stack(arrays)).float().div_(127.5).sub_(1.0)
    return paths, images


@torch.no_grad()
def translate_images(generator, images: torch.Tensor, targets: Sequence[int], batch: int = 64) -> list[torch.Tensor]:
    """One tensor of translations per target domain, in the input order."""
    generator.eval()
    return [torch.cat([generator(generator.translation_latent(chunk, target)).float().cpu()
                       for chunk in images.split(batch)]) for target in targets]


def _to_pil(image: torch.Tensor):
    from PIL import Image

    array = ((image.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    return Image.fromarray(array[0]) if array.shape[0] == 1 else Image.fromarray(array.transpose(1, 2, 0))


#: A domain name used as it is in a file name; any other (read from a stranger's meta.json: ``x/../..``,
#: a control character, a name too long) is replaced by the domain's number.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")


def file_part(name: str, index: int) -> str:
    """The part of an output file name that says the domain: its name when that is plainly a name
    (letters, digits, ``_.+-``, no ``..``), else ``domain<index>``. Never a path."""
    return name if SAFE_NAME.fullmatch(name) and ".." not in name else f"domain{index}"


def write_outputs(out: Path, paths: Sequence[Path], sources: torch.Tensor, results: Sequence[torch.Tensor],
                  names: Sequence[str], spec: DataSpec, grid: bool, indices: Sequence[int] | None = None) -> int:
    """Write ``<stem>.png`` per input (``<stem>-<domain>.png`` for several targets); with ``grid``, grid.png.

    Domain names come from the checkpoint: only a plain name is used in a file name
    (:func:`file_part`), and every file is written inside ``out`` atomically, never through a link.
    """
    from gancore.files import atomic_write

    indices = list(indices) if indices is not None else list(range(len(names)))
    parts = [file_part(str(name), index) for name, index in zip(names, indices)]
    try:
        out.mkdir(parents=True, exist_ok=True)  # the user's choice of folder (a link to one is fine)
        written, used = 0, set()
        for i, path in enumerate(paths):
            stem = path.stem
            while stem in used:  # two inputs with the same name from different folders
                stem += "_"
            used.add(stem)
            for result, part in zip(results, parts):
                target = out / (f"{stem}.png" if len(results) == 1 else f"{stem}-{part}.png")
                assert target.parent == out, target
                with atomic_write(target) as handle:
                    _to_pil(result[i]).save(handle, format="png")
                written += 1
        if grid:
            import torchvision.utils as vutils

            rows = torch.stack([sources, *results], 1).flatten(0, 1)
            picture = vutils.make_grid(rows, nrow=1 + len(results), normalize=True, value_range=(-1, 1), padding=2)
            with atomic_write(out / "grid.png") as handle:
                vutils.save_image(picture, handle, format="png")
            written += 1
    except OSError as exc:
        raise ConfigError(f"cannot write to {str(out)!r}: {exc.strerror or exc}.") from None
    return written

"""Samples as files for other tools (``gan sample --format png|npz``) and latent walks (``--interpolate``).

Every writer takes ``draw(start, count)``, which returns samples ``start .. start + count - 1``
(called in order), and writes batch by batch, so memory stays at one batch whatever ``n`` is:

* :func:`write_png_folder`: ``000000.png``, ``000001.png``, ... (8-bit, greyscale or RGB as the
  data), plus ``labels.csv`` for conditional samples; the folder is filled under a temporary name
  beside the target and renamed into place when complete.
* :func:`write_npz`: one ``.npz`` holding ``x`` — images as ``uint8`` ``(n, H, W, C)`` (the layout
  PIL, TensorFlow, clean-fid and torch-fidelity's image folders use), vectors as ``float32``
  ``(n, D)`` — and ``labels`` (``int64``, conditional samples). The arrays are streamed into the
  zip member by member (``.npy`` header, then each batch's bytes), in a file written atomically
  (:func:`gancore.files.atomic_write`); ``numpy.load`` reads it as any ``np.savez`` file.
* :func:`walk_latent` and :func:`write_gif`: latent walks, ``lerp`` or ``slerp`` between two
  seeded latents per row, drawn as a grid (:func:`gancore.grids.write_grid`) and as an animated
  GIF (Pillow), one frame per step, each frame a grid of every walk at that step.
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gancore.data import DataSpec, samples_to_image
from gancore.errors import ConfigError
from gancore.files import atomic_write, fsync_dir, write_new
from gancore.generator import map_latent

#: Samples drawn and written at once.
BATCH = 500
FORMATS = ("grid", "png", "npz")
WALKS = ("lerp", "slerp")

Draw = Callable[[int, int], torch.Tensor]
Progress = Callable[[int, int], None]
Labels = Any  # torch.Tensor | Callable[[], torch.Tensor | None] | None


def to_uint8(samples: torch.Tensor) -> np.ndarray:
    """Images in ``[-1, 1]``, ``(n, C, H, W)``, as ``uint8`` ``(n, H, W, C)``, rounded as
    torchvision's ``save_image`` rounds (``x * 255 + 0.5``, clamped)."""
    x = samples.detach().float().cpu().add(1).div(2).mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def _new_folder(path: Path) -> Path:
    if path.is_symlink():
        raise ConfigError(f"--output {str(path)!r} is a symlink: give a new folder.")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ConfigError(f"--output {str(path)!r} exists and is not an empty folder: give a new one (nothing is "
                          "overwritten).")
    return path


def write_png_folder(path: str | os.PathLike, draw: Draw, n: int, spec: DataSpec,
                     labels: Labels = None, progress: Progress | None = None) -> Path:
    """Write ``n`` image samples as numbered PNGs in the new folder ``path`` (see the module docstring).

    :param labels: the samples' classes, or a function called after the last ``draw`` that returns
        them (``None``: unconditional).
    """
    from PIL import Image

    if not spec.is_image:
        raise ConfigError(f"--format png writes images; {spec.name!r} samples are vectors of shape {spec.shape}: "
                          "use --format npz (or grid for a picture).")
    path = _new_folder(Path(path))
    digits = max(6, len(str(n - 1)))
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.samples-"))
    try:
        for start in range(0, n, BATCH):
            count = min(BATCH, n - start)
            pixels = to_uint8(draw(start, count))
            for offset, image in enumerate(pixels):
                encoded = io.BytesIO()
                Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).save(encoded, format="PNG")
                write_new(work / f"{start + offset:0{digits}d}.png", encoded.getvalue())
            if progress is not None:
                progress(start + count, n)
        labels = labels() if callable(labels) else labels
        if labels is not None:
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(["file", "label", "class"])
            for index, label in enumerate(labels.tolist()):
                name = spec.class_names[label] if spec.class_names and label < len(spec.class_names) else ""
                writer.writerow([f"{index:0{digits}d}.png", label, name])
            write_new(work / "labels.csv", text.getvalue().encode())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(work, 0o777 & ~umask)  # mkdtemp's folder is private
        if path.exists():
            path.rmdir()  # an empty folder the user made for it
        os.rename(work, path)
        fsync_dir(path.parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


def _npy_header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    """The ``.npy`` header of an array of ``shape`` and ``dtype`` (NumPy's own writer)."""
    buffer = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header) if _fits_1_0(header) else \
        np.lib.format.write_array_header_2_0(buffer, header)
    return buffer.getvalue()


def _fits_1_0(header: dict[str, Any]) -> bool:
    return len(repr(header)) < 65000


def write_npz(path: str | os.PathLike, draw: Draw, n: int, spec: DataSpec, labels: Labels = None,
              progress: Progress | None = None) -> Path:
    """Write ``n`` samples (and their ``labels``, as :func:`write_png_folder` takes them) to the
    ``.npz`` file ``path``, one batch in memory."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise ConfigError(f"bad --output {str(path)!r}: --format npz writes a .npz file; give a name ending in .npz.")
    path.parent.mkdir(parents=True, exist_ok=True)
    if spec.is_image:
        channels, height, width = spec.shape
        shape, dtype = (n, height, width, channels), np.dtype(np.uint8)
    else:
        shape, dtype = (n, *spec.shape), np.dtype(np.float32)
    with atomic_write(path) as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            member.write(_npy_header(shape, dtype))
            for start in range(0, n, BATCH):
                count = min(BATCH, n - start)
                batch = draw(start, count)
                part = to_uint8(batch) if spec.is_image else batch.detach().float().cpu().numpy()
                if part.shape != (count, *shape[1:]):
                    raise ConfigError(f"the generator returned samples of shape {tuple(part.shape[1:])}; the data's "
                                      f"are {tuple(shape[1:])}.")
                member.write(np.ascontiguousarray(part, dtype=dtype).tobytes())
                if progress is not None:
                    progress(start + count, n)
        labels = labels() if callable(labels) else labels
        if labels is not None:
            values = labels.detach().cpu().numpy().astype(np.int64)
            with archive.open("labels.npy", "w") as member:
                member.write(_npy_header(values.shape, values.dtype) + values.tobytes())
    return path


# --- latent walks --------------------------------------------------------------------------------

def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``a + t (b - a)``, ``t`` broadcast over all but the first dimension."""
    t = t.reshape(-1, *[1] * (a.dim() - 1)).to(a.dtype)
    return a + t * (b - a)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of each row of ``a`` towards ``b`` (Shoemake 1985; White 2016 for
    GAN latents): ``sin((1-t) w)/sin w a + sin(t w)/sin w b`` with ``w`` the angle between the rows
    (each row flattened); rows at an angle of almost 0 or pi fall back to :func:`lerp`."""
    flat_a, flat_b = a.reshape(len(a), -1).double(), b.reshape(len(b), -1).double()
    cos = (torch.nn.functional.normalize(flat_a, dim=1) * torch.nn.functional.normalize(flat_b, dim=1)).sum(1)
    omega = torch.arccos(cos.clamp(-1, 1))
    sin = torch.sin(omega)
    t = t.double().reshape(-1)
    safe = sin.abs() > 1e-6
    wa = torch.where(safe, torch.sin((1 - t) * omega) / torch.where(safe, sin, 1), 1 - t)
    wb = torch.where(safe, torch.sin(t * omega) / torch.where(safe, sin, 1), t)
    out = wa[:, None] * flat_a + wb[:, None] * flat_b
    return out.reshape(a.shape).to(a.dtype)


def walk_latent(generator: Any, walks: int, steps: int, mode: str = "lerp",
                labels: torch.Tensor | None = None, rng: torch.Generator | None = None) -> Any:
    """The latent of ``walks`` latent walks of ``steps`` points each (row-major: walk by walk).

    Each walk goes from one drawn latent to another, interpolating every floating-point tensor of
    the latent (noise, continuous codes) with ``mode``; whole-number parts (labels, categorical
    codes) stay those of the walk's start. ``labels`` (one per walk) fixes conditional classes.
    """
    if mode not in WALKS:
        raise ConfigError(f"unknown --interpolate {mode!r}: use one of {', '.join(WALKS)}.")
    if steps < 2:
        raise ConfigError(f"--interpolate needs at least 2 steps per walk, got {steps}.")
    start = generator.latent(walks, labels=labels, rng=rng)
    end = generator.latent(walks, labels=labels, rng=rng)
    t = torch.linspace(0, 1, steps).repeat(walks)
    pairs = []

    def pick(latent):  # remember each tensor's end point in the order map_latent visits them
        pairs.append(latent)
        return latent

    map_latent(end, pick)
    ends = iter(pairs)
    function = slerp if mode == "slerp" else lerp

    def interpolate(a: torch.Tensor) -> torch.Tensor:
        b = next(ends)
        a_rep = a.repeat_interleave(steps, dim=0)
        if not a.is_floating_point():
            return a_rep
        return function(a_rep, b.repeat_interleave(steps, dim=0), t.to(a.device))

    return map_latent(start, interpolate)


def write_gif(path: str | os.PathLike, samples: torch.Tensor, walks: int, steps: int, spec: DataSpec,
              duration: int = 100) -> Path:
    """An animated GIF of latent walks: frame ``k`` is the grid of every walk's ``k``-th sample,
    forward then back (looping). ``samples`` is row-major, ``walks * steps``."""
    from PIL import Image

    nrow = max(1, math.ceil(math.sqrt(walks)))
    frames = []
    for k in range(steps):
        grid = samples_to_image(samples[k::steps], spec, nrow=nrow)
        pixels = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()
        frames.append(Image.fromarray(pixels))
    frames += frames[-2:0:-1]  # back again, so the loop has no jump
    with atomic_write(path) as handle:
        frames[0].save(handle, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0)
    return Path(path)


__all__ = ["BATCH", "FORMATS", "WALKS", "lerp", "slerp", "to_uint8", "walk_latent", "write_gif", "write_npz",
           "write_png_folder"]

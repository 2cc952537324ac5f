"""Sample grids of any size, drawn batch by batch and written to a PNG as they come (``gan sample``).

A grid of ``-n 100000`` images is hundreds of megapixels: held whole (samples, grid tensor, PNG
encoder's copy) it takes gigabytes. Here the samples are drawn a batch of grid rows at a time,
each batch is rendered with :func:`gancore.data.samples_to_image` (the same pixels as a grid
rendered whole) and its scanlines go straight into a streaming PNG encoder, so memory stays at
one batch whatever ``n`` is. 2-D points (``ring``) are painted onto one density picture batch by
batch. The file is written atomically (:func:`gancore.files.atomic_write`).
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import IO, Callable

import numpy as np
import torch

from gancore.data import DataSpec, samples_to_image
from gancore.files import atomic_write

#: Samples drawn and rendered at once (rounded to whole grid rows).
BATCH = 512
#: The most samples one grid may hold (``gan sample -n``): about 2.5 gigapixels at 28x28.
MAX_SAMPLES = 1_000_000


class PngWriter:
    """An 8-bit RGB PNG written scanline block by block (no interlacing, filter 0)."""

    def __init__(self, handle: IO[bytes], width: int, height: int):
        self.handle, self.width, self.height = handle, width, height
        self._rows = 0
        self._zip = zlib.compressobj(6)
        handle.write(b"\x89PNG\r\n\x1a\n")
        self._chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))

    def _chunk(self, kind: bytes, data: bytes) -> None:
        self.handle.write(struct.pack(">I", len(data)) + kind + data
                          + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    def add(self, rows: np.ndarray) -> None:
        """Append scanlines: a ``uint8`` array ``(h, width, 3)``."""
        assert rows.dtype == np.uint8 and rows.shape[1:] == (self.width, 3), rows.shape
        lines = np.concatenate([np.zeros((len(rows), 1), np.uint8), rows.reshape(len(rows), -1)], axis=1)
        data = self._zip.compress(lines.tobytes())
        if data:
            self._chunk(b"IDAT", data)
        self._rows += len(rows)

    def close(self) -> None:
        assert self._rows == self.height, (self._rows, self.height)
        self._chunk(b"IDAT", self._zip.flush())
        self._chunk(b"IEND", b"")


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    """A ``(3, H, W)`` float image in ``[0, 1]`` as ``(H, W, 3)`` bytes, rounded as torchvision's
    ``save_image`` rounds."""
    return image.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()


def write_grid(path: str | Path, draw: Callable[[int, int], torch.Tensor], n: int, spec: DataSpec,
               nrow: int | None = None, progress: Callable[[int, int], None] | None = None) -> Path:
    """Write the grid of ``n`` samples to PNG file ``path``.

    :param draw: ``draw(start, count)`` returns samples ``start .. start + count - 1``; it is called
        in order, with counts of whole grid rows (one call when ``n`` is at most :data:`BATCH`).
    :param nrow: samples per grid row (default: ``floor(sqrt(n))``, as :func:`samples_to_image`).
    :param progress: ``progress(done, n)`` after each batch.
    """
    with atomic_write(path) as handle:
        if spec.is_image:
            _image_grid(handle, draw, n, spec, nrow or max(1, int(math.sqrt(n))), progress)
        else:
            _point_picture(handle, draw, n, spec, progress)
    return Path(path)


def _image_grid(handle, draw, n, spec, nrow, progress) -> None:
    columns = min(nrow, n)
    per_batch = max(1, BATCH // columns) * columns
    if n <= per_batch:  # one batch: the grid rendered whole, exactly as samples_to_image renders it
        whole = _to_uint8(samples_to_image(draw(0, n), spec, nrow=nrow))
        writer = PngWriter(handle, whole.shape[1], whole.shape[0])
        writer.add(whole)
        writer.close()
        if progress is not None:
            progress(n, n)
        return
    writer = None
    for start in range(0, n, per_batch):
        count = min(per_batch, n - start)
        samples = draw(start, count).detach().float().cpu()
        for row in range(0, count, columns):
            strip = _row_strip(samples[row:row + columns], spec)
            if writer is None:
                cell_w, cell_h = (strip.shape[2] - 1) // min(columns, count - row), strip.shape[1] - 1
                writer = PngWriter(handle, columns * cell_w + 1, math.ceil(n / columns) * cell_h + 1)
            pixels = _to_uint8(strip[:, :-1])  # each row carries its top padding; the last line comes at the end
            if pixels.shape[1] < writer.width:  # a short last row: empty cells are padding (black)
                pixels = np.pad(pixels, ((0, 0), (0, writer.width - pixels.shape[1]), (0, 0)))
            writer.add(pixels)
        if progress is not None:
            progress(start + count, n)
    writer.add(np.zeros((1, writer.width, 3), np.uint8))
    writer.close()


def _row_strip(samples: torch.Tensor, spec: DataSpec) -> torch.Tensor:
    """One grid row with its padding (``make_grid`` pads nothing around a single image: that row is
    rendered as two and cut)."""
    if len(samples) > 1:
        return samples_to_image(samples, spec, nrow=len(samples))
    strip = samples_to_image(samples.repeat(2, *[1] * (samples.dim() - 1)), spec, nrow=2)
    return strip[:, :, :(strip.shape[2] - 1) // 2 + 1]


def _point_picture(handle, draw, n, spec, progress) -> None:
    empty = samples_to_image(torch.zeros(0, *spec.shape), spec)
    picture = empty.clone()
    for start in range(0, n, BATCH):
        count = min(BATCH, n - start)
        drawn = samples_to_image(draw(start, count), spec)
        painted = (drawn != empty).any(dim=0)
        picture[:, painted] = drawn[:, painted]
        if progress is not None:
            progress(start + count, n)
    writer = PngWriter(handle, picture.shape[2], picture.shape[1])
    writer.add(_to_uint8(picture))
    writer.close()

"""Which pixels an inpainting family must fill: masks, and errors over the masked region.

A mask is a float tensor of shape ``(N, 1, H, W)`` holding 1 where a pixel is
missing (the hole) and 0 where it is known; it broadcasts over channels.
Images are in ``[-1, 1]``; a hole is shown to a generator as 0, the middle
grey (the Context Encoder fills it with the data's mean value, which for
images scaled to ``[-1, 1]`` is close to it).
"""

from __future__ import annotations

from typing import Literal

import torch

from gancore.errors import DataError
from gancore.generator import draw

#: Where the hole goes: the centre (Pathak et al.'s "central region"), or anywhere (Denton et al.'s CCGAN).
Placement = Literal["centre", "random"]


def hole_side(size: int, fraction: float) -> int:
    """The side in pixels of a square hole covering ``fraction`` of the image's side (at least 1 pixel,
    at most the image)."""
    return min(size, max(1, round(size * fraction)))


def square_masks(n: int, size: int, side: int, placement: Placement = "centre", rng: torch.Generator | None = None,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """``n`` masks of ``size`` x ``size`` pixels, each with one ``side`` x ``side`` hole, in the centre
    or at a uniformly drawn position (from ``rng`` when given)."""
    if placement == "centre":
        top = torch.full((n,), (size - side) // 2, dtype=torch.int64)
        left = top.clone()
    else:
        corners = draw(torch.randint, 0, size - side + 1, (2, n), rng=rng, device="cpu")
        top, left = corners[0], corners[1]
    rows = torch.arange(size)
    inside_rows = (rows[None] >= top[:, None]) & (rows[None] < top[:, None] + side)
    inside_cols = (rows[None] >= left[:, None]) & (rows[None] < left[:, None] + side)
    mask = inside_rows[:, :, None] & inside_cols[:, None, :]
    return mask[:, None].float().to(device)


def cut(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``images`` with the masked pixels set to 0 (the generator's view of the hole)."""
    return images * (1 - mask)


def masked_l1(images: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image mean absolute error over the masked pixels (and channels), in ``[-1, 1]`` units: ``(N,)``."""
    area = mask.flatten(1).sum(1).clamp_min(1) * images.shape[1]
    return ((images - truth).abs() * mask).flatten(1).sum(1) / area


def masked_l2(images: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The Context Encoder's reconstruction loss: the mean squared error over the masked pixels (and
    channels) of the batch, a scalar."""
    area = mask.sum().clamp_min(1) * images.shape[1]
    return ((images - truth).pow(2) * mask).sum() / area


def read_mask(path, size: int) -> torch.Tensor:
    """A user's mask image as a ``(1, 1, size, size)`` mask: pixels brighter than mid-grey are the hole.

    Refuses, naming the file, an image of another size or one without any hole pixel.
    """
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            if image.size != (size, size):
                raise DataError(f"mask {str(path)!r} is {image.size[0]}x{image.size[1]} but the model inpaints "
                                f"{size}x{size} images; draw the mask at that size.")
            array = np.asarray(image.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"cannot read mask {str(path)!r}: {exc}.") from None
    mask = torch.from_numpy(array > 127).float()[None, None]
    if not mask.any():
        raise DataError(f"mask {str(path)!r} has no hole: paint the pixels to fill white (brighter than mid-grey) "
                        "on black.")
    return mask

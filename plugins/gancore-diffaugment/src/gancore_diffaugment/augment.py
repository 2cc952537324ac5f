"""The transformations of DiffAugment (Zhao et al. 2020), as differentiable tensor functions.

Each policy has a deterministic form that takes its random draws as arguments
(:func:`brightness`, :func:`saturation`, :func:`contrast`, :func:`translate`,
:func:`cutout`: tested by hand) and a ``random_*`` form that draws them, one
draw per sample, from torch's global RNG (so a seeded run is reproducible and
a resumed one draws the same) on the images' device. All of them are built
from additions, multiplications and indexing, so gradients reach the images:
the generator is trained through the augmentation.

Images are ``(n, C, H, W)`` in ``[-1, 1]``; the paper's code works on the same
range, so its constants (brightness +-0.5, zero padding, zeroed cutout: 0 is
mid-grey here) carry over unchanged.
"""

from __future__ import annotations

from typing import Callable

import torch

#: Translation by up to this fraction of the image size (the paper: 1/8), zero-padded.
TRANSLATION_RATIO = 0.125
#: Cutout of a square this fraction of the image size (the paper: 1/2).
CUTOUT_RATIO = 0.5


def _per_sample(r: torch.Tensor) -> torch.Tensor:
    return r.reshape(-1, 1, 1, 1)


def brightness(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``x + (r - 0.5)``, ``r`` in ``[0, 1)`` per sample: a shift of up to +-0.5."""
    return x + (_per_sample(r) - 0.5)


def saturation(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``(x - mean_c x) * 2r + mean_c x``: each pixel's channels scaled about their mean by ``[0, 2)``.

    A no-op on grey images (one channel equals its mean)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (2 * _per_sample(r)) + mean


def contrast(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``(x - mean x) * (r + 0.5) + mean x``: the image scaled about its mean by ``[0.5, 1.5)``."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_per_sample(r) + 0.5) + mean


def translate(x: torch.Tensor, shift: torch.Tensor, pad: int | None = None) -> torch.Tensor:
    """Move each image by ``shift[i] = (dy, dx)`` pixels, filling with zeros.

    ``out[i, :, h, w] = x[i, :, h - dy, w - dx]`` where that pixel exists, else 0. ``pad``
    bounds ``|shift|``; given, it spares reading the shifts back from the device.
    """
    n, _, height, width = x.shape
    if pad is None:
        pad = int(shift.abs().max()) if shift.numel() else 0
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = torch.arange(height, device=x.device).unsqueeze(0) - shift[:, :1] + pad  # (n, H)
    cols = torch.arange(width, device=x.device).unsqueeze(0) - shift[:, 1:] + pad  # (n, W)
    batch = torch.arange(n, device=x.device).reshape(n, 1, 1)
    # Advanced indices around a slice put their dimensions first: (n, H, W, C).
    return padded[batch, :, rows.unsqueeze(2), cols.unsqueeze(1)].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, centre: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Zero a ``size`` rectangle of each image centred at ``centre[i] = (cy, cx)``, clipped at the borders.

    Rows ``cy - size_h // 2 <= h < cy - size_h // 2 + size_h`` (and likewise columns) are zeroed.
    """
    _, _, height, width = x.shape
    top = centre[:, :1] - size[0] // 2
    left = centre[:, 1:] - size[1] // 2
    rows = torch.arange(height, device=x.device).unsqueeze(0)
    cols = torch.arange(width, device=x.device).unsqueeze(0)
    inside_rows = (rows >= top) & (rows < top + size[0])  # (n, H)
    inside_cols = (cols >= left) & (cols < left + size[1])  # (n, W)
    keep = ~(inside_rows.unsqueeze(2) & inside_cols.unsqueeze(1))
    return x * keep.unsqueeze(1).to(x.dtype)


def random_color(x: torch.Tensor) -> torch.Tensor:
    """Brightness, saturation and contrast, each with its own draw per sample (the paper's order)."""
    n = len(x)
    x = brightness(x, torch.rand(n, device=x.device, dtype=x.dtype))
    x = saturation(x, torch.rand(n, device=x.device, dtype=x.dtype))
    return contrast(x, torch.rand(n, device=x.device, dtype=x.dtype))


def random_translation(x: torch.Tensor, ratio: float = TRANSLATION_RATIO) -> torch.Tensor:
    """A shift of up to ``round(ratio * size)`` pixels in each direction, drawn uniformly per sample."""
    limits = (int(x.shape[2] * ratio + 0.5), int(x.shape[3] * ratio + 0.5))
    limit = torch.tensor(limits, device=x.device)
    shift = (torch.rand(len(x), 2, device=x.device) * (2 * limit + 1)).long() - limit
    return translate(x, shift, pad=max(limits))


def random_cutout(x: torch.Tensor, ratio: float = CUTOUT_RATIO) -> torch.Tensor:
    """A ``round(ratio * size)`` square zeroed at a centre drawn uniformly per sample (the paper's range)."""
    size = (int(x.shape[2] * ratio + 0.5), int(x.shape[3] * ratio + 0.5))
    # The paper's centres: 0 .. H - 1 + (1 for an even cutout), so an even square may reach either border.
    span = torch.tensor([x.shape[2] + (1 - size[0] % 2), x.shape[3] + (1 - size[1] % 2)], device=x.device)
    centre = (torch.rand(len(x), 2, device=x.device) * span).long()
    return cutout(x, centre, size)


#: The paper's policies by name, applied in the order given.
POLICIES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "color": random_color,
    "translation": random_translation,
    "cutout": random_cutout,
}


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,translation"`` -> ``("color", "translation")``; a ValueError naming the choices otherwise."""
    names = tuple(part.strip() for part in str(policy).split(",") if part.strip())
    unknown = [name for name in names if name not in POLICIES]
    if not names or unknown:
        raise ValueError(f"policy must be a comma-separated list of {', '.join(POLICIES)}; got {policy!r}")
    return names


def augment(x: torch.Tensor, policy: tuple[str, ...]) -> torch.Tensor:
    """``x`` through each of ``policy``'s transformations, with fresh draws per sample."""
    for name in policy:
        x = POLICIES[name](x)
    return x

"""Pictures of samples: image grids and density pictures of 2-D points."""

from __future__ import annotations

import math

import torch

from gancore.data.embedded import RING_RADIUS
from gancore.data.spec import DataSpec
from gancore.errors import DataError


#: Images smaller than this are enlarged by a whole factor towards it in sample grids (8x8 -> 32x32).
GRID_CELL = 32

def samples_to_image(samples: torch.Tensor, spec: DataSpec, nrow: int | None = None) -> torch.Tensor:
    """Render samples as one ``(3, H, W)`` float image in ``[0, 1]``.

    Images become a grid, small images (``digits``) enlarged by a whole factor
    towards :data:`GRID_CELL` px so that a person can read them; 2-D vectors
    become a density picture of the plane (``[-3, 3]^2``, the ring's circle
    drawn faintly for reference).
    """
    import torchvision.utils as vutils

    samples = samples.detach().float().cpu()
    if spec.is_image:
        nrow = nrow or max(1, int(math.sqrt(len(samples))))
        scale = max(1, GRID_CELL // max(samples.shape[-2:]))
        if scale > 1:
            samples = torch.nn.functional.interpolate(samples, scale_factor=scale, mode="nearest")
        grid = vutils.make_grid(samples.clamp(-1, 1), nrow=nrow, normalize=True, value_range=(-1, 1), padding=1)
        return grid if grid.shape[0] == 3 else grid.expand(3, -1, -1)
    if samples.dim() != 2 or samples.shape[1] != 2:
        raise DataError(f"cannot draw samples of shape {tuple(samples.shape[1:])}: only images and 2-D points.")
    size, extent = 256, 3.0
    canvas = torch.ones(3, size, size)
    angles = torch.linspace(0, 2 * math.pi, 720)
    for points, colour in ((RING_RADIUS * torch.stack([angles.cos(), angles.sin()], 1), (0.85, 0.85, 0.85)),
                           (samples, (0.1, 0.2, 0.8))):
        pix = ((points + extent) / (2 * extent) * (size - 1)).round().long()
        keep = ((pix >= 0) & (pix < size)).all(dim=1)
        cols, rows = pix[keep, 0], (size - 1) - pix[keep, 1]
        for channel, value in enumerate(colour):
            canvas[channel, rows, cols] = value
    return canvas

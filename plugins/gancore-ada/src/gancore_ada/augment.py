"""StyleGAN2-ADA's augmentation pipeline (Karras et al. 2020), written from the paper.

Every transformation is applied to each image independently with probability ``p``, with its
parameters drawn per image (the paper's Appendix B distributions):

geometric, composed into one affine map and resampled once (bilinear, reflection padding):

* ``xflip``: a horizontal flip with probability 1/2 (the paper's ``i ~ U{0, 1}``);
* ``rotate90``: a rotation by ``k * 90`` degrees, ``k ~ U{0, 1, 2, 3}``;
* ``xint``: an integer translation, ``t ~ U(-0.125, 0.125)^2`` of the image size, rounded to pixels;
* ``scale``: isotropic scaling by ``s ~ lognormal(0, (0.2 ln 2)^2)`` about the image centre;
* ``rotate``: an arbitrary rotation by ``theta ~ U(-pi, pi)`` about the centre;

colour, applied after the geometry, on images in [-1, 1]:

* ``brightness``: ``x + b``, ``b ~ N(0, 0.2^2)``;
* ``contrast``: ``x * c`` (about mid-grey, 0), ``c ~ lognormal(0, (0.5 ln 2)^2)``;
* ``saturation``: per pixel, ``mean_c(x) + (x - mean_c(x)) * s``, ``s ~ lognormal(0, (ln 2)^2)``:
  RGB only. On one channel it would be the identity (a grey pixel has no saturation), so it is
  skipped; the paper's luma flip and hue rotation are not implemented.

Everything is differentiable with respect to the images (``grid_sample`` and arithmetic), so G
is trained through the augmentation. Flips, quarter turns and integer translations sample at
exact pixel centres, so alone they move pixels exactly (up to float rounding).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: The transformations in the order they are applied.
GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate")
COLOR = ("brightness", "contrast", "saturation")
TRANSFORMS = GEOMETRIC + COLOR


def parse_transforms(text: str) -> tuple[str, ...]:
    """``"xflip, rotate"`` -> ``("xflip", "rotate")``; unknown or empty names raise ``ValueError``."""
    names = tuple(part.strip() for part in text.split(","))
    for name in names:
        if name not in TRANSFORMS:
            raise ValueError(f"unknown ADA transform {name!r} in transforms {text!r}; use some of "
                             f"{', '.join(TRANSFORMS)}, comma-separated.")
    return names


# -- inverse (sampling) matrices in grid_sample's normalised coordinates (x right, y down, [-1, 1]) --
def _eye(n: int, device, dtype) -> torch.Tensor:
    return torch.eye(3, device=device, dtype=dtype).repeat(n, 1, 1)


def xflip_matrix(flip: torch.Tensor) -> torch.Tensor:
    """Sampling matrices of a horizontal flip where ``flip`` (n,) is 1, the identity where 0."""
    m = _eye(len(flip), flip.device, torch.float32)
    m[:, 0, 0] = 1 - 2 * flip.float()
    return m


def rotation_matrix(theta: torch.Tensor) -> torch.Tensor:
    """Sampling matrices of a rotation of the image by ``theta`` (n,) radians, counter-clockwise as
    displayed (``theta = pi/2`` is ``torch.rot90(x, 1, (2, 3))``)."""
    m = _eye(len(theta), theta.device, theta.dtype)
    c, s = torch.cos(theta), torch.sin(theta)
    # The output pixel at p shows the input at R(theta)^-1 p; with y pointing down, a counter-clockwise
    # turn on screen is [[c, s], [-s, c]] forward, so its inverse is [[c, -s], [s, c]].
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
    return m


def translation_matrix(shift: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Sampling matrices of a move by ``shift`` (n, 2) = (dx, dy) pixels (right, down) on an image of
    ``size`` (H, W)."""
    m = _eye(len(shift), shift.device, torch.float32)
    m[:, 0, 2] = -2 * shift[:, 0].float() / size[1]
    m[:, 1, 2] = -2 * shift[:, 1].float() / size[0]
    return m


def scale_matrix(scale: torch.Tensor) -> torch.Tensor:
    """Sampling matrices of an isotropic scaling by ``scale`` (n,) about the centre."""
    m = _eye(len(scale), scale.device, scale.dtype)
    m[:, 0, 0] = m[:, 1, 1] = 1 / scale
    return m


def resample(x: torch.Tensor, sampling: torch.Tensor) -> torch.Tensor:
    """Each image of ``x`` (n, C, H, W) through its sampling matrix (n, 3, 3): bilinear, reflection padding."""
    grid = F.affine_grid(sampling[:, :2, :].to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


# -- colour ---------------------------------------------------------------------------------------
def _per_sample(v: torch.Tensor) -> torch.Tensor:
    return v.view(-1, 1, 1, 1)


def brightness(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``x + b`` per sample."""
    return x + _per_sample(b).to(x.dtype)


def contrast(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``x * c`` per sample (about mid-grey, 0 in [-1, 1])."""
    return x * _per_sample(c).to(x.dtype)


def saturation(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Each pixel's deviation from its channel mean times ``s`` per sample; one-channel images unchanged."""
    if x.shape[1] == 1:
        return x
    mean = x.mean(1, keepdim=True)
    return mean + (x - mean) * _per_sample(s).to(x.dtype)


# -- the pipeline ---------------------------------------------------------------------------------
def augment(x: torch.Tensor, p: float | torch.Tensor, transforms: tuple[str, ...] = TRANSFORMS) -> torch.Tensor:
    """``x`` (n, C, H, W) with each of ``transforms`` applied to each image with probability ``p``."""
    n, device = len(x), x.device
    p = torch.as_tensor(p, device=device, dtype=torch.float32)

    def chosen() -> torch.Tensor:
        return torch.rand(n, device=device) < p

    sampling = None

    def then(matrix: torch.Tensor) -> None:
        # Forward maps compose as T_k ... T_1; their sampling (inverse) matrices as T_1^-1 ... T_k^-1.
        nonlocal sampling
        sampling = matrix if sampling is None else sampling @ matrix

    size = tuple(x.shape[2:])
    for name in transforms:
        if name == "xflip":
            then(xflip_matrix(torch.randint(0, 2, (n,), device=device) * chosen()))
        elif name == "rotate90":
            k = torch.randint(0, 4, (n,), device=device) * chosen()
            then(rotation_matrix(k.float() * (math.pi / 2)))
        elif name == "xint":
            t = (torch.rand(n, 2, device=device) * 2 - 1) * 0.125
            shift = torch.round(t * torch.tensor([size[1], size[0]], device=device)) * chosen()[:, None]
            then(translation_matrix(shift, size))
        elif name == "scale":
            s = torch.exp2(torch.randn(n, device=device) * 0.2)
            then(scale_matrix(torch.where(chosen(), s, torch.ones_like(s))))
        elif name == "rotate":
            theta = (torch.rand(n, device=device) * 2 - 1) * math.pi
            then(rotation_matrix(theta * chosen()))
    if sampling is not None:
        x = resample(x, sampling)
    for name in transforms:
        if name == "brightness":
            x = brightness(x, torch.randn(n, device=device) * 0.2 * chosen())
        elif name == "contrast":
            c = torch.exp2(torch.randn(n, device=device) * 0.5)
            x = contrast(x, torch.where(chosen(), c, torch.ones_like(c)))
        elif name == "saturation" and x.shape[1] > 1:
            s = torch.exp2(torch.randn(n, device=device))
            x = saturation(x, torch.where(chosen(), s, torch.ones_like(s)))
    return x


def adjusted_p(p: torch.Tensor, r_t: torch.Tensor, target: float, images: float, ramp_images: float) -> torch.Tensor:
    """The paper's update: ``p + sign(r_t - target) * images / ramp_images``, clamped to [0, 1].

    ``images`` is the number of real images the interval saw (batch x N); ``ramp_images`` the
    number of images in which p may go from 0 to 1 (the paper: 500k).
    """
    return (p + torch.sign(r_t - target) * (images / ramp_images)).clamp(0.0, 1.0)

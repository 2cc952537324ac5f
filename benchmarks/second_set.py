"""Second 28x28 data sets for checking defaults chosen on `mnist`: `mnist-inverted`, `mnist-redrawn`.

    python benchmarks/second_set.py DIR                   # mnist-inverted: DIR/0/00000.png ... DIR/9/...
    python benchmarks/second_set.py --redrawn DIR         # mnist-redrawn, the same layout

The embedded `mnist` digits, inverted (white background, dark strokes: 255 - x) and transposed
(a reflection on the main diagonal), written as 8-bit grayscale PNGs into one folder per class, so
that `gan train --data DIR` reads it as any user's image folder. Both changes are exact and undo
themselves, so a generator of this set is measured with the cached `mnist` classifier after undoing
them (:func:`undo`): the classifier-FID of ``undo(samples)`` against `mnist` is the classifier-FID of
``samples`` against this set under that classifier composed with the transform, and its floor is
`mnist`'s. `benchmarks/quality.py --data mnist-inverted` builds the folder and measures it so.

What it checks: the user's path (grayscale PNG folders, `--data DIR`, the data kind found from the
files) and another draw of the problem. What it does not: a sign flip and a transpose can be absorbed
by G's last and D's first layer (and Adam ignores sign and order), so the networks face nearly the
same problem as on `mnist`; a different distribution of images needs another set.

`mnist-redrawn` is that other set: every digit re-drawn with thicker strokes (a 3x3 grey dilation,
a maximum over each pixel's neighbours) and then rotated by up to 15 degrees and shifted by up to
3 px (bilinear, one seeded draw per image), so strokes, slant and position differ from `mnist`'s and
no layer can undo it. It has no classifier of its own: it is measured in the features of the cached
`mnist` classifier (which still reads most re-drawn digits: :func:`redrawn_reference` gives its
accuracy on them), against the re-drawn training split (`mnist`'s split, re-drawn), with the
floor measured the same way: the re-drawn held-out split against the re-drawn training split in
those features (:func:`redrawn_fid`). A ratio on this set is FID / *its* floor.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

NAME = "mnist-inverted"
REDRAWN = "mnist-redrawn"
#: The re-drawing: dilation kernel (px), largest rotation (degrees) and shift (px), and its seed.
REDRAW = {"dilate": 3, "degrees": 15.0, "shift": 3.0, "seed": 26}


def transform(x: torch.Tensor) -> torch.Tensor:
    """Images ``(N, 1, 28, 28)``, uint8 or in ``[-1, 1]``, inverted and transposed (its own inverse)."""
    inverted = 255 - x if x.dtype == torch.uint8 else -x
    return inverted.transpose(-1, -2)


#: The transform is an involution: applying it again gives the original image.
undo = transform


def write(folder: Path) -> Path:
    """Write the set under ``folder`` (one sub-folder per class) unless it is already complete."""
    from PIL import Image

    from gancore.data import load_data

    folder = Path(folder)
    done = folder / ".complete"
    if done.exists():
        return folder
    data = load_data("mnist")
    images = transform(data.x)
    for index, (image, label) in enumerate(zip(images, data.labels.tolist())):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0].numpy(), mode="L").save(folder / str(label) / f"{index:05d}.png")
    done.write_text(f"{len(images)} images\n")
    return folder


def redraw(x: torch.Tensor) -> torch.Tensor:
    """uint8 images ``(N, 1, 28, 28)`` re-drawn (:data:`REDRAW`): thicker strokes, then a small
    rotation and shift per image, drawn from a generator seeded once for the whole set (so image
    ``i`` is re-drawn the same way every time)."""
    import math

    import torch.nn.functional as F

    k, rng = REDRAW["dilate"], torch.Generator().manual_seed(REDRAW["seed"])
    thick = F.max_pool2d(x.float() / 255.0, k, stride=1, padding=k // 2)
    n = len(x)
    angle = (torch.rand(n, generator=rng) * 2 - 1) * math.radians(REDRAW["degrees"])
    shift = (torch.rand(n, 2, generator=rng) * 2 - 1) * REDRAW["shift"] * 2 / x.shape[-1]
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(thick.shape), align_corners=False)
    moved = F.grid_sample(thick, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return moved.mul(255.0).round().clamp(0, 255).to(torch.uint8)


def write_redrawn(folder: Path) -> Path:
    """Write `mnist-redrawn` under ``folder`` (one sub-folder per class) unless already complete."""
    from PIL import Image

    from gancore.data import load_data

    folder = Path(folder)
    done = folder / ".complete"
    if done.exists():
        return folder
    data = load_data("mnist")
    images = redraw(data.x)
    for index, (image, label) in enumerate(zip(images, data.labels.tolist())):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0].numpy(), mode="L").save(folder / str(label) / f"{index:05d}.png")
    done.write_text(f"{len(images)} images, re-drawn with {REDRAW}\n")
    return folder


_REFERENCE: dict = {}


def redrawn_reference(classifier) -> dict:
    """The re-drawn set's reference in ``classifier``'s (`mnist`'s) features: mean and covariance of
    the re-drawn training split, the floor (re-drawn held-out split against it), and the classifier's
    accuracy on the re-drawn held-out digits. The split is `mnist`'s own (same seed, same indices)."""
    from gancore.classifier import HELD_OUT, SPLIT_SEED
    from gancore.data import load_data
    from gancore.metrics import frechet_distance, gaussian_stats

    if classifier.recipe_hash not in _REFERENCE:
        data = load_data("mnist")
        x = redraw(data.x).float().div(127.5).sub(1.0)
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(SPLIT_SEED))
        n_test = round(HELD_OUT * len(x))
        test, train = order[:n_test], order[n_test:]
        mu, sigma = gaussian_stats(classifier.features(x[train]))
        floor = frechet_distance(mu, sigma, *gaussian_stats(classifier.features(x[test])))
        accuracy = (classifier.predict(x[test]) == data.labels[test]).float().mean().item()
        _REFERENCE[classifier.recipe_hash] = {"mu": mu, "sigma": sigma, "floor": floor, "accuracy": accuracy}
    return _REFERENCE[classifier.recipe_hash]


def redrawn_fid(classifier, samples: torch.Tensor) -> dict:
    """Classifier-FID of ``samples`` against the re-drawn training split in ``classifier``'s features,
    with that set's floor (:func:`redrawn_reference`): ``{"fid", "floor", "ratio"}``."""
    from gancore.metrics import frechet_distance, gaussian_stats

    ref = redrawn_reference(classifier)
    fid = frechet_distance(*gaussian_stats(classifier.features(samples)), ref["mu"], ref["sigma"])
    return {"fid": fid, "floor": ref["floor"], "ratio": fid / ref["floor"]}


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--redrawn":
        print(f"wrote {write_redrawn(Path(args[1]))}")
    elif len(args) == 1:
        print(f"wrote {write(Path(args[0]))}")
    else:
        raise SystemExit(__doc__)

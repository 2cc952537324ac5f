"""A second 28x28 data set for checking defaults chosen on `mnist`: `mnist-inverted`.

    python benchmarks/second_set.py DIR      # writes DIR/0/00000.png ... DIR/9/...

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
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

NAME = "mnist-inverted"


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


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(f"wrote {write(Path(sys.argv[1]))}")

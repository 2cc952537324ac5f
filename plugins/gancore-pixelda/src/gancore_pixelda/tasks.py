"""Domain-adaptation tasks this distribution adds to ``--data`` (a library: install-time hooks only).

* ``mnist-negative`` (unpaired, labelled source): domain ``digit``, the first
  half of the translation tasks' ``train`` split of ``mnist`` with their digit
  labels; domain ``negative``, the second half's digits inverted (``255 - x``),
  unlabelled. No digit appears in both domains. It is the task of PixelDA (a
  classifier of negatives trained with the digits' labels only) and, read as
  two unpaired domains, of CoGAN (digits and their negatives, as in its paper)
  and of the other two-domain families.

:func:`negative_task` also gives the 500 held-out digits (``test``) of
:func:`gancore_translation.domains.mnist_digits`, both domains with labels,
for measuring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gancore import hookimpl

if TYPE_CHECKING:  # torch is imported when the data is loaded, not when `gan --help` loads this module
    import torch

#: Its declared kind: a library (install-time hooks only; never part of a run).
kind = "library"
TASKS = ("mnist-negative",)


def negate(images: torch.Tensor) -> torch.Tensor:
    """``255 - x`` of ``uint8`` images: the negative (in ``[-1, 1]`` it is ``-x``)."""
    return 255 - images


def negative_task(split: str = "train"):
    """``(dataset, target_images, target_labels)`` of ``mnist-negative``.

    ``train``: the data set ``--data mnist-negative`` trains on (its ``labels`` are the source digits'),
    the negatives and their digit labels (never given to training). ``test``: all 500 held-out digits as
    the source and their negatives as the target, with the same labels.
    """
    from gancore_translation.domains import mnist_digits

    from gancore.data import Dataset, DataSpec

    x, digits = mnist_digits(split)
    spec = DataSpec("mnist-negative", tuple(x.shape[1:]), 10, tuple(map(str, range(10))), pairing="unpaired",
                    domains=("digit", "negative"))
    if split == "test":
        return Dataset(spec, x, digits, unpaired={"b": negate(x)}), negate(x), digits
    half = len(x) // 2
    target = negate(x[half:])
    return Dataset(spec, x[:half], digits[:half], unpaired={"b": target}), target, digits[half:]


def load(name: str):
    if name != "mnist-negative":
        from gancore.errors import DataError

        raise DataError(f"unknown task {name!r}: use one of {', '.join(TASKS)}.")
    return negative_task("train")[0]


@hookimpl
def register_data(register):
    """``--data mnist-negative``."""
    import functools

    for name in TASKS:
        register(name, functools.partial(load, name))

"""Data for image-to-image translation: paired, unpaired and multi-domain.

Three shapes of data, all held as ordinary :class:`gancore.data.Dataset`\\ s:

* **paired** (``spec.pairing == "paired"``): ``x`` is the source image of
  each pair (domain ``spec.domains[0]``), ``extra["b"]`` the target image of
  the same pair (domain ``spec.domains[1]``); a batch's two tensors are
  aligned row by row.
* **unpaired** (``spec.pairing == "unpaired"``): ``x`` holds domain A's
  images; domain B's images (any number) are drawn independently for every
  batch into ``extra["b"]``.
* **multi-domain**: class subfolders are domains; ``labels`` is each image's
  domain and ``spec.class_names`` the domain names.

This package registers the tasks and folder layouts below with gancore's data loader
(``register_data``), so ``--data mnist-edges`` and ``--layout paired`` work once it is
installed.

Embedded tasks, derived from the ``mnist`` data (5,000 real digits) so that
everything runs offline. The digits are shuffled once with a fixed seed; the
first 4,500 are the ``train`` split, the last 500 the held-out ``test``
split that :func:`mnist_task` returns for benchmarks.

* ``mnist-edges`` (paired): digit -> its morphological gradient (3x3
  dilation minus 3x3 erosion), an outline of the strokes: a local,
  non-linear, not pixel-wise map.
* ``mnist-thick`` (unpaired): digits <-> thickened digits (3x3 grey-level
  dilation). The train split's first half are domain ``thin``, its second
  half, dilated, domain ``thick``: no image has its counterpart in the other
  domain.
* ``mnist-rotations`` (multi-domain): four domains ``rot0``, ``rot90``,
  ``rot180``, ``rot270``; digit ``i`` of the split is rotated by
  ``90 * (i % 4)`` degrees counter-clockwise, so every digit appears in one
  domain only.

Folders (``--data DIR``, ``--layout``):

* ``paired``: ``DIR/A`` and ``DIR/B`` (or ``trainA``/``trainB``) with the
  same file names; a file's two versions form a pair.
* ``side-by-side``: ``DIR`` holds images ``2W`` wide and ``W`` high, the
  source on the left, the target on the right (how pix2pix ships its data).
* ``unpaired``: ``DIR/A`` and ``DIR/B`` (or ``trainA``/``trainB``), any
  files.
* ``classes``: class subfolders (or a flat folder), as for any family.
* ``auto`` (the default): ``A``/``B`` subfolders are ``paired`` when their
  file names match one to one, else ``unpaired``; anything else is read as
  ``classes``. Side-by-side images must be asked for.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
import torch.nn.functional as F

from gancore.data import (
    CORE_LAYOUTS,
    Dataset,
    DataSpec,
    image_files,
    load_image_folder,
    load_mnist_5k,
)
from gancore.errors import DataError

TASKS = ("mnist-edges", "mnist-thick", "mnist-rotations", "mnist-styles")
#: Key of the second image in a two-domain batch's ``extra``.
SECOND = "b"
SPLIT_SEED = 20261123
TRAIN_SIZE = 4500
ROTATIONS = ("rot0", "rot90", "rot180", "rot270")
#: The domains of ``mnist-styles``, in domain-index order (see :func:`style`).
STYLES = ("plain", "thick", "edges", "inverted")


# --- deterministic image transforms (uint8 in, uint8 out) ---------------------

def dilate(images: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Grey-level dilation: the maximum over a ``size`` x ``size`` window."""
    return F.max_pool2d(images.float(), size, 1, size // 2).to(torch.uint8)


def erode(images: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Grey-level erosion: the minimum over a ``size`` x ``size`` window."""
    return (-F.max_pool2d(-images.float(), size, 1, size // 2)).to(torch.uint8)


def edges(images: torch.Tensor) -> torch.Tensor:
    """The morphological gradient, dilation minus erosion: the strokes' outline."""
    return (dilate(images).int() - erode(images).int()).clamp(0, 255).to(torch.uint8)


def rotate(images: torch.Tensor, quarter_turns: torch.Tensor | int) -> torch.Tensor:
    """Rotate each image counter-clockwise by ``90 * quarter_turns`` degrees."""
    turns = torch.as_tensor(quarter_turns).expand(len(images)) if not isinstance(quarter_turns, int) else \
        torch.full((len(images),), quarter_turns)
    out = images.clone()
    for k in range(4):
        rows = (turns % 4 == k).nonzero().flatten().to(images.device)
        if len(rows):
            out[rows] = torch.rot90(images[rows], k, dims=(-2, -1))
    return out


def style(images: torch.Tensor, domain: torch.Tensor | int) -> torch.Tensor:
    """Draw each digit in the style of :data:`STYLES` ``[domain]``: local, deterministic edits.

    ``plain`` is the digit itself, ``thick`` its 3x3 dilation (:func:`dilate`),
    ``edges`` its morphological gradient (:func:`edges`), ``inverted`` ``255 - x``.
    Every output pixel depends on the 3x3 window around it only.
    """
    domains = torch.as_tensor(domain).expand(len(images)) if not isinstance(domain, int) else \
        torch.full((len(images),), domain)
    out = images.clone()
    for k, edit in enumerate((lambda x: x, dilate, edges, lambda x: 255 - x)):
        rows = (domains == k).nonzero().flatten().to(images.device)
        if len(rows):
            out[rows] = edit(images[rows])
    return out


# --- embedded tasks -------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _mnist() -> Dataset:
    return load_mnist_5k()


def mnist_digits(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The upright digits (``uint8``) and labels of a split of the tasks' fixed shuffle of ``mnist``.

    Read once per process; treat the tensors as read-only.
    """
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r}: use 'train' or 'test'.")
    mnist = _mnist()
    order = torch.randperm(len(mnist), generator=torch.Generator().manual_seed(SPLIT_SEED))
    rows = order[:TRAIN_SIZE] if split == "train" else order[TRAIN_SIZE:]
    return mnist.x[rows], mnist.labels[rows]


def mnist_task(name: str, split: str = "train") -> tuple[Dataset, torch.Tensor]:
    """An embedded translation task and the digit label of each ``x`` row.

    :param name: one of :data:`TASKS`.
    :param split: ``train`` (what ``--data NAME`` trains on) or ``test``
        (500 held-out digits, for measuring).
    """
    x, digits = mnist_digits(split)
    shape = tuple(x.shape[1:])
    if name == "mnist-edges":
        spec = DataSpec(name, shape, pairing="paired", domains=("digit", "edges"))
        return Dataset(spec, x, extra={SECOND: edges(x)}), digits
    if name == "mnist-thick":
        half = len(x) // 2
        spec = DataSpec(name, shape, pairing="unpaired", domains=("thin", "thick"))
        return Dataset(spec, x[:half], unpaired={SECOND: dilate(x[half:])}), digits[:half]
    if name == "mnist-rotations":
        domain = torch.arange(len(x)) % 4
        spec = DataSpec(name, shape, 4, ROTATIONS)
        return Dataset(spec, rotate(x, domain), domain), digits
    if name == "mnist-styles":
        domain = torch.arange(len(x)) % 4
        spec = DataSpec(name, shape, 4, STYLES)
        return Dataset(spec, style(x, domain), domain), digits
    raise DataError(f"unknown translation task {name!r}: use one of {', '.join(TASKS)}.")


def load_task(name: str) -> Dataset:
    """The train split of an embedded translation task."""
    return mnist_task(name, "train")[0]


# --- folders --------------------------------------------------------------------------

def _domain_folders(folder: Path) -> tuple[Path, Path] | None:
    for a, b in (("A", "B"), ("trainA", "trainB")):
        if (folder / a).is_dir() and (folder / b).is_dir():
            return folder / a, folder / b
    return None


def _same_channels(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Greyscale next to colour becomes colour on both sides."""
    if a.shape[1] == b.shape[1]:
        return a, b
    if 1 in (a.shape[1], b.shape[1]):
        return a.expand(-1, 3, -1, -1).contiguous(), b.expand(-1, 3, -1, -1).contiguous()
    raise DataError(f"the two domains have {a.shape[1]} and {b.shape[1]} channels.")


def has_domain_folders(folder: Path) -> bool:
    """Whether ``folder`` holds subfolders ``A`` and ``B`` (or ``trainA`` and ``trainB``): the
    folders ``--layout auto`` reads as two domains."""
    return _domain_folders(folder) is not None


#: The folder layouts this package reads (registered with ``register_layout``), and the core's own.
OWN_LAYOUTS = ("paired", "unpaired", "side-by-side")
LAYOUTS = (*CORE_LAYOUTS, *OWN_LAYOUTS)


def load_folder(folder: Path, image_size: int | None = None, layout: str = "auto", mode: str = "auto"):
    """Read an image folder in one of :data:`LAYOUTS` (see the module docstring).

    :param mode: the data path (:data:`gancore.config.DATA_MODES`). Only
        single-domain folders (layout ``classes``) can stream; two-domain
        folders are held in memory.
    """
    from gancore.data.stream import open_image_folder

    if layout not in LAYOUTS:
        raise DataError(f"unknown layout {layout!r}: use one of {', '.join(LAYOUTS)}.")
    if not folder.is_dir():
        raise DataError(f"data folder {str(folder)!r} does not exist.")
    pair = _domain_folders(folder)
    if layout == "classes" or (layout == "auto" and pair is None):
        return open_image_folder(folder, image_size, mode)
    if layout == "side-by-side":
        _refuse_stream(mode, folder, "side-by-side pairs")
        return _side_by_side(folder, image_size)
    if pair is None:
        raise DataError(f"--layout {layout} needs subfolders A and B (or trainA and trainB) in {str(folder)!r}.")
    _refuse_stream(mode, folder, f"domains {pair[0].name} and {pair[1].name}")
    names_a = [p.name for p in image_files(pair[0])]
    names_b = [p.name for p in image_files(pair[1])]
    matching = bool(names_a) and sorted(names_a) == sorted(names_b)
    if layout == "paired" and not matching:
        only = sorted(set(names_a) ^ set(names_b))
        raise DataError(f"paired folders {str(pair[0])!r} and {str(pair[1])!r} must hold the same file names; "
                        + (f"{only[0]!r} is in only one of them." if only else "they hold no images."))
    paired = layout == "paired" or (layout == "auto" and matching)
    a = load_image_folder(pair[0], image_size)
    b = load_image_folder(pair[1], image_size)
    if a.spec.shape[1:] != b.spec.shape[1:]:
        raise DataError(f"the images of {str(pair[0])!r} are {a.spec.shape[2]}x{a.spec.shape[1]} but those of "
                        f"{str(pair[1])!r} are {b.spec.shape[2]}x{b.spec.shape[1]}; pass --image-size N.")
    xa, xb = _same_channels(a.x, b.x)
    domains = (pair[0].name, pair[1].name)
    spec = DataSpec(str(folder), tuple(xa.shape[1:]), pairing="paired" if paired else "unpaired", domains=domains)
    if paired:
        # load_image_folder sorts by file name, so row i of both is the same file name.
        return Dataset(spec, xa, extra={SECOND: xb})
    return Dataset(spec, xa, unpaired={SECOND: xb})


def _refuse_stream(mode: str, folder: Path, read_as: str) -> None:
    if mode == "stream":
        raise DataError(f"--data-mode stream reads single-domain image folders (flat or class subfolders); "
                        f"{str(folder)!r} is two-domain data ({read_as}), which is held in memory: use "
                        "--data-mode auto or memory.")


def _side_by_side(folder: Path, image_size: int | None) -> Dataset:
    whole = load_image_folder(folder)
    if whole.labels is not None:
        raise DataError(f"--layout side-by-side needs a flat folder of images; {str(folder)!r} has subfolders.")
    _, _, height, width = whole.x.shape
    if width != 2 * height:
        raise DataError(f"side-by-side images must be twice as wide as high (source left, target right); the "
                        f"images in {str(folder)!r} are {width}x{height}.")
    a, b = whole.x[..., :height].contiguous(), whole.x[..., height:].contiguous()
    spec = DataSpec(str(folder), tuple(a.shape[1:]), pairing="paired", domains=("A", "B"))
    dataset = Dataset(spec, a, extra={SECOND: b})
    if image_size is not None and image_size != height:
        from gancore.data import resize_dataset

        dataset = resize_dataset(dataset, image_size)
    return dataset


def describe_domains(spec: DataSpec) -> tuple[str, ...]:
    """The domain names of translation data: two-domain names, or the classes."""
    if spec.pairing:
        return tuple(spec.domains) or ("A", "B")
    return tuple(spec.class_names) or tuple(str(i) for i in range(spec.num_classes))


__all__ = [
    "LAYOUTS",
    "ROTATIONS",
    "SECOND",
    "STYLES",
    "TASKS",
    "describe_domains",
    "dilate",
    "edges",
    "erode",
    "has_domain_folders",
    "load_folder",
    "load_task",
    "mnist_task",
    "require_domains",
    "rotate",
    "style",
]


def require_domains(spec: DataSpec, family: str, pairing: tuple[str, ...]) -> None:
    """Refuse data a translation family cannot train on, saying what it needs.

    :param pairing: the accepted ``spec.pairing`` values: ``"paired"``,
        ``"unpaired"``, and ``""`` for multi-domain (labelled) data.
    """
    from gancore.errors import PluginError

    if not spec.is_image:
        raise PluginError(f"{family} translates images; {spec.name!r} has samples of shape {spec.shape}.")
    if spec.pairing in pairing and (spec.pairing or spec.num_classes >= 2):
        return
    needs = {"paired": "paired images (e.g. --data mnist-edges, folders A and B with matching file names, "
                       "or --layout side-by-side)",
             "unpaired": "two domains (e.g. --data mnist-thick, or folders A and B)",
             "": "labelled images whose classes are the domains (e.g. --data mnist-rotations, or class "
                 "subfolders)"}
    have = {"paired": "paired two-domain data", "unpaired": "unpaired two-domain data",
            "": f"data with {spec.num_classes} classes"}.get(spec.pairing, spec.pairing)
    raise PluginError(f"{family} needs " + " or ".join(needs[p] for p in pairing) + f"; {spec.name!r} is {have}.")

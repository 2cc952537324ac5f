"""Loading a data set by name or folder path: :func:`load_data`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import attrs
import torch

from gancore.data.embedded import EMBEDDED, RING_MODES, load_digits, load_mnist_5k, load_ring
from gancore.data.on_disk import ON_DISK, load_cifar10, load_idx_dataset
from gancore.data.readers import CORE_LAYOUTS, Readers
from gancore.data.spec import Dataset, DataSpec
from gancore.errors import DataError


def load_data(name: str, data_root: str | None = None, download: bool = False,
              image_size: int | None = None, layout: str = "auto", mode: str = "auto",
              readers: Readers | Callable[[], Readers] | None = None):
    """Load a data set by name (see :mod:`gancore.data`) or folder path.

    :param layout: how to read an image folder: ``auto``, ``classes``, or a
        layout one of ``readers`` reads.
    :param mode: the data path, ``auto``, ``memory`` or ``stream`` (see
        :mod:`gancore.data.stream`): a :class:`Dataset`, or a
        :class:`gancore.data.stream.StreamingDataset` for a streamed image folder.
    :param readers: the named data sets and folder readers beyond the core's
        (:class:`~gancore.data.readers.Readers`), or a function returning them,
        called only when ``name`` is not the core's; ``None``: none. A run's
        are the installed plugins' (:func:`gancore.installed.installed_data`).
    """
    from gancore.config import DATA_MODES

    if mode not in DATA_MODES:
        raise DataError(f"unknown data mode {mode!r}: use one of {', '.join(DATA_MODES)}.")
    folder = data_root is None and Path(name).exists()
    if layout != "auto" and not folder:
        raise DataError(f"--layout {layout} applies to an image folder; {name!r} is not one.")
    if mode == "stream" and not folder:
        raise DataError(f"--data-mode stream reads an image folder from disk; {name!r} is not one (it is held "
                        "in memory: use --data-mode auto or memory).")
    if data_root is not None:
        if name not in ON_DISK:
            raise DataError(f"--data-root needs --data one of {', '.join(ON_DISK)}; got {name!r}.")
        root = Path(data_root)
        dataset = load_cifar10(root, download) if name == "cifar10" else load_idx_dataset(name, root, download)
    elif name == "ring":
        dataset = load_ring()
    elif name == "digits":
        dataset = load_digits()
    elif name == "mnist":
        dataset = load_mnist_5k()
    elif name in ON_DISK:
        raise DataError(f"--data {name} reads torchvision's on-disk files: add --data-root DIR "
                        f"(and --download to fetch them).")
    else:
        installed = readers() if callable(readers) else readers if readers is not None else Readers()
        if name in installed.named:
            dataset = installed.named[name].load()
        elif Path(name).exists():
            return _load_folder(Path(name), image_size, layout, mode, installed)
        else:
            known = ", ".join(EMBEDDED + tuple(installed.named))
            problems = "".join(f" ({problem})" for problem in installed.problems)
            if "/" in name or os.sep in name or name.startswith((".", "~")):
                # It reads as a path, not as a data set's name.
                raise DataError(f"unknown data {name!r}: no such folder. Give an existing image folder, or one of "
                                f"{known} (embedded), {', '.join(ON_DISK)} with --data-root.{problems}")
            raise DataError(f"unknown data {name!r}: use one of {known} (embedded), {', '.join(ON_DISK)} with "
                            f"--data-root, or a path to an image folder.{problems}")
    if image_size is not None and dataset.spec.is_image and image_size != dataset.spec.image_size:
        dataset = resize_dataset(dataset, image_size)
    return dataset


#: The embedded sets' specs, known without reading them (checked against the loaders by a test).
EMBEDDED_SPECS = {
    "ring": DataSpec("ring", (2,), RING_MODES, tuple(f"mode {i}" for i in range(RING_MODES))),
    "digits": DataSpec("digits", (1, 8, 8), 10, tuple(map(str, range(10)))),
    "mnist": DataSpec("mnist", (1, 28, 28), 10, tuple(map(str, range(10)))),
}


def data_spec(name: str, data_root: str | None = None, image_size: int | None = None, layout: str = "auto",
              mode: str = "auto", readers: Readers | Callable[[], Readers] | None = None) -> DataSpec:
    """The :class:`DataSpec` :func:`load_data` would give, without reading an embedded set (for
    ``gan train --dry-run``); any other data is opened (a streamed folder is only listed) for it."""
    if data_root is None and name in EMBEDDED_SPECS and not Path(name).exists():
        spec = EMBEDDED_SPECS[name]
        if image_size is not None and spec.is_image and image_size != spec.image_size:
            spec = attrs.evolve(spec, shape=(spec.channels, image_size, image_size))
        return spec
    return load_data(name, data_root, False, image_size, layout, mode, readers=readers).spec


def _load_folder(folder: Path, image_size: int | None, layout: str, mode: str, installed: Readers):
    """An image folder: class subfolders (or flat) read by the core, other layouts by the reader
    that reads them (:class:`~gancore.data.readers.Readers`)."""
    from gancore.data.stream import open_image_folder

    if not folder.is_dir():
        raise DataError(f"data folder {str(folder)!r} does not exist.")
    reader = None
    if layout != "classes":
        reader = installed.claiming(folder) if layout == "auto" else installed.reader_for(layout)
        if reader is None and layout != "auto":
            problems = "".join(f" ({problem})" for problem in installed.problems)
            raise DataError(f"--layout {layout}: no installed plugin reads image folders in this layout (unknown "
                            f"layout; layouts read: {', '.join((*CORE_LAYOUTS, *installed.layouts()))}).{problems}")
    if reader is None:
        return open_image_folder(folder, image_size, mode)
    return reader.read(folder, image_size, layout, mode)


def resize_dataset(dataset: Dataset, size: int) -> Dataset:
    def resize(images: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.interpolate(images.float(), size=(size, size), mode="bilinear",
                                            antialias=True, align_corners=False)
        return x.round().clamp(0, 255).to(torch.uint8)

    return Dataset(attrs.evolve(dataset.spec, shape=(dataset.spec.channels, size, size)), resize(dataset.x),
                   dataset.labels, {k: resize(v) for k, v in dataset.extra.items()},
                   {k: resize(v) for k, v in dataset.unpaired.items()})

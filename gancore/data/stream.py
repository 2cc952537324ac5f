"""The two data paths, and the one object the trainer asks for its next batch.

* **memory**: a :class:`gancore.data.Dataset` held as one tensor on the
  training device and sampled by index: nothing but an indexing per step.
  Every embedded and on-disk tensor data set, every translation data set,
  and image folders up to :data:`STREAM_ABOVE_BYTES` of decoded pixels.
* **stream**: a :class:`StreamingDataset` lists an image folder's files up
  front and decodes each batch in ``torch.utils.data.DataLoader`` worker
  processes, into pinned memory on CUDA, copied to the device without
  blocking. For single-domain folders too large to hold decoded.

Both walk the same seeded :class:`gancore.data.Sampler`, so a seed gives the
same batches, value for value, on either path. :class:`Batches` hides the
difference from the trainer, and keeps the sampler at the batches the
trainer *consumed* (workers read ahead), so a checkpoint resumes exactly.
"""

from __future__ import annotations

import copy
import os
import signal
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import torch

from gancore.config import DATA_MODES  # the one list of modes
# The data package's modules, not the package: gancore.data.load opens folders with this module.
from gancore.data.images import check_like, image_shape, list_image_folder, load_image_folder, read_image
from gancore.data.spec import Batch, Dataset, DataSpec, Sampler, _as_float
from gancore.errors import DataError

#: Decoded size (``N * C * H * W`` bytes) above which ``auto`` streams a folder: 1 GiB.
STREAM_ABOVE_BYTES = 1 << 30
#: Batches each worker decodes ahead of the one being trained on.
PREFETCH = 4


class StreamingDataset:
    """A single-domain image folder read lazily: files listed up front, images decoded on demand.

    Decoding follows :func:`gancore.data.read_image` (the rules of the
    in-memory loader). The first file's header fixes :attr:`spec`; every
    other image is checked against it as it is decoded, with the same
    messages as the in-memory loader.

    :param listing: what :func:`~gancore.data.list_image_folder` gave for
        ``folder``, when the caller already has it.
    """

    def __init__(self, folder: Path, image_size: int | None = None,
                 listing: tuple[list[Path], list[int], tuple[str, ...]] | None = None):
        files, labels, class_names = listing or list_image_folder(folder)
        # The paths as one bytes object and an array of offsets, not a list of a
        # million Path objects: forked workers touching those objects' reference
        # counts would each end up with a private copy of the whole list.
        encoded = [os.fsencode(path) for path in files]
        self._paths = b"".join(encoded)
        self._ends = np.cumsum([len(name) for name in encoded], dtype=np.int64)
        self.image_size = image_size
        self.labels = torch.tensor(labels, dtype=torch.int64) if class_names else None
        self.spec = DataSpec(str(folder), image_shape(files[0], image_size), len(class_names), class_names)
        self.device = torch.device("cpu")

    def __len__(self) -> int:
        return len(self._ends)

    def file(self, index: int) -> Path:
        """The path of image ``index``."""
        start = int(self._ends[index - 1]) if index else 0
        return Path(os.fsdecode(self._paths[start:int(self._ends[index])]))

    @property
    def decoded_bytes(self) -> int:
        """What holding every image decoded as ``uint8`` would take."""
        return len(self) * int(np.prod(self.spec.shape))

    def to(self, device: torch.device | str) -> "StreamingDataset":
        """A view whose :meth:`batch` delivers to ``device`` (nothing is moved: nothing is held)."""
        moved = copy.copy(self)
        moved.device = torch.device(device)
        return moved

    def decode(self, indices) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``uint8`` images and labels (``None`` when unlabelled) of ``indices``, decoded here."""
        indices = [int(i) for i in indices]
        arrays, first = [], self.file(0)
        for i in indices:
            path = self.file(i)
            arrays.append(read_image(path, self.image_size))
            check_like(arrays[-1], path, self.spec.shape, first)
        labels = None if self.labels is None else self.labels[indices]
        return torch.from_numpy(np.stack(arrays)), labels

    def batch(self, indices: torch.Tensor) -> Batch:
        """Decode ``indices`` in this process: for a few images (the sample grid's real batch)."""
        x, labels = self.decode(indices)
        return _on_device(x, labels, self.device)

    def __getitem__(self, indices: list[int]):
        # Runs in a DataLoader worker. A DataError crossing the worker boundary
        # would come back wrapped in a traceback; its message comes back instead.
        try:
            x, labels = self.decode(indices)
        except DataError as exc:
            return str(exc)
        return torch.tensor(indices, dtype=torch.int64), x, labels

    def loader(self, order, workers: int, pin: bool = False, persistent: bool = True
               ) -> torch.utils.data.DataLoader:
        """A DataLoader delivering ``self[indices]`` for each list of indices ``order`` yields."""
        # Decoding draws no random numbers; the loader's own generator keeps it from
        # drawing its worker seeds from the global RNG, which the checkpoint restores
        # and the training noise comes from.
        return torch.utils.data.DataLoader(
            self, batch_size=None, sampler=order, num_workers=workers, collate_fn=_as_is, pin_memory=pin,
            persistent_workers=persistent and workers > 0, prefetch_factor=PREFETCH if workers else None,
            worker_init_fn=_ignore_stop_signals if workers else None, generator=torch.Generator().manual_seed(0))

    def images(self, batch: int = 50, workers: int = 2) -> Iterator[torch.Tensor]:
        """Every image in file order, ``float32`` in ``[-1, 1]`` on the CPU, ``batch`` at a time."""
        order = [list(range(start, min(start + batch, len(self)))) for start in range(0, len(self), batch)]
        for item in self.loader(order, workers, persistent=False):
            yield _as_float(_unpack(item)[1])


def _as_is(item):
    return item


def _ignore_stop_signals(_worker_id: int) -> None:
    # Ctrl-C (and a job scheduler's SIGTERM) reaches the whole process group. The
    # trainer finishes its iteration, which may take n_critic more batches, then
    # checkpoints and closes the workers: they must keep serving until then.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _unpack(item) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    if isinstance(item, str):
        raise DataError(item)
    return item


def _on_device(x: torch.Tensor, labels: torch.Tensor | None, device: torch.device) -> Batch:
    # Pinned host memory makes these copies asynchronous on CUDA; elsewhere non_blocking is a no-op.
    x = _as_float(x.to(device, non_blocking=True))
    return Batch(x, None if labels is None else labels.to(device, non_blocking=True))


class _Order:
    """The DataLoader's sampler: index batches from where the consumed ``sampler`` stands, on and on.

    Each ``iter`` starts from the consumed position, so restarting the loader
    after a resume (or any reset) continues the data order exactly.
    """

    def __init__(self, sampler: Sampler):
        self.sampler = sampler

    def __iter__(self) -> Iterator[list[int]]:
        ahead = Sampler(self.sampler.size, self.sampler.batch_size, self.sampler.seed, self.sampler.rank,
                        self.sampler.world)
        ahead.load_state_dict(self.sampler.state_dict())
        while True:
            yield ahead.next_indices().tolist()


class Batches:
    """The real batches of one process, in ``sampler``'s order, whichever the data path.

    ``next(batches)`` gives the next :class:`~gancore.data.Batch` on the data
    set's device. ``sampler`` advances once per batch handed out, never for
    batches the workers decoded ahead, so its state is what a checkpoint
    needs; :meth:`load_state_dict` restarts the stream from a saved state.

    :param workers: DataLoader worker processes for a streamed data set
        (0: decode in this process); unused in memory.
    """

    def __init__(self, dataset: Dataset | StreamingDataset, sampler: Sampler, workers: int = 2):
        self.dataset, self.sampler, self.workers = dataset, sampler, workers
        self.streamed = isinstance(dataset, StreamingDataset)
        self._loader = self._iterator = None

    def __iter__(self) -> "Batches":
        return self

    def __next__(self) -> Batch:
        if not self.streamed:
            return self.dataset.batch(self.sampler.next_indices())
        if self._iterator is None:
            if self._loader is None:
                self._loader = self.dataset.loader(_Order(self.sampler), self.workers,
                                                   pin=self.dataset.device.type == "cuda")
            self._iterator = iter(self._loader)
        try:
            indices, x, labels = _unpack(next(self._iterator))
        except DataError:
            self.close()
            raise
        except RuntimeError as exc:
            if "DataLoader worker" not in str(exc):
                raise
            self.close()
            # A worker killed by the OOM killer, or short of shared memory (/dev/shm) in a container.
            raise DataError(f"a DataLoader worker streaming {self.dataset.spec.name!r} failed: {exc} Try fewer "
                            "--data-workers, or --data-workers 0 to decode in the training process.") from None
        expected = self.sampler.next_indices()
        if not torch.equal(indices, expected):
            raise RuntimeError(f"streamed batch out of order: got indices {indices[:4].tolist()}..., expected "
                               f"{expected[:4].tolist()}... (a bug in gancore).")
        return _on_device(x, labels, self.dataset.device)

    def state_dict(self) -> dict[str, int]:
        return self.sampler.state_dict()

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        self.sampler.load_state_dict(state)
        if self._loader is not None:
            # A new pass over _Order starts from the restored state; persistent
            # workers drop what they read ahead and carry on from there.
            self._iterator = iter(self._loader)

    def close(self) -> None:
        """End the worker processes (a later ``next`` starts them again)."""
        # Dropping the references would end them too, but only once the garbage
        # collector reaches the loader; a finished run should not leave them behind.
        iterator, self._iterator, self._loader = self._iterator, None, None
        shutdown = getattr(iterator, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()


def open_image_folder(folder: Path, image_size: int | None = None, mode: str = "auto"
                      ) -> Dataset | StreamingDataset:
    """A single-domain image folder, in memory or streamed as ``mode`` (:data:`DATA_MODES`) says."""
    if mode not in DATA_MODES:
        raise DataError(f"unknown data mode {mode!r}: use one of {', '.join(DATA_MODES)}.")
    if mode == "memory":
        return load_image_folder(folder, image_size)
    listing = list_image_folder(folder)
    streamed = StreamingDataset(folder, image_size, listing)
    if mode == "stream" or streamed.decoded_bytes > STREAM_ABOVE_BYTES:
        return streamed
    return load_image_folder(folder, image_size, listing)

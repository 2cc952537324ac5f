"""The data as plugins and the trainer see it: :class:`DataSpec`, :class:`Batch`, :class:`Dataset`
and the seeded :class:`Sampler`."""

from __future__ import annotations

from typing import Any, Mapping

import attrs
import torch

from gancore.errors import DataError


#: What kind of data a :class:`DataSpec` describes (:attr:`DataSpec.kind`); defaults are chosen per kind.
DATA_KINDS = ("vector", "small-image", "image")
#: Images this size or smaller are ``small-image`` (the embedded 8x8 ``digits``).
SMALL_IMAGE_MAX = 16


@attrs.frozen
class DataSpec:
    """What a plugin needs to know about the data: ``build_generator`` and ``build_discriminator``
    receive it as ``data``, the loss hooks read it as ``step.data``, and declarations choose
    defaults by its :attr:`kind`. ``DataSpec("ring", (2,))`` and ``DataSpec("digits", (1, 8, 8), 10)``
    make specs for tests.

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
        """``True`` for images (a 3-d ``shape``, ``(C, H, W)``), ``False`` for vectors. Choose
        networks with :func:`gancore.nets.takes_mlp` rather than this, so that ``arch`` is honoured."""
        return len(self.shape) == 3

    @property
    def kind(self) -> str:
        """``"vector"`` (``ring``), ``"small-image"`` (at most 16 px a side, such as the 8x8 ``digits``)
        or ``"image"`` (28x28 and larger): what training defaults are chosen by
        (:data:`gancore.config.KIND_DEFAULTS`, a plugin's declared ``defaults``, ``option(by_kind=...)``
        and ``option_defaults``)."""
        if not self.is_image:
            return "vector"
        return "small-image" if self.image_size <= SMALL_IMAGE_MAX else "image"

    @property
    def channels(self) -> int:
        """An image's channels (1 grey, 3 RGB); 0 for vectors."""
        return self.shape[0] if self.is_image else 0

    @property
    def image_size(self) -> int:
        """An image's side in pixels (square images: ``shape[-1]``); 0 for vectors."""
        return self.shape[-1] if self.is_image else 0

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready values (checkpoints record it); :meth:`from_dict` reads it back."""
        return {"name": self.name, "shape": list(self.shape), "num_classes": self.num_classes,
                "class_names": list(self.class_names), "pairing": self.pairing, "domains": list(self.domains)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "DataSpec":
        """The spec :meth:`to_dict` wrote."""
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
        """The :class:`Batch` of the samples at ``indices`` (as ``float32``, images in [-1, 1])."""
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

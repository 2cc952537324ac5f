"""Checkpoints: safetensors plus JSON, written atomically, never pickled.

A checkpoint is a directory::

    step-000500/
        generator.safetensors       generator weights
        discriminator.safetensors   discriminator weights
        state.safetensors           optimizers, plugin state, RNG states (tensors)
        meta.json                   step, config, versions, the non-tensor parts
                                    of the training state, SHA-256 of each file

It is written under a temporary name and renamed into place when complete,
so a directory named ``step-*`` is always whole; a checksum mismatch (a
damaged disk, a truncated copy) is reported as :class:`CheckpointError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gancore.errors import CheckpointError

FORMAT = 1
FILES = ("generator.safetensors", "discriminator.safetensors", "state.safetensors")
PREFIX = "step-"


# --- nested state <-> (tensors, JSON) ---------------------------------------

def flatten(value: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Split a nested structure into named tensors and a JSON skeleton.

    Tensors are moved to ``tensors`` under ``prefix``-based names and replaced
    by ``{"__tensor__": name}``; dict keys keep their type (optimizer state is
    keyed by int), tuples stay tuples.
    """
    if isinstance(value, torch.Tensor):
        tensors[prefix] = value.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": prefix}
    if isinstance(value, Mapping):
        return {"__dict__": [[key, flatten(item, f"{prefix}/{key}", tensors)] for key, item in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [flatten(item, f"{prefix}/{i}", tensors) for i, item in enumerate(value)]}
    if isinstance(value, list):
        return [flatten(item, f"{prefix}/{i}", tensors) for i, item in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise CheckpointError(f"cannot checkpoint a {type(value).__name__} at {prefix!r}: only tensors, numbers, "
                          "strings and containers of them.")


def unflatten(skeleton: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten`."""
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            try:
                return tensors[skeleton["__tensor__"]]
            except KeyError:
                raise CheckpointError(f"checkpoint state lacks tensor {skeleton['__tensor__']!r}.") from None
        if "__dict__" in skeleton:
            return {key: unflatten(item, tensors) for key, item in skeleton["__dict__"]}
        if "__tuple__" in skeleton:
            return tuple(unflatten(item, tensors) for item in skeleton["__tuple__"])
        raise CheckpointError("checkpoint state has an unknown entry.")
    if isinstance(skeleton, list):
        return [unflatten(item, tensors) for item in skeleton]
    return skeleton


# --- random number generators -----------------------------------------------

def rng_state() -> dict[str, Any]:
    """Every RNG this process uses: Python, NumPy, torch CPU and CUDA."""
    version, internal, gauss = random.getstate()
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": (version, torch.tensor(internal, dtype=torch.int64), gauss),
        "numpy": (np_kind, torch.from_numpy(np_keys.astype(np.int64)), int(np_pos), int(np_has_gauss),
                  float(np_gauss)),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(int(v) for v in internal.tolist()), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"].to(torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.to(torch.uint8) for s in state["cuda"]])


# --- files ------------------------------------------------------------------

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def step_dir_name(step: int) -> str:
    return f"{PREFIX}{step:06d}"


def module_tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's state dict as independent, contiguous CPU tensors."""
    return {name: value.detach().to("cpu", copy=True).contiguous() for name, value in module.state_dict().items()}


def write_error(exc: BaseException) -> str:
    """The reason a write failed, in words: ``No space left on device`` for ENOSPC, whether the
    error came from the OS or from the safetensors writer (``... I/O error: No space left on device
    (os error 28)``)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    match = re.search(r"os error (\d+)", text)
    if match:
        return os.strerror(int(match.group(1)))
    return text.removeprefix("Error while serializing: ") or type(exc).__name__


def save_checkpoint(root: str | Path, step: int, generator: Mapping[str, torch.Tensor],
                    discriminator: Mapping[str, torch.Tensor], state: Mapping[str, Any],
                    meta: Mapping[str, Any], keep: int | None = None) -> Path:
    """Write a checkpoint atomically and return its directory.

    :param root: the run's ``checkpoints`` directory.
    :param generator, discriminator: weight tensors by name.
    :param state: the rest of the training state (nested dicts, lists and
        tuples of tensors and JSON scalars).
    :param meta: JSON metadata (step, config, versions, ...).
    :param keep: when given, delete all but the newest ``keep`` checkpoints,
        only after the new one is in place.
    """
    root = Path(root)
    final = root / step_dir_name(step)
    tmp = root / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        tensors: dict[str, torch.Tensor] = {}
        skeleton = flatten(dict(state), "state", tensors)
        save_file(dict(generator), str(tmp / FILES[0]))
        save_file(dict(discriminator), str(tmp / FILES[1]))
        save_file(tensors, str(tmp / FILES[2]))
        for name in FILES:
            _fsync(tmp / name)
        full_meta = {"format": FORMAT, **meta, "step": step, "state": skeleton,
                     "sha256": {name: _sha256(tmp / name) for name in FILES}}
        (tmp / "meta.json").write_text(json.dumps(full_meta, indent=1, sort_keys=True))
        _fsync(tmp / "meta.json")
        if final.exists():
            aside = root / f".old-{final.name}-{uuid.uuid4().hex[:8]}"
            final.rename(aside)
            tmp.rename(final)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            tmp.rename(final)
        _fsync(root)
    except (OSError, SafetensorError) as exc:
        # A full disk, a read-only or vanished directory (the safetensors writer reports these as a
        # SafetensorError): nothing older is touched.
        shutil.rmtree(tmp, ignore_errors=True)
        previous = [p for p in list_checkpoints(root) if p != final]
        kept = (f"the previous checkpoint {str(previous[-1])!r} is intact" if previous
                else "no earlier checkpoint exists")
        raise CheckpointError(f"cannot write checkpoint {final.name} in {str(root)!r}: "
                              f"{write_error(exc)}; {kept}. Free space or fix the directory's permissions, "
                              "then continue with `gan train --resume RUN`.") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if keep is not None:
        for old in list_checkpoints(root)[:-keep]:
            # Renamed first, so a process killed while deleting leaves no half-deleted step-* directory.
            aside = root / f".old-{old.name}-{uuid.uuid4().hex[:8]}"
            try:
                old.rename(aside)
            except OSError:
                continue
            shutil.rmtree(aside, ignore_errors=True)
    return final


def list_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoint directories under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and p.name[len(PREFIX):].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


class Checkpoint:
    """A checkpoint read back and verified."""

    def __init__(self, path: Path, meta: dict[str, Any], generator: dict[str, torch.Tensor],
                 discriminator: dict[str, torch.Tensor], state: dict[str, Any]):
        self.path, self.meta = path, meta
        self.generator, self.discriminator, self.state = generator, discriminator, state

    @property
    def step(self) -> int:
        return int(self.meta["step"])


def read_meta(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise CheckpointError(f"{str(path)!r} is not a checkpoint (no meta.json).")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError, OSError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} has a corrupt meta.json: {exc}.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(meta.get("sha256"), dict) \
            or not isinstance(meta.get("step"), int) or isinstance(meta.get("step"), bool):
        raise CheckpointError(f"checkpoint {str(path)!r} has an unknown format or a damaged meta.json.")
    return meta


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read and verify a checkpoint directory."""
    path = Path(path)
    meta = read_meta(path)
    for name in FILES:
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"checkpoint {str(path)!r} is incomplete: {name} is missing.")
        if _sha256(file) != meta["sha256"].get(name):
            raise CheckpointError(f"checkpoint {str(path)!r} is corrupt: {name} does not match its checksum.")
    try:
        device = str(map_location)
        generator = load_file(str(path / FILES[0]), device=device)
        discriminator = load_file(str(path / FILES[1]), device=device)
        tensors = load_file(str(path / FILES[2]), device=device)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: {exc}.") from None
    try:
        state = unflatten(meta.get("state", {}), tensors)
    except (TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} has a damaged state description: {exc}.") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {str(path)!r} has a damaged state description.")
    return Checkpoint(path, meta, generator, discriminator, state)


def load_newest_intact(found: list[Path], map_location: str | torch.device = "cpu"
                       ) -> tuple[Checkpoint, list[str]]:
    """The newest of the checkpoint directories ``found`` (oldest first) that verifies, and a note
    for each newer one skipped (``--resume``, ``gan sample``, ``gan eval`` and ``gan translate`` on a
    run directory). Raises :class:`CheckpointError` with those notes when none verifies."""
    notes = []
    for candidate in reversed(found):
        try:
            checkpoint = load_checkpoint(candidate, map_location=map_location)
        except CheckpointError as exc:
            notes.append(f"Skipping {candidate.name}: {exc}")
            continue
        if notes:
            notes.append(f"Falling back to {candidate.name}, the newest intact checkpoint.")
        return checkpoint, notes
    raise CheckpointError("it has no intact checkpoint." + ("".join(" " + note for note in notes)))


def load_weights(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor], what: str) -> None:
    """Load ``tensors`` into ``module``, naming the first mismatch if any."""
    expected = module.state_dict()
    for name, value in expected.items():
        if name not in tensors:
            raise CheckpointError(f"the checkpoint's {what} lacks {name!r}: it was saved by another family "
                                  "or configuration.")
        if tuple(tensors[name].shape) != tuple(value.shape):
            raise CheckpointError(f"the checkpoint's {what} tensor {name!r} has shape {tuple(tensors[name].shape)}, "
                                  f"the model expects {tuple(value.shape)}: another family or configuration.")
    extra = [name for name in tensors if name not in expected]
    if extra:
        raise CheckpointError(f"the checkpoint's {what} has tensor {extra[0]!r} the model does not: it was saved "
                              "by another family or configuration.")
    module.load_state_dict(dict(tensors))

"""Checkpoints: safetensors plus JSON, written atomically, never pickled.

A checkpoint is a directory::

    step-000500/
        generator.safetensors       generator weights
        discriminator.safetensors   discriminator weights
        state.safetensors           optimizers, plugin state, RNG states (tensors)
        meta.json                   step, config, versions, the non-tensor parts
                                    of the training state, SHA-256 of each file
                                    and (format 2) of meta.json itself

It is written under a temporary name and renamed into place when complete,
so a directory named ``step-*`` is always whole; a checksum mismatch (a
damaged disk, a truncated copy) is reported as :class:`CheckpointError`. A
checkpoint may come from a stranger: ``meta.json`` is checked against a
schema (types, ranges, the training state the core reads) before any value
of it is used, and tensor files that are links are not read.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gancore import files
from gancore.errors import CheckpointError

#: Format 2 adds ``meta_sha256``, the checksum of ``meta.json`` itself; format 1 (no such checksum)
#: is still read, validated by the same schema.
FORMAT = 2
FORMATS = (1, 2)
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


def meta_digest(meta: Mapping[str, Any]) -> str:
    """The checksum of ``meta.json`` recorded in it (format 2): SHA-256 of its canonical JSON, all of it
    but this field."""
    body = {key: value for key, value in meta.items() if key != "meta_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def save_checkpoint(root: str | Path, step: int, generator: Mapping[str, torch.Tensor],
                    discriminator: Mapping[str, torch.Tensor], state: Mapping[str, Any],
                    meta: Mapping[str, Any], keep: int | None = None, protect: Iterable[int] = ()) -> Path:
    """Write a checkpoint atomically and return its directory.

    :param root: the run's ``checkpoints`` directory (refused when it is a symbolic link).
    :param generator, discriminator: weight tensors by name.
    :param state: the rest of the training state (nested dicts, lists and
        tuples of tensors and JSON scalars).
    :param meta: JSON metadata (step, config, versions, ...).
    :param keep: when given, delete all but the newest ``keep`` checkpoints,
        only after the new one is in place.
    :param protect: steps of checkpoints that are never deleted: the one a run was resumed from
        and those newer than it. One of them that this checkpoint replaces (the same step) is
        kept, renamed ``step-NNNNNN.replaced-XXXXXXXX``.
    """
    root = Path(root)
    protect = frozenset(protect)
    final = root / step_dir_name(step)
    tmp = root / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    try:
        files.make_dir(root)
        tmp.mkdir()  # a fresh name of our own (mkdir never follows a link): nothing else is in it
        tensors: dict[str, torch.Tensor] = {}
        skeleton = flatten(dict(state), "state", tensors)
        save_file(dict(generator), str(tmp / FILES[0]))
        save_file(dict(discriminator), str(tmp / FILES[1]))
        save_file(tensors, str(tmp / FILES[2]))
        for name in FILES:
            _fsync(tmp / name)
        full_meta = {**meta, "format": FORMAT, "step": step, "state": skeleton,
                     "sha256": {name: files.sha256(tmp / name) for name in FILES}}
        full_meta["meta_sha256"] = meta_digest(full_meta)
        files.write_text(tmp / "meta.json", json.dumps(full_meta, indent=1, sort_keys=True))
        if os.path.lexists(final):
            aside = root / (f"{final.name}.replaced-{uuid.uuid4().hex[:8]}" if step in protect
                            else f".old-{final.name}-{uuid.uuid4().hex[:8]}")
            final.rename(aside)
            tmp.rename(final)
            if step not in protect:
                _remove_dir(aside)
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
            if step_of(old) in protect:
                continue  # the checkpoint a run was resumed from, or one newer than it
            # Renamed first, so a process killed while deleting leaves no half-deleted step-* directory.
            aside = root / f".old-{old.name}-{uuid.uuid4().hex[:8]}"
            try:
                old.rename(aside)
            except OSError:
                continue
            _remove_dir(aside)
    return final


def _remove_dir(path: Path) -> None:
    """Delete a directory gancore wrote; a symbolic link is only unlinked, never followed."""
    if path.is_symlink():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def step_of(path: Path) -> int:
    return int(path.name[len(PREFIX):])


def list_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoint directories under ``root``, oldest first. A symbolic link named like one is
    not a checkpoint gancore wrote, and is left out."""
    root = Path(root)
    if root.is_symlink() or not root.is_dir():  # a linked checkpoints folder leads out of the run
        return []
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    found = [p for p in entries if p.name.startswith(PREFIX) and p.name[len(PREFIX):].isdigit()
             and not p.is_symlink() and p.is_dir()]
    return sorted(found, key=step_of)


class Checkpoint:
    """A checkpoint read back and verified."""

    def __init__(self, path: Path, meta: dict[str, Any], generator: dict[str, torch.Tensor],
                 discriminator: dict[str, torch.Tensor], state: dict[str, Any]):
        self.path, self.meta = path, meta
        self.generator, self.discriminator, self.state = generator, discriminator, state

    @property
    def step(self) -> int:
        return int(self.meta["step"])


# --- what a checkpoint may hold -------------------------------------------------------------------

#: Bounds on what ``meta.json`` may say (any value read from a run directory is checked before use).
MAX_STEP = 10 ** 10
MAX_SIDE = 8192        # pixels of an image side
MAX_CHANNELS = 16
MAX_VECTOR = 1 << 20   # entries of a vector sample
MAX_CLASSES = 100_000
MAX_NAME = 4096        # characters of a data name, a class or domain name, a plugin name or version
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_NAME and "\0" not in value


def _check_data(data: Any) -> str | None:
    """What is wrong with a saved :class:`~gancore.data.DataSpec`, or ``None``."""
    if not isinstance(data, dict):
        return "'data' is not a table"
    if not _text(data.get("name")):
        return "'data.name' is not a name"
    shape = data.get("shape")
    if not isinstance(shape, list) or len(shape) not in (1, 3):
        return f"'data.shape' must be [C, H, W] or [D], got {shape!r:.80}"
    if len(shape) == 3 and not (_whole(shape[0], 1, MAX_CHANNELS) and all(_whole(v, 1, MAX_SIDE) for v in shape[1:])):
        return (f"'data.shape' {shape!r:.80} is not an image of at most {MAX_CHANNELS} channels and {MAX_SIDE} "
                "pixels a side")
    if len(shape) == 1 and not _whole(shape[0], 1, MAX_VECTOR):
        return f"'data.shape' {shape!r:.80} is not a vector of at most {MAX_VECTOR} entries"
    classes = data.get("num_classes", 0)
    if not _whole(classes, 0, MAX_CLASSES):
        return f"'data.num_classes' must be a whole number in 0..{MAX_CLASSES}, got {classes!r:.80}"
    names = data.get("class_names", [])
    if not isinstance(names, list) or not all(map(_text, names)) or (names and len(names) != classes):
        return "'data.class_names' is not a list of one name per class"
    if data.get("pairing", "") not in ("", "paired", "unpaired"):
        return f"'data.pairing' must be '', 'paired' or 'unpaired', got {data.get('pairing')!r:.80}"
    domains = data.get("domains", [])
    if not isinstance(domains, list) or not all(map(_text, domains)) or len(domains) > MAX_CLASSES:
        return "'data.domains' is not a list of names"
    return None


def _check_meta(meta: Any) -> str | None:
    """What is wrong with a parsed ``meta.json``, or ``None``. Keys a checkpoint of a run always has
    (``family``, ``config``, ...) are checked when present; :func:`check_run_meta` requires them."""
    if not isinstance(meta, dict):
        return "it is not a JSON object"
    if meta.get("format") not in FORMATS:
        return f"unknown format {meta.get('format')!r:.40} (this gancore reads {', '.join(map(str, FORMATS))})"
    if not _whole(meta.get("step"), 0, MAX_STEP):
        return f"'step' must be a whole number in 0..{MAX_STEP}, got {meta.get('step')!r:.40}"
    sums = meta.get("sha256")
    if not isinstance(sums, dict) or not all(isinstance(sums.get(name), str) and _HEX64.fullmatch(sums[name])
                                             for name in FILES):
        return "'sha256' does not hold a SHA-256 for each file"
    if meta["format"] >= 2 and meta.get("meta_sha256") != meta_digest(meta):
        return "meta.json does not match its checksum"
    if "family" in meta and not _text(meta["family"]):
        return "'family' is not a plugin name"
    if "gancore_version" in meta and not _text(meta["gancore_version"]):
        return "'gancore_version' is not a version"
    plugins = meta.get("plugins", {})
    if not isinstance(plugins, dict) or not all(_text(k) and _text(v) for k, v in plugins.items()):
        return "'plugins' is not a table of plugin versions"
    weights = meta.get("regularizers", {})
    if not isinstance(weights, dict) or not all(
            _text(k) and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for k, v in weights.items()):
        return "'regularizers' is not a table of finite weights"
    if "config" in meta and not isinstance(meta["config"], dict):
        return "'config' is not a table"
    if "data" in meta:
        return _check_data(meta["data"])
    return None


def _check_state(state: Any) -> str | None:
    """What is wrong with the training state a checkpoint holds, or ``None`` (the parts the core reads
    itself; optimizer and RNG states are checked by torch when loaded)."""
    if not isinstance(state, dict):
        return "the state is not a table"
    plugins = state.get("plugins", {})
    if not isinstance(plugins, dict) or not all(
            isinstance(values, dict) and all(isinstance(t, torch.Tensor) for t in values.values())
            for values in plugins.values()):
        return "'plugins' is not a table of tensors per plugin"
    sampler = state.get("sampler", {})
    if not isinstance(sampler, dict) or not all(_whole(v, 0, 1 << 53) for v in sampler.values()):
        return f"the data sampler's position {sampler!r:.80} is not whole numbers >= 0"
    if not _whole(state.get("nan_skipped", 0), 0, 1 << 53):
        return "'nan_skipped' is not a whole number >= 0"
    logs = state.get("logs", {"sums": {}, "counts": {}})
    if not (isinstance(logs, dict) and isinstance(logs.get("sums", {}), dict)
            and all(isinstance(v, torch.Tensor) for v in logs.get("sums", {}).values())
            and isinstance(logs.get("counts", {}), dict)
            and all(_whole(v, 0, 1 << 53) for v in logs.get("counts", {}).values())):
        return "the running metric sums are damaged"
    return None


def check_run_meta(checkpoint: "Checkpoint") -> None:
    """Refuse a checkpoint that lacks what a run's checkpoint has: family, versions, configuration and
    data (their values are checked on load, see :func:`read_meta`)."""
    missing = [key for key in ("family", "gancore_version", "plugins", "config", "data") if key not in checkpoint.meta]
    if missing:
        raise CheckpointError(f"checkpoint {str(checkpoint.path)!r} has a damaged meta.json: it lacks "
                              f"{missing[0]!r}.")


def read_meta(path: str | Path) -> dict[str, Any]:
    """The verified ``meta.json`` of checkpoint directory ``path``: checksum (format 2) and schema."""
    path = Path(path)
    meta_path = path / "meta.json"
    if meta_path.is_symlink() or not meta_path.is_file():
        raise CheckpointError(f"{str(path)!r} is not a checkpoint (no meta.json).")
    try:
        meta = json.loads(files.read_bytes(meta_path, path).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError, OSError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} has a corrupt meta.json: {exc}.") from None
    problem = _check_meta(meta)
    if problem:
        raise CheckpointError(f"checkpoint {str(path)!r} has a damaged meta.json: {problem}.")
    return meta


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read and verify a checkpoint directory: checksums, ``meta.json``'s schema, the state's."""
    path = Path(path)
    meta = read_meta(path)
    for name in FILES:
        file = path / name
        if file.is_symlink() or not file.is_file():
            raise CheckpointError(f"checkpoint {str(path)!r} is incomplete: {name} is missing"
                                  + (" (a symbolic link stands in its place)." if file.is_symlink() else "."))
        try:
            digest = files.sha256(file)
        except OSError as exc:
            raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: {name}: {exc.strerror}.") from None
        if digest != meta["sha256"][name]:
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
    problem = _check_state(state)
    if problem:
        raise CheckpointError(f"checkpoint {str(path)!r} has a damaged state description: {problem}.")
    return Checkpoint(path, meta, generator, discriminator, state)


def load_newest_intact(found: list[Path], map_location: str | torch.device = "cpu"
                       ) -> tuple[Checkpoint, list[str]]:
    """The newest of the checkpoint directories ``found`` (oldest first) that verifies, and a note
    for each newer one skipped. Raises :class:`CheckpointError` with those notes when none verifies.
    A checkpoint that vanishes while being read (pruned by a run still training) raises
    :class:`Vanished`, so that the caller lists again (:func:`open_checkpoint`)."""
    notes = []
    for candidate in reversed(found):
        try:
            checkpoint = load_checkpoint(candidate, map_location=map_location)
        except CheckpointError as exc:
            if not os.path.lexists(candidate):
                raise Vanished(candidate) from None
            notes.append(f"Skipping {candidate.name}: {exc}")
            continue
        if notes:
            notes.append(f"Falling back to {candidate.name}, the newest intact checkpoint.")
        return checkpoint, notes
    raise CheckpointError("it has no intact checkpoint." + ("".join(" " + note for note in notes)))


class Vanished(Exception):
    """A checkpoint directory disappeared between listing and reading."""


def is_checkpoint_dir(path: str | Path) -> bool:
    """Whether ``path`` names one checkpoint (it holds a ``meta.json``, or is a ``step-N`` directory)."""
    path = Path(path)
    return (path / "meta.json").exists() or (path.name.startswith(PREFIX) and path.name[len(PREFIX):].isdigit()
                                             and path.parent.name == "checkpoints")


def open_checkpoint(path: str | Path, map_location: str | torch.device = "cpu",
                    log: Callable[[str], None] | None = None) -> Checkpoint:
    """Which checkpoint a command means, read and verified -- the one lookup ``--resume``, ``gan sample``,
    ``gan eval`` and ``gan translate`` share.

    A checkpoint directory means exactly that checkpoint (an error if it does not verify). A run
    directory (or its ``checkpoints`` folder) means its newest *intact* checkpoint: newer damaged
    ones are skipped, each with a note to ``log``; one pruned by a run still training while it was
    read is not damage: the directory is listed again.
    """
    path = Path(path)
    if is_checkpoint_dir(path):
        return load_checkpoint(path, map_location=map_location)
    for _ in range(20):
        found = list_checkpoints(path / "checkpoints") or list_checkpoints(path)
        if not found:
            raise CheckpointError(f"no checkpoint in {str(path)!r}: give a run directory or a checkpoint "
                                  "directory.")
        try:
            checkpoint, notes = load_newest_intact(found, map_location=map_location)
        except Vanished:
            continue
        except CheckpointError as exc:
            raise CheckpointError(f"{str(path)!r}: {exc}") from None
        for note in notes:
            (log or (lambda text: None))(note)
        return checkpoint
    raise CheckpointError(f"{str(path)!r}: its checkpoints kept disappearing while being read (a run pruning "
                          "them?); try again.")


def load_weights(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor], what: str) -> None:
    """Load ``tensors`` into ``module``, naming the first mismatch if any (name, shape or dtype)."""
    expected = module.state_dict()
    for name, value in expected.items():
        if name not in tensors:
            raise CheckpointError(f"the checkpoint's {what} lacks {name!r}: it was saved by another family "
                                  "or configuration.")
        if tuple(tensors[name].shape) != tuple(value.shape):
            raise CheckpointError(f"the checkpoint's {what} tensor {name!r} has shape {tuple(tensors[name].shape)}, "
                                  f"the model expects {tuple(value.shape)}: another family or configuration.")
        if tensors[name].dtype != value.dtype:
            raise CheckpointError(f"the checkpoint's {what} tensor {name!r} is {tensors[name].dtype}, the model "
                                  f"expects {value.dtype}: it was not written by this model.")
    extra = [name for name in tensors if name not in expected]
    if extra:
        raise CheckpointError(f"the checkpoint's {what} has tensor {extra[0]!r} the model does not: it was saved "
                              "by another family or configuration.")
    module.load_state_dict(dict(tensors))

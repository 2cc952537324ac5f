"""Resuming a run: ``gan train --resume RUN``.

Resuming continues a run from its newest *intact* checkpoint (or, given a
checkpoint directory, from exactly that checkpoint) with the run's saved
configuration. A checkpoint holds everything the next step depends on
(see :meth:`gancore.trainer.Trainer.state_dict`): both networks, both
optimizers, every plugin's state, the step counter, the sampler's position
in the data order, the running metric sums and the Python, NumPy, torch CPU
and CUDA random states. The learning-rate schedule is a function of the step
counter alone, so it needs no state of its own. On the same machine and
versions, with deterministic algorithms, a resumed run ends with the same
bytes as an uninterrupted one.

The steps, in order (:func:`prepare_resume`, then :func:`restore`):

1. find the run directory and read its ``config.toml``; flags given with
   ``--resume`` may change only :data:`RESUME_OVERRIDES` (for example
   ``--steps`` to train further), anything else must match the saved value;
2. remove what a killed process may have left half-written (temporary
   checkpoint directories);
3. load the checkpoint named, or the newest one whose checksums verify,
   saying which newer ones were skipped and why (pruning with ``--keep``
   never deletes the checkpoint resumed from nor one newer than it);
4. check that it was written by the run's family and by compatible versions
   of gancore and of every plugin;
5. load it into a freshly built trainer (tensor names and shapes are checked
   against the new networks) and cut ``metrics.jsonl`` back to its step.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, Mapping

from gancore import __version__, files
from gancore.checkpoint import (Checkpoint, check_run_meta, is_checkpoint_dir, list_checkpoints, open_checkpoint,
                                step_of)
from gancore.config import TrainConfig, make_config, read_toml
from gancore.data import Dataset
from gancore.errors import CheckpointError, ConfigError
from gancore.plugins import Registry, Run

#: Settings a resumed run may change; all others must match the saved run.
RESUME_OVERRIDES = ("steps", "log_every", "sample_every", "checkpoint_every", "keep", "device", "nan",
                    "nan_limit", "eval_every", "eval_samples", "data_mode", "data_workers", "out", "name")


def locate(target: str | Path, out: str | None = None) -> tuple[Path, Path | None]:
    """The run directory ``target`` names (a path, or a run name under ``out``), and the checkpoint
    directory when ``target`` names one (``RUN/checkpoints/step-000100``)."""
    path = Path(target)
    named = out if out is not None else TrainConfig().out
    if not (path / "config.toml").is_file() and not is_checkpoint_dir(path) and (Path(named) / path).is_dir():
        path = Path(named) / path
    checkpoint = None
    if is_checkpoint_dir(path):
        if path.parent.name != "checkpoints":
            raise CheckpointError(f"cannot resume {str(target)!r}: a checkpoint resumes inside its run directory "
                                  "(RUN/checkpoints/step-N); give the run directory or one of its checkpoints.")
        checkpoint, path = path, path.parent.parent
    if not path.is_dir():
        raise CheckpointError(f"cannot resume {str(target)!r}: no such run directory.")
    if not (path / "config.toml").is_file():
        raise CheckpointError(f"cannot resume {str(path)!r}: it has no config.toml, so it is not a gancore run "
                              "directory.")
    if out is not None and Path(out).resolve() != path.parent.resolve():
        raise ConfigError(f"--out {out} with --resume {target}: the run is in {str(path.parent)!r}, not under --out. "
                          "With --resume, --out only says where to find a run given by name; a resumed run stays "
                          "in its directory.")
    return path, checkpoint


def find_run(target: str | Path, out: str | None = None) -> Path:
    """The run directory ``target`` names: a path, a run name under ``out``, or one of its checkpoints."""
    return locate(target, out)[0]


def resumed_settings(path: Path, user: Mapping[str, Any]) -> dict[str, Any]:
    """The saved configuration with the allowed overrides from ``user`` applied."""
    saved = read_toml(path / "config.toml", root=path)
    config = make_config(saved)
    if "name" in user and user["name"] != path.name:
        raise ConfigError(f"--name {user['name']} with --resume {path}: a resumed run keeps its directory and "
                          f"name ({path.name!r}). Drop --name, or start a new run with it.")
    for key, value in user.items():
        if key in RESUME_OVERRIDES:
            continue
        given = make_config(saved, {key: value})
        if key == "regularizers" and isinstance(value, Mapping):
            # A regularizer named without a weight means "the run's weight".
            given = make_config(saved, {key: {k: (config.regularizers or {}).get(k) if w is None else w
                                              for k, w in value.items()}})
        if getattr(given, key) != getattr(config, key):
            if key == "plugins":
                raise CheckpointError(
                    f"cannot resume {str(path)!r} with --plugin {', '.join(given.plugins)}: its checkpoints "
                    f"were written by {', '.join(config.plugins)}. A checkpoint from another family cannot "
                    "continue; start a new run (another --name) instead.")
            raise ConfigError(
                f"cannot resume {str(path)!r} with a different {key!r} (saved {getattr(config, key)!r}, given "
                f"{getattr(given, key)!r}): a resumed run keeps its configuration except for "
                f"{', '.join(RESUME_OVERRIDES[:-2])}. Start a new run to change it.")
    merged = {**saved, **{key: value for key, value in user.items() if key in RESUME_OVERRIDES}}
    merged["out"], merged["name"] = str(path.parent), path.name
    return merged


def clean_partial(path: Path) -> list[str]:
    """Remove temporary checkpoint directories a killed process left behind (a link is only unlinked)."""
    root = path / "checkpoints"
    removed = []
    if root.is_dir() and not root.is_symlink():
        for leftover in sorted(root.iterdir()):
            if leftover.name.startswith((".tmp-", ".old-")):
                if leftover.is_symlink():
                    leftover.unlink(missing_ok=True)
                elif leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    continue
                removed.append(leftover.name)
    return removed


def newest_intact(path: Path, checkpoint: Path | None = None, log=None) -> Checkpoint:
    """The checkpoint ``checkpoint`` names, or run ``path``'s newest one that verifies (each newer one
    skipped noted to ``log``)."""
    try:
        found = open_checkpoint(checkpoint if checkpoint is not None else path, log=log)
    except CheckpointError as exc:
        text = str(exc)  # open_checkpoint names a run directory first: say it once
        raise CheckpointError(f"cannot resume {text}" if text.startswith(f"{str(path)!r}: ")
                              else f"cannot resume {str(path)!r}: {text}") from None
    check_run_meta(found)
    return found


def _release(version: str) -> tuple[int, ...] | None:
    match = re.match(r"(\d+)(?:\.(\d+))?", version or "")
    return (int(match.group(1)), int(match.group(2) or 0)) if match else None


def compatible(saved: str, installed: str) -> bool:
    """Whether state written by version ``saved`` can be read by ``installed``.

    Semantic versioning: the same major version, and for 0.x the same minor
    version. Versions that do not parse must match exactly.
    """
    a, b = _release(saved), _release(installed)
    if a is None or b is None:
        return saved == installed
    return a[0] == b[0] and (a[0] != 0 or a[1] == b[1])


def check_compatible(checkpoint: Checkpoint, run: Run) -> None:
    """Refuse a checkpoint from another family or from incompatible versions."""
    meta = checkpoint.meta
    where = f"checkpoint {str(checkpoint.path)!r}"
    if meta.get("family") != run.family:
        raise CheckpointError(f"{where} was written by family {meta.get('family')!r}, but this run uses "
                              f"{run.family!r}: a checkpoint from another family cannot be loaded.")
    saved_core = str(meta.get("gancore_version", ""))
    if not compatible(saved_core, __version__):
        raise CheckpointError(f"{where} was written by gancore {saved_core}; the installed gancore {__version__} "
                              "cannot read it. Install a compatible gancore version to resume.")
    saved_plugins = meta.get("plugins")
    if not isinstance(saved_plugins, Mapping):
        raise CheckpointError(f"{where} does not record its plugin versions.")
    for name, installed in run.versions().items():
        saved = saved_plugins.get(name)
        if saved is None:
            raise CheckpointError(f"{where} was written without plugin {name!r}, which this run uses.")
        if not compatible(str(saved), installed):
            raise CheckpointError(f"{where} was written by plugin {name!r} version {saved}; the installed "
                                  f"version {installed} is incompatible (a different major version, or minor "
                                  f"for 0.x). Install {name} {saved} to resume.")


def prepare_resume(registry: Registry, target: str | Path, user: Mapping[str, Any], out: str | None = None
                   ) -> tuple[TrainConfig, Run, Dataset, Path, Checkpoint, list[str]]:
    """Everything :class:`~gancore.trainer.Trainer` needs to continue ``target``.

    Returns the configuration, the activated plugins, the data, the run
    directory, the checkpoint to load and notes for the user.
    """
    from gancore.run.rundir import resolve

    path, named = locate(target, out)
    settings = resumed_settings(path, user)
    notes = [f"Removed the unfinished {name} left by an interrupted write." for name in clean_partial(path)]
    checkpoint = newest_intact(path, named, log=notes.append)
    newer = [p.name for p in list_checkpoints(path / "checkpoints") if step_of(p) > checkpoint.step]
    if newer:
        notes.append(f"Resuming from {checkpoint.path.name}, older than {', '.join(newer)}: those are kept (--keep "
                     "never deletes them), and one the resumed run writes at the same step moves it aside as "
                     "step-N.replaced-XXXXXXXX.")
    config, run, dataset = resolve(registry, settings)
    check_compatible(checkpoint, run)
    if checkpoint.step >= config.steps:
        raise ConfigError(f"run {str(path)!r} already reached step {checkpoint.step} of {config.steps}: pass "
                          f"--steps N with N > {checkpoint.step} to train it further.")
    saved = make_config(read_toml(path / "config.toml", root=path))
    if any(getattr(config, key) != getattr(saved, key) for key in RESUME_OVERRIDES[:-2]):
        write_config(config, path)  # record what the run now trains with
    return config, run, dataset, path, checkpoint, notes


def write_config(config: TrainConfig, path: Path) -> None:
    config.save(path / "config.toml")  # atomic, never through a link (gancore.files)


def restore(trainer, checkpoint: Checkpoint) -> None:
    """Load ``checkpoint`` into ``trainer`` and cut its metrics back to that step."""
    try:
        trainer.load_checkpoint(checkpoint)
    except CheckpointError:
        raise
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {str(checkpoint.path)!r} does not fit this run: "
                              f"{type(exc).__name__}: {exc}.") from None
    if trainer.acc.process_index > 0:
        # Only the main process's random state is saved: give the others fresh,
        # distinct streams rather than a copy of rank 0's (not bit-exact; see
        # docs/reliability.md).
        from accelerate.utils import set_seed

        set_seed(trainer.config.seed + trainer.acc.process_index + 1_000_003 * checkpoint.step)
    # Pruning (--keep) never deletes the checkpoint resumed from, nor one newer than it.
    trainer.protected_steps = (checkpoint.step, *(step_of(p) for p in list_checkpoints(checkpoint.path.parent)
                                                  if step_of(p) > checkpoint.step))
    truncate_metrics(trainer.run_dir / "metrics.jsonl", checkpoint.step)


def truncate_metrics(path: Path, step: int) -> None:
    """Drop metric rows after ``step`` (and a half-written last line)."""
    if not path.is_file() and not path.is_symlink():
        return
    try:
        text = files.read_bytes(path, path.parent).decode("utf-8", errors="replace")
    except OSError as exc:
        raise CheckpointError(f"cannot read {str(path)!r}: {exc.strerror}.") from None
    kept = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
            kept.append(line)
    try:
        files.write_text(path, "".join(line + "\n" for line in kept))
    except OSError as exc:
        raise CheckpointError(f"cannot rewrite {str(path)!r}: {exc.strerror}.") from None

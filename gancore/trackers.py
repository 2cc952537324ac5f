"""Experiment trackers (TensorBoard, W&B, MLflow, Aim, ...) through Accelerate's tracker API.

``gan train --log-with tensorboard`` (repeatable) hands the run's logs to the trackers Accelerate
supports (:data:`accelerate.tracking.LOGGER_TYPE_TO_CLASS`): every ``metrics.jsonl`` row (losses,
regularizer terms, learning rates, ``--eval-every`` metrics) goes to ``Accelerator.log`` at its
step, every sample grid to the tracker's image call (MLflow: an artifact), and the resolved
configuration, flattened, to ``Accelerator.init_trackers`` as hyper-parameters. ``metrics.jsonl``
stays the source of truth: the trackers receive its rows, nothing else.

Each tracker is Accelerate's own class, built with arguments that put its files in the run
directory (TensorBoard's events in ``RUN/tensorboard/``, W&B's in ``RUN/wandb/``, Aim's repository
in ``RUN/aim/``) and passed to the Accelerator's ``log_with``; Accelerate starts them, on the main
process only. ``RUN/trackers.json`` records which trackers a run logs to and their run ids, so
``gan train --resume`` continues the same tracker run where the service allows it (W&B by id with
``resume="allow"``, MLflow by ``run_id``, Aim by run hash, TensorBoard in the same folder with
``purge_step`` dropping the events a killed run wrote after its checkpoint).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gancore.errors import ConfigError
from gancore.files import read_text, write_text

#: The file in the run directory that names the run's trackers and their run ids.
RECORD = "trackers.json"
#: The pip extra of gancore that installs each tracker's package (Accelerate's name -> extra).
EXTRAS = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow", "aim": "aim", "comet_ml": "comet",
          "clearml": "clearml", "dvclive": "dvclive", "swanlab": "swanlab", "trackio": "trackio"}
#: The project (W&B), experiment (MLflow) or repository name runs are grouped under; W&B's
#: ``WANDB_PROJECT`` and MLflow's ``MLFLOW_EXPERIMENT_NAME`` override it.
PROJECT = "gancore"
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def known() -> tuple[str, ...]:
    """The trackers Accelerate supports, by its names."""
    from accelerate.tracking import LOGGER_TYPE_TO_CLASS

    return tuple(sorted(str(name) for name in LOGGER_TYPE_TO_CLASS))


def check(names: Iterable[str]) -> tuple[str, ...]:
    """``--log-with`` values, checked: each a tracker Accelerate supports whose package is installed
    (``none`` alone: no tracker). Duplicates are dropped; the order is kept."""
    names = tuple(dict.fromkeys(str(name).strip().lower() for name in names))
    if names == ("none",):
        return ()
    from accelerate.tracking import get_available_trackers

    supported = known()
    available = {str(name) for name in get_available_trackers()}
    for name in names:
        if name not in supported:
            raise ConfigError(f"--log-with {name!r} is not a tracker Accelerate supports: use one of "
                              f"{', '.join(supported)} (repeat --log-with for several), or none.")
        if name not in available:
            extra = EXTRAS.get(name)
            raise ConfigError(f"--log-with {name}: its package is not installed; "
                              + (f"pip install 'gancore[{extra}]'." if extra else f"install {name}."))
    return names


def hyperparameters(config: Any, family: str, regularizers: Mapping[str, float]) -> dict[str, Any]:
    """The resolved configuration as flat hyper-parameters (``options.r1.every``), every value a
    bool, int, float or str (lists as JSON), as every tracker accepts."""
    flat: dict[str, Any] = {"family": family}

    def add(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                add(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, (bool, int, float, str)):
            flat[prefix] = value
        elif value is None:
            flat[prefix] = "none"
        else:
            flat[prefix] = json.dumps(value, default=str)

    add("", config.to_dict())
    add("regularizers", dict(regularizers))
    flat.pop("out", None)  # where runs go on this machine, not a hyper-parameter
    return flat


def read_record(run_dir: Path) -> dict[str, dict[str, str]]:
    """``trackers.json`` of a run directory (``{}`` when absent), validated: it is untrusted input."""
    path = Path(run_dir) / RECORD
    if not path.is_file():
        return {}
    try:
        record = json.loads(read_text(path, run_dir))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{str(path)!r} is not a readable trackers record ({exc}); remove it to start new "
                          "tracker runs.") from None
    if not isinstance(record, dict) or not all(
            isinstance(name, str) and isinstance(ids, dict)
            and all(isinstance(k, str) and isinstance(v, str) and _ID.match(v) for k, v in ids.items())
            for name, ids in record.items()):
        raise ConfigError(f"{str(path)!r} does not hold tracker names and run ids; remove it to start new tracker "
                          "runs.")
    return record


def _build(name: str, run_dir: Path, run_name: str, ids: Mapping[str, str], step: int):
    """Accelerate's tracker ``name``, writing into ``run_dir`` and continuing the run ``ids`` names."""
    import os

    from accelerate.tracking import LOGGER_TYPE_TO_CLASS

    cls = LOGGER_TYPE_TO_CLASS[name]
    if name == "tensorboard":
        # The events a killed run wrote after its checkpoint at ``step`` are dropped on resume
        # (TensorBoard's purge_step: steps >= it); the checkpoint's own step was logged before it.
        return cls("tensorboard", str(run_dir), **({"purge_step": step + 1} if step else {}))
    if name == "wandb":
        kwargs = {"dir": str(run_dir), "name": run_name, "id": ids.get("id"), "resume": "allow" if ids else None}
        return cls(os.environ.get("WANDB_PROJECT", PROJECT), **{k: v for k, v in kwargs.items() if v is not None})
    if name == "mlflow":
        return cls(experiment_name=PROJECT, run_name=run_name, run_id=ids.get("run_id"))
    if name == "aim":
        return cls(run_name, str(run_dir / "aim"), **({"run_hash": ids["run_hash"]} if "run_hash" in ids else {}))
    return cls(run_name)  # comet_ml, clearml, dvclive, swanlab, trackio: their own defaults


def _ids(name: str, tracker: Any) -> dict[str, str]:
    """What continues tracker ``name``'s run later."""
    inner = getattr(tracker, "tracker", None)
    if name == "wandb":
        return {"id": str(inner.id), "project": str(inner.project)}
    if name == "mlflow":
        return {"run_id": str(inner.info.run_id), "experiment_id": str(inner.info.experiment_id)}
    if name == "aim":
        return {"run_hash": str(inner.hash)}
    return {}


def _resumed(tracker: Any, hparams: dict[str, Any]) -> dict[str, Any]:
    """The hyper-parameters to store for a resumed tracker run. MLflow refuses to change a logged
    parameter (``--steps`` grows on resume): it gets the ones it lacks, and the changed values as
    the tag ``gancore.resumed`` (JSON); the others take the new values."""
    if tracker.name != "mlflow":
        return hparams
    import mlflow

    logged = dict(tracker.tracker.data.params) if getattr(tracker.tracker, "data", None) else {}
    changed = {key: value for key, value in hparams.items() if key in logged and logged[key] != str(value)}
    if changed:
        mlflow.set_tag("gancore.resumed", json.dumps(changed, sort_keys=True)[:5000])
    return {key: value for key, value in hparams.items() if key not in logged}


class Trackers:
    """The run's trackers, held by the Accelerator (``accelerator.trackers``); main process only.

    :meth:`start` makes them; the trainer calls :meth:`log` with each ``metrics.jsonl`` row and
    :meth:`log_grid` with each sample grid; :meth:`finish` closes them.
    """

    def __init__(self, accelerator: Any, names: tuple[str, ...]):
        self.acc, self.names = accelerator, names

    @classmethod
    def start(cls, accelerator: Any, names: Iterable[str], run_dir: Path, run_name: str,
              hparams: Mapping[str, Any], step: int = 0) -> Trackers:
        """Start trackers ``names`` for the run in ``run_dir`` (at ``step``: a resumed run continues the
        tracker runs ``trackers.json`` names) and record them there."""
        names = check(names)
        run_dir = Path(run_dir)
        if not names or not accelerator.is_main_process:
            return cls(accelerator, ())
        record = read_record(run_dir) if step else {}
        accelerator.log_with = [_build(name, run_dir, run_name, record.get(name, {}), step) for name in names]
        try:
            accelerator.init_trackers(PROJECT)
            for tracker in accelerator.trackers:
                tracker.store_init_configuration(_resumed(tracker, dict(hparams)) if step else dict(hparams))
        except Exception as exc:  # noqa: BLE001 -- a service's own refusal (no login, a store it will not open)
            for tracker in accelerator.trackers:  # a run left open would be closed at exit, elsewhere
                with contextlib.suppress(Exception):  # the first error is the one to report
                    tracker.finish()
            accelerator.trackers = []
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ConfigError(f"--log-with {' '.join(names)}: a tracker could not start: {type(exc).__name__}: "
                              f"{message[:500]}") from None
        # Trackers the run logged to before and not now keep their ids for a later resume.
        record.update({name: _ids(name, accelerator.get_tracker(name)) for name in names})
        write_text(run_dir / RECORD, json.dumps(record, indent=1, sort_keys=True))
        return cls(accelerator, names)

    def log(self, row: Mapping[str, Any]) -> None:
        """One ``metrics.jsonl`` row, at its ``step``: every number in it but the step itself."""
        if not self.names:
            return
        values = {key: value for key, value in row.items()
                  if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool)}
        self.acc.log(values, step=int(row["step"]))

    def log_grid(self, path: Path, step: int) -> None:
        """A sample grid PNG (already written to ``samples/``) as an image, or as an MLflow artifact."""
        if not self.names:
            return
        import numpy as np
        from PIL import Image

        with Image.open(path) as handle:
            image = handle.convert("RGB")
        for name in self.names:
            tracker = self.acc.get_tracker(name)
            if name == "tensorboard":
                tracker.log_images({"samples": np.asarray(image)[None]}, step=step, dataformats="NHWC")
            elif name == "mlflow":
                tracker.log_artifact(str(path), artifact_path="samples")
            elif name == "aim":
                tracker.log_images({"samples": image}, step=step)
            elif hasattr(tracker, "log_images"):  # wandb, clearml, swanlab: a list of images per key
                tracker.log_images({"samples": [image]}, step=step)

    def finish(self) -> None:
        """Close every tracker (flush TensorBoard's events, end the W&B and MLflow runs)."""
        for tracker in list(getattr(self.acc, "trackers", [])) if self.names else []:
            tracker.finish()
        if self.names:
            self.acc.trackers = []


__all__ = ["EXTRAS", "RECORD", "Trackers", "check", "hyperparameters", "known", "read_record"]

"""`gan train --log-with`: TensorBoard, MLflow and W&B through Accelerate, read back offline with
each service's own reader (TensorBoard's EventAccumulator, MLflow's client on a local file store,
W&B's offline run file), including a resume that continues the same tracker runs."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

import gancore
from gancore import trackers as T
from gancore.errors import ConfigError
from gancore.testing import run_cli

SETTINGS = {"data": "ring", "steps": 20, "log_every": 10, "sample_every": 10, "eval_every": 20, "eval_samples": 200,
            "checkpoint_every": 10, "batch_size": 32}


@pytest.fixture
def offline(tmp_path, monkeypatch) -> str:
    """W&B offline, MLflow on a file store under tmp_path; returns MLflow's tracking URI."""
    uri = (tmp_path / "mlruns").as_uri()
    for key, value in {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true",
                       "MLFLOW_TRACKING_URI": uri, "MLFLOW_ALLOW_FILE_STORE": "true"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    return uri


def metrics_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def tensorboard_scalars(run: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0}).Reload()
    return events


def wandb_records(path: Path):
    """The records of a W&B offline run file (``run-ID.wandb``): LevelDB-log framing (7-byte file
    header, 32 KiB blocks, records cut into FULL/FIRST/MIDDLE/LAST pieces) around W&B's protobuf
    ``Record`` messages, read with W&B's own message classes."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, block, parts = path.read_bytes(), 7, 32768, b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 0:
            break
        parts = chunk if kind in (1, 2) else parts + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(parts)
            yield record


def wandb_history(run: Path) -> tuple[set[str], dict[int, dict[str, str]], dict[str, str]]:
    """Run ids, history rows by step, and the config, from every offline run file of a run directory."""
    ids, history, config = set(), {}, {}
    for path in sorted(run.glob("wandb/offline-run-*/run-*.wandb")):
        for record in wandb_records(path):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                ids.add(record.run.run_id)
            elif kind == "history":
                row = {item.key or "/".join(item.nested_key): item.value_json for item in record.history.item}
                history.setdefault(int(row["_step"]), {}).update(row)
            elif kind == "config":
                config.update({item.key: item.value_json for item in record.config.update})
    return ids, history, config


def test_trackers_log_what_metrics_jsonl_holds_and_resume_continues_them(tmp_path, offline):
    from mlflow.tracking import MlflowClient

    run = gancore.train("gancore-gan", out=str(tmp_path / "runs"), name="tracked",
                        log_with=["tensorboard", "mlflow", "wandb"], **SETTINGS).path
    rows = metrics_rows(run)
    record = json.loads((run / "trackers.json").read_text())
    assert set(record) == {"tensorboard", "mlflow", "wandb"}
    first_wandb = record["wandb"]["id"]

    # Resumed without --log-with: the run's trackers continue, with the same run ids.
    gancore.train("gancore-gan", resume=run, steps=40)
    rows = metrics_rows(run)
    loss_rows = [row for row in rows if "d/loss" in row]
    assert [row["step"] for row in loss_rows] == [10, 20, 30, 40]
    assert {"lr_g", "lr_d", "g/loss", "d/r1"} <= set(loss_rows[0])
    # The linear decay, as the optimizer held it on the row's last step (index 9 of 20; then 29 of 40).
    assert loss_rows[0]["lr_g"] == pytest.approx(1e-3 * (1 - 9 / 20))
    assert loss_rows[2]["lr_d"] == pytest.approx(1e-3 * (1 - 29 / 40))
    evals = [row for row in rows if "eval/modes" in row]
    assert [row["step"] for row in evals] == [20, 40]
    again = json.loads((run / "trackers.json").read_text())
    assert again["wandb"]["id"] == first_wandb and again["mlflow"] == record["mlflow"]

    # TensorBoard: its own reader finds every row's values at their steps, and the grids.
    events = tensorboard_scalars(run)
    for name in ("d/loss", "g/loss", "lr_g", "d/r1"):
        scalars = events.Scalars(name)  # float32
        assert [e.step for e in scalars] == [row["step"] for row in loss_rows], name
        assert [e.value for e in scalars] == pytest.approx([row[name] for row in loss_rows], rel=1e-6), name
    assert [e.step for e in events.Scalars("eval/modes")] == [20, 40]
    assert [e.step for e in events.Images("samples")] == [10, 20, 30, 40]
    assert (events.Images("samples")[0].width, events.Images("samples")[0].height) == (256, 256)

    # MLflow: one run (resumed, not a second one), metrics and params read back with its client.
    client = MlflowClient(offline)
    run_id = record["mlflow"]["run_id"]
    [experiment] = [e for e in client.search_experiments() if e.name == "gancore"]
    assert [r.info.run_id for r in client.search_runs([experiment.experiment_id])] == [run_id]
    history = client.get_metric_history(run_id, "d/loss")
    assert [m.step for m in history] == [row["step"] for row in loss_rows]
    assert [m.value for m in history] == pytest.approx([row["d/loss"] for row in loss_rows], rel=1e-12)
    assert [m.step for m in client.get_metric_history(run_id, "eval/high_quality")] == [20, 40]
    params = client.get_run(run_id).data.params
    assert params["family"] == "gancore-gan" and params["data"] == "ring" and params["regularizers.r1"] == "1.0"
    artifacts = [a.path for a in client.list_artifacts(run_id, "samples")]
    assert artifacts == ["samples/step-000010.png", "samples/step-000020.png", "samples/step-000030.png",
                         "samples/step-000040.png"]
    assert client.get_run(run_id).info.status == "FINISHED"

    # W&B offline: the run file on disk holds the same rows under one run id, and the configuration.
    ids, history, config = wandb_history(run)
    assert ids == {first_wandb}
    for row in loss_rows:
        assert float(history[row["step"]]["d/loss"]) == pytest.approx(row["d/loss"], rel=1e-6)
    assert float(history[40]["eval/modes"]) == evals[1]["eval/modes"]
    assert "samples" in {key.split("/")[0] for key in history[20]}
    assert json.loads(config["family"]) == "gancore-gan" and json.loads(config["steps"]) in (20, 40)


def test_tensorboard_resume_drops_events_after_the_checkpoint(tmp_path, offline):
    """A run killed after logging step 20 but checkpointed at 10 resumes from 10: TensorBoard's
    purge_step drops the orphaned events, so each step has one value."""
    run = gancore.train("gancore-gan", out=str(tmp_path), name="r", log_with=["tensorboard"],
                        **{**SETTINGS, "eval_every": 0}).path
    import shutil

    shutil.rmtree(run / "checkpoints" / "step-000020")  # as if killed before this checkpoint
    gancore.train("gancore-gan", resume=run / "checkpoints" / "step-000010", steps=20)
    steps = [e.step for e in tensorboard_scalars(run).Scalars("d/loss")]
    assert steps == [10, 20]


def test_log_with_refuses_unknown_and_missing_trackers(tmp_path, monkeypatch):
    result = run_cli("train", "-p", "gancore-gan", "--data", "ring", "--steps", 1, "--out", tmp_path,
                     "--log-with", "nosuch")
    assert result.exit_code == 1 and "not a tracker Accelerate supports" in result.output
    assert "tensorboard" in result.output and not list(tmp_path.iterdir())  # refused before any run directory
    assert T.check(["none"]) == () and T.check(["tensorboard", "TensorBoard"]) == ("tensorboard",)
    assert set(T.known()) >= {"tensorboard", "wandb", "mlflow", "aim"}
    import accelerate.tracking

    monkeypatch.setattr(accelerate.tracking, "get_available_trackers", list)
    with pytest.raises(ConfigError, match=r"pip install 'gancore\[wandb\]'"):
        T.check(["wandb"])


def test_hyperparameters_are_flat_and_tracker_typed():
    from gancore.config import TrainConfig

    config = TrainConfig(plugins=("gancore-gan",), data="ring", regularizers={"r1": 0.5},
                         options={"r1": {"every": 16}}, out="runs")
    flat = T.hyperparameters(config, "gancore-gan", {"r1": 0.5})
    assert flat["family"] == "gancore-gan" and flat["regularizers.r1"] == 0.5
    assert flat["options.r1.every"] == 16 and flat["plugins"] == '["gancore-gan"]' and "out" not in flat
    assert all(isinstance(value, (bool, int, float, str)) for value in flat.values())


def test_a_damaged_trackers_record_is_refused(tmp_path):
    (tmp_path / "trackers.json").write_text(json.dumps({"wandb": {"id": "../../x y"}}))
    with pytest.raises(ConfigError, match="does not hold tracker names and run ids"):
        T.read_record(tmp_path)
    (tmp_path / "trackers.json").write_text("{")
    with pytest.raises(ConfigError, match="not a readable trackers record"):
        T.read_record(tmp_path)

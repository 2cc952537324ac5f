"""`gancore.load`, `gan export` (bundle, model card, ONNX), `gan push` up to the upload itself."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import gancore
from gancore import bundle as B
from gancore import export as E
from gancore.errors import CheckpointError, ConfigError, GanError
from gancore.testing import run_cli

TRAIN = ["--steps", 2, "--batch-size", 16, "--log-every", 2, "--sample-every", 2, "--checkpoint-every", 2,
         "--grid-size", 16]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Three tiny runs: DCGAN on digits (with its default EMA and an eval.json), CGAN (conditional), ring."""
    root = tmp_path_factory.mktemp("runs")
    for name, args in {"dcgan": ["--plugin", "gancore-dcgan", "--set", "gancore-dcgan.width=8", "--data", "digits"],
                       "cgan": ["--plugin", "gancore-cgan", "--data", "digits"],
                       "ring": ["--plugin", "gancore-gan", "--data", "ring"]}.items():
        result = run_cli("train", *args, *TRAIN, "--out", root, "--name", name)
        assert result.exit_code == 0, result.output
    result = run_cli("eval", root / "dcgan", "-n", 200)
    assert result.exit_code == 0, result.output
    return {name: root / name for name in ("dcgan", "cgan", "ring")}


def test_load_a_run_a_checkpoint_and_sample(runs):
    g = gancore.load(runs["dcgan"])
    assert isinstance(g, gancore.LoadedGenerator) and g.family == "gancore-dcgan" and g.step == 2
    x = g.sample(5, seed=3)
    assert x.shape == (5, 1, 8, 8) and x.dtype == torch.float32 and x.abs().max() <= 1
    assert torch.equal(x, g.sample(5, seed=3)) and not torch.equal(x, g.sample(5, seed=4))
    # Batching does not change the draw (one latent, sliced); convolutions may round differently
    # for another batch size, in the last bits.
    assert torch.allclose(g.sample(5, seed=3, batch_size=2), x, rtol=0, atol=1e-6)
    same = gancore.load(runs["dcgan"] / "checkpoints" / "step-000002")
    assert torch.equal(same.sample(5, seed=3), x)
    # The EMA weights by default, as gan sample; the trained ones when asked.
    trained = gancore.load(runs["dcgan"], trained_weights=True)
    assert not torch.equal(trained.sample(5, seed=3), x)
    ring = gancore.load(runs["ring"])
    assert ring.sample(7, seed=0).shape == (7, 2)
    with pytest.raises(ConfigError, match="labels need a conditional generator"):
        g.sample(2, labels=1)
    with pytest.raises(ConfigError, match="n must be a positive int"):
        g.sample(0)
    with pytest.raises(GanError, match="not a folder"):
        gancore.load(runs["dcgan"] / "config.toml")


def test_labels_pick_classes(runs, tmp_path):
    g = gancore.load(runs["cgan"])
    assert g.conditional and g.num_classes == 10
    x = g.sample(10, seed=0, labels=range(10))
    assert x.shape == (10, 1, 8, 8)
    # The labels reach the generator: the same latent with other labels gives other samples.
    assert not torch.equal(g.sample(10, seed=0, labels=[0] * 10), x)
    assert torch.equal(g.sample(10, seed=0, labels=torch.arange(10)), x)
    assert torch.equal(g.sample(3, seed=0, labels=7), g.sample(3, seed=0, labels=[7, 7, 7]))
    for bad, message in ((10, "not a class"), ([1, 2], "2 labels for 3 samples"), ("cat", "not a class name")):
        with pytest.raises(ConfigError, match=message):
            g.sample(3, labels=bad)
    assert g.save_grid(x, tmp_path / "grid.png").stat().st_size > 0


def test_export_writes_a_hub_bundle_that_loads_to_the_same_samples(runs, tmp_path):
    out = E.export_run(_registry(), runs["dcgan"], tmp_path / "bundle")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["README.md", "config.json", "eval.json", "generator.safetensors", "samples.png"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    info = json.loads((out / "config.json").read_text())
    assert info["gancore_bundle"] == 1 and info["family"] == "gancore-dcgan" and info["weights"] == "sampling"
    assert info["plugins"] == ["gancore-dcgan", "ema"] and info["step"] == 2 and "out" not in info["config"]
    assert set(info["distributions"]) >= {"gancore-dcgan", "gancore-ema"}
    assert info["sha256"]["generator.safetensors"] == hashlib.sha256((out / B.WEIGHTS).read_bytes()).hexdigest()
    # The weights are the sampling (EMA) generator's, as safetensors.
    run = gancore.load(runs["dcgan"])
    tensors = load_file(str(out / B.WEIGHTS))
    assert all(torch.equal(tensors[k], v) for k, v in run.module.state_dict().items())
    bundle = gancore.load(out)
    assert bundle.source == out and bundle.step == 2 and bundle.family == "gancore-dcgan"
    assert torch.equal(bundle.sample(6, seed=11), run.sample(6, seed=11))
    # The model card: Hub metadata read back by huggingface_hub, with the eval.json numbers.
    hub = pytest.importorskip("huggingface_hub")
    card = hub.ModelCard.load(out / "README.md")
    assert card.data.library_name == "gancore" and "gancore-dcgan" in card.data.tags
    assert card.data.pipeline_tag == "unconditional-image-generation"
    evaluated = json.loads((runs["dcgan"] / "eval.json").read_text())
    results = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert results["fid"] == pytest.approx(evaluated["results"]["fid"]["fid"])
    assert results["classes_covered"] == evaluated["results"]["modes"]["classes_covered"]
    assert "![samples](samples.png)" in card.text and "classifier-digits" in card.text
    assert (out / "eval.json").read_bytes() == (runs["dcgan"] / "eval.json").read_bytes()


def _registry():
    from gancore.plugins import Registry

    return Registry.discover()


def test_the_cli_exports_and_refuses_to_overwrite(runs, tmp_path, gan):
    result = gan("export", runs["ring"], "--to", tmp_path / "ring")
    assert result.exit_code == 0, result.output
    assert "generator.safetensors" in result.output and (tmp_path / "ring" / "samples.png").is_file()
    assert "eval.json" not in os.listdir(tmp_path / "ring")
    assert "Not evaluated" in (tmp_path / "ring" / "README.md").read_text()
    result = gan("export", runs["ring"], "--to", tmp_path / "ring")
    assert result.exit_code == 1 and "not an empty folder" in result.output and "Traceback" not in result.output
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    result = gan("export", runs["ring"], "--to", tmp_path / "link")
    assert result.exit_code == 1 and "is a symlink" in result.output and not (tmp_path / "elsewhere").exists()
    result = gan("export", tmp_path / "nothing-here", "--to", tmp_path / "x")
    assert result.exit_code == 1 and "no checkpoint" in result.output and not (tmp_path / "x").exists()
    (tmp_path / "empty").mkdir()  # an empty folder made for it is fine
    assert gan("export", runs["ring"], "--to", tmp_path / "empty").exit_code == 0
    assert gancore.load(tmp_path / "empty").sample(3, seed=0).shape == (3, 2)


def test_a_damaged_or_foreign_bundle_is_refused(runs, tmp_path):
    out = E.export_run(_registry(), runs["ring"], tmp_path / "b")
    weights = out / B.WEIGHTS
    good = weights.read_bytes()
    weights.write_bytes(good[:-4] + b"\0\0\0\0")
    with pytest.raises(CheckpointError, match="does not match its SHA-256"):
        gancore.load(out)
    weights.write_bytes(good)
    info = json.loads((out / B.CONFIG).read_text())
    (out / B.CONFIG).write_text(json.dumps({**info, "sha256": {**info["sha256"], "../x": "0"}}))
    with pytest.raises(CheckpointError, match="missing or not a file"):
        gancore.load(out)
    (out / B.CONFIG).write_text(json.dumps({**info, "config": {"no_such_setting": 1}}))
    with pytest.raises(CheckpointError, match="damaged"):
        gancore.load(out)
    (out / B.CONFIG).write_text(json.dumps({k: v for k, v in info.items() if k != "gancore_bundle"}))
    with pytest.raises(CheckpointError, match="not a gancore generator bundle"):
        gancore.load(out)
    (out / B.CONFIG).write_text("{not json")
    with pytest.raises(CheckpointError, match="not a readable bundle config.json"):
        gancore.load(out)
    (out / B.CONFIG).write_text(json.dumps(info))
    assert gancore.load(out).sample(2, seed=0).shape == (2, 2)
    # A model card edited after export (as on the Hub) still loads; the weights are what is checked.
    (out / B.CARD).write_text((out / B.CARD).read_text() + "\nEdited.\n")
    assert gancore.load(out).sample(2, seed=0).shape == (2, 2)
    with pytest.raises(CheckpointError, match="README.md does not match"):
        E.upload_plan(out)  # but gan push sends only a bundle whole as exported


def test_a_bundle_of_symlinks_loads_as_the_hub_downloads_it(runs, tmp_path):
    # huggingface_hub.snapshot_download lays out a repository as symlinks into its blob cache.
    out = E.export_run(_registry(), runs["ring"], tmp_path / "b")
    blobs, snapshot = tmp_path / "blobs", tmp_path / "snapshot"
    blobs.mkdir()
    snapshot.mkdir()
    for file in out.iterdir():
        (blobs / B.sha256(file)).write_bytes(file.read_bytes())
        (snapshot / file.name).symlink_to(blobs / B.sha256(file))
    assert torch.equal(gancore.load(snapshot).sample(4, seed=2), gancore.load(out).sample(4, seed=2))


def test_onnx_export_matches_pytorch_on_the_same_latents(runs, tmp_path, gan):
    ort = pytest.importorskip("onnxruntime")  # gancore[onnx]; CI installs it (requirements.txt)
    result = gan("export", runs["cgan"], "--to", tmp_path / "onnx", "--format", "onnx")
    assert result.exit_code == 0, result.output
    out = tmp_path / "onnx"
    info = json.loads((out / B.CONFIG).read_text())["onnx"]
    assert set(info["inputs"]) == {"z", "labels"} and info["max_abs_diff"] <= E.ONNX_TOLERANCE
    # Independently of the export's own check: other latents, another batch size.
    g = gancore.load(out)
    latent = g.module.latent(13, labels=torch.arange(13) % 10, rng=torch.Generator().manual_seed(5))
    session = ort.InferenceSession(str(out / B.ONNX), providers=["CPUExecutionProvider"])
    got = session.run(["sample"], {"z": latent["z"].numpy(), "labels": latent["labels"].numpy()})[0]
    with torch.no_grad():
        expected = g.module(latent)
    assert got.shape == (13, 1, 8, 8)
    assert float(abs(torch.from_numpy(got) - expected).max()) <= E.ONNX_TOLERANCE


def test_push_hands_the_bundle_to_huggingface_hub_up_to_the_network(runs, tmp_path, gan, monkeypatch):
    hub = pytest.importorskip("huggingface_hub")
    out = E.export_run(_registry(), runs["ring"], tmp_path / "b")
    plan = E.upload_plan(out)
    assert sorted(op.path_in_repo for op in plan) == sorted(p.name for p in out.iterdir())
    for op in plan:  # huggingface_hub's own hashing of what it would upload
        data = (out / op.path_in_repo).read_bytes()
        assert op.upload_info.sha256.hex() == hashlib.sha256(data).hexdigest() and op.upload_info.size == len(data)
    for bad in ("no-owner", "a/b/c", "bad name/x"):
        with pytest.raises(ConfigError, match="bad repository id"):
            E.check_repo_id(bad)
    # The upload itself: huggingface_hub's offline mode refuses the first request it would send.
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", True)
    result = gan("push", runs["ring"], "someone/ring-gan", "--token", "hf_not_a_token")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "cannot push to 'someone/ring-gan'" in result.output and "offline mode is enabled" in result.output
    result = gan("push", out, "someone/ring-gan")
    assert result.exit_code == 1 and "OfflineModeIsEnabled" in result.output
    (out / B.WEIGHTS).write_bytes(b"changed")
    with pytest.raises(CheckpointError, match="does not match its SHA-256"):
        E.upload_plan(out)


def test_train_from_python_returns_the_finished_run(tmp_path):
    run = gancore.train("gancore-wgan", regularizers={"gp": 10}, data="ring", steps=3, out=str(tmp_path),
                        name="py", sample_every=0, log_every=1)
    assert run.path == tmp_path / "py" and run.step == 3 and run.stopped_by is None
    assert run.config.regularizers == {"gp": 10.0} and run.config.steps == 3
    assert (run.path / "config.toml").is_file() and len((run.path / "metrics.jsonl").read_text().splitlines()) == 3
    x = run.load().sample(16, seed=0)
    assert x.shape == (16, 2) and torch.isfinite(x).all()
    more = gancore.train("gancore-wgan", resume=run.path, steps=5)  # continues the same run
    assert more.path == run.path and more.step == 5
    with pytest.raises(ConfigError, match="unknown configuration key 'stepz'"):
        gancore.train("gancore-wgan", data="ring", stepz=3, out=str(tmp_path))

"""`gan eval`, `--eval-every`, `gan report` end to end."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser

import pytest
import torch
from PIL import Image

from gancore import classifier as C
from gancore.data import DataSpec
from gancore.evaluation import evaluate
from gancore.generator import Generator

TINY = ["--set", "gancore-dcgan.width=8"]


def _train(gan, tmp_path, *extra, data="digits", name="run", family="gancore-dcgan", steps=4):
    result = gan("train", "--plugin", family, *(TINY if family == "gancore-dcgan" else []), "--data", data,
                 "--steps", steps, "--batch-size", 16, "--out", tmp_path, "--name", name, "--log-every", 2,
                 "--sample-every", 2, "--checkpoint-every", 2, "--grid-size", 16, *extra)
    assert result.exit_code == 0, result.output
    return tmp_path / name


def test_eval_prints_fid_floor_coverage_writes_provenance_and_repeats_exactly(gan, tmp_path):
    run = _train(gan, tmp_path)
    first = gan("eval", run, "-n", 600, "--seed", 3)
    assert first.exit_code == 0, first.output
    for text in ("fid", "floor", "classes", "step 4", "classifier-digits"):
        assert text in first.output
    record = json.loads((run / "eval.json").read_text())
    prov = record["provenance"]
    assert record["metrics"] == ["fid", "modes"]
    assert prov["n_fake"] == 600 and prov["seed"] == 3 and prov["step"] == 4 and prov["family"] == "gancore-dcgan"
    assert prov["extractor"]["recipe_hash"] == C.load_classifier("digits").recipe_hash
    assert prov["versions"]["gancore"] == "0.1.0" and prov["versions"]["plugins_at_training"]["gancore-dcgan"]
    fid = record["results"]["fid"]
    assert fid["n_real"] == 1438 and fid["n_floor"] == 359 and "split seed" in fid["real_split"]
    assert fid["fid"] > fid["floor"] > 0
    assert 1 <= record["results"]["modes"]["classes_covered"] <= 10
    second = gan("eval", run, "-n", 600, "--seed", 3)
    # stdout only: the first eval on a fresh machine also trains the cached classifier (logged to stderr).
    assert second.stdout == first.stdout
    assert json.loads((run / "eval.json").read_text())["results"] == record["results"]
    other = gan("eval", run, "-n", 600, "--seed", 4, "-o", tmp_path / "other.json")
    assert other.exit_code == 0, other.output
    assert json.loads((tmp_path / "other.json").read_text())["results"]["fid"]["fid"] != fid["fid"]


def test_eval_every_metric_on_a_checkpoint(gan, tmp_path):
    run = _train(gan, tmp_path)
    result = gan("eval", run / "checkpoints" / "step-000002", "-n", 300, "-m", "fid", "-m", "kid", "-m", "is",
                 "-m", "modes")
    assert result.exit_code == 0, result.output
    record = json.loads((run / "eval.json").read_text())
    assert set(record["results"]) == {"fid", "kid", "is", "modes"} and record["provenance"]["step"] == 2
    assert 1.0 <= record["results"]["is"]["is"] <= 10.0 and record["results"]["is"]["real_held_out"] > 8


def test_eval_on_ring_reports_modes(gan, tmp_path):
    run = _train(gan, tmp_path, data="ring", family="gancore-gan")
    result = gan("eval", run, "-n", 500)
    assert result.exit_code == 0 and "/8 modes" in result.output and "high quality" in result.output
    assert json.loads((run / "eval.json").read_text())["results"]["modes"]["n_fake"] == 500
    result = gan("eval", run, "-m", "fid")
    assert result.exit_code == 1 and "only the modes metric" in result.output


def test_eval_json_names_the_generator_sampled_and_trained_weights_measures_the_trained_one(gan, tmp_path):
    run = _train(gan, tmp_path, "--plugin", "ema", data="ring", family="gancore-gan")
    assert gan("eval", run, "-n", 200).exit_code == 0
    prov = json.loads((run / "eval.json").read_text())["provenance"]
    assert prov["generator"] == "ema" and "ema" in prov["plugins"]
    result = gan("eval", run, "-n", 200, "--trained-weights", "-o", tmp_path / "trained.json")
    assert result.exit_code == 0 and "trained generator" in result.output
    assert json.loads((tmp_path / "trained.json").read_text())["provenance"]["generator"] == "trained"
    # The model card of an export carries eval.json's name of the generator measured.
    assert gan("export", run, "--to", tmp_path / "bundle").exit_code == 0
    assert "of step 4 (ema generator)" in (tmp_path / "bundle" / "README.md").read_text()
    plain = _train(gan, tmp_path, "--no-default-plugins", data="ring", family="gancore-gan", name="plain")
    assert gan("eval", plain, "-n", 200).exit_code == 0
    assert json.loads((plain / "eval.json").read_text())["provenance"]["generator"] == "trained"


def test_eval_errors_are_clear(gan, tmp_path):
    run = _train(gan, tmp_path)
    result = gan("eval", run, "-m", "accuracy")
    assert result.exit_code == 1 and "conditional" in result.output and "Traceback" not in result.output
    assert gan("eval", tmp_path / "missing").exit_code == 1
    assert "at least 2" in gan("eval", run, "-n", 1).output


def test_inception_metrics_without_weights_say_how_to_provide_them(gan, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    monkeypatch.delenv("GANCORE_INCEPTION_WEIGHTS", raising=False)
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(16):
        Image.new("RGB", (8, 8), (i * 10, 0, 255 - i * 10)).save(folder / f"{i}.png")
    run = _train(gan, tmp_path, data=str(folder), name="folder")
    result = gan("eval", run, "-n", 10)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--inception-weights" in result.output and "never downloads" in result.output
    bogus = tmp_path / "weights.pth"
    bogus.write_bytes(b"\x80\x04not safetensors")
    result = gan("eval", run, "-n", 10, "--inception-weights", bogus)
    assert result.exit_code == 1 and "not a readable safetensors file" in result.output
    result = gan("eval", run, "--inception-weights", tmp_path / "nope.safetensors")
    assert result.exit_code == 1 and "does not exist" in result.output


class _RealDigits(Generator):
    """A conditional "generator" that returns held-out real digits of the requested label (+ shift)."""

    def __init__(self, shift: int = 0):
        super().__init__(latent_dim=1, num_classes=10)
        split = C.real_split("digits")
        self.x, self.y, self.shift = split["test_x"], split["test_y"], shift

    def forward(self, latent):
        labels = (latent["labels"] + self.shift) % 10
        picks = [torch.nonzero(self.y == int(label)).flatten() for label in labels]
        index = torch.stack([p[int(abs(z[0]) * 1000) % len(p)] for p, z in zip(picks, latent["z"])])
        return self.x[index]


def test_gan_test_accuracy_of_conditional_generators():
    spec = DataSpec("digits", (1, 8, 8), 10)
    good = evaluate(_RealDigits(), spec, ("accuracy", "modes"), n=500)
    assert good["results"]["accuracy"]["accuracy"] > 0.95
    assert good["results"]["modes"]["classes_covered"] == 10
    wrong = evaluate(_RealDigits(shift=1), spec, ("accuracy",), n=500)
    assert wrong["results"]["accuracy"]["accuracy"] < 0.1


def test_eval_every_logs_figures_to_metrics_jsonl(gan, tmp_path):
    run = _train(gan, tmp_path, "--eval-every", 2, "--eval-samples", 200)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/fid" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert all(r["eval/fid"] > r["eval/fid_floor"] > 0 and 1 <= r["eval/classes_covered"] <= 10 for r in evals)
    ring = _train(gan, tmp_path, "--eval-every", 4, data="ring", family="gancore-gan", name="ring")
    rows = [json.loads(line) for line in (ring / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "eval/modes" in r] == [4]


def test_eval_every_does_not_change_training(gan, tmp_path):
    plain = _train(gan, tmp_path, name="plain")
    evald = _train(gan, tmp_path, "--eval-every", 2, "--eval-samples", 100, name="evald")

    def losses(run):
        return [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "d/loss" in r]

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "time"} for r in rows]

    assert strip(losses(plain)) == strip(losses(evald))


class _Resources(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.urls, self.tags, self.svgs = [], [], [], 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.svgs += tag == "svg"
        for key, value in attrs:
            if tag == "img" and key == "src":
                self.images.append(value)
            elif key in ("src", "href", "srcset", "action", "data"):
                self.urls.append(value)


def test_report_is_self_contained_with_grids_curves_config_and_eval(gan, tmp_path):
    # No headless browser is installed here, so the page is checked by parsing it:
    # every image is embedded, nothing refers to another file or host.
    run = _train(gan, tmp_path, "--eval-every", 2, "--eval-samples", 200)
    assert gan("eval", run, "-n", 300).exit_code == 0
    result = gan("report", run)
    assert result.exit_code == 0, result.output
    text = (run / "report.html").read_text()
    page = _Resources()
    page.feed(text)
    assert len(page.images) == 2 and all(src.startswith("data:image/png;base64,") for src in page.images)
    for src in page.images:
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    assert page.urls == [] and "script" not in page.tags and "link" not in page.tags
    assert "url(" not in text and "@import" not in text
    assert page.svgs >= 4  # d/loss, g/loss, eval/fid, ...
    for text_piece in ("d/loss", "eval/fid", "classifier-digits", "plugins = [", "floor"):
        assert text_piece in text


def test_report_of_a_non_run_is_clear(gan, tmp_path):
    result = gan("report", tmp_path)
    assert result.exit_code == 1 and "not a run directory" in result.output


def test_inception_network_is_built_from_a_safetensors_file_without_unpickling(tmp_path, monkeypatch):
    pytest.importorskip("torch_fidelity")
    from safetensors.torch import save_file

    from gancore import evaluation

    # The network's own initial weights stand in for the real file (which cannot be shipped).
    with monkeypatch.context() as patch:
        patch.setattr(torch.nn.Module, "load_state_dict", lambda self, *args, **kwargs: None)
        patch.setattr(evaluation, "_read_safetensors", lambda path: {})
        shapes = evaluation.inception_extractor(tmp_path / "unused").state_dict()
    weights = tmp_path / "inception.safetensors"
    save_file({k: v.contiguous() for k, v in shapes.items()}, str(weights))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load must not be called"))
    net = evaluation.inception_extractor(evaluation.find_inception_weights(weights))
    features, probs = evaluation.inception_outputs(net, torch.rand(2, 1, 8, 8) * 2 - 1)
    assert features.shape == (2, 2048) and probs.shape == (2, 1008)
    assert torch.allclose(probs.sum(1), torch.ones(2, dtype=torch.float64))
    truncated = {k: v for k, v in list(shapes.items())[:-2]}
    save_file(truncated, str(tmp_path / "bad.safetensors"))
    with pytest.raises(Exception, match="does not hold the FID Inception-v3 weights"):
        evaluation.inception_extractor(tmp_path / "bad.safetensors")

"""`gancore.evaluate` (the numbers of `gan eval`), `gan eval -m pr -m dc`, `--real DATA_OR_FOLDER`, `--resize`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gancore
from gancore import classifier as C
from gancore import evaluation as E
from gancore import fidelity as F
from gancore import metrics as M
from gancore.errors import ConfigError
from gancore.testing import run_cli

TRAIN = ["--steps", 2, "--batch-size", 16, "--log-every", 2, "--sample-every", 2, "--checkpoint-every", 2,
         "--grid-size", 16]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    result = run_cli("train", "--plugin", "gancore-dcgan", "--set", "gancore-dcgan.width=8", "--data", "digits",
                     *TRAIN, "--out", root, "--name", "d")
    assert result.exit_code == 0, result.output
    return root / "d"


def _folder(path: Path, images: np.ndarray) -> Path:
    path.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(path / f"{i:04d}.png")
    return path


def test_gancore_evaluate_gives_gan_evals_numbers_with_pr_and_dc(digits_run, tmp_path):
    result = run_cli("eval", digits_run, "-m", "fid", "-m", "pr", "-m", "dc", "-n", 200, "--seed", 2)
    assert result.exit_code == 0, result.output
    assert "precision" in result.output and "coverage" in result.output
    written = json.loads((digits_run / "eval.json").read_text())
    record = gancore.evaluate(digits_run, ["fid", "pr", "dc"], n=200, seed=2, output=tmp_path / "e.json")
    assert json.loads(json.dumps(record["results"])) == written["results"]
    assert json.loads((tmp_path / "e.json").read_text())["results"] == written["results"]
    # The k-NN metrics on the classifier's features, the real train split cut to a seeded n.
    clf = C.load_classifier("digits")
    fake = clf.features(gancore.load(digits_run).sample(200, seed=2))
    real = F.subset(clf.features(C.real_split("digits")["train_x"]), 200, 2)
    assert written["results"]["pr"]["precision"] == pytest.approx(F.precision_recall(fake, real)["precision"])
    assert written["results"]["dc"]["coverage"] == pytest.approx(F.density_coverage(fake, real)["coverage"])
    assert written["results"]["pr"]["k"] == 3 and written["results"]["dc"]["k"] == 5
    assert written["results"]["pr"]["n_real"] == 200 and written["results"]["pr"]["real_subset"]
    # LoadedGenerator.fidelity: the same numbers, flat.
    flat = gancore.load(digits_run).fidelity(n=200, seed=2)["results"]
    assert flat["recall"] == pytest.approx(written["results"]["pr"]["recall"])
    assert flat["density"] == pytest.approx(written["results"]["dc"]["density"])
    with pytest.raises(ConfigError, match="unknown metric"):
        gancore.evaluate(digits_run, ["nope"], n=10)


def test_eval_against_a_chosen_real_set(digits_run, tmp_path):
    from gancore.data import load_data

    digits = load_data("digits").x  # uint8 (N, 1, 8, 8)
    folder = _folder(tmp_path / "mine", digits[:150, 0].numpy())
    result = run_cli("eval", digits_run, "--real", folder, "-m", "fid", "-m", "pr", "-n", 100, "-o",
                     tmp_path / "e.json")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "e.json").read_text())
    assert record["provenance"]["real"] == str(folder)
    fid = record["results"]["fid"]
    assert "floor" not in fid and fid["n_real"] == 150 and fid["real_split"] == f"--real {folder}"
    clf = C.load_classifier("digits")
    fake = clf.features(gancore.load(digits_run).sample(100, seed=0))
    real = clf.features(digits[:150].float().div(127.5).sub(1))
    assert fid["fid"] == pytest.approx(M.fid_from_features(fake, real), rel=1e-6)
    # A data set name works as --data does.
    named = gancore.evaluate(digits_run, ["fid"], n=100, real="digits")
    assert named["results"]["fid"]["n_real"] == len(digits)
    assert named["results"]["fid"]["fid"] == pytest.approx(
        M.fid_from_features(fake, clf.features(digits.float().div(127.5).sub(1))), rel=1e-6)
    result = run_cli("eval", digits_run, "--real", "ring")
    assert result.exit_code == 1 and "compare images with images" in result.output


def test_resize_bicubic_by_hand():
    flat = torch.full((2, 3, 8, 8), 77, dtype=torch.uint8)
    out = E.resize_bicubic(flat)
    assert out.shape == (2, 3, 299, 299) and out.dtype == torch.uint8 and bool((out == 77).all())
    same = torch.randint(0, 256, (1, 3, 299, 299), dtype=torch.uint8)
    assert E.resize_bicubic(same) is same
    # A step edge [0, 0, 200, 200] upsampled 4x: output pixel 8 samples x = (8 + 0.5) / 4 - 0.5 = 1.625;
    # PIL's cubic kernel (a = -0.5) at distances 0.375 and 1.375 from the two 200s weighs
    # 1.5 d^3 - 2.5 d^2 + 1 = 0.727539 and -0.5 d^3 + 2.5 d^2 - 4 d + 2 = -0.073242: 200 * 0.654297 = 130.86.
    edge = torch.zeros(1, 3, 4, 4, dtype=torch.uint8)
    edge[..., 2:] = 200
    row = E.resize_bicubic(edge, size=16)[0, 0, 0].tolist()
    assert row[8] == 131
    assert max(row) > 200 and min(row) == 0  # bicubic overshoots the edge; below 0 it is clipped


def _fake_inception(tmp_path, monkeypatch) -> Path:
    """The network's own initial weights as a stand-in weights file (the real one cannot be shipped)."""
    pytest.importorskip("torch_fidelity")
    from safetensors.torch import save_file

    with monkeypatch.context() as patch:
        patch.setattr(torch.nn.Module, "load_state_dict", lambda self, *args, **kwargs: None)
        patch.setattr(E, "_read_safetensors", lambda path: {})
        shapes = E.inception_extractor(tmp_path / "unused").state_dict()
    weights = tmp_path / "inception.safetensors"
    save_file({k: v.contiguous() for k, v in shapes.items()}, str(weights))
    return weights


def test_inception_eval_on_an_image_folder_records_the_resize(tmp_path, monkeypatch):
    weights = _fake_inception(tmp_path, monkeypatch)
    rng = np.random.default_rng(0)
    train = _folder(tmp_path / "train", rng.integers(0, 256, (12, 8, 8, 3), dtype=np.uint8))
    other = _folder(tmp_path / "other", rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8))
    result = run_cli("train", "--plugin", "gancore-dcgan", "--set", "gancore-dcgan.width=8", "--data", train,
                     "--image-size", 8, *TRAIN, "--batch-size", 4, "--out", tmp_path / "runs", "--name", "f")
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "f"
    record = gancore.evaluate(run, ["fid", "pr", "dc"], n=6, inception_weights=weights, real=other)
    assert record["provenance"]["extractor"]["resize"] == E.RESIZES["pil-bicubic"]
    assert record["results"]["fid"]["n_real"] == 6 and record["results"]["pr"]["n_real"] == 6
    assert 0 <= record["results"]["pr"]["precision"] <= 1 and record["results"]["dc"]["coverage"] >= 0
    result = run_cli("eval", run, "-m", "fid", "-n", 4, "--inception-weights", weights, "--real", other,
                     "--resize", "bilinear", "-o", tmp_path / "b.json")
    assert result.exit_code == 0, result.output
    bilinear = json.loads((tmp_path / "b.json").read_text())
    assert bilinear["provenance"]["extractor"]["resize"] == E.RESIZES["bilinear"]
    net = E.inception_extractor(weights)
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    assert not torch.equal(E.inception_outputs(net, x)[0], E.inception_outputs(net, x, resize="bilinear")[0])
    # pr/dc alone: only the seeded subset of the run's own images goes through the network.
    alone = gancore.evaluate(run, ["pr"], n=4, inception_weights=weights)
    assert alone["results"]["pr"]["n_real"] == 4 and alone["results"]["pr"]["n_real_available"] == 12

"""pix2pix: losses by hand, the discriminator view, CLI runs on mnist-edges and on paired folders, translate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from gancore_pix2pix import Pix2Pix
from PIL import Image

from gancore.cli import main
from gancore.data import Batch, DataSpec
from gancore.errors import PluginError

TINY = ["--set", "gancore-pix2pix.width=4", "--set", "gancore-pix2pix.d_width=4"]


def softplus(t):
    return math.log1p(math.exp(t))


class _Step:
    """Sources, paired targets, fakes and a scripted D scoring a (source, image) pair by the image's mean."""

    def __init__(self):
        self.source = torch.zeros(2, 1, 2, 2)
        self.target = torch.stack([torch.full((1, 2, 2), 1.0), torch.full((1, 2, 2), -1.0)])
        self.fake = torch.stack([torch.full((1, 2, 2), 0.5), torch.zeros(1, 2, 2)])
        self.latent = {"source": self.source}
        self.batch = Batch(self.source, extra={"b": self.target})
        self.D = torch.nn.Linear(1, 1)
        self.views = None
        self.calls = []

    def discriminator(self, pairs):
        self.calls.append(pairs.shape)
        return pairs[:, 1].mean((1, 2))


def test_losses_by_hand():
    family, step = Pix2Pix(), _Step()
    # real scores [1, -1], fake scores [0.5, 0]; D's objective halved.
    expected_d = 0.5 * ((softplus(-1) + softplus(1)) / 2 + (softplus(0.5) + softplus(0)) / 2)
    assert family.d_loss(step=step).item() == pytest.approx(expected_d, rel=1e-6)
    assert step.calls == [(4, 2, 2, 2)]  # real and fake pairs in one pass, source stacked on the image
    terms = family.g_loss(step=step)
    assert terms["adv"].item() == pytest.approx((softplus(-0.5) + softplus(0)) / 2, rel=1e-6)
    assert terms["l1"].item() == pytest.approx(100 * (0.5 + 1.0) / 2, rel=1e-6)  # lambda = 100


def test_view_scores_images_conditioned_on_their_source():
    family, step = Pix2Pix(), _Step()
    family.d_loss(step=step)
    (view,) = step.views
    assert torch.equal(view.real, step.target) and torch.equal(view.fake, step.fake)
    assert view.score(step.target).tolist() == [1.0, -1.0]
    assert step.calls[-1] == (2, 2, 2, 2)


def test_refuses_unpaired_data():
    with pytest.raises(PluginError, match="paired images"):
        Pix2Pix().build_generator(data=DataSpec("x", (1, 8, 8), pairing="unpaired"))


def _train(tmp_path, *args):
    result = CliRunner().invoke(main, ["train", "-p", "gancore-pix2pix", *TINY, "--steps", "2", "--batch-size", "4",
                                       "--out", str(tmp_path), "--log-every", "1", "--grid-size", "4", *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_trains_on_mnist_edges_with_a_gradient_penalty_through_the_view(tmp_path):
    _train(tmp_path, "--data", "mnist-edges", "--name", "edges", "-r", "gp")
    row = json.loads((tmp_path / "edges" / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"d/loss", "d/gp", "g/adv", "g/l1"} <= set(row)
    assert all(math.isfinite(v) for v in row.values())


def test_trains_on_paired_folders_and_translates_files(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(6):
        image = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
        for side, array in (("A", image), ("B", 255 - image)):
            (tmp_path / "data" / side).mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(tmp_path / "data" / side / f"{i}.png")
    _train(tmp_path, "--data", str(tmp_path / "data"), "--name", "folder")
    run = tmp_path / "folder"
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["translate", str(run), str(tmp_path / "data" / "A" / "0.png"),
                                       str(tmp_path / "data" / "A" / "1.png"), "-o", str(out), "--grid"])
    assert result.exit_code == 0, result.output
    assert Image.open(out / "0.png").size == (8, 8) and Image.open(out / "0.png").mode == "RGB"
    assert (out / "1.png").is_file() and (out / "grid.png").is_file()
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(tmp_path / "grey.png")
    result = CliRunner().invoke(main, ["translate", str(run), str(tmp_path / "grey.png"), "-o", str(out)])
    assert result.exit_code == 1 and "1 channel(s)" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["translate", str(run), str(tmp_path / "data" / "A"), "--to", "A",
                                       "-o", str(out)])
    assert result.exit_code == 1 and "unknown or unreachable domain 'A'" in result.output

"""The inpainting library: masks by hand, masked errors by hand, the Inpainter's contract, `gan inpaint`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from gancore_inpainting.generator import Inpainter
from gancore_inpainting.masks import (
    cut,
    hole_side,
    masked_l1,
    masked_l2,
    read_mask,
    square_masks,
)
from PIL import Image

from gancore.cli import main
from gancore.data import Batch
from gancore.errors import ConfigError, DataError


def test_centre_mask_by_hand():
    mask = square_masks(1, 4, 2, "centre")
    assert mask.shape == (1, 1, 4, 4)
    assert mask[0, 0].tolist() == [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    assert hole_side(28, 0.5) == 14 and hole_side(8, 0.5) == 4 and hole_side(8, 0.01) == 1


def test_random_masks_are_squares_inside_the_image_and_follow_the_rng():
    a = square_masks(64, 8, 3, "random", rng=torch.Generator().manual_seed(1))
    b = square_masks(64, 8, 3, "random", rng=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert (a.flatten(1).sum(1) == 9).all()  # the whole 3x3 hole is inside every image
    tops = {int(m[0].any(1).nonzero()[0]) for m in a}
    assert len(tops) > 1 and max(tops) <= 5  # several places, never past the border


def test_masked_errors_by_hand():
    truth = torch.zeros(2, 1, 2, 2)
    images = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[-1.0, 0.0], [0.0, 0.5]]]])
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]], [[[0.0, 0.0], [1.0, 1.0]]]])
    # image 0: pixels 1 and 4 in the hole -> (1 + 4) / 2; image 1: pixels 0 and 0.5 -> 0.25
    assert masked_l1(images, truth, mask).tolist() == [2.5, 0.25]
    # L2 over the batch's four hole pixels: (1 + 16 + 0 + 0.25) / 4
    assert masked_l2(images, truth, mask).item() == pytest.approx(17.25 / 4)
    assert cut(images, mask)[0, 0].tolist() == [[0.0, 2.0], [3.0, 0.0]]


class _Doubler(Inpainter):
    def fill(self, source, mask):
        return torch.full_like(source, 0.5)


def test_inpainter_keeps_known_pixels_and_fills_the_hole():
    g = _Doubler(4, 0.5, "centre")
    images = torch.linspace(-1, 1, 16).reshape(1, 1, 4, 4)
    latent = g.latent(1, batch=Batch(images))
    assert latent["mask"].sum() == 4 and latent["source"][0, 0, 1, 1] == 0
    out = g(latent)
    mask = latent["mask"].bool()
    assert torch.equal(out[~mask], images[~mask]) and (out[mask] == 0.5).all()
    assert torch.equal(g(g.translation_latent(images)), out)  # gan translate fills the centre hole
    with pytest.raises(ConfigError, match="gan inpaint"):
        g.latent(1)


def _png(path, array):
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


def test_read_mask(tmp_path):
    hole = np.zeros((8, 8))
    hole[2:4, 2:5] = 255
    _png(tmp_path / "m.png", hole)
    assert read_mask(tmp_path / "m.png", 8).sum() == 6
    with pytest.raises(DataError, match="is 8x8 but the model inpaints 4x4"):
        read_mask(tmp_path / "m.png", 4)
    _png(tmp_path / "empty.png", np.zeros((8, 8)))
    with pytest.raises(DataError, match="has no hole"):
        read_mask(tmp_path / "empty.png", 8)


def test_gan_inpaint_on_a_users_image_with_a_mask(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["train", "-p", "gancore-contextencoder", "--data", "digits", "--steps", "2",
                                  "--batch-size", "8", "--set", "gancore-contextencoder.width=4",
                                  "--set", "gancore-contextencoder.d_width=4", "--out", str(tmp_path),
                                  "--name", "ce", "--no-progress"])
    assert result.exit_code == 0, result.output
    digit = np.zeros((8, 8))
    digit[1:7, 3:5] = 200
    _png(tmp_path / "digit.png", digit)
    hole = np.zeros((8, 8))
    hole[0:3, 0:3] = 255
    _png(tmp_path / "hole.png", hole)
    out = tmp_path / "out"
    result = runner.invoke(main, ["inpaint", str(tmp_path / "ce"), str(tmp_path / "digit.png"), "--mask",
                                  str(tmp_path / "hole.png"), "-o", str(out), "--grid"])
    assert result.exit_code == 0, result.output
    filled = np.asarray(Image.open(out / "digit.png"))
    assert filled.shape == (8, 8) and (out / "grid.png").is_file()
    assert (filled[3:, :] == digit[3:, :].astype(np.uint8)).all()  # rows below the hole: kept exactly
    _png(tmp_path / "big.png", np.zeros((9, 9)) + 255)
    result = runner.invoke(main, ["inpaint", str(tmp_path / "ce"), str(tmp_path / "digit.png"), "--mask",
                                  str(tmp_path / "big.png"), "-o", str(out)])
    assert result.exit_code != 0 and "9x9 but the model inpaints 8x8" in result.output
    assert "Traceback" not in result.output

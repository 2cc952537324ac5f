"""ADA: each transformation's geometry on hand-made tiny images, the colour transforms by hand,
probabilities, gradients, p's update rule by hand, the add-on in CLI runs."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
from click.testing import CliRunner
from gancore_ada import ADA
from gancore_ada.augment import (
    adjusted_p,
    augment,
    brightness,
    contrast,
    parse_transforms,
    resample,
    rotation_matrix,
    saturation,
    scale_matrix,
    translation_matrix,
    xflip_matrix,
)

from gancore.cli import main
from gancore.testing import assert_clean_error

GRID = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1, 2, 3], [4, 5, 6], [7, 8, 9]]


def test_xflip_mirrors_columns_and_leaves_unflipped_images():
    x = GRID.repeat(2, 1, 1, 1)
    out = resample(x, xflip_matrix(torch.tensor([1, 0])))
    assert torch.allclose(out[0, 0], torch.tensor([[3.0, 2, 1], [6, 5, 4], [9, 8, 7]]), atol=1e-5)
    assert torch.allclose(out[1], x[1], atol=1e-5)


def test_quarter_turns_by_hand():
    out = resample(GRID, rotation_matrix(torch.tensor([math.pi / 2])))
    # counter-clockwise as displayed: the right column comes to the top
    assert torch.allclose(out[0, 0], torch.tensor([[3.0, 6, 9], [2, 5, 8], [1, 4, 7]]), atol=1e-5)
    half = resample(GRID, rotation_matrix(torch.tensor([math.pi])))
    assert torch.allclose(half[0, 0], torch.tensor([[9.0, 8, 7], [6, 5, 4], [3, 2, 1]]), atol=1e-5)


def test_integer_translation_moves_pixels_and_reflects_at_the_border():
    right = resample(GRID, translation_matrix(torch.tensor([[1, 0]]), (3, 3)))
    # moved one column right; the column that comes in mirrors the border column
    assert torch.allclose(right[0, 0], torch.tensor([[1.0, 1, 2], [4, 4, 5], [7, 7, 8]]), atol=1e-5)
    up = resample(GRID, translation_matrix(torch.tensor([[0, -1]]), (3, 3)))
    assert torch.allclose(up[0, 0], torch.tensor([[4.0, 5, 6], [7, 8, 9], [7, 8, 9]]), atol=1e-5)


def test_isotropic_scaling_about_the_centre_by_hand():
    # a 4x4 image whose value is its column: scaled 2x, output column j shows input column
    # (j + 0.5 - 2) / 2 + 2 - 0.5 = 0.75, 1.25, 1.75, 2.25 (bilinear between columns); rows likewise
    x = torch.arange(4.0).repeat(4, 1).reshape(1, 1, 4, 4)
    out = resample(x, scale_matrix(torch.tensor([2.0])))
    assert torch.allclose(out[0, 0], torch.tensor([0.75, 1.25, 1.75, 2.25]).repeat(4, 1), atol=1e-5)


def test_arbitrary_rotation_turns_about_the_centre():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0
    out = resample(x, rotation_matrix(torch.tensor([0.7])))
    assert out[0, 0, 2, 2] == pytest.approx(1.0, abs=1e-5)  # the centre stays
    # 45 degrees counter-clockwise (as displayed, y down): the output pixel right of the centre (offset
    # (1, 0)) shows the input point that turns onto it, (cos 45, sin 45) = (0.7071, 0.7071), below-right
    # of the centre; on an image whose value is its row that reads 2 + 0.7071 (bilinear between rows)
    x = torch.arange(5.0).reshape(1, 1, 5, 1).repeat(1, 1, 1, 5)
    out = resample(x, rotation_matrix(torch.tensor([math.pi / 4])))
    assert out[0, 0, 2, 3].item() == pytest.approx(2 + math.sqrt(0.5), abs=1e-5)
    assert out[0, 0, 1, 3].item() == pytest.approx(2.0, abs=1e-5)  # up-right came from (sqrt 2, 0): row 2
    assert torch.allclose(resample(torch.ones(1, 1, 4, 4), rotation_matrix(torch.tensor([1.1]))),
                          torch.ones(1, 1, 4, 4))


def test_colour_transforms_by_hand():
    x = torch.tensor([-0.5, 0.0, 0.5]).reshape(1, 3, 1, 1)
    assert torch.allclose(brightness(x, torch.tensor([0.2])).flatten(), torch.tensor([-0.3, 0.2, 0.7]))
    assert torch.allclose(contrast(x, torch.tensor([2.0])).flatten(), torch.tensor([-1.0, 0.0, 1.0]))
    # channel mean 0: deviations (-0.5, 0, 0.5) halved
    assert torch.allclose(saturation(x, torch.tensor([0.5])).flatten(), torch.tensor([-0.25, 0.0, 0.25]))
    grey = torch.randn(2, 1, 3, 3)
    assert torch.equal(saturation(grey, torch.tensor([3.0, 0.1])), grey)


def test_p_zero_is_the_identity_and_each_transform_applies_with_probability_p():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 6, 6)
    assert torch.allclose(augment(x, 0.0), x, atol=1e-5)
    lit = torch.zeros(4000, 1, 3, 3)
    lit[:, :, 1, 0] = 1.0  # a pixel on the left edge: a flip moves it to the right edge
    flipped = (augment(lit, 0.5, ("xflip",))[:, 0, 1, 2] > 0.5).float().mean().item()
    assert 0.22 < flipped < 0.28  # applied with p = 0.5, then a flip with probability 1/2
    moved = (augment(lit, 1.0, ("brightness",)) != lit).flatten(1).any(1).float().mean().item()
    assert moved == 1.0


def test_gradients_reach_the_images_through_the_pipeline():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    augment(x, 1.0).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_transforms_parse_and_refuse_unknown_names():
    assert parse_transforms("xflip, rotate") == ("xflip", "rotate")
    for bad in ("", "hue", "xflip,,rotate"):
        with pytest.raises(ValueError, match="transform"):
            parse_transforms(bad)


def test_p_update_rule_by_hand():
    p = torch.tensor(0.5)
    # 4 updates of 64 reals = 256 images; p can go 0 -> 1 in 32,000 images: a step of 0.008
    assert adjusted_p(p, torch.tensor(0.8), 0.6, 256, 32000).item() == pytest.approx(0.508)
    assert adjusted_p(p, torch.tensor(0.2), 0.6, 256, 32000).item() == pytest.approx(0.492)
    assert adjusted_p(p, torch.tensor(0.6), 0.6, 256, 32000).item() == pytest.approx(0.5)  # sign(0) = 0
    assert adjusted_p(torch.tensor(0.999), torch.tensor(1.0), 0.6, 256, 32000).item() == 1.0
    assert adjusted_p(torch.tensor(0.001), torch.tensor(-1.0), 0.6, 256, 32000).item() == 0.0


def _train(tmp_path, *args, data="digits", name="run", steps=6):
    return CliRunner().invoke(main, ["train", "--data", data, "--steps", str(steps), "--batch-size", "8",
                                     "--out", str(tmp_path), "--name", name, "--log-every", "1",
                                     "--grid-size", "4", *args], catch_exceptions=False), tmp_path / name


def test_p_moves_by_batch_times_interval_over_the_ramp_in_a_run(tmp_path):
    # ramp 1 of 6 steps x 8 images = 48 images; interval 2: each adjustment moves p by 16 / 48 = 1/3
    result, run = _train(tmp_path, "-p", "gancore-dcgan", "--set", "gancore-dcgan.width=8", "-p", "gancore-ada",
                         "--set", "gancore-ada.interval=2", "--set", "gancore-ada.ramp=1.0",
                         "--set", "gancore-ada.initial_p=0.5")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    ps = [row["ada/p"] for row in rows if "ada/p" in row]
    assert len(ps) == 6 and ps[0] == 0.5  # first D update: no adjustment yet
    for before, after in itertools.pairwise(ps):
        step = abs(after - before)
        assert step == pytest.approx(0.0, abs=1e-6) or step == pytest.approx(1 / 3, abs=1e-6) or after in (0.0, 1.0)
    adjusted = [row for row in rows if "ada/rt" in row]
    assert len(adjusted) == 3 and all(-1 <= row["ada/rt"] <= 1 for row in adjusted)


def test_vector_data_and_bad_options_are_clean_errors(tmp_path):
    result, _ = _train(tmp_path, "-p", "gancore-gan", "-p", "gancore-ada", data="ring")
    assert_clean_error(result, "vector data")
    result, _ = _train(tmp_path, "-p", "gancore-dcgan", "-p", "gancore-ada", "--set", "gancore-ada.transforms=hue",
                       name="bad")
    assert_clean_error(result, "transform")
    with pytest.raises(ValueError, match="ramp"):
        ADA(ramp=0.0)

"""DiffAugment: each transformation by hand, per-sample draws, gradients through T, the D wrapper, CLI runs."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from gancore_diffaugment import DiffAugment, attach
from gancore_diffaugment.augment import (augment, brightness, contrast, cutout, parse_policy, random_cutout,
                                         random_translation, saturation, translate)

from gancore.cli import main
from gancore.data import DataSpec
from gancore.errors import PluginError
from gancore.testing import assert_clean_error


def test_brightness_adds_r_minus_a_half_per_sample():
    x = torch.zeros(2, 1, 2, 2)
    out = brightness(x, torch.tensor([0.0, 0.75]))
    assert torch.equal(out[0], torch.full((1, 2, 2), -0.5)) and torch.equal(out[1], torch.full((1, 2, 2), 0.25))


def test_saturation_scales_channels_about_their_mean():
    # one pixel, channels (0, 1, 2): mean 1; r = 0.25 scales the deviations by 0.5 -> (0.5, 1, 1.5)
    x = torch.tensor([0.0, 1.0, 2.0]).reshape(1, 3, 1, 1)
    assert torch.allclose(saturation(x, torch.tensor([0.25])).flatten(), torch.tensor([0.5, 1.0, 1.5]))
    grey = torch.randn(1, 1, 3, 3)
    assert torch.allclose(saturation(grey, torch.tensor([0.9])), grey)


def test_contrast_scales_the_image_about_its_mean():
    # pixels (0, 2, 4, 6): mean 3; r = 0 scales the deviations by 0.5 -> (1.5, 2.5, 3.5, 4.5)
    x = torch.tensor([0.0, 2.0, 4.0, 6.0]).reshape(1, 1, 2, 2)
    assert torch.allclose(contrast(x, torch.tensor([0.0])).flatten(), torch.tensor([1.5, 2.5, 3.5, 4.5]))


def test_translate_moves_each_image_and_fills_with_zeros():
    x = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3).repeat(2, 1, 1, 1)
    out = translate(x, torch.tensor([[1, 0], [0, -1]]))
    # image 0 moved down one row; image 1 moved left one column
    assert torch.equal(out[0, 0], torch.tensor([[0.0, 0, 0], [1, 2, 3], [4, 5, 6]]))
    assert torch.equal(out[1, 0], torch.tensor([[2.0, 3, 0], [5, 6, 0], [8, 9, 0]]))
    assert torch.equal(translate(x, torch.zeros(2, 2, dtype=torch.long)), x)


def test_cutout_zeroes_a_clipped_square_per_sample():
    x = torch.ones(2, 2, 4, 4)
    out = cutout(x, torch.tensor([[1, 1], [0, 3]]), (2, 2))
    # centre (1, 1), size 2: rows 0..1, columns 0..1; centre (0, 3): rows -1..0 (clipped to 0), columns 2..3
    expected0 = torch.ones(4, 4)
    expected0[:2, :2] = 0
    expected1 = torch.ones(4, 4)
    expected1[0, 2:] = 0
    assert torch.equal(out[0, 0], expected0) and torch.equal(out[0, 1], expected0)
    assert torch.equal(out[1, 0], expected1)


def test_random_translation_stays_within_an_eighth_and_draws_per_sample():
    torch.manual_seed(0)
    x = torch.zeros(256, 1, 16, 16)
    x[:, :, 8, 8] = 1.0  # one lit pixel: where it lands is the shift
    out = random_translation(x)
    where = out.flatten(1).argmax(1)
    dy, dx = where // 16 - 8, where % 16 - 8
    assert dy.abs().max() == 2 and dx.abs().max() == 2  # round(16 / 8) = 2, both extremes drawn
    assert len(set(zip(dy.tolist(), dx.tolist()))) == 25  # every shift of the 5 x 5 appears
    assert torch.equal(out.sum((1, 2, 3)), torch.ones(256))


def test_random_cutout_zeroes_half_the_side_per_sample():
    torch.manual_seed(0)
    out = random_cutout(torch.ones(128, 1, 8, 8))
    zeroed = (out == 0).sum((1, 2, 3))
    assert zeroed.max() == 16 and zeroed.min() >= 4  # a 4 x 4 square, clipped at most to 2 x 2
    assert len({tuple(row.flatten().tolist()) for row in out}) > 20


def test_policies_parse_and_refuse_unknown_names():
    assert parse_policy("color, cutout") == ("color", "cutout")
    for bad in ("", "colour", "color,,flip"):
        with pytest.raises(ValueError, match="policy"):
            parse_policy(bad)


def test_gradients_reach_the_images_through_every_policy():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    augment(x, parse_policy("color,translation,cutout")).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


class _Recorder(torch.nn.Module):
    """A D that records what it was given and scores the image's sum."""

    def forward(self, x, labels=None):
        self.seen, self.labels = x, labels
        return x.flatten(1).sum(1)


def test_the_wrapper_augments_the_first_input_while_training_only():
    torch.manual_seed(0)
    D = attach(_Recorder(), parse_policy("translation,cutout"))
    x, labels = torch.ones(6, 1, 8, 8), torch.arange(6)
    D(x, labels)
    assert not torch.equal(D.seen, x) and D.labels is labels
    D.eval()
    D(x, labels=labels)
    assert D.seen is x


def test_the_add_on_wraps_any_familys_d_and_refuses_vectors():
    addon = DiffAugment(policy="cutout")
    image = DataSpec("img", (1, 8, 8))
    wrapper = addon.build_discriminator(image)
    next(wrapper)
    with pytest.raises(StopIteration) as done:
        wrapper.send(_Recorder())
    D = done.value.value
    D(torch.ones(2, 1, 8, 8))
    assert (D.seen == 0).any()
    with pytest.raises(PluginError, match="vector data"):
        next(addon.build_discriminator(DataSpec("ring", (2,))))


def _train(tmp_path, *args, data="digits", name="run"):
    return CliRunner().invoke(main, ["train", "--data", data, "--steps", "2", "--batch-size", "8",
                                     "--out", str(tmp_path), "--name", name, "--log-every", "1",
                                     "--grid-size", "4", *args], catch_exceptions=False), tmp_path / name


def test_dcgan_with_diffaugment_and_a_gradient_penalty_from_the_cli(tmp_path):
    result, run = _train(tmp_path, "-p", "gancore-dcgan", "--set", "gancore-dcgan.width=8",
                         "-p", "gancore-diffaugment", "--set", "gancore-diffaugment.policy=translation", "-r", "r1")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(row["d/r1"] > 0 for row in rows)


def test_vector_data_and_a_bad_policy_are_clean_errors(tmp_path):
    result, _ = _train(tmp_path, "-p", "gancore-gan", "-p", "gancore-diffaugment", data="ring")
    assert_clean_error(result, "vector data")
    result, _ = _train(tmp_path, "-p", "gancore-dcgan", "-p", "gancore-diffaugment",
                       "--set", "gancore-diffaugment.policy=flip", name="bad")
    assert_clean_error(result, "policy")

"""PacGAN: packing by hand, one score per sample, packs never mixing real and fake, D built for the
packed shape by the family itself, errors, CLI runs."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from gancore_pacgan import Packed, PacGAN, pack, packed_spec, unpack_scores
from torch.nn.utils import parametrize

from gancore.cli import main
from gancore.config import TrainConfig
from gancore.data import DataSpec
from gancore.errors import PluginError
from gancore.step import Step
from gancore.testing import assert_clean_error


def test_vectors_pack_side_by_side():
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]])
    assert torch.equal(pack(x, 2), torch.tensor([[0.0, 1, 2, 3], [4, 5, 6, 7]]))


def test_images_pack_along_channels():
    x = torch.arange(4.0).reshape(4, 1, 1, 1).expand(4, 1, 2, 2)
    packed = pack(x, 2)
    assert packed.shape == (2, 2, 2, 2)
    # pack 1 holds samples 2 (channel 0) and 3 (channel 1)
    assert torch.equal(packed[1, 0], torch.full((2, 2), 2.0)) and torch.equal(packed[1, 1], torch.full((2, 2), 3.0))
    assert packed_spec(DataSpec("rgb", (3, 8, 8)), 2).shape == (6, 8, 8)
    assert packed_spec(DataSpec("ring", (2,)), 3).shape == (6,)


def test_each_pack_score_is_repeated_for_its_samples():
    scores = torch.tensor([[1.0], [2.0]])
    assert torch.equal(unpack_scores(scores, 2), torch.tensor([[1.0], [1.0], [2.0], [2.0]]))
    src, cls = unpack_scores((torch.tensor([1.0, 2.0]), torch.tensor([[0.0], [1.0]])), 3)
    assert src.tolist() == [1, 1, 1, 2, 2, 2] and cls.shape == (6, 1)


def test_packed_d_scores_a_pack_by_its_samples_jointly():
    D = Packed(torch.nn.Linear(4, 1, bias=False), 2)
    with torch.no_grad():
        D.discriminator.weight.copy_(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    # pack 0 = (1, 0, 0, 1) -> 1 + 4 = 5; pack 1 = (1, 1, 0, 0) -> 1 + 2 = 3
    assert D(x).flatten().tolist() == [5.0, 5.0, 3.0, 3.0]


class _PackRecorder(torch.nn.Module):
    def forward(self, packed):
        self.packs = packed
        return packed.sum(1)


def test_real_and_fake_never_share_a_pack():
    class _Steplike:
        real_and_fake_scores = Step.real_and_fake_scores
        _has_batch_statistics = Step._has_batch_statistics
        separate_batches = Step.separate_batches

        def __init__(self):
            self.real, self.fake = torch.zeros(4, 1), torch.ones(4, 1)
            self.discriminator = self.D = Packed(_PackRecorder(), 2)

    step = _Steplike()
    real_scores, fake_scores = step.real_and_fake_scores()
    packs = step.discriminator.discriminator.packs
    assert all(len(set(row.tolist())) == 1 for row in packs)  # each pack all real (0) or all fake (1)
    assert real_scores.tolist() == [0, 0, 0, 0] and fake_scores.tolist() == [2, 2, 2, 2]


def test_odd_batches_and_conditioned_ds_are_refused():
    D = Packed(_PackRecorder(), 2)
    with pytest.raises(PluginError, match="multiple of packing"):
        D(torch.zeros(3, 2))
    with pytest.raises(PluginError, match="further inputs"):
        D(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="packing"):
        PacGAN(packing=1.5)


def test_reaching_past_d_of_x_is_a_clear_error_and_getattr_defaults_still_work():
    class _AutoEncoderD(_PackRecorder):
        def error_and_code(self, x):
            return x

    D = Packed(_AutoEncoderD(), 2)
    with pytest.raises(PluginError, match="'error_and_code' directly"):
        D.error_and_code
    assert getattr(D, "conditional", False) is False and isinstance(D.discriminator, _AutoEncoderD)


def _built(*args, data="ring"):
    from gancore.plugins import Registry
    from gancore.run.rundir import configure

    spec = DataSpec(data, (2,)) if data == "ring" else DataSpec(data, (1, 8, 8), 10)
    plugins = [a for a in args if not a.startswith("set:")]
    options = {}
    for a in args:
        if a.startswith("set:"):
            plugin, option, value = a[4:].split(":")
            options.setdefault(plugin, {})[option] = int(value)
    config, run = configure(Registry.discover(), spec, {"plugins": plugins, "options": options, "batch_size": 8})
    return run.hook.build_discriminator(config=config, data=spec)


def test_the_family_builds_d_for_the_packed_shape():
    D = _built("gancore-gan", "gancore-pacgan", "set:gancore-gan:hidden:16", "set:gancore-pacgan:packing:4")
    assert isinstance(D, Packed) and D.packing == 4
    first = next(m for m in D.discriminator.modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == 8  # 4 samples of 2 features
    conv = _built("gancore-dcgan", "gancore-pacgan", "set:gancore-dcgan:width:8", data="digits")
    first = next(m for m in conv.discriminator.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.in_channels == 2
    assert conv(torch.zeros(8, 1, 8, 8)).shape[0] == 8


def test_outer_wrappers_apply_to_the_packed_d():
    D = _built("gancore-gan", "gancore-pacgan", "spectral-norm", "set:gancore-gan:hidden:16")
    layers = [m for m in D.discriminator.modules() if isinstance(m, torch.nn.Linear)]
    assert layers[0].in_features == 4 and all(parametrize.is_parametrized(m, "weight") for m in layers)


def test_a_batch_not_divisible_by_the_packing_is_refused_up_front():
    wrapper = PacGAN(packing=3).build_discriminator(TrainConfig(batch_size=8), DataSpec("ring", (2,)))
    next(wrapper)
    with pytest.raises(PluginError, match="batch-size 8"):
        wrapper.send(torch.nn.Linear(2, 1))


def _train(tmp_path, *args, name="run"):
    return CliRunner().invoke(main, ["train", "--data", "ring", "--steps", "2", "--out", str(tmp_path),
                                     "--name", name, "--log-every", "1", "--grid-size", "4", *args],
                              catch_exceptions=False), tmp_path / name


def test_gan_with_packing_from_the_cli_and_its_errors(tmp_path):
    result, run = _train(tmp_path, "-p", "gancore-gan", "--set", "gancore-gan.hidden=16", "-p", "gancore-pacgan",
                         "--batch-size", "8")
    assert result.exit_code == 0, result.output
    result, _ = _train(tmp_path, "-p", "gancore-gan", "-p", "gancore-pacgan", "--batch-size", "9", name="odd")
    assert_clean_error(result, "multiple of packing")

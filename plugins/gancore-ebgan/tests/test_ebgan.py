"""EBGAN: energy, margin loss and pulling-away term by hand; networks; CLI runs."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch
from gancore_ebgan import EBGAN, margin_d_loss, pulling_away
from torch import nn

from gancore.data import DataSpec
from gancore.nets import AutoEncoder, AutoEncoderDiscriminator
from gancore.step import Step
from gancore.testing import make_plugin


class _GStep:
    """The generator phase's view of a step: fakes, real batch and the frozen D, with Step's own scoring."""

    fake_scores = Step.fake_scores
    _has_batch_statistics = Step._has_batch_statistics
    separate_batches = Step.separate_batches

    def __init__(self, fake, D, real=None):
        self.fake, self.D, self.discriminator = fake, D, D
        self.real = torch.zeros(0, *fake.shape[1:]) if real is None else real


class _FixedAE(nn.Module):
    """An 'auto-encoder' returning scripted reconstructions and codes."""

    def __init__(self, reconstruction, code):
        super().__init__()
        self.reconstruction, self.code = reconstruction, code

    def forward(self, x):
        return self.reconstruction[: len(x)], self.code[: len(x)]


def test_energy_is_the_per_sample_mean_squared_reconstruction_error():
    x = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    D = AutoEncoderDiscriminator(_FixedAE(torch.tensor([[1.0, 1.0], [0.0, 0.0]]), torch.zeros(2, 3)), "mse")
    # sample 0: (1 + 0) / 2 ; sample 1: (4 + 1) / 2
    assert D(x).tolist() == pytest.approx([0.5, 2.5])
    l1 = AutoEncoderDiscriminator(_FixedAE(torch.tensor([[1.0, 1.0], [0.0, 0.0]]), torch.zeros(2, 3)), "l1")
    assert l1(x).tolist() == pytest.approx([0.5, 1.5])


def test_margin_hinge_by_hand():
    real, fake = torch.tensor([0.2, 0.4]), torch.tensor([0.5, 1.5])
    # 0.3 + (max(0, 1 - 0.5) + max(0, 1 - 1.5)) / 2 = 0.3 + 0.25
    assert margin_d_loss(real, fake, 1.0).item() == pytest.approx(0.55)
    # a larger margin makes both fakes count: 0.3 + (1.5 + 0.5) / 2
    assert margin_d_loss(real, fake, 2.0).item() == pytest.approx(1.3)


def test_pulling_away_term_by_hand():
    codes = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    # cos^2: (1,2) = 0, (1,3) = 1/2, (2,3) = 1/2; sum over ordered pairs i != j = 2; N(N-1) = 6
    assert pulling_away(codes).item() == pytest.approx(1 / 3)
    assert pulling_away(torch.tensor([[1.0, 2.0], [2.0, 4.0]])).item() == pytest.approx(1.0)  # parallel
    assert pulling_away(torch.eye(4)).item() == pytest.approx(0.0)  # orthogonal
    assert pulling_away(torch.ones(1, 3)).item() == 0.0


def test_losses_through_the_hooks():
    real, fake = torch.zeros(2, 2), torch.ones(3, 2)
    recon = torch.tensor([[0.0, 0.2], [0.4, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    codes = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    D = AutoEncoderDiscriminator(_FixedAE(recon, codes), "mse")
    logs = {}

    class _Step:
        real_and_fake_scores = Step.real_and_fake_scores
        _has_batch_statistics = Step._has_batch_statistics
        separate_batches = Step.separate_batches

        def __init__(self):
            self.real, self.fake, self.discriminator, self.D = real, fake, D, D

        def log(self, name, value):
            logs[name] = value

    family = EBGAN(margin=1.0, pt_weight=0.1)
    # real energies: 0.02, 0.08 -> 0.05; fake energies: 0.5, 1.0, 0 -> hinge 0.5, 0, 1 -> mean 0.5
    assert family.d_loss(step=_Step()).item() == pytest.approx(0.55)
    assert logs["ebgan/energy_real"].item() == pytest.approx(0.05)

    fake_recon, fake_codes = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]]), codes[2:]
    step = _GStep(fake, AutoEncoderDiscriminator(_FixedAE(fake_recon, fake_codes), "mse"))
    terms = family.g_loss(step=step)
    # energies 0.5, 1, 0 -> 0.5; PT over (1,0), (0,1), (1,1): 1/3
    assert terms["loss"].item() == pytest.approx(0.5)
    assert terms["pt"].item() == pytest.approx(0.1 / 3)
    assert "pt" not in EBGAN(pt_weight=0).g_loss(step=step)


def test_the_generator_gets_gradients_through_the_pulling_away_term():
    torch.manual_seed(0)
    spec = DataSpec("ring", (2,))
    D = EBGAN(hidden=8, code_dim=4).build_discriminator(data=spec)
    fake = torch.randn(5, 2, requires_grad=True)
    terms = EBGAN(pt_weight=0.1).g_loss(step=_GStep(fake, D))
    (grad,) = torch.autograd.grad(terms["pt"], fake)
    assert grad.abs().sum() > 0


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (2,)])
def test_networks_fit_every_data_shape(shape):
    spec = DataSpec("x", shape)
    family = make_plugin(EBGAN, spec, width=4, hidden=8, code_dim=6)  # as a run creates it for the data
    G = family.build_generator(config=SimpleNamespace(latent_dim=5), data=spec)
    D = family.build_discriminator(data=spec)
    fake = G(G.latent(3))
    energy, code = D.error_and_code(fake)
    assert fake.shape == (3, *shape) and energy.shape == (3,) and code.shape == (3, 6)
    assert isinstance(D.autoencoder, AutoEncoder)
    if len(shape) == 3:  # LeakyReLU, and no BatchNorm in the auto-encoder by default on any image size
        assert not any(isinstance(m, nn.BatchNorm2d) for m in D.autoencoder.modules())
        assert any(isinstance(m, nn.LeakyReLU) for m in D.modules())
        # Two convolutions per resolution on 28x28 and larger (depth 2), one on small images.
        convs = sum(isinstance(m, nn.Conv2d) for m in D.autoencoder.encoder.modules())
        assert convs == (2 if spec.kind == "small-image" else 4 if shape[1] == 28 else 6)


def test_the_paper_preset_builds_the_papers_auto_encoder():
    spec = DataSpec("x", (1, 28, 28))
    family = make_plugin(EBGAN, spec, width=4, hidden=8, code_dim=6, **EBGAN.paper["options"]["gancore-ebgan"])
    D = family.build_discriminator(data=spec)
    assert any(isinstance(m, nn.BatchNorm2d) for m in D.autoencoder.modules())
    assert sum(isinstance(m, nn.Conv2d) for m in D.autoencoder.encoder.modules()) == 2


def test_a_batchnorm_discriminator_scores_fakes_inside_a_real_and_fake_batch():
    # G's loss must read D's energies the way D's update does: BatchNorm statistics of a real+fake
    # batch. Fakes scored alone get their own statistics (the bug that kept EBGAN at 2/10 digits).
    torch.manual_seed(0)
    spec = DataSpec("digits", (1, 8, 8))
    D = EBGAN(width=4, code_dim=4, norm="batch").build_discriminator(data=spec)
    real, fake = torch.rand(6, 1, 8, 8) * 2 - 1, torch.rand(6, 1, 8, 8) * 0.2
    energy, codes = D.error_and_code(torch.cat([real, fake]))
    terms = EBGAN(pt_weight=0.1).g_loss(step=_GStep(fake, D, real=real))
    assert terms["loss"].item() == pytest.approx(energy[6:].mean().item(), rel=1e-5)
    assert terms["pt"].item() == pytest.approx(0.1 * pulling_away(codes[6:]).item(), rel=1e-5)
    alone = D.error_and_code(fake)[0].mean().item()
    assert abs(alone - terms["loss"].item()) > 1e-3


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="margin"):
        EBGAN(margin=0)
    with pytest.raises(ValueError, match="pt_weight"):
        EBGAN(pt_weight=-1)


@pytest.mark.parametrize("data", ["ring", "digits", "mnist"])
def test_trains_from_the_cli(gan, tmp_path, data):
    result = gan("train", "--plugin", "gancore-ebgan", "--set", "gancore-ebgan.width=8", "--set",
                 "gancore-ebgan.hidden=16", "--set", "gancore-ebgan.code_dim=8", "--data", data, "--steps", 3,
                 "--batch-size", 8, "--out", tmp_path, "--name", "run", "--log-every", 3, "--grid-size", 4)
    assert result.exit_code == 0, result.output
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"d/loss", "g/loss", "g/pt", "ebgan/energy_real", "ebgan/energy_fake"} <= set(row)
    assert all(math.isfinite(v) for v in row.values())
    assert (tmp_path / "run" / "checkpoints" / "step-000003" / "meta.json").is_file()


def test_any_penalty_works_on_the_energy(gan, tmp_path):
    result = gan("train", "--plugin", "gancore-ebgan", "--set", "gancore-ebgan.hidden=16", "--regularizer", "gp",
                 "--data", "ring", "--steps", 2, "--batch-size", 8, "--out", tmp_path, "--name", "gp",
                 "--log-every", 1)
    assert result.exit_code == 0, result.output
    assert "d/gp" in json.loads((tmp_path / "gp" / "metrics.jsonl").read_text().splitlines()[-1])


def test_listed_as_a_family(gan):
    listed = {p["name"]: p for p in json.loads(gan("plugins", "--json").output)}
    assert listed["gancore-ebgan"]["kind"] == "family" and listed["gancore-ebgan"]["distribution"] == "gancore-ebgan"
    assert "gancore-ebgan" in gan("train", "--help").output

"""BEGAN: losses and the k_t controller by hand, k_t across a checkpoint, CLI runs."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch
from gancore_began import BEGAN, began_d_loss, update_k
from torch import nn

from gancore.checkpoint import load_checkpoint
from gancore.config import make_config
from gancore.data import DataSpec, load_data
from gancore.plugins import Registry
from gancore.step import Step
from gancore.testing import defaults_of, make_plugin
from gancore.trainer import Trainer


def test_discriminator_loss_by_hand():
    real, fake = torch.tensor([0.1, 0.3]), torch.tensor([0.4, 0.8])
    assert began_d_loss(real, fake, 0.0).item() == pytest.approx(0.2)
    assert began_d_loss(real, fake, 0.25).item() == pytest.approx(0.2 - 0.25 * 0.6)


def test_k_update_and_convergence_measure_by_hand():
    # gamma * L(x) - L(G(z)) = 0.5 * 0.2 - 0.06 = 0.04
    k, m = update_k(torch.tensor(0.3), torch.tensor(0.2), torch.tensor(0.06), gamma=0.5, lambda_k=0.01)
    assert k.item() == pytest.approx(0.3 + 0.01 * 0.04)
    assert m.item() == pytest.approx(0.2 + 0.04)
    # negative balance: |0.5 * 0.2 - 0.3| = 0.2
    k, m = update_k(torch.tensor(0.3), torch.tensor(0.2), torch.tensor(0.3), gamma=0.5, lambda_k=0.5)
    assert k.item() == pytest.approx(0.2) and m.item() == pytest.approx(0.4)


def test_k_is_clipped_to_the_unit_interval():
    low, _ = update_k(torch.tensor(0.001), torch.tensor(0.1), torch.tensor(0.9), gamma=0.5, lambda_k=0.01)
    assert low.item() == 0.0  # 0.001 + 0.01 * (0.05 - 0.9) < 0
    high, _ = update_k(torch.tensor(0.999), torch.tensor(0.9), torch.tensor(0.0), gamma=1.0, lambda_k=0.01)
    assert high.item() == 1.0  # 0.999 + 0.009 > 1
    assert update_k(0.5, 0.2, 0.0, 1.0, 10.0)[0] == 1.0  # plain floats too


class _FixedAE(nn.Module):
    def __init__(self, reconstruction):
        super().__init__()
        self.reconstruction = reconstruction

    def forward(self, x):
        return self.reconstruction[: len(x)], torch.zeros(len(x), 2)


def _step(real, fake, D, state, logs):
    class _Step:
        real_and_fake_scores = Step.real_and_fake_scores
        fake_scores = Step.fake_scores
        _has_batch_statistics = Step._has_batch_statistics
        D = nn.Linear(1, 1)  # no batch statistics: fakes are scored alone

        def __init__(self):
            self.real, self.fake, self.discriminator = real, fake, D
            self.accelerator = SimpleNamespace(num_processes=1)

        def state_for(self, plugin):
            return state

        def log(self, name, value):
            logs[name] = value

    return _Step()


def test_losses_and_controller_through_the_hooks():
    from gancore.nets import AutoEncoderDiscriminator

    real, fake = torch.zeros(2, 2), torch.ones(2, 2)
    # L1 per sample: real rows 0.1 and 0.3; fake rows 0.5 and 0.9
    recon = torch.tensor([[0.2, 0.0], [0.0, -0.6], [1.0, 0.0], [0.2, 0.0]])
    D = AutoEncoderDiscriminator(_FixedAE(recon), "l1")
    state, logs = {}, {}
    family = BEGAN(gamma=0.5, lambda_k=0.1, k0=0.0)
    assert family.d_loss(step=_step(real, fake, D, state, logs)).item() == pytest.approx(0.2)  # k_0 = 0
    assert state["k"].item() == 0.0
    state["k"].fill_(0.5)
    assert family.d_loss(step=_step(real, fake, D, state, logs)).item() == pytest.approx(0.2 - 0.5 * 0.7)
    # Generator phase: fake rows of a new batch reconstruct with L1 0.5 and 0.9 again -> L_G = 0.7
    D_g = AutoEncoderDiscriminator(_FixedAE(recon[2:]), "l1")
    assert family.g_loss(step=_step(real, fake, D_g, state, logs)).item() == pytest.approx(0.7)
    family.post_step(step=_step(real, fake, D_g, state, logs), phase="d")
    assert state["k"].item() == 0.5  # only after the generator update
    family.post_step(step=_step(real, fake, D_g, state, logs), phase="g")
    # k = 0.5 + 0.1 * (0.5 * 0.2 - 0.7) = 0.44; M_global = 0.2 + 0.6
    assert state["k"].item() == pytest.approx(0.44)
    assert logs["began/k"].item() == pytest.approx(0.44) and logs["began/M_global"].item() == pytest.approx(0.8)


def test_paper_defaults_and_option_checks():
    mnist, digits = DataSpec("mnist", (1, 28, 28)), DataSpec("digits", (1, 8, 8))
    family = make_plugin(BEGAN, mnist, width=4, code_dim=4)  # the paper's gamma and lambda_k on 28x28 and larger
    assert (family.gamma, family.lambda_k, family.k0, BEGAN().code_dim) == (0.5, 0.001, 0.0, 64)
    assert defaults_of(BEGAN, mnist) == {"latent_dim": 64, "lr_g": 1e-4, "lr_d": 1e-4, "batch_size": 16}
    family = make_plugin(BEGAN, digits, width=4, code_dim=4)  # small images: faster control of k_t, the most diversity
    assert (family.gamma, family.lambda_k) == (1.0, 0.01)
    family.build_discriminator(data=digits)  # building changes no loss hyper-parameter
    assert (family.gamma, family.lambda_k) == (1.0, 0.01)
    assert make_config(defaults_of(BEGAN, digits)).lr_g == 1e-3
    assert (make_plugin(BEGAN, digits).width, make_plugin(BEGAN, mnist).width,
            make_plugin(BEGAN, digits, width=8).width) == (32, 64, 8)
    assert make_config(defaults_of(BEGAN, digits)).batch_size == 64  # gancore's own
    chosen = make_plugin(BEGAN, digits, width=4, code_dim=4, gamma=0.4, lambda_k=0.002)
    assert (chosen.gamma, chosen.lambda_k) == (0.4, 0.002)
    for bad in ({"gamma": 1.5}, {"lambda_k": -1}, {"k0": 2}):
        with pytest.raises(ValueError):
            BEGAN(**bad)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (2,)])
def test_networks_without_batchnorm_with_elu(shape):
    spec = DataSpec("x", shape)
    family = BEGAN(width=4, hidden=8, code_dim=6)
    G = family.build_generator(config=SimpleNamespace(latent_dim=5), data=spec)
    D = family.build_discriminator(data=spec)
    fake = G(G.latent(3))
    assert fake.shape == (3, *shape) and D(fake).shape == (3,)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in [*G.modules(), *D.modules()])
    if len(shape) == 3:
        assert any(isinstance(m, nn.ELU) for m in D.modules()) and any(isinstance(m, nn.ELU) for m in G.modules())
        assert fake.abs().max() <= 1


def _trainer(out, steps):
    registry = Registry.discover()
    config = make_config({"plugins": ["gancore-began"], "data": "ring", "steps": steps, "batch_size": 8,
                          "log_every": 1, "sample_every": 0, "checkpoint_every": 2, "latent_dim": 4,
                          "options": {"gancore-began": {"hidden": 8, "lambda_k": 0.2, "gamma": 1.0}}})
    run = registry.activate(config.plugins, config.options)
    return Trainer(config, run, load_data("ring"), out, progress=False)


def test_k_is_checkpointed_and_a_resumed_run_continues_it(tmp_path):
    straight = _trainer(tmp_path / "straight", steps=4)
    straight.fit()
    k_straight = straight.plugin_state["gancore-began"]["k"].item()
    ks = [json.loads(line)["began/k"] for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    assert len(ks) == 4 and len(set(ks)) > 1 and 0 < k_straight <= 1

    first = _trainer(tmp_path / "first", steps=2)
    ckpt = load_checkpoint(first.fit())
    assert ckpt.state["plugins"]["gancore-began"]["k"].item() == pytest.approx(ks[1])
    resumed = _trainer(tmp_path / "resumed", steps=4)
    resumed.load_checkpoint(ckpt)
    assert resumed.plugin_state["gancore-began"]["k"].item() == pytest.approx(ks[1])
    resumed.fit()
    assert resumed.plugin_state["gancore-began"]["k"].item() == pytest.approx(k_straight, abs=1e-6)


@pytest.mark.parametrize("data", ["ring", "digits", "mnist"])
def test_trains_from_the_cli(gan, tmp_path, data):
    result = gan("train", "--plugin", "gancore-began", "--set", "gancore-began.width=8", "--set",
                 "gancore-began.hidden=16", "--set", "gancore-began.code_dim=8", "--data", data, "--steps", 3,
                 "--batch-size", 8, "--out", tmp_path, "--name", "run", "--log-every", 3, "--grid-size", 4)
    assert result.exit_code == 0, result.output
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"d/loss", "g/loss", "began/k", "began/M_global"} <= set(row)
    assert all(math.isfinite(v) for v in row.values())
    assert 'batch_size = 8' in (tmp_path / "run" / "config.toml").read_text()


def test_listed_as_a_family(gan):
    listed = {p["name"]: p for p in json.loads(gan("plugins", "--json").output)}
    assert listed["gancore-began"]["kind"] == "family" and listed["gancore-began"]["distribution"] == "gancore-began"
    assert "gancore-began" in gan("train", "--help").output


def test_the_papers_encoder_and_decoder_on_28x28():
    from gancore_began import BeganAutoEncoder, DecoderGenerator

    spec, n = DataSpec("x", (1, 28, 28)), 4
    ae = BeganAutoEncoder(spec, code_dim=6, width=n)
    convs = [m for m in ae.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert all(m.kernel_size == (3, 3) for m in convs)
    # the first convolution, two per resolution (28, 14, 7), one stride-2 convolution between them
    assert len(convs) == 1 + 3 * 2 + 2
    downs = [m for m in convs if m.stride == (2, 2)]
    assert [m.out_channels for m in downs] == [2 * n, 3 * n]  # filters grow linearly: n, 2n, 3n
    assert ae.encoder.net[-1].in_features == 3 * n * 7 * 7
    ups = [m for m in ae.decoder.modules() if isinstance(m, nn.Upsample)]
    assert len(ups) == 2 and all(m.mode == "nearest" for m in ups)
    assert all(m.out_channels in (n, 1) for m in ae.decoder.modules() if isinstance(m, nn.Conv2d))
    reconstruction, code = ae(torch.randn(2, 1, 28, 28))
    assert reconstruction.shape == (2, 1, 28, 28) and code.shape == (2, 6)
    G = DecoderGenerator(spec, latent_dim=6, width=n)  # the decoder's architecture, its own weights
    assert [type(m) for m in G.net.modules()][1:] == [type(m) for m in ae.decoder.modules()][1:]


def test_a_new_generator_spreads_its_samples_across_z():
    # Glorot initialisation: a new G's samples differ with z (PyTorch's default gave 0.002 on 8x8).
    from gancore_began import DecoderGenerator

    torch.manual_seed(0)
    for shape in [(1, 8, 8), (1, 28, 28)]:
        G = DecoderGenerator(DataSpec("x", shape), latent_dim=64, width=16)
        with torch.no_grad():
            assert G(G.latent(128)).std(0).mean() > 0.05

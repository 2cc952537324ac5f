"""The monitor on runs built to fail, on a healthy run, and through the conformance kit."""

from __future__ import annotations

import json
import math

import pytest
import torch
from gancore_gan import GAN
from gancore_monitor import Monitor, auc, diversity, oscillation
from torch import nn

from gancore import hookimpl
from gancore.config import make_config
from gancore.data import Dataset, DataSpec, load_data
from gancore.generator import Generator
from gancore.losses import wasserstein_d, wasserstein_g
from gancore.plugins import Registry
from gancore.trainer import Trainer


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def train(tmp_path, family, steps, data=None, monitor=None, **settings):
    registry = Registry()
    registry.add("family", family)
    registry.add("gancore-monitor", Monitor)
    options = {"gancore-monitor": {"quiet": 10 ** 6, **(monitor or {})}}
    config = make_config({"plugins": ["family", "gancore-monitor"], "data": "ring", "steps": steps,
                          "batch_size": 64, "latent_dim": 8, "log_every": 10, "sample_every": 0,
                          "checkpoint_every": 0, "device": "cpu", "options": options, **settings})
    run = registry.activate(config.plugins, config.options)
    Trainer(config, run, data or load_data("ring"), tmp_path, progress=False).fit()
    path = tmp_path / "warnings.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def codes(warnings):
    return {w["code"] for w in warnings}


def small_gan(**kwargs):
    class Small(GAN):
        def __init__(self):
            super().__init__(hidden=64, layers=2, **kwargs)

    return Small


def test_a_healthy_run_raises_no_warning(tmp_path):
    assert train(tmp_path, small_gan(), 400) == []


class Far(Generator):
    """A crippled generator: its samples stay in a tiny ball far from the data."""

    def __init__(self, latent_dim):
        super().__init__(latent_dim)
        self.net = nn.Linear(latent_dim, 2)

    def forward(self, latent):
        return 10.0 + 0.01 * torch.tanh(self.net(latent))


def test_the_discriminator_wins_against_a_crippled_generator(tmp_path):
    class Crippled(small_gan(loss="saturating")):
        @hookimpl
        def build_generator(self, config, data):
            return Far(config.latent_dim)

    warnings = train(tmp_path, Crippled, 150, lr_d=1e-3, monitor={"every": 10, "warmup": 50})
    assert "discriminator-wins" in codes(warnings)
    first = next(w for w in warnings if w["code"] == "discriminator-wins")
    assert first["plugin"] == "gancore-monitor" and first["step"] >= 50 and "lower D learning rate" in first["message"]


class Constant(Generator):
    """A crippled generator that ignores its noise: one sample, whatever z is."""

    def __init__(self, latent_dim):
        super().__init__(latent_dim)
        self.point = nn.Parameter(torch.zeros(2))
        self.net = nn.Linear(latent_dim, 2)

    def forward(self, latent):
        return self.point + 0.0 * self.net(latent)


def test_mode_collapse_of_a_generator_that_ignores_its_noise(tmp_path):
    class Collapsed(small_gan()):
        @hookimpl
        def build_generator(self, config, data):
            return Constant(config.latent_dim)

    warnings = train(tmp_path, Collapsed, 60, monitor={"every": 10, "warmup": 50})
    assert "mode-collapse" in codes(warnings)
    message = next(w["message"] for w in warnings if w["code"] == "mode-collapse")
    assert message.startswith("samples do not depend on the latent") and "gradient penalty" not in message


class Narrow(Generator):
    """A collapsed generator that still depends on its noise, a little."""

    def __init__(self, latent_dim):
        super().__init__(latent_dim)
        self.net = nn.Linear(latent_dim, 2)

    def forward(self, latent):
        return 1e-3 * torch.tanh(self.net(latent))


def test_mode_collapse_of_a_generator_that_depends_on_its_noise_advises_a_penalty(tmp_path):
    class Collapsed(small_gan()):
        @hookimpl
        def build_generator(self, config, data):
            return Narrow(config.latent_dim)

    warnings = train(tmp_path, Collapsed, 60, monitor={"every": 10, "warmup": 50})
    message = next(w["message"] for w in warnings if w["code"] == "mode-collapse")
    assert message.startswith("mode collapse:") and "gradient penalty" in message


def test_exploding_gradients(tmp_path):
    class Exploding(small_gan()):
        @hookimpl
        def d_loss(self, step):
            return 1e7 * super().d_loss(step)

    warnings = train(tmp_path, Exploding, 5, monitor={"warmup": 10 ** 6})  # checked from step 0
    assert [w["code"] for w in warnings] == ["exploding-gradients"]
    assert "discriminator's gradient norm" in warnings[0]["message"]


class Point(Generator):
    def __init__(self):
        super().__init__(1)
        self.theta = nn.Parameter(torch.ones(2))

    def forward(self, latent):
        return self.theta.expand(len(latent), 2)


class DiracGAN:
    """Mescheder et al. 2018's Dirac-GAN: data at 0, G a single point, D(x) = psi * x. Unregularized
    gradient descent circles the equilibrium forever."""

    @hookimpl
    def build_generator(self, config, data):
        return Point()

    @hookimpl
    def build_discriminator(self, data):
        D = nn.Linear(2, 1, bias=False)
        nn.init.zeros_(D.weight)
        return nn.Sequential(D, nn.Flatten(0))

    @hookimpl
    def d_loss(self, step):
        return wasserstein_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return wasserstein_g(step.discriminator(step.fake))


def test_oscillation_of_the_dirac_gan(tmp_path):
    zeros = Dataset(DataSpec("zero", (2,)), torch.zeros(256, 2))
    warnings = train(tmp_path, DiracGAN, 250, data=zeros, optimizer="sgd", betas=(0.0, 0.999), lr_g=0.1, lr_d=0.1,
                     monitor={"window": 100, "warmup": 100, "every": 10})
    assert "oscillation" in codes(warnings)


def test_warnings_are_not_repeated_within_quiet_steps(tmp_path):
    class Collapsed(small_gan()):
        @hookimpl
        def build_generator(self, config, data):
            return Constant(config.latent_dim)

    warnings = train(tmp_path, Collapsed, 120, monitor={"quiet": 50, "every": 10, "warmup": 0})
    assert [w["step"] for w in warnings if w["code"] == "mode-collapse"] == [0, 50, 100]


def test_statistics_by_hand():
    assert auc(torch.tensor([3.0, 2.0]), torch.tensor([1.0, 2.0])) == pytest.approx((1 + 1 + 1 + 0.5) / 4)
    assert diversity(torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])) == pytest.approx((5 + 0 + 5) / 3)
    t = torch.arange(100, dtype=torch.float32)
    crossings, ratio = oscillation(torch.sin(2 * math.pi * t / 25) + 0.01 * torch.randn(100))
    assert crossings == 7 and ratio > 10
    crossings, ratio = oscillation(t + 0.01 * torch.randn(100))  # a trend is not an oscillation
    assert ratio < 2
    crossings, ratio = oscillation(torch.randn(100, generator=torch.Generator().manual_seed(0)))
    assert ratio < 1


def test_options_are_checked():
    with pytest.raises(ValueError, match="window"):
        Monitor(window=4)

"""BicycleGAN: the losses by hand, the Gaussian KL by hand, the latent regression trains G only, a CLI run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gancore_bicyclegan import BicycleGAN, BicycleGenerator, least_squares_d_unhalved
from gancore_translation.nets import PerDomainDiscriminator
from PIL import Image

from gancore.data import Batch, DataSpec
from gancore.errors import PluginError
from gancore.nets.translation import gaussian_kl
from gancore.testing import make_plugin, run_cli


def _images(*values):
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1)


class _Step:
    """Scripted: D_VAE(x) = mean(x), D_LR(x) = mean(x) + 1 (one patch); the generator's outputs given."""

    def __init__(self):
        self.batch = Batch(_images(0.0, 0.0), extra={"b": _images(1.0, -1.0)})
        self.latent = {"source": self.batch.x, "z": torch.tensor([[1.0, -1.0], [0.0, 2.0]]),
                       "target_image": self.batch.extra["b"]}
        # B' (cVAE-GAN) = [0.5, -1], B'' (cLR-GAN) = [0, 0.5]
        self.outputs = {"sample": _images(0.5, -1.0, 0.0, 0.5), "mu": torch.tensor([[1.0, 0.0], [1.0, 0.0]]),
                        "logvar": torch.tensor([[0.0, math.log(2.0)], [0.0, math.log(2.0)]]),
                        "mu_lr": torch.tensor([[0.5, -1.0], [0.0, 0.0]])}
        self.fake = self.outputs["sample"]
        self.views = None
        self.D = PerDomainDiscriminator([torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)])

    def discriminator(self, x, index):
        return (x.mean((1, 2, 3)) + index).view(-1, 1, 1, 1)


def test_losses_by_hand():
    family = BicycleGAN()
    step = _Step()
    d = family.d_loss(step=step)
    # D_VAE: real B scores [1, -1]: mean((0)^2, (-2)^2) = 2; B' scores [0.5, -1]: mean(0.25, 1) = 0.625
    assert d["d_vae"].item() == pytest.approx(2.625)
    # D_LR: real scores [2, 0]: mean(1, 1) = 1; B'' scores [1, 1.5]: mean(1, 2.25) = 1.625
    assert d["d_lr"].item() == pytest.approx(2.625)
    assert [v.name for v in step.views] == ["d_a", "d_b"]
    g = family.g_loss(step=step)
    assert g["adv_vae"].item() == pytest.approx(2.125)  # scores [0.5, -1]: mean((0.5-1)^2, (-1-1)^2) = (0.25 + 4)/2
    assert g["adv_lr"].item() == pytest.approx(0.125)  # scores [1, 1.5]: mean(0, 0.25)
    assert g["l1"].item() == pytest.approx(2.5)  # lambda_img = 10 times mean(|0.5 - 1|, |-1 + 1|) = 0.25
    # KL per row: 1/2 [(1 + 1 - 1 - 0) + (0 + 2 - 1 - ln 2)] = 0.6534264; lambda_kl = 0.01
    assert g["kl"].item() == pytest.approx(0.006534264, abs=1e-9)
    # lambda_z = 0.5 times mean |mu_lr - z| = (0.5 + 0 + 0 + 2)/4
    assert g["latent"].item() == pytest.approx(0.3125)


def test_gaussian_kl_and_unhalved_least_squares_by_hand():
    assert gaussian_kl(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(2.0)]])).item() == \
        pytest.approx(0.6534264, abs=1e-6)
    assert gaussian_kl(torch.tensor([[2.0, 0.0]])).item() == pytest.approx(2.0)  # unit variance: 1/2 * 4
    assert least_squares_d_unhalved(torch.tensor([1.0, 3.0]), torch.tensor([2.0])).item() == pytest.approx(2 + 4)


def test_latent_regression_trains_g_only():
    spec = DataSpec("p", (1, 8, 8), pairing="paired", domains=("a", "b"))
    g = BicycleGenerator(spec, width=4, code_dim=2, norm="instance", e_width=4)
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    out = g(g.latent(2, batch=Batch(x, extra={"b": x.flip(0)})))
    (out["mu_lr"] - 1).abs().mean().backward()
    assert all(p.grad is None for p in g.encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in g.net.parameters())
    g.eval()
    samples = [g(g.translation_latent(x, 1)) for _ in range(2)]
    assert samples[0].shape == (2, 1, 8, 8) and not torch.equal(*samples)  # a new z each time


def test_refuses_unpaired_data():
    data = DataSpec("u", (1, 8, 8), pairing="unpaired", domains=("a", "b"))
    with pytest.raises(PluginError, match="BicycleGAN needs paired images"):
        make_plugin(BicycleGAN, data).build_generator(data=data)


def test_trains_and_translates_from_the_command_line(tmp_path):
    result = run_cli("train", "-p", "gancore-bicyclegan", "--data", "mnist-edges", "--steps", "2", "--batch-size", "4",
                     "--set", "gancore-bicyclegan.width=4", "--set", "gancore-bicyclegan.e_width=4", "--set",
                     "gancore-bicyclegan.d_width=4", "--out", tmp_path, "--name", "run", "--grid-size", "4",
                     "--no-progress")
    assert result.exit_code == 0, result.output
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(tmp_path / "digit.png")
    result = run_cli("translate", tmp_path / "run", tmp_path / "digit.png", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out" / "digit.png").size == (28, 28)

"""InfoGAN: the information term by hand, Q on D's body, no labels read, code traversal from the CLI."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from gancore_infogan import InfoGAN, info_nll
from PIL import Image

from gancore.data import DataSpec

DIGITS = DataSpec("digits", (1, 8, 8), 10)


def test_info_nll_by_hand():
    # Two samples, K = 2 categories, one continuous code.
    q = torch.tensor([[1.0, 0.0, 0.5], [0.0, 2.0, -1.0]])
    cat, cont = torch.tensor([0, 0]), torch.tensor([[1.0], [0.0]])
    ce = (-(1.0 - math.log(math.exp(1.0) + 1.0)) - (0.0 - math.log(1.0 + math.exp(2.0)))) / 2
    gauss = (0.5 * 0.5 ** 2 + 0.5 * 1.0 ** 2) / 2
    assert info_nll(q, cat, cont, 1.0, 0.1).item() == pytest.approx(ce + 0.1 * gauss, rel=1e-6)
    assert info_nll(q[:, 2:], None, cont, 1.0, 2.0).item() == pytest.approx(2.0 * gauss, rel=1e-6)


def test_latent_holds_codes_and_declares_them():
    family = InfoGAN(width=4)
    G = family.build_generator(config=SimpleNamespace(latent_dim=5), data=DIGITS)
    latent = G.latent(6)
    assert set(latent) == {"z", "cat", "c1", "c2"} and latent["cat"].dtype == torch.int64
    assert latent["c1"].abs().max() <= 1 and G(latent).shape == (6, 1, 8, 8)
    assert set(G.latent_codes) == {"cat", "c1", "c2"} and G.latent_codes["cat"].size == 10
    assert not G.conditional  # --label is refused: InfoGAN is unsupervised


def test_q_head_shares_the_discriminator_body():
    family = InfoGAN(width=4, categories=3, continuous=1)
    D = family.build_discriminator(data=DIGITS)
    out = D(torch.randn(5, 1, 8, 8))
    assert out.shape == (5, 1 + 3 + 1)
    out[:, 1:].sum().backward()  # Q's outputs alone...
    assert all(p.grad is not None for p in D.net.body.parameters())  # ...reach the shared body
    assert not D.net.head.weight.grad.any()  # but not the adversarial head


class NoLabels:
    """A step whose labels must never be read."""

    def __init__(self, G, D):
        self.G, self.D, self.discriminator = G, D, D
        self.real = torch.rand(4, 1, 8, 8) * 2 - 1
        self.latent = G.latent(4)
        self.fake = G(self.latent).detach()
        self.views = None
        self.logged = {}

    @property
    def labels(self):
        raise AssertionError("InfoGAN read the labels")

    @property
    def batch(self):
        raise AssertionError("InfoGAN read the batch")

    def log(self, name, value):
        self.logged[name] = float(value)


def test_losses_never_read_labels_and_add_the_information_term():
    family = InfoGAN(width=4, lambda_cat=1.0, lambda_cont=0.1)
    G = family.build_generator(config=SimpleNamespace(latent_dim=5), data=DIGITS)
    D = family.build_discriminator(data=DIGITS)
    step = NoLabels(G, D)
    d = family.d_loss(step)
    g = family.g_loss(step)
    assert set(d) == set(g) == {"adversarial", "info"}
    q = D(torch.cat([step.real, step.fake]))[4:, 1:]
    codes = torch.stack([step.latent["c1"], step.latent["c2"]], 1)
    assert g["info"].item() == pytest.approx(info_nll(q, step.latent["cat"], codes, 1.0, 0.1).item(), rel=1e-5)
    assert step.logged["mi_lower_bound"] <= math.log(10)
    assert step.views[0].score(step.real).shape == (4,)


def test_bad_options_are_refused():
    with pytest.raises(ValueError):
        InfoGAN(categories=0, continuous=0)
    with pytest.raises(ValueError):
        InfoGAN(categories=1)


@pytest.mark.parametrize("data", ["digits", "mnist"])
def test_trains_from_the_cli_and_traverses_codes(gan, tmp_path, data):
    result = gan("train", "-p", "gancore-infogan", "--set", "gancore-infogan.width=4", "--data", data, "--steps", 3,
                 "--batch-size", 16, "--out", tmp_path, "--name", "run", "--log-every", 1)
    assert result.exit_code == 0, result.output
    size = 32 if data == "digits" else 28  # grid cells: 8x8 digits enlarged 4x
    out = tmp_path / "t.png"
    result = gan("sample", tmp_path / "run", "--traverse", "cat", "-n", 30, "-o", out)
    assert result.exit_code == 0 and "Wrote 30 samples" in result.output
    assert Image.open(out).size == (10 * (size + 1) + 1, 3 * (size + 1) + 1)  # 10 values per row, 3 rows
    result = gan("sample", tmp_path / "run", "--traverse", "c2", "-n", 20, "-o", out)
    assert result.exit_code == 0, result.output
    result = gan("sample", tmp_path / "run", "--traverse", "c7", "-o", out)
    assert result.exit_code == 1 and "use one of cat, c1, c2" in result.output
    result = gan("sample", tmp_path / "run", "--label", "3", "-o", out)
    assert result.exit_code == 1 and "not conditional" in result.output and "Traceback" not in result.output
    result = gan("sample", tmp_path / "run", "--label", "3", "--traverse", "cat", "-o", out)
    assert result.exit_code == 1 and "either --label or --traverse" in result.output


def test_28x28_defaults_are_the_28x28_recipe_and_the_paper_preset_is_the_papers_mnist_setting():
    from gancore_infogan import DEFAULTS, PAPER

    image = DEFAULTS["image"]
    assert image["latent_dim"] == 62 and image["regularizers"] == {"r1": 1.0} and image["plugins"] == ["ema"]
    assert image["batch_size"] == 128 and image["betas"] == (0.0, 0.99)
    assert InfoGAN.paper is PAPER and PAPER["lr_g"] == 1e-3 and PAPER["lr_d"] == 2e-4
    assert PAPER["options"]["gancore-infogan"] == {"norm": "batch", "depth": 1}
    # depth 2 on 28x28: one more 3x3 convolution per resolution in G and in D's body than depth 1.
    spec, config = DataSpec("mnist", (1, 28, 28), 10), SimpleNamespace(latent_dim=62)
    deep, shallow = InfoGAN(depth=2, width=8), InfoGAN(depth=1, width=8)

    def count(net):
        return sum(isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) for m in net.modules())

    assert count(deep.build_discriminator(data=spec)) == count(shallow.build_discriminator(data=spec)) + 2
    G_deep = deep.build_generator(config=config, data=spec)
    assert count(G_deep) == count(shallow.build_generator(config=config, data=spec)) + 2
    assert G_deep(G_deep.latent(3)).shape == (3, 1, 28, 28)

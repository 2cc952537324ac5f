"""MAD-GAN: its losses by hand, the mixture of generators in one module, training and sampling from the CLI."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from gancore_madgan import MADGAN, madgan_d_loss, madgan_g_loss, real_logit
from torch import nn

from gancore.data import DataSpec
from gancore.nets.mixture import InputMaps, MixtureGenerator, route
from gancore.testing import ScriptedStep, make_plugin

RING = DataSpec("ring", (2,))
DIGITS = DataSpec("digits", (1, 8, 8), 10)


def test_losses_by_hand():
    # k = 2 generators, so 3 classes (G_0, G_1, real). A real row [0, 0, 0]: p_real = 1/3, -log = ln 3.
    # A fake row of G_0 [ln 2, 0, 0]: softmax (2/4, 1/4, 1/4); its target class 0: -log(1/2) = ln 2.
    real, fake = torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([[0.6931471805599453, 0.0, 0.0]])
    assert madgan_d_loss(real, fake, torch.tensor([0])).item() == pytest.approx(1.791759469, rel=1e-6)  # ln 6
    # G: -log p_real(fake) = -log(1/4) = ln 4; minimax: log(1 - 1/4) = ln 0.75.
    assert madgan_g_loss(fake).item() == pytest.approx(1.386294361, rel=1e-6)
    assert madgan_g_loss(fake, saturating=True).item() == pytest.approx(-0.287682072, rel=1e-6)
    # The regularizers' score: log(p_real / (1 - p_real)) = log((1/4) / (3/4)) = -ln 3.
    assert real_logit(fake).item() == pytest.approx(-1.098612289, rel=1e-6)


def test_family_hooks_take_the_generator_index_from_the_latent():
    step = ScriptedStep(torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([[0.6931471805599453, 0.0, 0.0]]))
    step.latent = {"gen": torch.tensor([0])}
    family = MADGAN(generators=2)
    assert family.d_loss(step).item() == pytest.approx(1.791759469, rel=1e-6)
    assert len(step.views) == 1
    step = ScriptedStep(torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([[0.6931471805599453, 0.0, 0.0]]))
    assert family.g_loss(step).item() == pytest.approx(1.386294361, rel=1e-6)


class Add(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = nn.Parameter(torch.tensor(float(c)))

    def forward(self, z):
        return z + self.c


def test_route_sends_each_row_to_its_generator():
    members = nn.ModuleList([Add(10), Add(20), Add(30)])
    z = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    out = route(members, z, torch.tensor([2, 0, 2, 1]))
    assert out.tolist() == [[31.0], [12.0], [33.0], [24.0]]
    out.sum().backward()  # every member that made a row gets its gradient: 1 per row
    assert [m.c.grad.item() for m in members] == [1.0, 1.0, 2.0]


def test_input_maps_are_one_affine_map_per_generator():
    maps = InputMaps(2, 2)
    with torch.no_grad():
        maps.weight.copy_(torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 2.0], [1.0, 0.0]]]))
        maps.bias.copy_(torch.tensor([[0.0, 0.0], [1.0, -1.0]]))
    out = maps(torch.tensor([[1.0, 2.0], [1.0, 2.0]]), torch.tensor([0, 1]))
    assert out.tolist() == [[1.0, 2.0], [5.0, 0.0]]  # [0*1 + 2*2 + 1, 1*1 + 0*2 - 1]


@pytest.mark.parametrize("share", ["none", "input"])
def test_the_mixture_is_one_module_with_k_generators(share):
    family = make_plugin(MADGAN, DIGITS, generators=3, share=share, hidden=16)
    G = family.build_generator(config=SimpleNamespace(latent_dim=4), data=DIGITS)
    assert isinstance(G, MixtureGenerator) and G.k == 3
    latent = G.latent(12)
    assert set(latent) == {"z", "gen"} and latent["gen"].dtype == torch.int64 and latent["gen"].max() < 3
    assert G(latent).shape == (12, 1, 8, 8) and G.latent_codes["gen"].size == 3
    # One z through each generator: different samples (the generators are different networks).
    same_z = {"z": latent["z"][:1].repeat(3, 1), "gen": torch.arange(3)}
    x = G(same_z)
    assert not torch.allclose(x[0], x[1]) and not torch.allclose(x[1], x[2])
    D = family.build_discriminator(data=DIGITS)
    assert D(x).shape == (3, 4)  # k + 1 logits


def test_regularizers_see_the_real_class_logit():
    family = make_plugin(MADGAN, RING, generators=2, hidden=8)
    G = family.build_generator(config=SimpleNamespace(latent_dim=3), data=RING)
    D = family.build_discriminator(data=RING)
    step = SimpleNamespace(real=torch.randn(4, 2), fake=G(G.latent(4)).detach(), discriminator=D, D=D,
                           latent=None, views=None)
    step.latent = {"gen": torch.tensor([0, 1, 0, 1])}
    step.real_and_fake_scores = lambda: (D(step.real), D(step.fake))
    family.d_loss(step)
    logits = D(step.real)
    assert torch.allclose(step.views[0].score(step.real), logits[:, 2] - torch.logsumexp(logits[:, :2], 1))


def test_options_are_checked():
    with pytest.raises(ValueError):
        MADGAN(generators=0)
    with pytest.raises(ValueError):
        MADGAN(share="all")


def test_trains_and_samples_each_generator_from_the_cli(gan, tmp_path):
    result = gan("train", "-p", "gancore-madgan", "--set", "gancore-madgan.hidden=16", "--data", "digits",
                 "--steps", 3, "--batch-size", 16, "--out", tmp_path, "--name", "run")
    assert result.exit_code == 0, result.output
    result = gan("sample", tmp_path / "run", "--traverse", "gen", "-n", 8, "-o", tmp_path / "g.png")
    assert result.exit_code == 0 and "Wrote 8 samples" in result.output


def test_mixes_with_pacgan_and_a_gradient_penalty(gan, tmp_path):
    # PacGAN packs D's input; D's k + 1 logits per pack are repeated per sample, and GP scores the real-class logit.
    result = gan("train", "-p", "gancore-madgan", "-p", "gancore-pacgan", "-r", "gp", "--set",
                 "gancore-madgan.hidden=16", "--data", "ring", "--steps", 3, "--batch-size", 16, "--out", tmp_path,
                 "--name", "run")
    assert result.exit_code == 0, result.output

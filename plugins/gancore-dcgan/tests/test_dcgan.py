"""DCGAN: the architecture's guidelines and its loss."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from gancore_dcgan import DCGAN
from torch import nn

from gancore.data import DataSpec
from gancore.step import Step
from gancore.testing import defaults_of, make_plugin


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 64, 64)])
def test_all_convolutional_networks_sized_from_the_data(shape):
    spec = DataSpec("x", shape)
    family = make_plugin(DCGAN, spec, width=4)
    G = family.build_generator(config=SimpleNamespace(latent_dim=10), data=spec)
    D = family.build_discriminator(data=spec)
    x = G(G.latent(2))
    assert x.shape == (2, *shape) and D(x).shape == (2,)
    # Radford et al.: no pooling, strided (transposed) convolutions, tanh output, no BN on G's output /
    # D's input, LeakyReLU in D, BN elsewhere.
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) for m in [*G.modules(), *D.modules()])
    g_layers = list(G.net)
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)
    # BN after every hidden convolution (strided, and the 3x3 ones `depth` adds), none on the output.
    assert sum(isinstance(m, nn.BatchNorm2d) for m in G.modules()) == len(
        [m for m in G.modules() if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d))]) - 1
    d_layers = list(D.body)
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)
    # No BN in D by default on any image (the paper has it): R1, a per-sample penalty, is the default
    # regularizer on small and 28x28+ images alike.
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == 0
    assert sum(isinstance(m, nn.BatchNorm2d) for m in make_plugin(DCGAN, spec, width=4, norm="batch")
               .build_discriminator(data=spec).modules()) == sum(isinstance(m, nn.Conv2d) for m in D.modules()) - 1


def test_depth_adds_a_3x3_convolution_at_each_hidden_resolution_on_28x28_by_default():
    spec = DataSpec("x", (1, 28, 28))
    config = SimpleNamespace(latent_dim=10)

    def convs(net, kind):
        return [(m.kernel_size, m.stride) for m in net.modules() if isinstance(m, kind)]

    paper = make_plugin(DCGAN, spec, width=4, depth=1)
    deep = make_plugin(DCGAN, spec, width=4)
    assert deep.depth == 2 and make_plugin(DCGAN, DataSpec("x", (1, 8, 8)), width=4).depth == 1
    G1, G2 = paper.build_generator(config=config, data=spec), deep.build_generator(config=config, data=spec)
    D1, D2 = paper.build_discriminator(data=spec), deep.build_discriminator(data=spec)
    # The paper's: 7x7 -> 14 -> 28 in G, 28 -> 14 -> 7 in D, no stride-1 3x3 convolution.
    assert convs(G1, nn.Conv2d) == [] and len(convs(G1, nn.ConvTranspose2d)) == 3
    assert convs(D1, nn.Conv2d) == [((4, 4), (2, 2))] * 2
    # depth 2: one 3x3 stride-1 convolution at 7x7 and at 14x14 in each network, the rest unchanged.
    assert convs(G2, nn.Conv2d) == [((3, 3), (1, 1))] * 2 and convs(G2, nn.ConvTranspose2d) == convs(
        G1, nn.ConvTranspose2d)
    assert convs(D2, nn.Conv2d) == [((4, 4), (2, 2)), ((3, 3), (1, 1))] * 2
    x = G2(G2.latent(3))
    assert x.shape == (3, 1, 28, 28) and D2(x).shape == (3,)


@pytest.mark.parametrize("shape,kind", [((2,), "vector"), ((1, 8, 8), "small-image"), ((1, 28, 28), "image")])
def test_defaults_follow_the_data_kind(shape, kind):
    spec = DataSpec("x", shape)
    assert spec.kind == kind
    defaults = defaults_of(DCGAN, spec)
    assert defaults["lr_schedule"] == "linear" and "r1" in defaults["regularizers"]
    assert ("ema" in defaults.get("plugins", ())) == (kind != "vector")
    if kind == "image":  # 28x28 and larger: batch 128, lr 5e-4, betas (0, 0.99), R1 gamma 1 at every D step
        assert ((defaults["steps"], defaults["batch_size"], defaults["lr_g"], defaults["lr_d"])
                == (2000, 128, 5e-4, 5e-4))
        assert defaults["betas"] == (0.0, 0.99) and defaults["regularizers"] == {"r1": 1.0}
        assert "options" not in defaults  # R1's own default: every D step


def test_a_batchnorm_discriminator_sees_a_real_batch_and_a_fake_batch():
    # DCGAN's reference code: real and fake each in a forward pass of their own (their own BatchNorm
    # statistics), so G's update scores the fakes alone, as D saw them.
    from gancore.data import Batch

    assert DCGAN.separate_batches
    torch.manual_seed(0)
    sizes = []
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 4), torch.nn.BatchNorm1d(4),
                            torch.nn.Linear(4, 1), torch.nn.Flatten(0))
    D.register_forward_pre_hook(lambda module, args: sizes.append(len(args[0])))
    G = torch.nn.Sequential(torch.nn.Linear(3, 64), torch.nn.Unflatten(1, (1, 8, 8)))
    G.latent = lambda n, batch=None: torch.randn(n, 3)
    step = Step(index=0, batch=Batch(torch.randn(2, 1, 8, 8)), generator=G, discriminator=D, G=G, D=D,
                config=None, data=None, accelerator=None, state={}, name_of=str)
    step.separate_batches = True
    loss = DCGAN().d_loss(step.begin("d"))
    assert sizes == [2, 2]
    softplus = torch.nn.functional.softplus
    expected = softplus(-D(step.real)).mean() + softplus(D(step.fake)).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    sizes.clear()
    DCGAN().g_loss(step.begin("g"))
    assert sizes == [2]


def test_ring_uses_mlps():
    family = DCGAN()
    G = family.build_generator(config=SimpleNamespace(latent_dim=8), data=DataSpec("ring", (2,)))
    assert G(G.latent(3)).shape == (3, 2)

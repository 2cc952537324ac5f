"""BigGAN: the hinge loss, the projection head and conditional BatchNorm by hand; hierarchical
latents; the truncation trick."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from gancore_biggan import BigGAN
from gancore_biggan.nets import (
    BigGenerator,
    ConditionalBatchNorm,
    ProjectionDiscriminator,
    split_sizes,
    truncate,
)
from torch import nn
from torch.nn.utils import parametrize

from gancore.config import make_config
from gancore.data import DataSpec
from gancore.errors import ConfigError, PluginError

SPEC = DataSpec("t", (1, 8, 8), 3, ("a", "b", "c"))


def plain(layer: nn.Module, weight) -> None:
    """Drop ``layer``'s spectral norm and set its weight, for numbers by hand."""
    parametrize.remove_parametrizations(layer, "weight")
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))


def test_hinge_losses_by_hand():
    # D scores 2 real then 2 fake samples; fakes carry the real batch's labels.
    scores = torch.tensor([0.5, 2.0, -0.5, 1.5])
    seen = []

    def D(x, labels):
        seen.append(labels.tolist())
        return scores[-len(x):]

    step = SimpleNamespace(real=torch.zeros(2, 1, 8, 8), fake=torch.ones(2, 1, 8, 8), labels=torch.tensor([0, 2]),
                           latent={"z": torch.zeros(2, 4), "labels": torch.tensor([0, 2])}, discriminator=D,
                           D=nn.Linear(1, 1), views=None)
    loss = BigGAN().d_loss(step)
    # E[max(0, 1 - (0.5, 2))] + E[max(0, 1 + (-0.5, 1.5))] = (0.5 + 0) / 2 + (0.5 + 2.5) / 2
    assert loss.item() == pytest.approx(0.25 + 1.5)
    assert seen == [[0, 2, 0, 2]]
    assert BigGAN().g_loss(step).item() == pytest.approx(-(-0.5 + 1.5) / 2)


def test_projection_head_by_hand():
    D = ProjectionDiscriminator(SPEC, 3, width=1)  # phi has 2 features
    D.blocks = nn.Identity()  # phi(x) = sum over pixels of relu(x)
    plain(D.linear, [[1.0, -2.0]])
    plain(D.embed, [[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]])
    with torch.no_grad():
        D.linear.bias.fill_(0.5)
    x = torch.tensor([[[[1.0, -1.0]], [[2.0, 0.5]]], [[[0.0, 0.0]], [[1.0, 1.0]]]])  # (2, 2, 1, 2)
    # phi = (1, 2.5) and (0, 2); psi(phi) = 1 - 5 + 0.5 = -3.5 and 0 - 4 + 0.5 = -3.5;
    # projections with y = 2 -> (3, 3): 10.5; with y = 0 -> (1, 0): 0.
    scores = D(x, torch.tensor([2, 0]))
    assert scores.tolist() == pytest.approx([-3.5 + 10.5, -3.5 + 0.0])


def test_conditional_batchnorm_by_hand():
    cbn = ConditionalBatchNorm(1, 1)
    plain(cbn.gain, [[0.5]])
    plain(cbn.bias, [[1.0]])
    x = torch.tensor([1.0, 3.0]).view(2, 1, 1, 1)
    c = torch.tensor([[1.0], [2.0]])
    # Batch mean 2, variance 1: normalized (-1, 1) / sqrt(1 + 1e-5); times 1 + 0.5 c, plus c.
    k = 1 / math.sqrt(1 + 1e-5)
    assert cbn(x, c).flatten().tolist() == pytest.approx([-k * 1.5 + 1.0, k * 2.0 + 2.0], rel=1e-6)


def test_hierarchical_latents_split_z_one_chunk_per_block():
    assert split_sizes(60, 3) == [20, 20, 20] and split_sizes(10, 3) == [4, 3, 3]
    with pytest.raises(PluginError, match="too small"):
        split_sizes(2, 3)
    G = BigGenerator(SPEC, 10, 3, width=4, shared_dim=2)
    assert G.chunks == [4, 3, 3] and len(G.blocks) == 2
    # Each block's conditional BatchNorm sees its chunk and the shared embedding: 3 + 2 inputs.
    assert G.blocks[0].bn1.gain.parametrizations.weight.original.shape == (8, 5)
    latent = G.latent(4, labels=torch.tensor([0, 1, 2, 0]))
    assert G(latent).shape == (4, 1, 8, 8)


def test_truncation_keeps_z_within_psi_deterministically():
    z = torch.tensor([[0.1, -2.5, 0.4], [3.0, 0.0, -0.49]])
    out = truncate(z, 0.5)
    assert (out.abs() <= 0.5).all()
    kept = z.abs() <= 0.5
    assert torch.equal(out[kept], z[kept])
    assert torch.equal(truncate(z, 0.5), out)  # a function of its inputs
    for bad in (0, -1.0, float("nan"), True):
        with pytest.raises(ConfigError, match="psi"):
            truncate(z, bad)


def test_forward_truncated_is_forward_on_the_truncated_latent():
    torch.manual_seed(0)
    G = BigGenerator(SPEC, 9, 3, width=4, shared_dim=2).eval()
    latent = G.latent(5, rng=torch.Generator().manual_seed(1))
    expected = G({**latent, "z": truncate(latent["z"], 0.7)})
    assert torch.equal(G.forward_truncated(latent, psi=0.7), expected)
    assert torch.equal(G.forward_truncated(latent, psi=0.7), expected)
    assert not torch.equal(G.forward_truncated(latent, psi=1e-3), expected)


def test_unlabelled_and_vector_data_are_refused():
    with pytest.raises(PluginError, match="needs labelled data"):
        BigGAN().build_generator(make_config({}), DataSpec("u", (1, 8, 8), 0))
    with pytest.raises(PluginError, match="convolutional"):
        BigGAN().build_generator(make_config({}), DataSpec("ring", (2,), 8))

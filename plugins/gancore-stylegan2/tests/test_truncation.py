"""StyleGAN2's truncation trick (``forward_truncated``, the generator capability of gancore.generator)."""

from __future__ import annotations

import torch
from gancore_stylegan2 import StyleGAN2

from gancore.config import TrainConfig
from gancore.data import DataSpec
from gancore.generator import supports_truncation, truncated

SMALL = {"width": 4, "most": 8, "w_dim": 8, "mapping_layers": 2}


def _generator():
    torch.manual_seed(0)
    return StyleGAN2(**SMALL).build_generator(config=TrainConfig(latent_dim=6), data=DataSpec("x", (1, 8, 8))).eval()


def test_truncation_pulls_w_towards_the_mapped_average_and_nothing_else():
    g = _generator()
    assert supports_truncation(g)
    z = torch.randn(5, 6, generator=torch.Generator().manual_seed(1))
    state = {k: v.clone() for k, v in g.state_dict().items()}
    with torch.no_grad():
        plain = g(z)
        # w_avg by hand: the mean mapped w of 10,000 latents of seed 0.
        w_avg = g.mapping(torch.randn(10_000, 6, generator=torch.Generator().manual_seed(0))).mean(0)
        w = g.mapping(z)
    half = truncated(g, 0.5)(z)
    assert torch.allclose(half["w"], (w_avg + 0.5 * (w - w_avg))[:, None].expand_as(half["w"]), atol=1e-5)
    assert torch.equal(truncated(g, 1.0)(z)["sample"], plain["sample"])  # psi = 1 is forward
    zero = truncated(g, 0.0)(z)["sample"]
    assert torch.allclose(zero, zero[:1].expand_as(zero), atol=1e-6)  # psi = 0: every sample the average one
    assert not torch.allclose(plain["sample"], plain["sample"][:1].expand_as(plain["sample"]))
    # Sampling only: no weights, buffers or mode changed, and forward afterwards is as before.
    assert all(torch.equal(v, state[k]) for k, v in g.state_dict().items()) and not g.training
    assert torch.equal(g(z)["sample"], plain["sample"])


def test_the_average_follows_the_mapping_weights():
    g = _generator()
    z = torch.randn(3, 6, generator=torch.Generator().manual_seed(2))
    before = g.forward_truncated(z, psi=0.0)["w"]
    with torch.no_grad():
        for p in g.mapping.parameters():
            p.mul_(1.5)
    after = g.forward_truncated(z, psi=0.0)["w"]
    assert not torch.allclose(before, after)

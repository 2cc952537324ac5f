"""Shared networks: the convolution plan per image size, and initialisation by normalization."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gancore.data import DataSpec
from gancore.errors import PluginError
from gancore.nets import AutoEncoder, ConvDiscriminator, ConvGenerator, conv_plan


@pytest.mark.parametrize("size, plan", [(4, (2, 1)), (8, (2, 2)), (12, (3, 2)), (16, (2, 3)), (28, (7, 2)),
                                        (32, (4, 3)), (64, (4, 4))])
def test_conv_plan(size, plan):
    # Small images (<= 16 px) go down to a 2x2 base: three resolutions on 8x8, not one 4 -> 8 step.
    assert conv_plan(size) == plan


@pytest.mark.parametrize("size", [2, 7, 9, 44])
def test_sizes_without_a_plan_are_refused(size):
    with pytest.raises(PluginError, match="--image-size"):
        conv_plan(size)


def test_the_8x8_networks_have_three_resolutions():
    spec = DataSpec("digits", (1, 8, 8))
    G, D = ConvGenerator(spec, 10, width=4), ConvDiscriminator(spec, width=4)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in G.modules()) == 3
    assert sum(isinstance(m, nn.Conv2d) for m in D.modules()) == 2 and D.feature_dim == 8 * 2 * 2
    assert G(G.latent(2)).shape == (2, 1, 8, 8)


def test_dcgan_initialisation_only_with_normalization_layers():
    # N(0, 0.02) assumes normalization layers restore the scale; a norm-free auto-encoder (BEGAN's)
    # keeps PyTorch's initialisation, under which it learns (see docs/results.md).
    torch.manual_seed(0)
    spec = DataSpec("digits", (1, 8, 8))
    normalized = AutoEncoder(spec, code_dim=8, width=16, norm="batch")
    plain = AutoEncoder(spec, code_dim=8, width=16, norm="none", act="elu")
    second_conv = [normalized.encoder.net[2], plain.encoder.net[2]]
    assert all(isinstance(layer, nn.Conv2d) for layer in second_conv)
    assert second_conv[0].weight.std().item() == pytest.approx(0.02, rel=0.1)
    assert second_conv[1].weight.std().item() > 0.03


def test_every_family_with_a_depth_option_builds_deeper_networks_with_it():
    # `depth` (convolutions per resolution) is declared by StandardNetworks and by families with networks of
    # their own; a family that overrides a build hook must pass it on, never ignore it silently.
    from types import SimpleNamespace

    from gancore.plugins import Registry
    from gancore.testing import make_plugin

    spec = DataSpec("mnist", (1, 28, 28), num_classes=10)

    def convs(module):
        return sum(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in module.modules())

    checked = []
    for info in Registry.discover():
        if info.kind != "family" or info.declaration is None or "depth" not in info.options:
            continue
        cls = type(info.obj) if not isinstance(info.obj, type) else info.obj
        built = {}
        for depth in (1, 2):
            family = make_plugin(cls, spec, width=8, depth=depth)
            G = family.build_generator(config=SimpleNamespace(latent_dim=4), data=spec)
            D = family.build_discriminator(data=spec)
            built[depth] = convs(G), convs(D)
        assert built[2][0] > built[1][0] and built[2][1] > built[1][1], (info.name, built)
        checked.append(info.name)
    assert {"gancore-dcgan", "gancore-lsgan", "gancore-sngan", "gancore-sgan", "gancore-d2gan", "gancore-madgan",
            "gancore-mgan", "gancore-clustergan", "gancore-wgan"} <= set(checked), checked

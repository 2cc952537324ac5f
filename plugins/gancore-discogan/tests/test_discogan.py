"""DiscoGAN: losses by hand, CLI runs on mnist-thick and on unpaired folders."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from gancore_discogan import DiscoGAN
from PIL import Image

from gancore.cli import main
from gancore.data import Batch
from gancore_translation.nets import PerDomainDiscriminator, UNet

TINY = ["--set", "gancore-discogan.width=4", "--set", "gancore-discogan.d_width=4"]


def softplus(t):
    return math.log1p(math.exp(t))


def _images(*values):
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1)


class _Step:
    """Scripted networks: D_A(x) = mean(x), D_B(x) = mean(x) + 1; G(x) = x / 2 both ways."""

    def __init__(self):
        self.a, self.b = _images(1.0, 0.0), _images(-1.0, 0.5)
        self.batch = Batch(self.a, extra={"b": self.b})
        self.latent = {"source": torch.cat([self.a, self.b]), "source_domain": torch.tensor([0, 0, 1, 1]),
                       "target": torch.tensor([1, 1, 0, 0])}
        self.fake = self.generator(self.latent)
        self.views = None
        self.D = PerDomainDiscriminator([torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)])

    def discriminator(self, x, domain):
        return x.mean((1, 2, 3)) + domain

    def generator(self, latent):
        return latent["source"] / 2


def test_losses_by_hand():
    family, step = DiscoGAN(), _Step()
    d = family.d_loss(step=step)
    # D_A: real a scores [1, 0], fake_a = b/2 scores [-0.5, 0.25]
    assert d["d_a"].item() == pytest.approx((softplus(-1) + softplus(0)) / 2 + (softplus(-0.5) + softplus(0.25)) / 2)
    # D_B: real b scores [0, 1.5], fake_b = a/2 scores [1.5, 1]
    assert d["d_b"].item() == pytest.approx((softplus(0) + softplus(-1.5)) / 2 + (softplus(1.5) + softplus(1)) / 2)
    g = family.g_loss(step=step)
    assert g["adv"].item() == pytest.approx((softplus(-1.5) + softplus(-1)) / 2 + (softplus(0.5) + softplus(-0.25)) / 2)
    # reconstruction x/4 vs x, squared, per direction: a -> mean(0.5625, 0), b -> mean(0.5625, 0.140625)
    assert g["recon"].item() == pytest.approx(0.28125 + 0.3515625)
    assert [v.name for v in step.views] == ["d_a", "d_b"]


def test_generators_are_encoder_decoders_without_skips():
    from gancore.data import DataSpec

    G = DiscoGAN(width=4).build_generator(data=DataSpec("x", (1, 28, 28), pairing="unpaired"))
    assert len(G.nets) == 2 and all(isinstance(n, UNet) and not n.skips for n in G.nets)
    assert not any(isinstance(m, torch.nn.Dropout) for m in G.modules())


def _train(tmp_path, *args):
    result = CliRunner().invoke(main, ["train", "-p", "gancore-discogan", *TINY, "--steps", "2", "--batch-size", "4",
                                       "--out", str(tmp_path), "--log-every", "1", "--grid-size", "4", *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / args[args.index("--name") + 1] / "metrics.jsonl").read_text().splitlines()[-1])


def test_trains_on_mnist_thick_and_on_unpaired_folders(tmp_path):
    row = _train(tmp_path, "--data", "mnist-thick", "--name", "thick")
    assert {"d/d_a", "d/d_b", "g/adv", "g/recon"} <= set(row)
    for side, count in (("A", 4), ("B", 6)):
        (tmp_path / "data" / side).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(np.full((8, 8, 3), 30 * i, dtype=np.uint8)).save(
                tmp_path / "data" / side / f"{i}{side}.png")
    row = _train(tmp_path, "--data", str(tmp_path / "data"), "--name", "folder")
    assert all(math.isfinite(v) for v in row.values())

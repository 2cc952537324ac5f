"""DualGAN: the Wasserstein losses and reconstruction by hand, its defaults (clipping or a penalty), a CLI run."""

from __future__ import annotations

import pytest
import torch
from gancore_dualgan import DualGAN, dualgan_defaults
from gancore_translation.nets import PerDomainDiscriminator

from gancore.data import Batch, DataSpec
from gancore.testing import run_cli


def _images(*values):
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1)


class _Step:
    """Scripted networks: D_A(x) = mean(x), D_B(x) = mean(x) + 1 (one patch); G(x) = x / 2 both ways."""

    def __init__(self):
        self.a, self.b = _images(1.0, 0.0), _images(-1.0, 0.5)
        self.batch = Batch(self.a, extra={"b": self.b})
        self.latent = {"source": torch.cat([self.a, self.b]), "source_domain": torch.tensor([0, 0, 1, 1]),
                       "target": torch.tensor([1, 1, 0, 0])}
        self.fake = self.generator(self.latent)
        self.views = None
        self.D = PerDomainDiscriminator([torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)])

    def discriminator(self, x, domain):
        return (x.mean((1, 2, 3)) + domain).view(-1, 1, 1, 1)

    def generator(self, latent):
        return latent["source"] / 2


def test_losses_by_hand():
    family = DualGAN()
    step = _Step()
    # G(a) = [0.5, 0] (into B), G(b) = [-0.5, 0.25] (into A).
    d = family.d_loss(step=step)
    # D_A: E D_A(G(b)) - E D_A(a) = (-0.5 + 0.25) / 2 - (1 + 0) / 2
    assert d["d_a"].item() == pytest.approx(-0.625)
    # D_B: E D_B(G(a)) - E D_B(b) = (1.5 + 1) / 2 - (0 + 1.5) / 2
    assert d["d_b"].item() == pytest.approx(0.5)
    g = family.g_loss(step=step)
    # -E D_A(G(b)) - E D_B(G(a)) = 0.125 - 1.25
    assert g["adv"].item() == pytest.approx(-1.125)
    # G(G(x)) = x / 4: mean |x/4 - x| per domain = 0.75 * 0.5 + 0.75 * 0.75, times lambda = 100
    assert g["recon"].item() == pytest.approx(93.75)
    assert [v.name for v in step.views] == ["d_a", "d_b"]


def test_defaults_clip_unless_another_regularizer_is_chosen():
    data = DataSpec("thick", (1, 28, 28), pairing="unpaired", domains=("a", "b"))
    clipped = dualgan_defaults(data, None)
    assert clipped["regularizers"] == {"clip": None} and clipped["optimizer"] == "rmsprop"
    assert clipped["lr_g"] == clipped["lr_d"] == 5e-5 and clipped["n_critic"] == 2
    penalized = dualgan_defaults(data, ("gp",))
    assert "regularizers" not in penalized and penalized["lr_g"] == 1e-4 and penalized["betas"] == (0.5, 0.9)


def test_dropout_out_of_range_is_refused():
    with pytest.raises(ValueError, match="dropout"):
        DualGAN(dropout=1.0)


def test_trains_with_clipping_from_the_command_line(tmp_path):
    result = run_cli("train", "-p", "gancore-dualgan", "--data", "mnist-thick", "--steps", "2", "--batch-size", "4",
                     "--set", "gancore-dualgan.width=4", "--set", "gancore-dualgan.d_width=4", "--out", tmp_path,
                     "--name", "run", "--log-every", "1", "--grid-size", "4", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "clip=0.01" in result.output
    from gancore.checkpoint import load_checkpoint
    from gancore.plugins import Registry
    from gancore.run.rundir import load_generator

    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "step-000002")
    assert ckpt.step == 2
    generator, *_ = load_generator(Registry.discover(), tmp_path / "run")
    assert generator.allowed_targets() == (0, 1)

"""CoGAN: the losses by hand, the coupled networks' sharing, a CLI run."""

from __future__ import annotations

import pytest
import torch
from gancore_cogan import CoGAN, split_pairs

from gancore.data import Batch, DataSpec
from gancore.errors import PluginError
from gancore.nets.translation import CoupledDiscriminator, CoupledGenerator
from gancore.testing import make_plugin, run_cli


def _images(*values):
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1)


class _Step:
    """Scripted networks: D(x, domain) = mean(x) + domain per sample."""

    def __init__(self):
        self.batch = Batch(_images(1.0, 0.0), extra={"b": _images(-1.0, 0.5)})
        # Generated pairs (a, b): ([0.5, -0.5], [0.0, 0.25]), interleaved a, b, a, b.
        self.fake = _images(0.5, -0.5, 0.0, 0.25)
        self.views = None
        self.D = torch.nn.Linear(1, 1)

    def discriminator(self, x, domain):
        return x.mean((1, 2, 3)) + domain


def test_losses_by_hand():
    family = CoGAN()
    step = _Step()
    d = family.d_loss(step=step)
    # softplus(t) = log(1 + e^t). D_A: real scores [1, 0], fake a = [0.5, 0.0]:
    # (softplus(-1) + softplus(0)) / 2 + (softplus(0.5) + softplus(0)) / 2 = 0.503205 + 0.833612
    assert d["d_a"].item() == pytest.approx(1.3368165, abs=1e-6)
    # D_B: real scores [-1 + 1, 0.5 + 1] = [0, 1.5], fake b [-0.5, 0.25] + 1 = [0.5, 1.25]:
    # (softplus(0) + softplus(-1.5)) / 2 + (softplus(0.5) + softplus(1.25)) / 2
    assert d["d_b"].item() == pytest.approx(1.6852833, abs=1e-6)
    assert [v.name for v in step.views] == ["d_a", "d_b"]
    assert step.views[1].score(_images(0.0)).tolist() == [1.0]
    g = family.g_loss(step=step)
    # Non-saturating: (softplus(-0.5) + softplus(0)) / 2 and (softplus(-0.5) + softplus(-1.25)) / 2
    assert g["adv_a"].item() == pytest.approx(0.5836121, abs=1e-6)
    assert g["adv_b"].item() == pytest.approx(0.3630030, abs=1e-6)


def test_split_pairs_undoes_the_interleaving():
    a, b = split_pairs(_images(1, 2, 3, 4))
    assert a.flatten().tolist() == [1, 3] and b.flatten().tolist() == [2, 4]


def test_generators_share_the_trunk_and_discriminators_the_tail():
    g = CoupledGenerator(8, 1, 28, width=4)
    a, b = g(torch.randn(3, 8))
    assert a.shape == b.shape == (3, 1, 28, 28)
    # The trunk is one module: a change there moves both domains' images.
    with torch.no_grad():
        z = torch.randn(2, 8)
        before = g(z)
        g.fc.bias.add_(1.0)
        after = g(z)
    assert all(not torch.equal(x, y) for x, y in zip(before, after))
    d = CoupledDiscriminator(1, 28, width=4)
    assert d(torch.randn(3, 1, 28, 28), 0).shape == (3,)
    shared = {id(p) for p in d.shared.parameters()}
    assert shared and not shared & {id(p) for p in d.fronts.parameters()}


def test_refuses_single_domain_data():
    family = make_plugin(CoGAN, DataSpec("digits", (1, 8, 8), 10))
    with pytest.raises(PluginError, match="CoGAN needs"):
        family.build_generator(data=DataSpec("digits", (1, 8, 8), 10))


def test_trains_from_the_command_line_with_a_penalty_on_both_discriminators(tmp_path):
    import json

    result = run_cli("train", "-p", "gancore-cogan", "--data", "mnist-thick", "--steps", "2", "--batch-size", "4",
                     "-r", "gp", "--set", "gancore-cogan.width=4", "--set", "gancore-cogan.d_width=4",
                     "--out", tmp_path, "--name", "run", "--log-every", "1", "--grid-size", "4", "--no-progress")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "checkpoints" / "step-000002").is_dir()
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"d/d_a", "d/d_b", "d/gp_d_a", "d/gp_d_b", "g/adv_a", "g/adv_b"} <= set(row)

"""SGAN: the K+1-class losses by hand, the labelled examples' choice, CLI runs."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from gancore_sgan import SGAN, feature_matching, quotas, real_score, supervised_loss, unsupervised_loss

from gancore.data import DataSpec
from gancore.errors import PluginError
from gancore.testing import run_cli as gan


def log_real_probability(row):
    """log(Z / (Z + 1)) with Z = sum exp(logits): the K+1-way softmax with the fake logit at 0."""
    z = sum(math.exp(v) for v in row)
    return math.log(z / (z + 1))


def log_fake_probability(row):
    z = sum(math.exp(v) for v in row)
    return math.log(1 / (z + 1))


REAL = torch.tensor([[2.0, -1.0, 0.0], [0.5, 0.5, -3.0]])
FAKE = torch.tensor([[-2.0, -1.0, -0.5], [1.0, 0.0, 0.0]])


def test_real_probability_is_z_over_z_plus_one():
    for row in REAL.tolist() + FAKE.tolist():
        z = sum(math.exp(v) for v in row)
        assert torch.sigmoid(real_score(torch.tensor([row]))).item() == pytest.approx(z / (z + 1), rel=1e-6)


def test_unsupervised_loss_is_minus_log_real_and_fake_probabilities():
    expected = (-sum(log_real_probability(r) for r in REAL.tolist()) / 2
                - sum(log_fake_probability(r) for r in FAKE.tolist()) / 2)
    assert unsupervised_loss(REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_supervised_loss_is_the_cross_entropy_of_the_k_logits():
    labels = torch.tensor([0, 2])
    rows = REAL.tolist()
    expected = -sum(r[y] - math.log(sum(math.exp(v) for v in r)) for r, y in zip(rows, [0, 2])) / 2
    assert supervised_loss(REAL, labels).item() == pytest.approx(expected, rel=1e-6)


def test_feature_matching_is_the_squared_distance_of_mean_features():
    real = torch.tensor([[1.0, 2.0], [3.0, 0.0]])   # mean (2, 1)
    fake = torch.tensor([[0.0, 0.0], [1.0, 1.0]])   # mean (0.5, 0.5)
    assert feature_matching(real, fake).item() == pytest.approx(1.5 ** 2 + 0.5 ** 2)


def test_quotas_are_balanced():
    assert quotas(100, 10) == [10] * 10
    assert quotas(12, 5) == [3, 3, 2, 2, 2]


SPEC = DataSpec("toy", (2,), 3)


def make_step(real, labels, state, D=None):
    D = D or (lambda x: torch.zeros(len(x), 3))
    return SimpleNamespace(real=real, fake=torch.zeros(len(real), 2), labels=labels, data=SPEC,
                           discriminator=D, D=torch.nn.Linear(1, 1), views=None, accelerator=None,
                           state_for=lambda plugin: state, log=lambda name, value: None)


def test_labelled_examples_are_the_first_of_each_class_and_persist():
    family, state = SGAN(labels=4), {}   # quotas [2, 1, 1]
    real = torch.arange(10.0).repeat_interleave(2).view(10, 2)
    x, y = family.labelled(make_step(real[:5], torch.tensor([0, 0, 0, 2, 2]), state))
    assert y.tolist() == [0, 0, 2] and torch.equal(x, real[[0, 1, 3]])
    x, y = family.labelled(make_step(real[5:], torch.tensor([1, 1, 0, 2, 1]), state))
    assert y.tolist() == [0, 0, 2, 1] and torch.equal(x, real[[0, 1, 3, 5]])
    # Short of a quota, the same sample never joins twice (a class with too few samples stays short).
    family3, state3 = SGAN(labels=6), {}   # quotas [2, 2, 2]
    for _ in range(2):
        x3, y3 = family3.labelled(make_step(real[:2], torch.tensor([0, 1]), state3))
    assert y3.tolist() == [0, 1] and torch.equal(x3, real[:2])
    # Full: later batches change nothing, and their labels are not needed.
    x2, y2 = family.labelled(make_step(real[:3] + 100, None, state))
    assert torch.equal(x2, x) and torch.equal(y2, y)


def test_d_loss_uses_only_the_chosen_labels():
    family, state = SGAN(labels=3, supervised_weight=0.5), {}
    seen = []

    def D(x):
        seen.append(x.clone())
        return x[:, :1].repeat(1, 3) * torch.tensor([1.0, -1.0, 0.5])

    real = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]])
    terms = family.d_loss(make_step(real, torch.tensor([0, 1, 2, 0]), state, D))
    (batch,) = seen
    labelled = batch[8:]   # after 4 real and 4 fake: 4 draws from the 3 chosen examples
    assert len(labelled) == 4 and set(labelled[:, 0].tolist()) <= {1.0, 2.0, 3.0}
    logits = D(labelled)
    labels = (labelled[:, 0] - 1).long()   # example i (value i + 1) has label i
    assert terms["supervised"].item() == pytest.approx(0.5 * supervised_loss(logits, labels).item(), rel=1e-6)
    assert terms["unsupervised"].item() == pytest.approx(unsupervised_loss(D(real), D(torch.zeros(4, 2))).item(),
                                                         rel=1e-6)


def test_unlabelled_data_and_too_few_labels_are_refused():
    with pytest.raises(PluginError, match="at least 2 classes"):
        SGAN().build_discriminator(data=DataSpec("folder", (3, 8, 8)))
    with pytest.raises(PluginError, match="labels=10 or more"):
        SGAN(labels=5).build_discriminator(data=DataSpec("digits", (1, 8, 8), 10))


@pytest.mark.parametrize("generator_loss", ["non-saturating", "feature-matching"])
def test_trains_from_the_cli_and_keeps_the_labelled_examples(tmp_path, generator_loss):
    result = gan("train", "-p", "gancore-sgan", "--set", "gancore-sgan.width=4", "--set", "gancore-sgan.labels=20",
                 "--set", f"gancore-sgan.generator_loss={generator_loss}", "--data", "digits", "--steps", 3,
                 "--batch-size", 16, "--out", tmp_path, "--name", "run", "--log-every", 1)
    assert result.exit_code == 0, result.output
    last = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1]
    assert {"d/supervised", "d/unsupervised", "d/r1"} <= set(last.replace('"', " ").split())
    assert ("g/feature_matching" if generator_loss == "feature-matching" else "g/non_saturating") in last

"""AC-GAN: source and class log-likelihood terms by hand, label sampling, CLI runs."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from gancore_acgan import ACGAN
from PIL import Image

from gancore.data import DataSpec
from gancore.errors import PluginError
from gancore.plugins import Registry
from gancore.run.rundir import configure
from gancore.testing import defaults_of, make_plugin


def softplus(v):
    return math.log1p(math.exp(v))


def log_softmax(row, i):
    return row[i] - math.log(sum(math.exp(v) for v in row))


# D outputs [source, class logits...] for 2 real then 2 fake samples; 3 classes.
OUT = torch.tensor([[2.0, 1.0, 0.0, 0.0],
                    [-1.0, 0.0, 2.0, 0.0],
                    [0.5, 0.0, 0.0, 3.0],
                    [-2.0, 1.0, 1.0, 1.0]])
REAL_Y, FAKE_Y = torch.tensor([0, 1]), torch.tensor([2, 0])


def make_step(out):
    calls = []

    def D(x):
        calls.append(len(x))
        return out[-len(x):]

    return SimpleNamespace(real=torch.zeros(2, 1, 8, 8), fake=torch.ones(2, 1, 8, 8), labels=REAL_Y,
                           latent={"z": torch.zeros(2, 3), "labels": FAKE_Y}, discriminator=D,
                           D=torch.nn.Linear(1, 1), views=None), calls


def test_d_loss_is_minus_source_and_class_log_likelihoods():
    step, calls = make_step(OUT)
    terms = ACGAN(class_weight=0.5).d_loss(step)
    assert calls == [4]  # real and fake in one pass
    rows = OUT.tolist()
    source = (softplus(-2.0) + softplus(1.0)) / 2 + (softplus(0.5) + softplus(-2.0)) / 2
    class_real = -(log_softmax(rows[0][1:], 0) + log_softmax(rows[1][1:], 1)) / 2
    class_fake = -(log_softmax(rows[2][1:], 2) + log_softmax(rows[3][1:], 0)) / 2
    assert terms["source"].item() == pytest.approx(source, rel=1e-6)
    assert terms["class"].item() == pytest.approx(0.5 * (class_real + class_fake), rel=1e-6)
    (view,) = step.views
    assert torch.equal(view.score(torch.zeros(2, 1, 8, 8)), OUT[2:, 0])  # regularizers see the source score
    # D's classifier on fakes, weighted apart (0: trained on real images only).
    for weight in (0.0, 0.25):
        step, _ = make_step(OUT)
        terms = ACGAN(class_weight=0.5, fake_class_weight=weight).d_loss(step)
        assert terms["class"].item() == pytest.approx(0.5 * (class_real + weight * class_fake), rel=1e-6)


@pytest.mark.parametrize("shape, weight", [((1, 8, 8), 1.0), ((1, 28, 28), 0.0), ((2,), 1.0)])
def test_fake_class_weight_follows_the_data_kind_unless_set(shape, weight):
    spec = DataSpec("x", shape, 10)
    # Resolved before the family is created (no build hook sets it): the run's plugin gets it.
    assert make_plugin(ACGAN, spec, width=4, hidden=8, layers=1).fake_class_weight == weight
    assert make_plugin(ACGAN, spec, width=4, hidden=8, layers=1, fake_class_weight=0.5).fake_class_weight == 0.5
    run = configure(Registry.discover(), spec, {"plugins": ["gancore-acgan"]})[1]
    assert run.pm.get_plugin("gancore-acgan").fake_class_weight == weight


def test_g_loss_fools_the_source_and_matches_the_class():
    step, calls = make_step(OUT)
    terms = ACGAN().g_loss(step)
    assert calls == [4]  # fakes scored inside a real+fake batch, as in D's update (same BatchNorm statistics)
    rows = OUT.tolist()
    assert terms["source"].item() == pytest.approx((softplus(-0.5) + softplus(2.0)) / 2, rel=1e-6)
    assert terms["class"].item() == pytest.approx(-(log_softmax(rows[2][1:], 2) + log_softmax(rows[3][1:], 0)) / 2,
                                                  rel=1e-6)


@pytest.mark.parametrize("spec", [DataSpec("digits", (1, 8, 8), 10), DataSpec("ring", (2,), 8)])
def test_networks_and_conditional_sampling_shapes(spec):
    family = ACGAN(width=4, hidden=8, layers=1)
    G = family.build_generator(config=SimpleNamespace(latent_dim=6), data=spec)
    D = family.build_discriminator(data=spec)
    labels = torch.tensor([5, 5, 1, 0])
    latent = G.latent(4, labels=labels)
    assert torch.equal(latent["labels"], labels)
    x = G(latent)
    assert x.shape == (4, *spec.shape) and D(x).shape == (4, 1 + spec.num_classes)


def test_unlabelled_data_is_refused():
    with pytest.raises(PluginError, match="at least 2 classes"):
        ACGAN().build_discriminator(data=DataSpec("folder", (3, 8, 8)))


@pytest.mark.parametrize("data", ["digits", "mnist"])
def test_trains_from_the_cli_and_samples_a_label(gan, tmp_path, data):
    result = gan("train", "-p", "gancore-acgan", "--set", "gancore-acgan.width=4", "--data", data, "--steps", 3,
                 "--batch-size", 16, "--out", tmp_path, "--name", "run", "--log-every", 1, "-r", "gp")
    assert result.exit_code == 0, result.output
    assert {"d/source", "d/class", "d/gp", "g/source", "g/class"} <= set(
        (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1].replace('"', " ").split())
    out = tmp_path / "s.png"
    result = gan("sample", tmp_path / "run", "--label", "7", "-n", 9, "-o", out)
    assert result.exit_code == 0, result.output
    size = 32 if data == "digits" else 28  # grid cells: 8x8 digits enlarged 4x
    assert Image.open(out).size == (3 * (size + 1) + 1,) * 2


def test_images_28x28_and_larger_train_with_diffaugment_by_default():
    mnist, digits = DataSpec("mnist", (1, 28, 28), 10), DataSpec("digits", (1, 8, 8), 10)
    assert defaults_of(ACGAN, mnist)["plugins"] == ["ema", "gancore-diffaugment"]
    assert defaults_of(ACGAN, digits)["plugins"] == ["ema"]

"""CGAN: label-conditioned networks, the conditional logistic loss, label sampling from the CLI."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from gancore_cgan import CGAN, LabelDiscriminator
from PIL import Image

from gancore.data import Batch, DataSpec
from gancore.errors import PluginError

DIGITS = DataSpec("digits", (1, 8, 8), 10)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_generator_honours_requested_labels_and_discriminator_sees_them(arch):
    family = CGAN(arch=arch, hidden=8, layers=1, width=4)
    G = family.build_generator(config=SimpleNamespace(latent_dim=5), data=DIGITS)
    D = family.build_discriminator(data=DIGITS)
    labels = torch.tensor([3, 3, 7])
    latent = G.latent(3, labels=labels)
    assert torch.equal(latent["labels"], labels) and latent["z"].shape == (3, 5)
    x = G(latent)
    assert x.shape == (3, 1, 8, 8) and G.conditional
    # Same images, different labels: different scores (D really reads the label).
    torch.manual_seed(0)
    with torch.no_grad():
        D.eval()
        assert not torch.allclose(D(x, labels), D(x, torch.tensor([0, 1, 2])))


def test_training_fakes_take_the_real_batch_labels():
    G = CGAN(hidden=8, layers=1).build_generator(config=SimpleNamespace(latent_dim=4), data=DIGITS)
    batch = Batch(torch.zeros(4, 1, 8, 8), torch.tensor([9, 8, 1, 0]))
    assert torch.equal(G.latent(4, batch=batch)["labels"], batch.labels)


def test_label_discriminator_concatenates_one_hot_labels():
    D = LabelDiscriminator(DataSpec("v", (2,)), 3, "mlp", hidden=4, layers=1)
    seen = []
    D.net.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    D(torch.tensor([[0.5, -0.5]]), torch.tensor([2]))
    assert torch.equal(seen[0], torch.tensor([[0.5, -0.5, 0.0, 0.0, 1.0]]))


def _step(scores_real, scores_fake, labels):
    calls = []

    def D(x, y):
        calls.append((x.clone(), y.clone()))
        return torch.cat([scores_real, scores_fake]) if len(x) == 4 else scores_fake

    return SimpleNamespace(real=torch.zeros(2, 1, 8, 8), fake=torch.ones(2, 1, 8, 8), labels=labels,
                           latent={"labels": labels}, discriminator=D, D=torch.nn.Linear(1, 1), views=None), calls


def test_d_and_g_losses_by_hand():
    labels = torch.tensor([1, 4])
    step, calls = _step(torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 3.0]), labels)
    loss = CGAN().d_loss(step)
    sp = F.softplus
    # -mean log sigmoid(real) - mean log(1 - sigmoid(fake))
    expected = ((sp(torch.tensor(-2.0)) + sp(torch.tensor(0.0))) / 2
                + (sp(torch.tensor(-1.0)) + sp(torch.tensor(3.0))) / 2)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    x, y = calls[0]
    assert len(x) == 4 and torch.equal(y, torch.tensor([1, 4, 1, 4]))  # one pass, labels for both halves
    (view,) = step.views
    view.score(torch.zeros(2, 1, 8, 8))
    assert torch.equal(calls[-1][1], labels)
    g = CGAN().g_loss(step)
    assert g.item() == pytest.approx(((sp(torch.tensor(1.0)) + sp(torch.tensor(-3.0))) / 2).item(), rel=1e-6)


def test_unlabelled_data_is_refused_clearly():
    with pytest.raises(PluginError, match="needs labelled data"):
        CGAN().build_generator(config=SimpleNamespace(latent_dim=4), data=DataSpec("folder", (3, 8, 8)))


@pytest.mark.parametrize("data, extra", [("digits", ["--set", "gancore-cgan.arch=\"mlp\""]), ("mnist", [])])
def test_trains_from_the_cli_and_samples_requested_labels(gan, tmp_path, data, extra):
    result = gan("train", "-p", "gancore-cgan", "--set", "gancore-cgan.hidden=16", "--set", "gancore-cgan.layers=1",
                 "--set", "gancore-cgan.width=4", *extra, "--data", data, "--steps", 3, "--batch-size", 16,
                 "--out", tmp_path, "--name", "run", "--log-every", 1, "--grid-size", 20)
    assert result.exit_code == 0, result.output
    size = 32 if data == "digits" else 28  # grid cells: 8x8 digits enlarged 4x
    out = tmp_path / "one.png"
    result = gan("sample", tmp_path / "run", "--label", "3", "-n", 4, "-o", out)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (2 * (size + 1) + 1,) * 2
    result = gan("sample", tmp_path / "run", "--label", "all", "-n", 30, "-o", out)
    assert result.exit_code == 0 and "Wrote 30 samples" in result.output
    assert Image.open(out).size == (3 * (size + 1) + 1, 10 * (size + 1) + 1)  # one row per class
    result = gan("sample", tmp_path / "run", "--label", "12", "-o", out)
    assert result.exit_code == 1 and "is not a class" in result.output

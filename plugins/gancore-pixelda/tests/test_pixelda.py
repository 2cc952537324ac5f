"""PixelDA: the losses by hand, the mnist-negative task, a clear error without source labels, a CLI run."""

from __future__ import annotations

import math

import pytest
import torch
from gancore_pixelda import PixelDA, PixelDAGenerator
from gancore_pixelda.tasks import negative_task

from gancore.data import Batch, DataSpec
from gancore.errors import PluginError
from gancore.testing import make_plugin, run_cli


def _images(*values):
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1)


class _Step:
    """Scripted: D(x) = mean(x) per sample; the generator's outputs given (two classes)."""

    def __init__(self):
        self.batch = Batch(_images(0.0, 0.0), labels=torch.tensor([0, 0]), extra={"b": _images(-1.0, 0.5)})
        self.latent = {"task_labels": torch.tensor([0, 0])}
        self.outputs = {"sample": _images(0.5, 0.0),
                        "logits": torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]]),
                        "source_logits": torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]])}
        self.fake = self.outputs["sample"]
        self.views, self.logs = None, {}
        self.D = torch.nn.Linear(1, 1)

    def discriminator(self, x):
        return x.mean((1, 2, 3))

    def log(self, name, value):
        self.logs[name] = value


def test_losses_by_hand():
    family = PixelDA()
    step = _Step()
    # softplus(t) = log(1 + e^t): real targets score [-1, 0.5], adapted images [0.5, 0]:
    # (softplus(1) + softplus(-0.5))/2 + (softplus(0.5) + softplus(0))/2
    assert family.d_loss(step=step).item() == pytest.approx(1.7272814, abs=1e-6)
    g = family.g_loss(step=step)
    # alpha = 0.013 times (softplus(-0.5) + softplus(0))/2
    assert g["adv"].item() == pytest.approx(0.0075869571, abs=1e-9)
    # beta = 0.011 times [ CE on adapted: (ln 2 + ln 4/3)/2 + CE on source: (ln 4 + ln 2)/2 ]
    assert g["task"].item() == pytest.approx(0.011 * (0.4904146 + 1.0397208), abs=1e-8)
    assert step.logs["task_accuracy"].item() == 1.0  # argmax [0, 0] -> 0 (the first), [ln 3, 0] -> 0: both right


def test_mnist_negative_task():
    train, target, target_labels = negative_task("train")
    assert train.spec.pairing == "unpaired" and train.spec.domains == ("digit", "negative")
    assert train.spec.num_classes == 10 and len(train.x) == len(train.labels) == 2250
    assert torch.equal(train.unpaired["b"], target) and len(target_labels) == 2250
    test, negatives, digits = negative_task("test")
    assert torch.equal(negatives, 255 - test.x) and torch.equal(test.labels, digits) and len(digits) == 500


def test_needs_a_labelled_source():
    data = DataSpec("u", (1, 8, 8), pairing="unpaired", domains=("a", "b"))
    with pytest.raises(PluginError, match="source domain's labels"):
        make_plugin(PixelDA, data).build_generator(data=data)


def test_generator_outputs_and_translation():
    spec = DataSpec("l", (1, 8, 8), 10, pairing="unpaired", domains=("a", "b"))
    g = PixelDAGenerator(spec, width=4, blocks=1, noise_dim=3, norm="batch", c_width=4)
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    out = g(g.latent(4, batch=Batch(x, labels=torch.arange(4), extra={"b": x})))
    assert out["sample"].shape == (4, 1, 8, 8) and out["logits"].shape == out["source_logits"].shape == (4, 10)
    g.eval()
    assert g(g.translation_latent(x, 1)).shape == (4, 1, 8, 8)


def test_trains_from_the_command_line(tmp_path):
    result = run_cli("train", "-p", "gancore-pixelda", "--data", "mnist-negative", "--steps", "2", "--batch-size", "4",
                     "--set", "gancore-pixelda.width=4", "--set", "gancore-pixelda.blocks=1", "--set",
                     "gancore-pixelda.c_width=4", "--set", "gancore-pixelda.d_width=4", "--out", tmp_path,
                     "--name", "run", "--log-every", "1", "--grid-size", "4", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "task_accuracy" in (tmp_path / "run" / "metrics.jsonl").read_text()

"""Checkpoints: round trips, atomicity, corruption, mismatches."""

from __future__ import annotations

import json

import pytest
import torch

from gancore.checkpoint import (
    flatten,
    list_checkpoints,
    load_checkpoint,
    load_weights,
    module_tensors,
    rng_state,
    save_checkpoint,
    set_rng_state,
    unflatten,
)
from gancore.errors import CheckpointError


def _nets():
    torch.manual_seed(0)
    G = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    D = torch.nn.Linear(4, 1)
    return G, D


def _optimizer_state(D):
    opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))
    D(torch.randn(5, 4)).sum().backward()
    opt.step()
    return opt


def _save(root, step, keep=None):
    G, D = _nets()
    opt = _optimizer_state(D)
    state = {"opt_d": opt.state_dict(), "plugins": {"p": {"k": torch.tensor([1.5])}}, "sampler": {"epoch": 2}}
    path = save_checkpoint(root, step, module_tensors(G), module_tensors(D), state, {"family": "f"}, keep=keep)
    return path, G, D, opt


def test_round_trip_restores_weights_and_optimizer_state(tmp_path):
    path, G, D, opt = _save(tmp_path, 10)
    assert path.name == "step-000010"
    ckpt = load_checkpoint(path)
    assert ckpt.step == 10 and ckpt.meta["family"] == "f"
    G2, D2 = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)), torch.nn.Linear(4, 1)
    load_weights(G2, ckpt.generator, "generator")
    load_weights(D2, ckpt.discriminator, "discriminator")
    for a, b in zip(G.state_dict().values(), G2.state_dict().values()):
        assert torch.equal(a, b)
    opt2 = torch.optim.Adam(D2.parameters(), lr=0.1)
    opt2.load_state_dict(ckpt.state["opt_d"])
    assert opt2.param_groups[0]["lr"] == 1e-3 and opt2.param_groups[0]["betas"] == (0.5, 0.9)
    for key in ("exp_avg", "exp_avg_sq", "step"):
        assert torch.equal(opt2.state_dict()["state"][0][key], opt.state_dict()["state"][0][key])
    assert ckpt.state["plugins"]["p"]["k"].item() == 1.5 and ckpt.state["sampler"] == {"epoch": 2}


def test_flatten_keeps_key_types_and_tuples():
    tensors = {}
    value = {0: (1, "a", torch.ones(2)), "x": [None, 2.5]}
    skeleton = json.loads(json.dumps(flatten(value, "s", tensors)))
    back = unflatten(skeleton, tensors)
    assert list(back) == [0, "x"] and back[0][:2] == (1, "a") and torch.equal(back[0][2], torch.ones(2))
    assert back["x"] == [None, 2.5]


def test_rng_state_round_trip():
    import random

    import numpy as np

    state = rng_state()
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a


def test_checkpoint_is_written_atomically_and_old_ones_are_pruned(tmp_path):
    for step in (1, 2, 3):
        _save(tmp_path, step, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-000002", "step-000003"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_failed_write_leaves_no_partial_checkpoint(tmp_path):
    with pytest.raises(CheckpointError):
        save_checkpoint(tmp_path, 5, {}, {}, {"bad": object()}, {})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "meta"])
def test_damaged_checkpoint_is_reported(tmp_path, damage):
    path, *_ = _save(tmp_path, 1)
    target = path / "generator.safetensors"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:20])
    elif damage == "flip":
        data = bytearray(target.read_bytes())
        data[-1] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "delete":
        target.unlink()
    else:
        (path / "meta.json").write_text("{not json")
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_mismatched_weights_name_the_first_difference():
    with pytest.raises(CheckpointError, match=r"'weight' has shape \(1, 4\)"):
        load_weights(torch.nn.Linear(5, 1), module_tensors(torch.nn.Linear(4, 1)), "discriminator")
    with pytest.raises(CheckpointError, match="lacks '1.weight'"):
        load_weights(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)),
                     {"0.weight": torch.zeros(2, 2), "0.bias": torch.zeros(2)}, "generator")

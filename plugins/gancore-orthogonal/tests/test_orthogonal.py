"""Orthogonal regularization against the paper's formula on matrices computed by hand."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from gancore_orthogonal import Orthogonal, off_diagonal_gram, weights_of
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def test_off_diagonal_gram_by_hand():
    # Rows (1, 2) and (3, 4): W W^T = [[5, 11], [11, 25]]; the off-diagonal squares 121 + 121.
    assert off_diagonal_gram(torch.tensor([[1.0, 2.0], [3.0, 4.0]])).item() == 242.0
    # Orthogonal rows of any norms cost nothing (the diagonal is dropped).
    assert off_diagonal_gram(torch.tensor([[2.0, 0.0], [0.0, 5.0]])).item() == 0.0
    # A (2, 1, 1, 2) convolution is the same 2x2 matrix, one row per output channel.
    assert off_diagonal_gram(torch.tensor([[[[1.0, 2.0]]], [[[3.0, 4.0]]]])).item() == 242.0
    # Three rows (1, 0), (1, 1), (0, 2): Gram off-diagonals 1, 0, 2 (each twice): 2 * (1 + 0 + 4).
    assert off_diagonal_gram(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])).item() == 10.0


def test_the_term_is_beta_times_the_sum_over_g_weights_in_phase_g_only():
    G = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Embedding(3, 2), nn.Conv2d(1, 2, (1, 2), bias=False))
    with torch.no_grad():
        G[0].weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        G[2].weight.copy_(torch.tensor([[[[1.0, 0.0]]], [[[1.0, 1.0]]]]))  # Gram off-diagonal 1, twice
    spectral_norm(G[0])  # the raw weight is regularized, not the normalized one
    step = SimpleNamespace(G=G)
    plugin = Orthogonal(weight=0.5)
    assert plugin.regularize(step, "d") is None
    term = plugin.regularize(step, "g")["orthogonal"]
    assert term.item() == pytest.approx(0.5 * (242.0 + 2.0))
    term.backward()
    assert G[0].parametrizations.weight.original.grad is not None and G[1].weight.grad is None
    assert len(weights_of(G)) == 2

"""gancore-bicyclegan through gancore's conformance kit (hooks, gradients reach the right network, checkpoints,
seeds)."""

from __future__ import annotations


def test_conformance():
    from gancore.testing import check_plugin

    check_plugin("gancore-bicyclegan", options={"width": 4, "e_width": 4, "d_width": 4, "code_dim": 2},
                 data=["8x8 grey pairs", "8x8 grey two domains"])

"""gancore-munit through gancore's conformance kit (hooks, gradients reach the right network, checkpoints, seeds)."""

from __future__ import annotations


def test_conformance():
    from gancore.testing import check_plugin

    check_plugin("gancore-munit", options={"width": 2, "blocks": 1, "d_width": 4, "mlp": 8, "style_dim": 2},
                 data=["8x8 grey two domains", "8x8 grey pairs"])

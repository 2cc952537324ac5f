"""gancore-cyclegan through gancore's conformance kit (hooks, gradients reach the right network, checkpoints, seeds)."""

from __future__ import annotations


def test_conformance():
    from gancore.testing import check_plugin

    check_plugin("gancore-cyclegan", options={"width": 4, "blocks": 1, "d_width": 4},
                 data=["8x8 grey two domains", "8x8 grey pairs"])

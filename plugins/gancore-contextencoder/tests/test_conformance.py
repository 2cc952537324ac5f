"""gancore-contextencoder through gancore's conformance kit (hooks, gradients reach the right network, checkpoints,
seeds)."""

from __future__ import annotations


def test_conformance():
    from gancore.testing import check_plugin

    report = check_plugin("gancore-contextencoder", options={"width": 4, "d_width": 4},
                          data=["8x8 grey", "2-D points"])
    assert "2-D points" in report.skipped  # nothing to inpaint in a vector

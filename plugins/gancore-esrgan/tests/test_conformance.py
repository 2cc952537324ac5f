"""gancore-esrgan through gancore's conformance kit (hooks, gradients reach the right network, checkpoints, seeds)."""

from __future__ import annotations


def test_conformance():
    from gancore.testing import check_plugin

    report = check_plugin("gancore-esrgan", options={"width": 4, "growth": 2, "blocks": 1, "d_width": 4,
                                                     "perceptual": "none"},
                          data=["8x8 grey", "2-D points"])
    assert "2-D points" in report.skipped

"""gancore-stylegan2 through gancore's conformance kit (vector data is refused, so it is skipped)."""

from __future__ import annotations

from gancore.testing import check_plugin

SMALL = {"width": 4, "most": 8, "w_dim": 8, "mapping_layers": 2}


def test_conformance():
    report = check_plugin("gancore-stylegan2", options=SMALL)
    assert "2-D points" in report.skipped


def test_conformance_without_minibatch_stddev():
    check_plugin("gancore-stylegan2", options={**SMALL, "mbstd": 0}, data=["8x8 grey"])

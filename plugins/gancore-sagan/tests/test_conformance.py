"""gancore-sagan through gancore's conformance kit (vector data is refused, so it is skipped)."""

from __future__ import annotations

from gancore.testing import check_plugin


def test_conformance():
    report = check_plugin("gancore-sagan", options={"width": 4})
    assert "2-D points" in report.skipped

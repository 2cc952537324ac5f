"""gancore-ebgan through gancore's conformance kit."""

from gancore.testing import check_plugin


def test_conformance():
    check_plugin("gancore-ebgan", options={"width": 8, "hidden": 32, "code_dim": 8})

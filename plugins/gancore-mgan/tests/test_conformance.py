"""gancore-mgan through gancore's conformance kit."""

from gancore.testing import check_plugin


def test_conformance():
    check_plugin("gancore-mgan", options={"width": 8, "hidden": 32})

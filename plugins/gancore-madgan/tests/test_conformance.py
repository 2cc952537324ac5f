"""gancore-madgan through gancore's conformance kit."""

from gancore.testing import check_plugin


def test_conformance():
    check_plugin("gancore-madgan", options={"width": 8, "hidden": 32})

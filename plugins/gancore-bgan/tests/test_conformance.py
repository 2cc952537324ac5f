"""gancore-bgan through gancore's conformance kit."""

from gancore.testing import check_plugin


def test_conformance():
    check_plugin("gancore-bgan", options={"width": 8, "hidden": 32})

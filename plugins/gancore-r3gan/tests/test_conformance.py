"""gancore-r3gan through gancore's conformance kit (hook signatures, networks for every data shape it
supports, finite losses, gradients to the right network, checkpoint round trip, determinism)."""

from gancore.testing import check_plugin


def test_conformance():
    check_plugin("gancore-r3gan", options={"width": 8, "hidden": 16, "group_size": 8})

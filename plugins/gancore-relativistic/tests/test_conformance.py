"""gancore-relativistic through gancore's conformance kit (hook signatures, networks for every data shape it
supports, finite losses, gradients to the right network, checkpoint round trip, determinism)."""

import pytest

from gancore.testing import check_plugin


@pytest.mark.parametrize("loss", ["ragan", "ralsgan"])
def test_conformance(loss):
    check_plugin("gancore-relativistic", options={"loss": loss, "width": 8, "hidden": 32})

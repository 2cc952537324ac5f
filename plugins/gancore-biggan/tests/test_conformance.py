"""gancore-biggan through gancore's conformance kit (hook signatures, networks for every image shape,
finite losses, gradients to the right network, checkpoint round trip, determinism)."""

from gancore.testing import check_plugin


def test_conformance():
    check_plugin("gancore-biggan", options={"width": 8, "shared_dim": 4},
                 data=["8x8 grey", "28x28 grey"])

"""gancore-monitor through gancore's conformance kit, inside a run of the kit's reference family
(hook signatures, finite losses, gradients to the right network, checkpoint round trip of its
state, determinism)."""

from gancore.testing import check_plugin


def test_conformance():
    check_plugin("gancore-monitor", options={"every": 1, "warmup": 0, "window": 12})

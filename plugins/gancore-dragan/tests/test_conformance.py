"""gancore-dragan and the dragan penalty through gancore's conformance kit (hook signatures, networks
for every data shape, finite losses, gradients to the right network, checkpoint round trip, determinism)."""

from __future__ import annotations

from gancore.testing import check_plugin


def test_family_conformance():
    check_plugin("gancore-dragan", options={"width": 8, "hidden": 32})


def test_penalty_conformance():
    # Inside a run of the kit's reference family, and of a family with a convolutional D.
    check_plugin("dragan")
    check_plugin("dragan", family="gancore-dragan", family_options={"width": 8, "hidden": 32}, data=["8x8 grey"])

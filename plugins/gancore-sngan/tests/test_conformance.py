"""gancore-sngan and its spectral-norm add-on through gancore's conformance kit (hook signatures, networks for
every data shape it supports, finite losses, gradients to the right network, checkpoint round trip, determinism).
The add-on runs inside the kit's reference family (MLPs) and inside DCGAN (convolutions)."""

from gancore.testing import check_plugin


def test_family_conformance():
    check_plugin("gancore-sngan", options={"width": 8, "hidden": 32})


def test_spectral_norm_conformance():
    check_plugin("spectral-norm")
    check_plugin("spectral-norm", family="gancore-dcgan", family_options={"width": 8}, data=["8x8 grey"])

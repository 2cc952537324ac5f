"""lecam through gancore's conformance kit, in runs of the kit's reference family (every data shape)
and of DCGAN."""

from gancore.testing import check_plugin


def test_conformance_with_the_reference_family():
    check_plugin("lecam", data=["2-D points", "8x8 grey"])


def test_conformance_with_dcgan():
    check_plugin("lecam", family="gancore-dcgan", family_options={"width": 8}, data=["8x8 grey"])

"""bcr through gancore's conformance kit, in runs of the kit's reference family (vector data refused),
of DCGAN, and of pix2pix (whose D scores a target beside its source image, through its view)."""

import pytest

from gancore.testing import check_plugin


def test_conformance_with_the_reference_family():
    report = check_plugin("bcr", data=["8x8 grey", "32x32 RGB", "2-D points"])
    assert "2-D points" in report.skipped


@pytest.mark.parametrize("family, data", [("gancore-dcgan", "8x8 grey"), ("gancore-pix2pix", "8x8 grey pairs")])
def test_conformance_with_families(family, data):
    check_plugin("bcr", family=family, family_options={"width": 8}, data=[data])

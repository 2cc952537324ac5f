"""gancore-diffaugment through gancore's conformance kit, inside runs of several families: the kit's
reference family (an MLP D on images), DCGAN, and CGAN (whose D takes labels too)."""

import pytest

from gancore.testing import check_plugin


def test_conformance_with_the_reference_family():
    report = check_plugin("gancore-diffaugment", data=["8x8 grey", "32x32 RGB", "2-D points"])
    assert "2-D points" in report.skipped  # vector data is refused with a clear error


@pytest.mark.parametrize("family", ["gancore-dcgan", "gancore-cgan"])
def test_conformance_with_families(family):
    check_plugin("gancore-diffaugment", family=family, family_options={"width": 8}, data=["8x8 grey"])

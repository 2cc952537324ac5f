"""gancore-ada through gancore's conformance kit, with p starting at 0.5 and moving every D update (so
the augmentation and p's state are exercised in the checkpoint round trip): the kit's reference family,
DCGAN, and CGAN (whose D takes labels too)."""

import pytest

from gancore.testing import check_plugin

MOVING = {"initial_p": 0.5, "interval": 1, "ramp": 0.5}


def test_conformance_with_the_reference_family():
    report = check_plugin("gancore-ada", options=MOVING, data=["8x8 grey", "32x32 RGB", "2-D points"])
    assert "2-D points" in report.skipped  # vector data is refused with a clear error


@pytest.mark.parametrize("family", ["gancore-dcgan", "gancore-cgan"])
def test_conformance_with_families(family):
    check_plugin("gancore-ada", options=MOVING, family=family, family_options={"width": 8}, data=["8x8 grey"])

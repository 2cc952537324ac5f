"""r1 and r2 through gancore's conformance kit, in runs of the kit's reference family and of DCGAN."""

from __future__ import annotations

import pytest

from gancore.testing import check_plugin


@pytest.mark.parametrize("name", ["r1", "r2"])
def test_conformance(name):
    check_plugin(name)
    check_plugin(name, family="gancore-dcgan", family_options={"width": 8}, data=["8x8 grey"])

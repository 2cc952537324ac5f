"""Every WGAN plugin through gancore's conformance kit."""

from __future__ import annotations

import pytest

@pytest.mark.parametrize("name", ["gancore-wgan", "clip", "gp", "div"])
def test_conformance(name):
    from gancore.testing import check_plugin

    if name == "gancore-wgan":
        check_plugin(name, options={"width": 8, "hidden": 32})
    else:  # each regularizer inside a run of the kit's reference family and of WGAN itself
        check_plugin(name)
        check_plugin(name, family="gancore-wgan", family_options={"width": 8, "hidden": 32}, data=["8x8 grey"])

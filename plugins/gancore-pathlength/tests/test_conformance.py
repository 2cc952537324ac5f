"""pathlength through gancore's conformance kit, in runs of StyleGAN2 (whose generator outputs w)."""

from __future__ import annotations

from gancore.testing import check_plugin


def test_conformance():
    # every=1 so that the penalty is computed on every checked generator update
    check_plugin("pathlength", options={"every": 1}, family="gancore-stylegan2", data=["8x8 grey", "28x28 grey"],
                 family_options={"width": 4, "most": 8, "w_dim": 8, "mapping_layers": 2})

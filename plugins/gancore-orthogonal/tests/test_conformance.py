"""orthogonal through gancore's conformance kit, on the kit's reference family and on BigGAN."""

from gancore.testing import check_plugin


def test_conformance():
    check_plugin("orthogonal")
    check_plugin("orthogonal", family="gancore-biggan", family_options={"width": 8, "shared_dim": 4},
                 data=["8x8 grey"])

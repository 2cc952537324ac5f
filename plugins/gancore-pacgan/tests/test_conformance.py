"""gancore-pacgan through gancore's conformance kit inside runs of GAN (MLPs, vectors and images) and
DCGAN (convolutions). The kit's in-process reference family cannot be used: PacGAN builds the family's
D a second time through its entry point."""

from gancore.testing import check_plugin


def test_conformance_with_gan():
    check_plugin("gancore-pacgan", family="gancore-gan", family_options={"hidden": 16},
                 data=["2-D points", "8x8 grey"])


def test_conformance_with_dcgan():
    check_plugin("gancore-pacgan", family="gancore-dcgan", family_options={"width": 8}, data=["8x8 grey"],
                 options={"packing": 4})

"""gancore-progan through gancore's conformance kit; one stage per step, so that its 3-step runs, its
checkpoint round trip and its resume cross stage changes and fade-ins."""

from gancore.testing import check_plugin


def test_conformance():
    check_plugin("gancore-progan", options={"width": 16, "stage_steps": 2, "fade": 0.5},
                 data=["8x8 grey", "28x28 grey", "32x32 RGB"])

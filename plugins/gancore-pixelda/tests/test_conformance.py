"""gancore-pixelda through gancore's conformance kit (hooks, gradients reach the right network, checkpoints, seeds)."""

from __future__ import annotations


def test_conformance():
    # The kit's two-domain data carries no labels; PixelDA needs a labelled source domain, so it is
    # checked on labelled two-domain specs added for the duration of the test.
    import attrs

    from gancore.testing import DATA_SPECS, check_plugin

    added = {"8x8 grey labelled two domains": attrs.evolve(DATA_SPECS["8x8 grey two domains"], num_classes=10,
                                                          class_names=tuple(map(str, range(10))))}
    DATA_SPECS.update(added)
    try:
        check_plugin("gancore-pixelda", options={"width": 4, "blocks": 1, "c_width": 4, "d_width": 4},
                     data=list(added))
    finally:
        for name in added:
            del DATA_SPECS[name]

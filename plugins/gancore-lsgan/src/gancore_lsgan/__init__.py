"""LSGAN (Mao et al., 2017) as a gancore family.

Losses, with the paper's a-b-c coding (``a`` the target of fake data, ``b``
of real data, ``c`` the value G wants D to believe for fake data)::

    min_D  1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]
    min_G  1/2 E[(D(G(z)) - c)^2]

The default is the paper's 0-1-1 coding (``a = 0, b = 1, c = 1``); the
Pearson-chi^2 coding is ``a = -1, b = 1, c = 0``. D outputs a raw score (no
sigmoid). Networks: DCGAN-style all-convolutional G and D with BatchNorm for
images of 28x28 and larger (the paper's architectures are DCGAN-derived),
MLPs for vector data (``ring``) and, 512 units wide, for small images
(``digits``). Defaults follow the data (``DataSpec.kind``): Adam with beta1 =
0.5 (the paper's), at lr 1e-3 decayed linearly to 0 with R1 (gamma 1 on
vectors, 0.1 on images) and, on images, an EMA of G for sampling and no
BatchNorm in D; at the paper's lr 2e-4 with BatchNorm in D, LSGAN collapsed
onto one class of ``mnist`` (docs/families/lsgan.md has the measurements).
"""

from __future__ import annotations

from gancore import hookimpl
from gancore.losses import least_squares_d, least_squares_g
from gancore.nets import StandardNetworks
from gancore.plugins import Arch, FiniteFloat, Norm, PositiveInt

_RECIPE = {"lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear"}
#: Training defaults by data kind (``DataSpec.kind``), over gancore's own (Adam, betas (0.5, 0.999), one
#: D step per G step). On mnist the paper's lr 2e-4 (constant, no R1, no EMA, BatchNorm in D) collapsed
#: onto one class (292x the FID floor at 2,000 steps); this recipe reached 13.3x with 10/10 classes.
DEFAULTS = {
    "vector": {**_RECIPE, "regularizers": {"r1": 1.0}},
    "small-image": {**_RECIPE, "regularizers": {"r1": 0.1}, "plugins": ["ema"]},
    "image": {**_RECIPE, "regularizers": {"r1": 0.1}, "plugins": ["ema"]},
}


class LSGAN(StandardNetworks):
    """Mao et al. 2017: least-squares losses (a-b-c = 0-1-1), DCGAN-style networks."""

    #: On small images fully connected networks of 512 units (2.2x the FID floor on ``digits``; the
    #: DCGAN-style networks without BatchNorm reach 2.9x, with it 13x); elsewhere DCGAN-style ones.
    NETWORKS = {"small-image": {"arch": "mlp", "hidden": 512}, "image": {"norm": "none"}}

    def __init__(self, a: FiniteFloat = 0.0, b: FiniteFloat = 1.0, c: FiniteFloat = 1.0, width: PositiveInt = 64,
                 hidden: PositiveInt | None = None, norm: Norm | None = None, arch: Arch | None = None):
        if float(a) == float(b):
            raise ValueError(f"the fake target a and the real target b must differ, got a = b = {a}")
        self.a, self.b, self.c = float(a), float(b), float(c)
        self.width, self.hidden, self.norm, self.arch = int(width), hidden, norm, arch

    @hookimpl
    def default_config(self, data):
        return DEFAULTS[data.kind]

    @hookimpl
    def d_loss(self, step):
        return least_squares_d(*step.real_and_fake_scores(), a=self.a, b=self.b)

    @hookimpl
    def g_loss(self, step):
        return least_squares_g(step.fake_scores(), c=self.c)

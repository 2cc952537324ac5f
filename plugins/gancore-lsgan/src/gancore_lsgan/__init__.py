"""LSGAN (Mao et al., 2017) as a gancore family.

Losses, with the paper's a-b-c coding (``a`` the target of fake data, ``b``
of real data, ``c`` the value G wants D to believe for fake data)::

    min_D  1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]
    min_G  1/2 E[(D(G(z)) - c)^2]

The default is the paper's 0-1-1 coding (``a = 0, b = 1, c = 1``); the
Pearson-chi^2 coding is ``a = -1, b = 1, c = 0``. D outputs a raw score (no
sigmoid). Networks: DCGAN-style all-convolutional G and D for images of 28x28
and larger (the paper's architectures are DCGAN-derived), two convolutions per
resolution by default there (``depth``), MLPs for vector data (``ring``) and,
512 units wide, for small images (``digits``). Defaults follow the data
(``DataSpec.kind``): on ``ring`` and ``digits`` Adam with beta1 = 0.5 (the
paper's), at lr 1e-3 decayed linearly to 0 with R1 (gamma 1 on vectors, 0.1
on images) and, on images, an EMA of G for sampling; on 28x28 and larger
DCGAN's recipe there (``SMALL_DATA["image"]``: batch 128, lr 5e-4, betas
(0, 0.99), R1 gamma 1, EMA, 2,000 steps), no BatchNorm in D: 1.7x the FID
floor on ``mnist``. At the paper's lr 2e-4 with BatchNorm in D, LSGAN
collapsed onto one class of ``mnist`` (docs/families/lsgan.md).
"""

from __future__ import annotations

from gancore import hookimpl
from gancore.declaration import FiniteFloat, declare, option
from gancore.losses import least_squares_d, least_squares_g
from gancore.nets import StandardNetworks
from gancore_ema import SMALL_DATA

#: Training defaults by data kind (``DataSpec.kind``), over gancore's own (Adam, betas (0.5, 0.999), one
#: D step per G step): the small-data recipe everywhere. On mnist the paper's lr 2e-4 (constant, no R1,
#: no EMA, BatchNorm in D) collapsed onto one class (292x the FID floor at 2,000 steps); the small
#: images' recipe reached 13.3x with 10/10 classes, the 28x28 one with ``depth`` 2 1.7x.
DEFAULTS = {
    "vector": SMALL_DATA["vector"],
    "small-image": SMALL_DATA["small-image"],
    "image": SMALL_DATA["image"],
}
#: Option defaults by data kind: on small images fully connected networks of 512 units (2.2x the FID
#: floor on ``digits``; the DCGAN-style networks without BatchNorm reach 2.9x, with it 13x); elsewhere
#: DCGAN-style ones, on 28x28 and larger with two convolutions per resolution.
OPTION_DEFAULTS = {"small-image": {"arch": "mlp", "hidden": 512}, "image": {"norm": "none", "depth": 2}}


#: Mao et al.'s settings (``--preset paper``): DCGAN-derived networks with BatchNorm in D, Adam lr 2e-4,
#: beta1 0.5, a-b-c 0-1-1, no regularizer, no average of G.
PAPER = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "lr_schedule": "constant", "batch_size": 64,
         "n_critic": 1, "latent_dim": 100, "regularizers": {},
         "options": {"gancore-lsgan": {"arch": "conv", "norm": "batch", "depth": 1, "a": 0.0, "b": 1.0, "c": 1.0}}}


@declare
class LSGAN(StandardNetworks):
    """Mao et al. 2017: least-squares losses (a-b-c = 0-1-1), DCGAN-style networks."""

    kind = "family"
    defaults = DEFAULTS
    paper = PAPER
    option_defaults = OPTION_DEFAULTS

    a: FiniteFloat = option(0.0, help="D's target for fakes.")
    b: FiniteFloat = option(1.0, help="D's target for real samples (must differ from a).")
    c: FiniteFloat = option(1.0, help="The value G wants D to give its fakes.")

    def __attrs_post_init__(self):
        if self.a == self.b:
            raise ValueError(f"the fake target a and the real target b must differ, got a = b = {self.a}")

    @hookimpl
    def d_loss(self, step):
        return least_squares_d(*step.real_and_fake_scores(), a=self.a, b=self.b)

    @hookimpl
    def g_loss(self, step):
        return least_squares_g(step.fake_scores(), c=self.c)

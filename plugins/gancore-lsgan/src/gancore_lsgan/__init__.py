"""LSGAN (Mao et al., 2017) as a gancore family.

Losses, with the paper's a-b-c coding (``a`` the target of fake data, ``b``
of real data, ``c`` the value G wants D to believe for fake data)::

    min_D  1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]
    min_G  1/2 E[(D(G(z)) - c)^2]

The default is the paper's 0-1-1 coding (``a = 0, b = 1, c = 1``); the
Pearson-chi^2 coding is ``a = -1, b = 1, c = 0``. D outputs a raw score (no
sigmoid). Networks: DCGAN-style all-convolutional G and D with BatchNorm for
images (the paper's architectures are DCGAN-derived), MLPs for vector data
(``ring``). Defaults: Adam with beta1 = 0.5, lr 2e-4.
"""

from __future__ import annotations

from gancore import hookimpl
from gancore.losses import least_squares_d, least_squares_g
from gancore.nets import StandardNetworks, check_arch
from gancore.plugins import Arch, FiniteFloat, Norm, PositiveInt


class LSGAN(StandardNetworks):
    """Mao et al. 2017: least-squares losses (a-b-c = 0-1-1), DCGAN-style networks."""

    def __init__(self, a: FiniteFloat = 0.0, b: FiniteFloat = 1.0, c: FiniteFloat = 1.0, width: PositiveInt = 64,
                 hidden: PositiveInt = 256, norm: Norm = "batch", arch: Arch = "conv"):
        if float(a) == float(b):
            raise ValueError(f"the fake target a and the real target b must differ, got a = b = {a}")
        self.a, self.b, self.c = float(a), float(b), float(c)
        self.width, self.hidden, self.norm = int(width), int(hidden), norm
        self.arch = check_arch(arch)

    @hookimpl
    def default_config(self, data):
        defaults = {"optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)}
        if not data.is_image:
            defaults["latent_dim"] = 8
        return defaults

    @hookimpl
    def d_loss(self, step):
        return least_squares_d(*step.real_and_fake_scores(), a=self.a, b=self.b)

    @hookimpl
    def g_loss(self, step):
        return least_squares_g(step.fake_scores(), c=self.c)

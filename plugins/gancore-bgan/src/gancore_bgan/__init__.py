"""Boundary-seeking GAN (Hjelm et al., 2018, "Boundary-Seeking Generative Adversarial Networks"), continuous data.

D is the usual logistic discriminator (:func:`gancore.losses.logistic_d`). The generator does not
push its samples *past* D's decision boundary but *onto* it: at the optimal D,
``D / (1 - D) = p_data / p_g`` is an importance weight, and it is 1 exactly where ``p_g`` matches
the data, so for continuous data G minimises the squared log-ratio::

    L_G = 1/2 E_z[(log D(G(z)) - log(1 - D(G(z))))^2]

With ``D = sigmoid(score)`` the log-ratio is the score itself, so ``L_G = 1/2 E[score^2]``
(:func:`gancore.losses.boundary_seeking_g`). (The paper's discrete-data estimator, importance
weights over several samples per ``z``, is not implemented: gancore's data are continuous.)

Networks: the standard ones per data kind (:class:`gancore.nets.StandardNetworks`): MLPs of 512
units on 8x8 images (as ``gancore-gan``), DCGAN-style convolutions without normalization in D, two per
resolution, on 28x28 and larger, an MLP on vectors. Defaults: the small-data recipe
(``gancore_ema.SMALL_DATA``), DCGAN's 28x28 recipe on 28x28 images. docs/families/bgan.md has the
paper's settings and the measurements.
"""

from __future__ import annotations

from gancore_ema import SMALL_DATA

from gancore import hookimpl
from gancore.declaration import declare
from gancore.losses import boundary_seeking_g, logistic_d
from gancore.nets import StandardNetworks

#: Training defaults by data kind: the small-data recipe, and on 28x28 and larger DCGAN's measured recipe
#: there (batch 128, lr 5e-4 decayed linearly, betas (0, 0.99), R1 gamma 1 at every D step, EMA, 2,000 steps).
DEFAULTS = {
    "vector": SMALL_DATA["vector"],
    "small-image": SMALL_DATA["small-image"],
    "image": SMALL_DATA["image"],
}
#: Network options by data kind (over StandardNetworks' own): on 28x28 and larger two convolutions per
#: resolution (``depth``; one is too shallow there, DCGAN's finding) and no normalization in D.
OPTION_DEFAULTS = {"small-image": {"arch": "mlp", "hidden": 512, "norm": "none"},
                   "image": {"norm": "none", "depth": 2}}


@declare
class BGAN(StandardNetworks):
    """Hjelm et al. 2018: logistic D; G minimises 1/2 (log D - log(1 - D))^2 at its samples (continuous data)."""

    kind = "family"
    defaults = DEFAULTS
    option_defaults = OPTION_DEFAULTS

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return boundary_seeking_g(step.fake_scores())

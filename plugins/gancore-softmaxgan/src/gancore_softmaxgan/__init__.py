"""Softmax GAN (Lin, 2017, "Softmax GAN") as a gancore family.

D gives each sample an energy ``E(x)`` (here its score is ``s = -E``). A softmax runs over the whole
batch ``B = B+ ∪ B-`` (the real samples and the generated ones), ``Z = sum_{x in B} exp(-E(x))``.
D's target puts ``1/|B+|`` on each real sample and 0 on the fakes; G's target is uniform,
``1/|B|`` on every sample. Both minimise the cross-entropy to their target::

    L_D = sum_{x in B+} E(x) / |B+| + log Z
    L_G = sum_{x in B}  E(x) / |B|  + log Z

(:func:`gancore.losses.softmax_d`, :func:`gancore.losses.softmax_g`). G's loss needs the real
samples' energies too (they are part of ``B`` and of ``Z``), so G's update scores real and fake
together. The paper relates it to importance-sampled GANs: G's target is reached when D cannot
rank reals above fakes within a batch.

Networks: the standard ones per data kind (:class:`gancore.nets.StandardNetworks`): MLPs of 512
units on 8x8 images, DCGAN-style convolutions without normalization in D on 28x28 and larger, an
MLP on vectors. Defaults: the small-data recipe (``gancore_ema.SMALL_DATA``), 5,000 steps with lazy
R1 on 28x28 images. docs/families/softmaxgan.md has the paper's settings and the measurements.
"""

from __future__ import annotations

from gancore_ema import SMALL_DATA

from gancore import hookimpl
from gancore.declaration import declare
from gancore.losses import softmax_d, softmax_g
from gancore.nets import StandardNetworks

#: Training defaults by data kind: the small-data recipe (5,000 steps and lazy R1 on 28x28 images).
DEFAULTS = {
    "vector": SMALL_DATA["vector"],
    "small-image": SMALL_DATA["small-image"],
    "image": {**SMALL_DATA["small-image"], "steps": 5000, "options": {"r1": {"every": 16}}},
}
#: Network options by data kind (over StandardNetworks' own).
OPTION_DEFAULTS = {"small-image": {"arch": "mlp", "hidden": 512, "norm": "none"}, "image": {"norm": "none"}}


@declare
class SoftmaxGAN(StandardNetworks):
    """Lin 2017: softmax over the batch's energies; D targets 1/|B+| on reals, G the uniform target."""

    kind = "family"
    defaults = DEFAULTS
    option_defaults = OPTION_DEFAULTS

    @hookimpl
    def d_loss(self, step):
        return softmax_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        # Z sums over reals and fakes: both scored in G's update (D is frozen there).
        real, fake = step.real_and_fake_scores()
        return softmax_g(real.detach(), fake)

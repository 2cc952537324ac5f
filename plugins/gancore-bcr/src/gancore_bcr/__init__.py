"""Balanced consistency regularization, bCR (Zhao et al. 2021, "Improved Consistency Regularization
for GANs"; consistency regularization from Zhang et al. 2020, "Consistency Regularization for
Generative Adversarial Networks").

A regularizer (``--regularizer bcr`` or ``bcr=LAMBDA``) for any family with an
image discriminator: D should score an image and a semantics-preserving
transformation of it alike, on real *and* generated images. In D's update::

    L_bCR = lambda_real * E_x ||D(x) - D(T(x))||^2 + lambda_fake * E_z ||D(G(z)) - D(T(G(z)))||^2

``T`` is the paper's augmentation for images: a horizontal flip with
probability 1/2 and a zero-padded shift of up to 1/8 of the image size in
each direction (4 pixels on 32x32), drawn per sample. ``D`` is the
adversarial score of each discriminator view (:class:`gancore.step.
DiscriminatorView`: labels, paired images and auxiliary heads are handled
by the family), so it works with every family; both sides of each
difference carry gradients to D, as in the paper. ``||.||^2`` is the mean
over a score's values (one for most families, a patch map for PatchGAN Ds).
``weight`` is lambda_real (the paper's 10) and ``fake_weight``
lambda_fake (unset: equal to ``weight``, as in the paper).
"""

from __future__ import annotations

import torch
from gancore_diffaugment.augment import random_translation

from gancore import hookimpl
from gancore.errors import PluginError
from gancore.declaration import NonNegativeFloat, declare, option


def random_flip(x: torch.Tensor) -> torch.Tensor:
    """Each image flipped left-right with probability 1/2 (one draw per sample)."""
    flip = torch.rand(len(x), device=x.device) < 0.5
    return torch.where(flip.reshape(-1, 1, 1, 1), x.flip(3), x)


def transform(x: torch.Tensor) -> torch.Tensor:
    """bCR's ``T`` for images: a random flip, then a random shift of up to 1/8 of the size."""
    return random_translation(random_flip(x))


def consistency(score, x: torch.Tensor, x_transformed: torch.Tensor) -> torch.Tensor:
    """``E ||D(x) - D(T(x))||^2``: the mean squared difference of the two scores."""
    return (score(x) - score(x_transformed)).pow(2).mean()


@declare
class BCR:
    """Zhao et al. 2021: balanced consistency regularization, lambda_real = lambda_fake = 10 (flip + translation)."""

    kind = "regularizer"

    weight: NonNegativeFloat = option(10.0, help="lambda_real, the weight of the real images' term.")
    fake_weight: NonNegativeFloat | None = option(None, help="lambda_fake, the fakes' (none: the weight).")

    def __attrs_post_init__(self):
        if self.fake_weight is None:
            self.fake_weight = self.weight

    @hookimpl(wrapper=True)
    def build_discriminator(self, data):
        # Refuse vector data when the run is set up, before any training: T transforms images.
        if not data.is_image:
            raise PluginError(f"regularizer 'bcr' transforms images (flip, translation); {data.name!r} is vector "
                              f"data of shape {tuple(data.shape)}. Drop --regularizer bcr for it.")
        return (yield)

    @hookimpl
    def regularize(self, step, phase):
        if phase != "d":
            return None
        return {**step.per_view("bcr_real", lambda view: self.weight * self.penalty(view, view.real)),
                **step.per_view("bcr_fake", lambda view: self.fake_weight * self.penalty(view, view.fake))}

    def penalty(self, view, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise PluginError(f"regularizer 'bcr' transforms images (n, C, H, W), but discriminator view "
                              f"{view.name!r} scores inputs of shape {tuple(x.shape)}.")
        x = x.detach()
        return consistency(view.score, x, transform(x))

"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

An add-on (``--plugin gancore-diffaugment``) for any family with an image
discriminator: every image D sees, real or fake, in D's update and in G's,
first goes through ``T`` = the chosen policies (``policy = "color,translation,
cutout"``: brightness/saturation/contrast, a zero-padded shift of up to 1/8 of
the image, a zeroed square of 1/2 of it), with independent random draws per
sample. ``T`` is differentiable, so G is trained through it::

    L_D = f(D(T(x))) + h(D(T(G(z))))        L_G = g(D(T(G(z))))

Mechanism: a ``build_discriminator`` wrapper (``@hookimpl(wrapper=True)``, as
the ``spectral-norm`` add-on) registers a forward pre-hook on the family's D
that replaces D's first positional input (the images) by ``T`` of it while D
is in training mode. Further inputs (labels, a domain index) pass unchanged;
D's class, attributes and state-dict keys stay the family's own. Regularizers
score inputs through the same D, so a gradient penalty differentiates
``D(T(x))`` with respect to ``x``, the gradient passing through ``T``.

Vector data has no augmentation here: a clear error.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gancore import hookimpl
from gancore.declaration import declare, option
from gancore.errors import PluginError

from gancore_diffaugment.augment import POLICIES, augment, parse_policy

__all__ = ["DiffAugment", "augment", "parse_policy", "POLICIES", "attach"]


def attach(discriminator: nn.Module, policy: tuple[str, ...]) -> nn.Module:
    """Make ``discriminator`` augment its first input with ``policy`` while training; returns it.

    The pre-hook runs on every call of the module (``D(x, ...)``), including
    calls through a distributed wrapper; calls of other methods of D (an
    auto-encoder D's ``error_and_code``) bypass it.
    """

    def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]):
        if not module.training or not args:
            return None
        images = args[0]
        if not isinstance(images, torch.Tensor) or images.dim() != 4:
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise PluginError(f"gancore-diffaugment augments images (n, C, H, W), but this family's "
                              f"discriminator was given {shape}: use it with families whose D scores images.")
        return (augment(images, policy), *args[1:]), kwargs

    discriminator.register_forward_pre_hook(hook, with_kwargs=True)
    return discriminator


@declare
class DiffAugment:
    """Zhao et al. 2020: differentiable color/translation/cutout on every image D sees, real and fake."""

    kind = "add-on"

    policy: str = option("color,translation,cutout", help=f"Comma-separated augmentations, of: {', '.join(POLICIES)}.")

    def __attrs_post_init__(self):
        self.operations = parse_policy(self.policy)

    @hookimpl(wrapper=True)
    def build_discriminator(self, data):
        if not data.is_image:
            raise PluginError(f"gancore-diffaugment augments images; {data.name!r} is vector data of shape "
                              f"{tuple(data.shape)}. Drop --plugin gancore-diffaugment for it.")
        discriminator = yield
        if isinstance(discriminator, nn.Module):
            attach(discriminator, self.operations)
        return discriminator

"""PixelDA (Bousmalis, Silberman, Dohan, Erhan & Krishnan, *Unsupervised Pixel-Level Domain
Adaptation with Generative Adversarial Networks*, 2017) as a gancore family.

A generator adapts *labelled source* images to look like the *unlabelled
target* domain, and a task classifier ``T`` learns from the adapted images
with the source labels; ``T`` then classifies target images. Data: two
unpaired domains whose first domain is labelled (``--data mnist-negative``:
digits with labels -> negatives without).

* ``G(x_s, z)``: the source image and a noise map (``z ~ U(-1, 1)``, 10-d,
  through a linear layer to one image-sized channel) -> a 3x3 convolution,
  ``blocks`` residual blocks (BatchNorm), a 3x3 convolution to the image,
  tanh. ``T``: :class:`gancore.nets.translation.ConvClassifier` (layer norm), part of the
  generator module (trained by G's optimizer, as ``min_{G,T}`` says).
* ``D``: :class:`gancore.nets.ConvDiscriminator` on target-domain images.
* Losses (``softplus(t) = log(1 + e^t)``, ``CE`` the cross-entropy)::

      L_D   = E softplus(-D(x_t)) + E softplus(D(G(x_s, z)))
      L_G,T = alpha E softplus(-D(G(x_s, z)))
              + beta [ E CE(T(G(x_s, z)), y_s) + E CE(T(x_s), y_s) ]

  the paper's ``min_{G,T} max_D alpha L_d + beta L_t`` with its alpha =
  0.013, beta = 0.011 (its content-similarity loss needs foreground masks
  of rendered objects and is left out, as PyTorch-GAN's version does).
* Defaults: Adam, lr 2e-4, betas (0.5, 0.999) (gancore's; the paper uses
  lr 1e-3 decayed by 0.95 every 20,000 steps, batch 32).
"""

from __future__ import annotations

__all__ = ["PixelDA", "PixelDAGenerator"]


def __getattr__(name):
    # The family lives in gancore_pixelda.family and is imported on first use: the distribution's
    # second entry point (gancore_pixelda.tasks, its data) is loaded by `gan --help`, which must not
    # import torch.
    if name in __all__:
        from gancore_pixelda import family

        return getattr(family, name)
    raise AttributeError(f"module 'gancore_pixelda' has no attribute {name!r}")

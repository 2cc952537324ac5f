"""The generator base class of inpainting families: :class:`Inpainter`."""

from __future__ import annotations

import torch
from gancore_translation.generator import Translator

from gancore.errors import ConfigError, PluginError
from gancore.generator import Latent
from gancore_inpainting.masks import Placement, cut, hole_side, square_masks


class Inpainter(Translator):
    """Base class for inpainting generators: an image with a hole in, the completed image out.

    The latent is cut from the real batch, not drawn from noise::

        {"source": images with the hole set to 0, "mask": (N, 1, H, W) 1 in the hole,
         "source_domain": 0, "target": 1}

    and ``forward(latent)`` returns ``source`` outside the hole and the
    network's fill (:meth:`fill`, implemented by each family) inside it, so a
    known pixel is never changed. Row ``i`` of the fakes is the completion
    of row ``i`` of the real batch: a family's reconstruction loss compares
    ``step.fake`` with ``step.real`` over ``step.latent["mask"]``.

    As a :class:`~gancore_translation.generator.Translator` with the two
    "domains" ``masked`` and ``completed`` it works with ``gan translate`` (the
    default hole) and with ``gan inpaint --mask`` (any hole).

    :param size: the image side in pixels.
    :param fraction: the hole's side as a fraction of the image's.
    :param placement: ``"centre"`` or ``"random"`` (a position drawn for every image).
    """

    def __init__(self, size: int, fraction: float, placement: Placement):
        super().__init__(("masked", "completed"))
        self.size, self.side, self.placement = int(size), hole_side(size, fraction), placement

    def latent(self, n, labels=None, batch=None, rng=None) -> Latent:
        if batch is None:
            raise ConfigError("this generator inpaints images: it needs images with holes, not noise. Use "
                              "`gan inpaint CHECKPOINT IMAGE... --mask MASK -o OUT`.")
        images = batch.x[:n].to(self.latent_device()).float()
        mask = square_masks(len(images), self.size, self.side, self.placement, rng=rng, device=images.device)
        return self.masked_latent(images, mask)

    def masked_latent(self, images: torch.Tensor, mask: torch.Tensor) -> Latent:
        """The latent that fills the holes ``mask`` (``(N or 1, 1, H, W)``, 1 = missing) of ``images``."""
        device = self.latent_device()
        images = images.to(device).float()
        mask = mask.to(device).float().expand(len(images), 1, *images.shape[-2:])
        n = len(images)
        return {"source": cut(images, mask), "mask": mask,
                "source_domain": torch.zeros(n, dtype=torch.int64, device=device),
                "target": torch.ones(n, dtype=torch.int64, device=device)}

    def translation_latent(self, images: torch.Tensor, target: int = 1, source_domain=None) -> Latent:
        """``gan translate``: fill this generator's default hole (the centre square) of ``images``."""
        mask = square_masks(1, self.size, self.side, "centre")
        return self.masked_latent(images, mask)

    def fill(self, source: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The network's image for ``source`` (holes at 0) and ``mask``; only its masked pixels are used."""
        raise NotImplementedError

    def forward(self, latent) -> torch.Tensor:
        mask = latent["mask"]
        return latent["source"] * (1 - mask) + self.fill(latent["source"], mask) * mask


def require_images(data, family: str) -> None:
    """Refuse data an inpainting family cannot train on (vectors have no pixels to fill)."""
    if not data.is_image:
        raise PluginError(f"{family} inpaints images; {data.name!r} has samples of shape {data.shape}.")

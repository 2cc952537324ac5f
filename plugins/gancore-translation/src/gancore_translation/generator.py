"""The generator base class of image-to-image families: :class:`Translator`."""

from __future__ import annotations

import torch

from gancore.errors import ConfigError, DataError
from gancore.generator import Generator, Latent, draw
from gancore_translation.domains import SECOND


class Translator(Generator):
    """Base class for image-to-image generators: a source image and a target domain in, an image out.

    The latent is drawn from the batch, not from noise::

        {"source": images, "source_domain": int64 domains, "target": int64 domains}

    and ``forward(latent)`` returns the source images translated into their
    target domains. Where the sources come from depends on the data (see
    :mod:`gancore_translation.domains`):

    * two-domain data (paired or unpaired, ``batch.extra["b"]`` present): the
      first ``n`` images of ``batch.x`` (domain 0) with target 1, followed,
      when ``both_ways``, by the first ``n`` images of ``batch.extra["b"]``
      (domain 1) with target 0, so the latent has ``2n`` rows;
    * multi-domain data (labels are domains): the first ``n`` images of
      ``batch.x``, their labels as source domains, and targets ``labels``
      when given, else drawn uniformly from all domains.

    :param domains: the domain names (their order is the domain index).
    :param both_ways: for two-domain data, also translate B -> A.
    :param choose_target: the target may be chosen (``gan sample``/
        ``translate --to``, fixed grids cycle through domains); makes the
        generator :attr:`conditional` with one class per domain.
    """

    #: Tells users and tools that this generator translates images.
    translates = True

    def __init__(self, domains, both_ways: bool = False, choose_target: bool = False):
        super().__init__(latent_dim=0, num_classes=len(domains) if choose_target else 0)
        self.domains = tuple(str(d) for d in domains)
        self.both_ways = bool(both_ways)

    def latent(self, n, labels=None, batch=None, rng=None) -> Latent:
        if batch is None:
            raise ConfigError("this generator translates images: it needs source images, not noise. Use "
                              "`gan translate CHECKPOINT IMAGE... -o OUT`.")
        device = self.latent_device()
        second = batch.extra.get(SECOND) if batch.extra else None
        if second is not None:
            source = batch.x[:n]
            domain = torch.zeros(len(source), dtype=torch.int64)
            if self.both_ways:
                source = torch.cat([source, second[:n]])
                domain = torch.cat([domain, torch.ones(len(second[:n]), dtype=torch.int64)])
            domain = domain.to(device)
            target = 1 - domain
        else:
            if batch.labels is None:
                raise DataError("translation needs two-domain data (paired or unpaired folders A and B) or "
                                "labelled data whose classes are the domains; this data has neither.")
            source, domain = batch.x[:n], batch.labels[:n].to(device)
            target = None
        if labels is not None:
            target = torch.as_tensor(labels)[: len(source)].to(device)
        elif target is None:
            target = draw(torch.randint, 0, len(self.domains), (len(source),), rng=rng, device=device)
        return {"source": source.to(device), "source_domain": domain, "target": target.long()}

    def translation_latent(self, images: torch.Tensor, target: int, source_domain: int | None = None) -> Latent:
        """The latent that translates ``images`` (in ``[-1, 1]``) into domain ``target``.

        ``source_domain`` defaults to the other domain for two domains, else
        ``-1`` (unknown: the generator must not need it to translate).
        """
        device = self.latent_device()
        if source_domain is None:
            source_domain = 1 - target if len(self.domains) == 2 else -1
        n = len(images)
        return {"source": images.to(device), "source_domain": torch.full((n,), source_domain, device=device),
                "target": torch.full((n,), target, device=device)}

    def allowed_targets(self) -> tuple[int, ...]:
        """The target domains this translator can produce."""
        if self.conditional or len(self.domains) != 2:
            return tuple(range(len(self.domains)))
        return (0, 1) if self.both_ways else (1,)

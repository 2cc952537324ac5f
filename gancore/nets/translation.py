"""Network pieces of the two-domain and translation families, for the next family to reuse.

Plain torch modules (no plugin imports), sized from a channel count and an
image size; any square size works (inputs are padded to the multiple the
down-sampling path needs and outputs cropped back):

* :func:`route`: apply one module per domain to the rows of that domain
  (one forward over a batch that mixes domains);
* :class:`ResidualBlock`, :class:`ImageEncoder` (``c7s1-w``, strided
  convolutions, residual blocks: UNIT's and MUNIT's content encoders) and
  :class:`ImageDecoder` (residual blocks, up-sampling, ``c7s1`` to tanh);
* :class:`AdaIN`, :class:`AdaINResidualBlock`, :class:`StyleEncoder` and
  :class:`AdaINDecoder` (MUNIT: a style code sets every instance norm's scale
  and shift through an MLP);
* :class:`VectorEncoder`: an image to the mean and log-variance of a
  Gaussian code (BicycleGAN's encoder of the target's style);
* :class:`ConvClassifier`: a small image classifier (PixelDA's task network);
* :class:`CoupledGenerator` and :class:`CoupledDiscriminator` (CoGAN: two
  generators sharing their first layers, two discriminators sharing their
  last layers);
* the Gaussian helpers :func:`reparameterize` and :func:`gaussian_kl`;
* the losses two-domain families share: least squares GAN terms
  (:func:`least_squares_d`, :func:`least_squares_g`), a both-ways
  translator's D terms and G's adversarial term (:func:`two_domain_d_loss`,
  :func:`two_domain_g_adversarial`), :func:`per_domain_l1` and the
  regularizers' per-domain views (:func:`domain_views`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gancore.nets.layers import init_weights, norm_2d


def route(nets: Sequence[nn.Module], x: torch.Tensor, index: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
    """``nets[index[i]](x[i])`` for every row ``i``, in one call per module, in the input's row order.

    Extra ``args`` (per-row tensors, e.g. style codes) are routed with ``x``.
    """
    outputs, rows = [], []
    for domain, net in enumerate(nets):
        where = (index == domain).nonzero().flatten()
        if len(where):
            outputs.append(net(x[where], *(a[where] for a in args)))
            rows.append(where)
    if not outputs:
        raise ValueError(f"no row has an index in 0..{len(nets) - 1}.")
    out, rows = torch.cat(outputs), torch.cat(rows)
    return out[torch.argsort(rows)]


def pad_to(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Pad ``x`` (replicating its border) so that height and width are multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    if any(pad):
        x = nn.functional.pad(x, pad, mode="replicate")
    return x, pad


def crop(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """Undo :func:`pad_to` (with the scale of the map now, ``x``, the same as the padded input's)."""
    left, right, top, bottom = pad
    return x[..., top:x.shape[-2] - bottom, left:x.shape[-1] - right]


# --- losses of two-domain families -------------------------------------------------------

def least_squares_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``1/2 [ E (real - 1)^2 + E fake^2 ]`` over raw (patch) scores."""
    return 0.5 * (F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(fake, torch.zeros_like(fake)))


def least_squares_g(fake: torch.Tensor) -> torch.Tensor:
    """``E (fake - 1)^2`` over raw (patch) scores."""
    return F.mse_loss(fake, torch.ones_like(fake))


def two_domain_d_loss(step, score_loss=least_squares_d) -> dict:
    """D's terms ``d_a``, ``d_b`` of a both-ways translator: each domain's real images against the
    translations into it; publishes one view per domain for regularizers."""
    real_a, real_b = step.batch.x, step.batch.extra["b"]
    target = step.latent["target"]
    fake_a, fake_b = step.fake[target == 0], step.fake[target == 1]
    step.views = domain_views(step, (real_a, real_b), (fake_a, fake_b))
    terms = {}
    for domain, name, real, fake in ((0, "d_a", real_a, fake_a), (1, "d_b", real_b, fake_b)):
        scores = step.discriminator(torch.cat([real, fake]), domain)
        terms[name] = score_loss(*scores.split([len(real), len(fake)]))
    return terms


def two_domain_g_adversarial(step, score_loss=least_squares_g) -> torch.Tensor:
    """G's adversarial term of a both-ways translator: the translations into each domain scored by
    that domain's D, summed over the domains."""
    target = step.latent["target"]
    return sum(score_loss(step.discriminator(step.fake[target == d], d)) for d in (0, 1) if (target == d).any())


def per_domain_l1(output: torch.Tensor, reference: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
    """The sum over domains of the mean absolute difference of that domain's rows."""
    return sum((output[domain == d] - reference[domain == d]).abs().mean() for d in domain.unique())


def domain_views(step, reals, fakes) -> tuple:
    """One :class:`gancore.step.DiscriminatorView` per domain (``d_a``, ``d_b``, ...) of a discriminator
    module called as ``D(x, domain)``; its parameters are ``D.nets[domain]``'s when it holds one network
    per domain, else all of ``D``'s."""
    from gancore.step import DiscriminatorView

    nets = getattr(step.D, "nets", None)
    return tuple(DiscriminatorView(real=real, fake=fake, name=f"d_{chr(ord('a') + domain)}",
                                   parameters=nets[domain].parameters if nets is not None else step.D.parameters,
                                   score=lambda x, domain=domain: step.discriminator(x, domain))
                 for domain, (real, fake) in enumerate(zip(reals, fakes)))


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
    """``mu + exp(logvar / 2) * eps``, ``eps ~ N(0, I)`` (or ``noise`` when given)."""
    eps = torch.randn_like(mu) if noise is None else noise
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor | None = None) -> torch.Tensor:
    """``KL(N(mu, exp(logvar)) || N(0, I))`` summed over a code's dimensions, averaged over the rows:
    ``mean_i 1/2 sum_j (mu_ij^2 + exp(logvar_ij) - 1 - logvar_ij)``. Without ``logvar`` (unit
    variance, as UNIT's encoders have) it is ``mean_i 1/2 sum_j mu_ij^2``."""
    if logvar is None:
        return 0.5 * mu.pow(2).flatten(1).sum(1).mean()
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).flatten(1).sum(1).mean()


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions (reflection padding, ``norm``, ReLU between) plus the identity."""

    def __init__(self, channels: int, norm: str = "instance"):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm_2d(norm, channels),
                                  nn.ReLU(True), nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3),
                                  norm_2d(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ImageEncoder(nn.Module):
    """``c7s1-w``, ``downs`` strided 4x4 convolutions doubling the width, ``blocks`` residual blocks.

    The output is a feature map ``2**downs`` times smaller than the (padded) input, with
    :attr:`out_channels` channels. ``blocks=0`` ends after the down-sampling.
    """

    def __init__(self, in_channels: int, width: int = 64, downs: int = 2, blocks: int = 3, norm: str = "instance"):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7), norm_2d(norm, width), nn.ReLU(True)]
        w = width
        for _ in range(downs):
            layers += [nn.Conv2d(w, 2 * w, 4, 2, 1), norm_2d(norm, 2 * w), nn.ReLU(True)]
            w *= 2
        layers += [ResidualBlock(w, norm) for _ in range(blocks)]
        self.net = nn.Sequential(*layers)
        self.out_channels, self.downs = w, downs
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ImageDecoder(nn.Module):
    """``blocks`` residual blocks, ``ups`` x2 nearest up-samplings each followed by a 5x5 convolution
    halving the width, then ``c7s1`` to ``out_channels`` and tanh (UNIT's and MUNIT's decoders)."""

    def __init__(self, channels: int, out_channels: int, ups: int = 2, blocks: int = 3, norm: str = "instance",
                 up_norm: str | None = None):
        super().__init__()
        up_norm = norm if up_norm is None else up_norm
        self.blocks = nn.Sequential(*[ResidualBlock(channels, norm) for _ in range(blocks)])
        layers, w = [], channels
        for _ in range(ups):
            layers += [nn.Upsample(scale_factor=2), nn.Conv2d(w, w // 2, 5, 1, 2), norm_2d(up_norm, w // 2),
                       nn.ReLU(True)]
            w //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(w, out_channels, 7), nn.Tanh()]
        self.up = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.blocks(x))


class AdaIN(nn.Module):
    """Adaptive instance normalization (Huang & Belongie 2017): ``gamma * (x - mean) / std + beta``
    per sample and channel, the statistics over the spatial positions, ``gamma`` and ``beta``
    given per sample (``(N, C)`` each)."""

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        mean = x.mean((2, 3), keepdim=True)
        var = x.var((2, 3), keepdim=True, unbiased=False)
        return gamma[:, :, None, None] * (x - mean) / torch.sqrt(var + self.eps) + beta[:, :, None, None]


class AdaINResidualBlock(nn.Module):
    """A residual block whose two normalizations are :class:`AdaIN`; ``forward(x, params)`` takes
    ``params`` of width :attr:`num_params` (``gamma1, beta1, gamma2, beta2``, ``C`` each)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3))
        self.conv2 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3))
        self.norm = AdaIN()
        self.num_params = 4 * channels

    def forward(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        g1, b1, g2, b2 = params.chunk(4, dim=1)
        h = torch.relu(self.norm(self.conv1(x), 1 + g1, b1))
        return x + self.norm(self.conv2(h), 1 + g2, b2)


class StyleEncoder(nn.Module):
    """MUNIT's style encoder: ``c7s1-w``, ``downs`` strided convolutions (no normalization: it would
    remove the style), global average pooling, a 1x1 convolution to ``style_dim``."""

    def __init__(self, in_channels: int, style_dim: int = 8, width: int = 64, downs: int = 4, max_width: int = 256):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7), nn.ReLU(True)]
        w = width
        for _ in range(downs):
            nxt = min(2 * w, max_width)
            layers += [nn.Conv2d(w, nxt, 4, 2, 1), nn.ReLU(True)]
            w = nxt
        layers += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(w, style_dim, 1)]
        self.net = nn.Sequential(*layers)
        self.downs = downs
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, _ = pad_to(x, 2 ** self.downs)
        return self.net(x).flatten(1)


class AdaINDecoder(nn.Module):
    """MUNIT's decoder: ``blocks`` :class:`AdaINResidualBlock`\\ s whose scales and shifts an MLP
    (``style_dim -> mlp -> mlp -> params``) computes from the style code, then up-sampling as
    :class:`ImageDecoder` with layer normalization, ``c7s1`` and tanh."""

    def __init__(self, channels: int, out_channels: int, style_dim: int = 8, ups: int = 2, blocks: int = 3,
                 mlp: int = 256):
        super().__init__()
        self.blocks = nn.ModuleList(AdaINResidualBlock(channels) for _ in range(blocks))
        total = sum(b.num_params for b in self.blocks)
        self.mlp = nn.Sequential(nn.Linear(style_dim, mlp), nn.ReLU(True), nn.Linear(mlp, mlp), nn.ReLU(True),
                                 nn.Linear(mlp, total))
        self.up = ImageDecoder(channels, out_channels, ups, blocks=0, up_norm="layer")
        init_weights(self)

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        params = self.mlp(style)
        for block, p in zip(self.blocks, params.split([b.num_params for b in self.blocks], dim=1)):
            content = block(content, p)
        return self.up(content)


class VectorEncoder(nn.Module):
    """An image to the mean and log-variance of a ``code_dim`` Gaussian (BicycleGAN's ``E``):
    ``downs`` strided 4x4 convolutions (LeakyReLU 0.2, ``norm`` after the first), global average
    pooling, two linear heads."""

    def __init__(self, in_channels: int, code_dim: int = 8, width: int = 64, downs: int = 3, norm: str = "instance",
                 max_width: int = 256):
        super().__init__()
        layers, w = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)], width
        for _ in range(downs - 1):
            nxt = min(2 * w, max_width)
            layers += [nn.Conv2d(w, nxt, 4, 2, 1), norm_2d(norm, nxt), nn.LeakyReLU(0.2, True)]
            w = nxt
        layers.append(nn.AdaptiveAvgPool2d(1))
        self.net = nn.Sequential(*layers)
        self.mu, self.logvar = nn.Linear(w, code_dim), nn.Linear(w, code_dim)
        self.downs = downs
        init_weights(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, _ = pad_to(x, 2 ** self.downs)
        h = self.net(x).flatten(1)
        return self.mu(h), self.logvar(h)


class ConvClassifier(nn.Module):
    """Images to class logits: ``downs`` strided 3x3 convolutions doubling the width (LeakyReLU 0.2,
    ``norm`` after the first), then a linear layer on the flattened map (its layout matters: a digit's
    strokes are told apart by where they are)."""

    def __init__(self, in_channels: int, num_classes: int, size: int, width: int = 64, downs: int = 3,
                 norm: str = "layer"):
        super().__init__()
        layers, w, side = [nn.Conv2d(in_channels, width, 3, 2, 1), nn.LeakyReLU(0.2, True)], width, (size + 1) // 2
        for _ in range(downs - 1):
            layers += [nn.Conv2d(w, 2 * w, 3, 2, 1), norm_2d(norm, 2 * w), nn.LeakyReLU(0.2, True)]
            w, side = 2 * w, (side + 1) // 2
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(w * side * side, num_classes))
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _stages(size: int) -> int:
    """x2 stages from the coupled networks' smallest map to the image: 2 up to 32 px, then one more
    per doubling (at most 5)."""
    return min(5, max(2, math.ceil(math.log2(max(size, 1))) - 3))


class CoupledGenerator(nn.Module):
    """Liu & Tuzel's coupled generators: one noise vector, a shared trunk (the first layers: a linear
    layer to a ``2w x m x m`` map and ``stages - 1`` up-sampling convolutions), then one head per
    domain (an up-sampling convolution and a 3x3 convolution to the image, tanh). The shared layers
    decode the high-level semantics both domains have in common; the heads render each domain.

    ``forward(z)`` returns the two images ``(a, b)``, cropped to ``size``.
    """

    def __init__(self, latent_dim: int, channels: int, size: int, width: int = 64, norm: str = "batch"):
        super().__init__()
        self.stages = _stages(size)
        self.start = math.ceil(size / 2 ** self.stages)
        self.size, w = size, 2 * width
        self.fc = nn.Linear(latent_dim, w * self.start ** 2)
        trunk = [norm_2d(norm, w), nn.ReLU(True)]
        for _ in range(self.stages - 1):
            trunk += [nn.Upsample(scale_factor=2), nn.Conv2d(w, w, 3, 1, 1), norm_2d(norm, w), nn.ReLU(True)]
        self.shared = nn.Sequential(*trunk)
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(w, width, 3, 1, 1), norm_2d(norm, width),
                          nn.ReLU(True), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh()) for _ in range(2))
        init_weights(self)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.shared(self.fc(z).view(len(z), -1, self.start, self.start))
        full = self.start * 2 ** self.stages
        top = (full - self.size) // 2
        return tuple(head(h)[..., top:top + self.size, top:top + self.size] for head in self.heads)


class CoupledDiscriminator(nn.Module):
    """Liu & Tuzel's coupled discriminators: one front per domain (a strided 4x4 convolution,
    LeakyReLU 0.2), then shared layers (``stages - 1`` strided convolutions with ``norm``, a linear
    layer to one raw score). ``forward(x, domain)`` scores ``x`` as domain ``domain`` (0 or 1)."""

    def __init__(self, channels: int, size: int, width: int = 64, norm: str = "batch"):
        super().__init__()
        self.stages = _stages(size)
        self.fronts = nn.ModuleList(nn.Sequential(nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True))
                                    for _ in range(2))
        layers, w = [], width
        for _ in range(self.stages - 1):
            layers += [nn.Conv2d(w, 2 * w, 4, 2, 1), norm_2d(norm, 2 * w), nn.LeakyReLU(0.2, True)]
            w *= 2
        side = math.ceil(size / 2 ** self.stages)
        self.shared = nn.Sequential(*layers, nn.Flatten(), nn.Linear(w * side * side, 1))
        init_weights(self)

    def forward(self, x: torch.Tensor, domain: int) -> torch.Tensor:
        x, _ = pad_to(x, 2 ** self.stages)
        return self.shared(self.fronts[domain](x)).flatten()

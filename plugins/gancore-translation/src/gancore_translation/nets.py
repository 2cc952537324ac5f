"""Image -> image networks for translation families.

They take and return ``(N, C, H, W)`` tensors of any square size: inputs are
padded (replicating the border) to the size the down-sampling path needs and
outputs are cropped back, so 28x28 digits and 256x256 photos go through the
same code.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gancore.errors import PluginError
from gancore.nets import init_weights, norm_2d
from gancore.nets.translation import crop, pad_to
from gancore_translation.generator import Translator


class UNet(nn.Module):
    """Isola et al.'s U-Net: an encoder down to 1x1 with mirrored skip connections.

    Encoder ``C64-C128-C256-C512-C512...`` (4x4 convolutions, stride 2,
    LeakyReLU 0.2, no norm on the first layer nor on the 1x1 bottleneck),
    decoder mirrored with ReLU, transposed convolutions, dropout 0.5 in the
    three decoder layers nearest the bottleneck (after the innermost), tanh
    output. The input is padded to the next power of two (28 -> 32: five
    levels) and the output cropped back.

    :param skips: ``False`` drops the skip connections: a plain
        encoder-decoder (DiscoGAN's generator).
    """

    def __init__(self, in_channels: int, out_channels: int, size: int, width: int = 64, max_width: int = 512,
                 norm: str = "batch", dropout: float = 0.5, skips: bool = True):
        super().__init__()
        self.depth = max(1, math.ceil(math.log2(size)))
        self.skips = skips
        widths = [min(width * 2 ** i, max_width) for i in range(self.depth)]
        self.down = nn.ModuleList()
        prev = in_channels
        for i, w in enumerate(widths):
            layers = [] if i == 0 else [nn.LeakyReLU(0.2, True)]
            layers.append(nn.Conv2d(prev, w, 4, 2, 1, bias=norm != "batch" or i in (0, self.depth - 1)))
            if 0 < i < self.depth - 1:
                layers.append(norm_2d(norm, w))
            self.down.append(nn.Sequential(*layers))
            prev = w
        self.up = nn.ModuleList()
        for i in reversed(range(self.depth)):
            # Up-block i maps level i+1's features back to level i's size.
            incoming = widths[i] * (2 if skips and i < self.depth - 1 else 1)
            out = out_channels if i == 0 else widths[i - 1]
            layers = [nn.ReLU(True), nn.ConvTranspose2d(incoming, out, 4, 2, 1, bias=i == 0 or norm != "batch")]
            if i == 0:
                layers.append(nn.Tanh())
            else:
                layers.append(norm_2d(norm, out))
                if dropout and max(1, self.depth - 4) <= i <= self.depth - 2:
                    layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, pad = pad_to(x, 2 ** self.depth)
        features = []
        for block in self.down:
            x = block(x)
            features.append(x)
        for j, block in enumerate(self.up):
            if j > 0 and self.skips:
                x = torch.cat([x, features[self.depth - 1 - j]], dim=1)
            x = block(x)
        return crop(x, pad)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions (reflection padding, norm, ReLU between) plus the identity."""

    def __init__(self, channels: int, norm: str = "instance"):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm_2d(norm, channels),
                                  nn.ReLU(True), nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3),
                                  norm_2d(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class GlobalMixing(nn.Module):
    """A residual fully connected block over the whole bottleneck map.

    Gives every output position a view of every input position, which a
    stack of 3x3 convolutions has only in principle: geometric changes such
    as a 90-degree rotation become easy to learn. ``cond_dim`` extra inputs
    (a one-hot target domain) join the flattened map.
    """

    def __init__(self, channels: int, size: int, hidden: int, cond_dim: int = 0):
        super().__init__()
        self.shape = (channels, size, size)
        self.inner = nn.Linear(channels * size * size + cond_dim, hidden)
        self.outer = nn.Sequential(nn.ReLU(True), nn.Linear(hidden, channels * size * size))

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = x.flatten(1) if cond is None else torch.cat([x.flatten(1), cond], 1)
        return x + self.outer(self.inner(h)).view(-1, *self.shape)


class ResnetGenerator(nn.Module):
    """Johnson et al.'s generator as CycleGAN uses it (and StarGAN, with 4x4 kernels).

    ``c7s1-w, d2w, d4w, R4w x blocks, u2w, uw, c7s1-out`` with reflection
    padding, ``norm`` (instance in both papers) and ReLU; tanh output. The
    input is padded to a multiple of 4 and the output cropped back.

    :param mix: when > 0, a :class:`GlobalMixing` block of that width after
        the residual blocks (not in the papers; for geometric translations).
    :param cond_dim: size of a conditioning vector ``cond`` (a one-hot
        target domain) given to ``forward``. Stacking it on the image as
        constant maps, as StarGAN does, does not survive instance norm: a
        constant map only shifts a channel, which the norm subtracts (with
        reflection padding exactly). So it also enters at the bottleneck,
        as a learned per-channel shift before the residual blocks (kept by
        their identity paths) and as an input of the mixing block.
    """

    def __init__(self, in_channels: int, out_channels: int, size: int, width: int = 64, blocks: int = 6,
                 norm: str = "instance", mix: int = 0, cond_dim: int = 0):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7), norm_2d(norm, width), nn.ReLU(True)]
        for i in range(2):
            w = width * 2 ** i
            layers += [nn.Conv2d(w, 2 * w, 3, 2, 1), norm_2d(norm, 2 * w), nn.ReLU(True)]
        self.down = nn.Sequential(*layers)
        self.cond = nn.Linear(cond_dim, 4 * width) if cond_dim else None
        self.blocks = nn.Sequential(*[ResidualBlock(4 * width, norm) for _ in range(blocks)])
        self.mix = GlobalMixing(4 * width, math.ceil(size / 4), mix, cond_dim) if mix else None
        layers = []
        for i in reversed(range(2)):
            w = width * 2 ** i
            layers += [nn.ConvTranspose2d(2 * w, w, 3, 2, 1, output_padding=1), norm_2d(norm, w), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.up = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        x, pad = pad_to(x, 4)
        h = self.down(x)
        if self.cond is not None:
            h = h + self.cond(cond)[:, :, None, None]
        h = self.blocks(h)
        if self.mix is not None:
            h = self.mix(h, cond if self.cond is not None else None)
        return crop(self.up(h), pad)


class ConditionalInstanceNorm(nn.Module):
    """Instance norm whose scale and shift depend on a condition (conditional instance norm, FiLM).

    ``IN(h) * (1 + gamma(c)) + beta(c)`` with ``gamma``, ``beta`` linear in
    the condition ``c`` (a one-hot target domain: one learned scale and shift
    per domain and channel) plus a shared affine part. The condition is
    applied after the normalization, so unlike constant input maps it is not
    erased by it.

    :param lr_mul: ``gamma`` and ``beta`` are ``lr_mul`` times the stored
        weights, so an optimizer moves them ``lr_mul`` times faster. With a
        one-hot condition each domain's scale and shift are single weights,
        and Adam moves a weight by at most about ``lr`` per step: at
        StarGAN's lr 1e-4 a domain's scale can change by 0.15 in 1,500 steps,
        too little for an edit such as inverting an image (a scale of -1).
    """

    def __init__(self, channels: int, cond_dim: int, lr_mul: float = 1.0):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=True)
        self.film = nn.Linear(cond_dim, 2 * channels, bias=False)
        self.lr_mul = float(lr_mul)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma, beta = (self.film(cond) * self.lr_mul)[:, :, None, None].chunk(2, 1)
        return self.norm(x) * (1 + gamma) + beta


class _CondSequential(nn.Sequential):
    """A sequence whose :class:`ConditionalInstanceNorm` layers receive the condition."""

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        for layer in self:
            x = layer(x, cond) if isinstance(layer, (ConditionalInstanceNorm, ConditionalResidualBlock)) else layer(x)
        return x


class ConditionalResidualBlock(nn.Module):
    """:class:`ResidualBlock` with :class:`ConditionalInstanceNorm` layers."""

    def __init__(self, channels: int, cond_dim: int, lr_mul: float = 1.0):
        super().__init__()
        self.body = _CondSequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3),
                                    ConditionalInstanceNorm(channels, cond_dim, lr_mul), nn.ReLU(True),
                                    nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3),
                                    ConditionalInstanceNorm(channels, cond_dim, lr_mul))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return x + self.body(x, cond)


class ConditionalResnetGenerator(nn.Module):
    """:class:`ResnetGenerator`'s layers with every instance norm conditional on ``cond``.

    The same ``c7s1-w, d2w, d4w, R4w x blocks, u2w, uw, c7s1-out`` shape;
    each norm is a :class:`ConditionalInstanceNorm`, so the target domain
    scales and shifts the features at every layer (StarGAN v2 and most
    multi-domain translators condition this way; StarGAN's constant input
    maps alone do not survive instance norm).
    """

    def __init__(self, in_channels: int, out_channels: int, width: int, blocks: int, cond_dim: int,
                 lr_mul: float = 1.0):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7),
                                   ConditionalInstanceNorm(width, cond_dim, lr_mul), nn.ReLU(True)]
        for i in range(2):
            w = width * 2 ** i
            layers += [nn.Conv2d(w, 2 * w, 3, 2, 1), ConditionalInstanceNorm(2 * w, cond_dim, lr_mul), nn.ReLU(True)]
        layers += [ConditionalResidualBlock(4 * width, cond_dim, lr_mul) for _ in range(blocks)]
        for i in reversed(range(2)):
            w = width * 2 ** i
            layers += [nn.ConvTranspose2d(2 * w, w, 3, 2, 1, output_padding=1),
                       ConditionalInstanceNorm(w, cond_dim, lr_mul), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.net = _CondSequential(*layers)
        init_weights(self)
        for m in self.modules():
            if isinstance(m, ConditionalInstanceNorm):
                nn.init.zeros_(m.film.weight)  # starts as plain instance norm; learns per-domain scales and shifts

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x, pad = pad_to(x, 4)
        return crop(self.net(x, cond), pad)


def patch_layers(size: int, target: float = 0.3, most: int = 5) -> int:
    """Strided layers of a PatchGAN for ``size``-pixel images.

    The 70x70 PatchGAN (3 strided layers) sees 70/256 = 27% of a 256-pixel
    image; this picks the most strided layers (at least 1) whose receptive
    field stays within ``target`` of the image: 1 for 28-64 pixels (16x16
    patches), 2 for 128, 3 for 256.
    """
    n = 1
    while n < most and patch_receptive_field(n + 1) <= target * size:
        n += 1
    return n


def patch_receptive_field(layers: int) -> int:
    """Receptive field of a PatchGAN with ``layers`` strided 4x4 convolutions (70 for 3)."""
    # Walk from the output back to the input: r_in = r_out * stride + (kernel - stride).
    field = 1
    for stride in reversed([2] * layers + [1, 1]):
        field = field * stride + (4 - stride)
    return field


class PatchDiscriminator(nn.Module):
    """Isola et al.'s PatchGAN: one real/fake score per overlapping image patch.

    ``C64-C128-...`` 4x4 convolutions with stride 2 (``layers`` of them, see
    :func:`patch_layers`), then one stride-1 convolution with norm and a
    stride-1 convolution to one channel: a map of raw scores, each seeing a
    :func:`patch_receptive_field`-pixel patch. No norm on the first layer.
    """

    def __init__(self, in_channels: int, size: int, width: int = 64, layers: int | None = None,
                 norm: str = "batch", max_width: int = 512):
        super().__init__()
        self.layers = patch_layers(size) if layers is None else int(layers)
        seq = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        w = width
        for i in range(1, self.layers):
            nxt = min(width * 2 ** i, max_width)
            seq += [nn.Conv2d(w, nxt, 4, 2, 1, bias=norm != "batch"), norm_2d(norm, nxt), nn.LeakyReLU(0.2, True)]
            w = nxt
        nxt = min(w * 2, max_width)
        seq += [nn.Conv2d(w, nxt, 4, 1, 1, bias=norm != "batch"), norm_2d(norm, nxt), nn.LeakyReLU(0.2, True),
                nn.Conv2d(nxt, 1, 4, 1, 1)]
        self.net = nn.Sequential(*seq)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PerTargetTranslator(Translator):
    """A translator with one image network per target domain (CycleGAN's ``G`` and ``F``).

    Each sample goes through the network of its target domain, so one
    ``forward`` translates a batch mixing both directions and the trainer
    still sees a single generator module.
    """

    def __init__(self, domains, nets, both_ways: bool = True):
        super().__init__(domains, both_ways=both_ways)
        if len(nets) != len(self.domains):
            raise PluginError(f"one network per domain: {len(self.domains)} domains, {len(nets)} networks.")
        self.nets = nn.ModuleList(nets)

    def forward(self, latent) -> torch.Tensor:
        source, target = latent["source"], latent["target"]
        outputs, rows = [], []
        for domain, net in enumerate(self.nets):
            index = (target == domain).nonzero().flatten()
            if len(index):
                outputs.append(net(source[index]))
                rows.append(index)
        if not outputs:
            raise PluginError(f"no sample has a target domain in 0..{len(self.nets) - 1}.")
        out, rows = torch.cat(outputs), torch.cat(rows)
        return out[torch.argsort(rows)]


class PerDomainDiscriminator(nn.Module):
    """One discriminator per domain in one module: ``D(x, domain)`` scores ``x`` as domain ``domain``."""

    def __init__(self, nets):
        super().__init__()
        self.nets = nn.ModuleList(nets)

    def forward(self, x: torch.Tensor, domain: int) -> torch.Tensor:
        return self.nets[domain](x)

    @staticmethod
    def views(step, reals, fakes) -> tuple:
        """One :class:`gancore.step.DiscriminatorView` per domain, for regularizers.

        Named ``d_a``, ``d_b``, ... ; each scores through ``step.discriminator``
        (the distributed-wrapped network in phase ``"d"``).
        """
        from gancore.step import DiscriminatorView

        return tuple(DiscriminatorView(real=real, fake=fake, parameters=step.D.nets[domain].parameters,
                                       name=f"d_{chr(ord('a') + domain)}",
                                       score=lambda x, domain=domain: step.discriminator(x, domain))
                     for domain, (real, fake) in enumerate(zip(reals, fakes)))

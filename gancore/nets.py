"""Reusable network bodies sized from a :class:`gancore.data.DataSpec`.

Families differ mostly in losses; many share these two architectures:

* MLPs for vector data (and small images): ``MLPGenerator``,
  ``MLPDiscriminator``.
* All-convolutional networks for images of any size ``base * 2**n`` with
  ``base`` in 3..7 (8, 28, 32, 64, ...): strided transposed convolutions with
  BatchNorm and ReLU in the generator (tanh output), strided convolutions with
  LeakyReLU in the discriminator (no normalization on its input layer).

Discriminators expose ``features(x)`` (the body) and ``head`` (the last
layer) so families can add auxiliary heads on the shared body.
Conditional generators (``num_classes > 0``) concatenate a learned label
embedding to the noise.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gancore.data import SMALL_IMAGE_MAX, DataSpec
from gancore.errors import PluginError
from gancore.generator import Generator, Translator
from gancore.hookspecs import hookimpl

NORMS = ("batch", "instance", "layer", "none")


def by_kind(value, data: DataSpec, choices, fallback):
    """A network option's value: ``value`` as the user gave it, or, when it is ``None``, the
    family's choice for the data's kind (``choices[data.kind]``, else ``fallback``).

    Families take options such as ``hidden=None`` so that their networks follow the data
    (wider MLPs for small images, say) while ``--set FAMILY.hidden=N`` still wins.
    """
    if value is not None:
        return value
    return choices.get(data.kind, fallback)


def conv_plan(size: int) -> tuple[int, int]:
    """``(base, n)`` with ``size == base * 2**n``, ``base`` in 3..7 (2..7 on small images) and n >= 1.

    Small images (at most :data:`gancore.data.SMALL_IMAGE_MAX` px) go down to
    ``base`` 2: an 8x8 image is 2 * 2**2, so networks on it have three
    resolutions (2, 4, 8) rather than one 4 -> 8 step, which is too shallow
    to model the 8x8 digits (classifier-FID 7.3x the floor against 3.9x,
    3,000 steps; see docs/results.md).
    """
    smallest = 2 if size <= SMALL_IMAGE_MAX else 3
    base, n = size, 0
    while base % 2 == 0 and (base > 7 or base // 2 >= smallest):
        base, n = base // 2, n + 1
    if n == 0 or not smallest <= base <= 7:
        raise PluginError(f"convolutional networks need an image size base * 2**n with base in 3..7 "
                          f"(8, 28, 32, 64, ...); got {size}. Use --image-size.")
    return base, n


def norm_2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise PluginError(f"unknown normalization {kind!r}; use one of {', '.join(NORMS)}.")


def init_weights(module: nn.Module) -> None:
    """N(0, 0.02) convolution and linear weights, N(1, 0.02) norm scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class _LabelledNoise(Generator):
    def __init__(self, latent_dim: int, num_classes: int, embed_dim: int):
        super().__init__(latent_dim, num_classes)
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.input_dim = latent_dim + (embed_dim if num_classes else 0)

    def noise_input(self, latent) -> torch.Tensor:
        if self.embed is None:
            return latent
        return torch.cat([latent["z"], self.embed(latent["labels"])], dim=1)


class MLPGenerator(_LabelledNoise):
    """Noise (+ label embedding) -> ``hidden`` x ``layers`` ReLU MLP -> a sample."""

    def __init__(self, spec: DataSpec, latent_dim: int, hidden: int = 256, layers: int = 3,
                 num_classes: int = 0, batch_norm: bool = False):
        super().__init__(latent_dim, num_classes, embed_dim=min(50, max(num_classes, 1) * 2))
        self.shape = tuple(spec.shape)
        blocks, width = [], self.input_dim
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden)] + ([nn.BatchNorm1d(hidden)] if batch_norm else []) + [nn.ReLU(True)]
            width = hidden
        blocks.append(nn.Linear(width, math.prod(self.shape)))
        if spec.is_image:
            blocks.append(nn.Tanh())
        self.net = nn.Sequential(*blocks)

    def forward(self, latent) -> torch.Tensor:
        out = self.net(self.noise_input(latent))
        return out.view(out.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    """A sample -> ``hidden`` x ``layers`` LeakyReLU MLP -> one score."""

    def __init__(self, spec: DataSpec, hidden: int = 256, layers: int = 3, outputs: int = 1,
                 input_dim: int | None = None):
        super().__init__()
        blocks, width = [nn.Flatten()], input_dim or math.prod(spec.shape)
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.LeakyReLU(0.2, True)]
            width = hidden
        self.body = nn.Sequential(*blocks)
        self.feature_dim = width
        self.head = nn.Linear(width, outputs)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


class ConvGenerator(_LabelledNoise):
    """Noise (+ label embedding) -> transposed convolutions -> an image in [-1, 1]."""

    def __init__(self, spec: DataSpec, latent_dim: int, width: int = 64, num_classes: int = 0,
                 norm: str = "batch"):
        super().__init__(latent_dim, num_classes, embed_dim=min(50, max(num_classes, 1) * 2))
        if not spec.is_image:
            raise PluginError(f"convolutional generators need image data; {spec.name!r} has shape {spec.shape}.")
        base, n = conv_plan(spec.image_size)
        channels = width * 2 ** (n - 1)
        layers = [nn.ConvTranspose2d(self.input_dim, channels, base, 1, 0, bias=False), norm_2d(norm, channels),
                  nn.ReLU(True)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                       norm_2d(norm, channels // 2), nn.ReLU(True)]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, spec.channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, latent) -> torch.Tensor:
        h = self.noise_input(latent)
        return self.net(h.view(h.shape[0], -1, 1, 1))


class ConvDiscriminator(nn.Module):
    """An image -> strided convolutions -> one score (or ``outputs`` scores).

    :param norm: normalization after every convolution but the first:
        ``batch`` (the classic choice), ``layer`` or ``none`` (for gradient
        penalties, which are defined per sample), ``instance``.
    """

    def __init__(self, spec: DataSpec, width: int = 64, norm: str = "batch", outputs: int = 1,
                 in_channels: int | None = None):
        super().__init__()
        if not spec.is_image:
            raise PluginError(f"convolutional discriminators need image data; {spec.name!r} has shape {spec.shape}.")
        base, n = conv_plan(spec.image_size)
        channels = width
        layers = [nn.Conv2d(in_channels or spec.channels, channels, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(n - 1):
            layers += [nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=norm == "none"), norm_2d(norm, channels * 2),
                       nn.LeakyReLU(0.2, True)]
            channels *= 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.feature_dim = channels * base * base
        self.head = nn.Linear(self.feature_dim, outputs)
        init_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


#: Network kinds of :func:`standard_generator` / :func:`standard_discriminator` for images.
ARCHS = ("conv", "mlp")


def check_arch(arch: str) -> str:
    """``arch`` if it is one of :data:`ARCHS`; a ``ValueError`` naming them otherwise (plugin options)."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    return arch


def standard_generator(spec: DataSpec, latent_dim: int, width: int = 64, hidden: int = 256,
                       arch: str = "conv") -> Generator:
    """The generator most unconditional families share: DCGAN-style convolutions for images
    (``arch="conv"``), an MLP for vector data (``ring``) or for images with ``arch="mlp"`` (the
    fully connected networks of Goodfellow et al. and of the WGAN paper's MLP experiments)."""
    if not spec.is_image or check_arch(arch) == "mlp":
        return MLPGenerator(spec, latent_dim, hidden)
    return ConvGenerator(spec, latent_dim, width)


def standard_discriminator(spec: DataSpec, width: int = 64, hidden: int = 256, norm: str = "batch",
                           arch: str = "conv") -> nn.Module:
    """The discriminator matching :func:`standard_generator`: strided convolutions with ``norm`` for
    images, an MLP for vector data or with ``arch="mlp"``."""
    if not spec.is_image or check_arch(arch) == "mlp":
        return MLPDiscriminator(spec, hidden)
    return ConvDiscriminator(spec, width, norm=norm)



#: gancore's own values of the standard networks' options, under a family's :attr:`StandardNetworks.NETWORKS`.
STANDARD = {"width": 64, "hidden": 256, "norm": "batch", "arch": "conv"}


class StandardNetworks:
    """A family mixin: the ``build_generator`` and ``build_discriminator`` hook implementations
    over :func:`standard_generator` / :func:`standard_discriminator`, from the family's ``width``,
    ``hidden``, ``norm`` and ``arch`` attributes (set from its options in ``__init__``). An
    attribute left ``None`` takes the family's choice for the data's kind, from :attr:`NETWORKS`."""

    #: Data kind -> network option -> value, for options the user left unset (``None``).
    NETWORKS: dict[str, dict[str, object]] = {}

    def network(self, data: DataSpec) -> dict[str, object]:
        """The network options for ``data``: the user's, else this family's for the data's kind."""
        return {name: by_kind(getattr(self, name), data, {kind: table[name] for kind, table in self.NETWORKS.items()
                                                          if name in table}, STANDARD[name])
                for name in STANDARD}

    @hookimpl
    def build_generator(self, config, data):
        net = self.network(data)
        return standard_generator(data, config.latent_dim, net["width"], hidden=net["hidden"], arch=net["arch"])

    @hookimpl
    def build_discriminator(self, data):
        net = self.network(data)
        return standard_discriminator(data, net["width"], hidden=net["hidden"], norm=net["norm"], arch=net["arch"])


# --- auto-encoders (discriminators whose score is a reconstruction error) ---

ACTIVATIONS = ("leaky_relu", "elu", "relu")


def activation(kind: str) -> nn.Module:
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.2, True)
    if kind == "elu":
        return nn.ELU(inplace=True)
    if kind == "relu":
        return nn.ReLU(True)
    raise PluginError(f"unknown activation {kind!r}; use one of {', '.join(ACTIVATIONS)}.")


class ConvEncoder(nn.Module):
    """An image -> strided convolutions -> a ``code_dim`` vector (a linear layer at the end)."""

    def __init__(self, spec: DataSpec, code_dim: int, width: int = 64, norm: str = "batch",
                 act: str = "leaky_relu"):
        super().__init__()
        if not spec.is_image:
            raise PluginError(f"convolutional encoders need image data; {spec.name!r} has shape {spec.shape}.")
        base, n = conv_plan(spec.image_size)
        channels = width
        layers = [nn.Conv2d(spec.channels, channels, 4, 2, 1), activation(act)]
        for _ in range(n - 1):
            layers += [nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=norm == "none"), norm_2d(norm, channels * 2),
                       activation(act)]
            channels *= 2
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * base * base, code_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """A ``code_dim`` vector -> a linear layer -> transposed convolutions -> an image (no output activation)."""

    def __init__(self, spec: DataSpec, code_dim: int, width: int = 64, norm: str = "batch",
                 act: str = "leaky_relu"):
        super().__init__()
        if not spec.is_image:
            raise PluginError(f"convolutional decoders need image data; {spec.name!r} has shape {spec.shape}.")
        base, n = conv_plan(spec.image_size)
        channels = width * 2 ** (n - 1)
        layers = [nn.Linear(code_dim, channels * base * base), nn.Unflatten(1, (channels, base, base)),
                  norm_2d(norm, channels), activation(act)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=norm == "none"),
                       norm_2d(norm, channels // 2), activation(act)]
            channels //= 2
        layers.append(nn.ConvTranspose2d(channels, spec.channels, 4, 2, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.net(code)


def mlp_coder(in_dim: int, out_dim: int, hidden: int, layers: int, act: str) -> nn.Sequential:
    """``layers`` hidden layers of ``hidden`` units with ``act``, then a linear output layer."""
    blocks, width = [nn.Flatten()], in_dim
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), activation(act)]
        width = hidden
    return nn.Sequential(*blocks, nn.Linear(width, out_dim))


class AutoEncoder(nn.Module):
    """An encoder to a ``code_dim`` code and a decoder back, sized from the data.

    Images use :class:`ConvEncoder`/:class:`ConvDecoder`; vectors (``ring``)
    use MLPs of ``hidden`` units x ``layers``. ``forward(x)`` returns
    ``(reconstruction, code)``.
    """

    def __init__(self, spec: DataSpec, code_dim: int = 64, width: int = 64, hidden: int = 256, layers: int = 2,
                 norm: str = "batch", act: str = "leaky_relu"):
        super().__init__()
        self.shape = tuple(spec.shape)
        if spec.is_image:
            self.encoder = ConvEncoder(spec, code_dim, width, norm, act)
            self.decoder = ConvDecoder(spec, code_dim, width, norm, act)
            if norm != "none":
                # DCGAN's N(0, 0.02) weights assume normalization layers to restore the scale; without
                # them the signal shrinks through every layer (0.02 * sqrt(fan-in) < 1) and the
                # auto-encoder barely learns (BEGAN on digits: reconstruction error 0.33 after 1,500
                # steps against 0.09 with PyTorch's default initialisation).
                init_weights(self)
        else:
            self.encoder = mlp_coder(math.prod(self.shape), code_dim, hidden, layers, act)
            self.decoder = mlp_coder(code_dim, math.prod(self.shape), hidden, layers, act)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder(x)
        return self.decoder(code).view(x.shape[0], *self.shape), code


RECONSTRUCTION_ERRORS = ("mse", "l1")


class AutoEncoderDiscriminator(nn.Module):
    """A discriminator whose score is an auto-encoder's per-sample reconstruction error.

    ``forward(x)`` returns one value per sample: the mean squared (``"mse"``)
    or absolute (``"l1"``) error over the sample's elements, so the default
    discriminator view (and every gradient penalty) works on it.
    :meth:`error_and_code` also returns the encoder's codes.
    """

    def __init__(self, autoencoder: nn.Module, error: str = "mse"):
        super().__init__()
        if error not in RECONSTRUCTION_ERRORS:
            raise PluginError(f"unknown reconstruction error {error!r}; use one of {', '.join(RECONSTRUCTION_ERRORS)}.")
        self.autoencoder, self.error = autoencoder, error

    def reconstruction_error(self, x: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
        diff = (reconstruction - x).flatten(1)
        return (diff.pow(2) if self.error == "mse" else diff.abs()).mean(1)

    def error_and_code(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        reconstruction, code = self.autoencoder(x)
        return self.reconstruction_error(x, reconstruction), code

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.error_and_code(x)[0]


# --- image-to-image networks ------------------------------------------------------
#
# Image -> image networks for translation families. They take and return
# ``(N, C, H, W)`` tensors of any square size: inputs are padded (replicating
# the border) to the size the down-sampling path needs and outputs are
# cropped back, so 28x28 digits and 256x256 photos go through the same code.

def _pad_to(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    if any(pad):
        x = nn.functional.pad(x, pad, mode="replicate")
    return x, pad


def _crop(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    left, right, top, bottom = pad
    return x[..., top:x.shape[-2] - bottom, left:x.shape[-1] - right]


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
        x, pad = _pad_to(x, 2 ** self.depth)
        features = []
        for block in self.down:
            x = block(x)
            features.append(x)
        for j, block in enumerate(self.up):
            if j > 0 and self.skips:
                x = torch.cat([x, features[self.depth - 1 - j]], dim=1)
            x = block(x)
        return _crop(x, pad)


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
        x, pad = _pad_to(x, 4)
        h = self.down(x)
        if self.cond is not None:
            h = h + self.cond(cond)[:, :, None, None]
        h = self.blocks(h)
        if self.mix is not None:
            h = self.mix(h, cond if self.cond is not None else None)
        return _crop(self.up(h), pad)


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

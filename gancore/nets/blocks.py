"""Reusable network blocks for image families: self-attention, residual blocks, StyleGAN2's layers.

* :class:`SelfAttention`: SAGAN's attention over all positions of a feature map
  (Zhang et al. 2019), added to its input with a learned gain that starts at 0.
* :class:`ResBlockUp`, :class:`ResBlockDown`: the residual blocks of SNGAN's and
  SAGAN's ResNets (Miyato et al. 2018, Zhang et al. 2019). They hold plain
  convolutions; a family that wants them spectrally normalized applies
  spectral normalization to the network it built (``gancore_sngan.apply_spectral_norm``).
* :class:`EqualLinear`, :class:`EqualConv2d`, :class:`ModulatedConv2d`,
  :class:`NoiseInjection`, :class:`MinibatchStdDev`: StyleGAN2's layers
  (Karras et al. 2020): weights stored at unit variance and scaled by
  He's constant at run time (equalized learning rate), style-modulated
  convolutions with weight demodulation, per-pixel noise inputs and the
  minibatch standard deviation feature.

Every block is plain ``torch``: no data spec, no plugin machinery.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# -- SAGAN --------------------------------------------------------------------


class SelfAttention(nn.Module):
    """Self-attention over the positions of a feature map (SAGAN, Zhang et al. 2019, section 3).

    With ``x`` of ``C`` channels at ``N = H * W`` positions and ``C' = C // reduction``::

        f(x) = W_f x,  g(x) = W_g x,  h(x) = W_h x      (1x1 convolutions to C' channels)
        s_ij = f(x_i)^T g(x_j),   beta_ji = softmax over i of s_ij
        o_j  = W_v sum_i beta_ji h(x_i)                 (W_v: a 1x1 convolution back to C channels)
        y_j  = gamma * o_j + x_j

    ``gamma`` is a learned scalar initialised to 0, so the block starts as the
    identity and the network first relies on local (convolutional) cues.
    The paper uses ``reduction`` 8.

    :return: ``forward(x)`` returns ``y``, shaped like ``x``.
    """

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        inner = max(1, channels // reduction)
        self.f = nn.Conv2d(channels, inner, 1, bias=False)
        self.g = nn.Conv2d(channels, inner, 1, bias=False)
        self.h = nn.Conv2d(channels, inner, 1, bias=False)
        self.v = nn.Conv2d(inner, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, height, width = x.shape
        f, g, h = (conv(x).flatten(2) for conv in (self.f, self.g, self.h))  # (n, C', N)
        scores = torch.bmm(g.transpose(1, 2), f)  # [j, i] = g(x_j) . f(x_i) = s_ij
        beta = scores.softmax(dim=2)  # over i, for each output position j
        attended = torch.bmm(h, beta.transpose(1, 2))  # [:, j] = sum_i beta_ji h(x_i)
        o = self.v(attended.view(n, -1, height, width))
        return self.gamma * o + x


class ResBlockUp(nn.Module):
    """A generator's residual block that doubles the resolution (SNGAN/SAGAN)::

        main:     BN -> ReLU -> upsample x2 -> conv3x3 -> BN -> ReLU -> conv3x3
        shortcut: upsample x2 -> conv1x1
        out = main + shortcut

    Upsampling is nearest-neighbour. :return: ``(n, out_channels, 2H, 2W)``.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(in_channels), nn.BatchNorm2d(out_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResBlockDown(nn.Module):
    """A discriminator's residual block, halving the resolution unless ``downsample=False`` (SNGAN/SAGAN)::

        main:     [ReLU ->] conv3x3 -> ReLU -> conv3x3 [-> avgpool2]
        shortcut: conv1x1 [-> avgpool2]   (identity when channels match and nothing is pooled)
        out = main + shortcut

    ``preactivate=False`` is the first block on the image itself (no ReLU on
    the pixels; its shortcut pools before the 1x1 convolution, as in SNGAN's
    "optimized" block). No normalization: the family spectrally normalizes D.
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: bool = True, preactivate: bool = True):
        super().__init__()
        self.downsample, self.preactivate = downsample, preactivate
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        learned = in_channels != out_channels or downsample
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if learned else None

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x) if self.preactivate else x
        h = self._pool(self.conv2(F.relu(self.conv1(h))))
        if self.shortcut is None:
            return h + x
        skip = self.shortcut(self._pool(x)) if not self.preactivate else self._pool(self.shortcut(x))
        return h + skip


# -- StyleGAN2 ----------------------------------------------------------------

#: Gain after a leaky ReLU(0.2), so that activations keep unit variance (StyleGAN's ``sqrt(2)``).
LRELU_GAIN = math.sqrt(2.0)


class EqualLinear(nn.Module):
    """A linear layer with an equalized learning rate (Karras et al. 2018/2020).

    The weight is stored as ``N(0, 1) / lr_mul`` and used as
    ``weight * lr_mul / sqrt(in_features)``; the bias is used as
    ``bias * lr_mul``. Adam's step is then the same for every layer relative
    to its scale, and ``lr_mul`` (StyleGAN's 0.01 in the mapping network)
    slows a layer down by that factor. ``activation="lrelu"`` applies a leaky
    ReLU(0.2) times :data:`LRELU_GAIN`.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activation: str | None = None):
        super().__init__()
        if activation not in (None, "lrelu"):
            raise ValueError(f"activation must be None or 'lrelu', got {activation!r}")
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul)) if bias else None
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul, self.activation = lr_mul, activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        out = F.linear(x, self.weight * self.scale, bias)
        return F.leaky_relu(out, 0.2) * LRELU_GAIN if self.activation else out


class EqualConv2d(nn.Module):
    """A convolution with an equalized learning rate: ``N(0, 1)`` weights used times ``1/sqrt(fan_in)``.

    ``down=True`` halves the resolution after the convolution (2x2 average
    pooling; StyleGAN2 blurs with a [1, 3, 3, 1] filter instead).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 down: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.padding, self.down = kernel_size // 2, down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)
        return F.avg_pool2d(out, 2) if self.down else out


class ModulatedConv2d(nn.Module):
    """StyleGAN2's style-modulated convolution with weight demodulation (Karras et al. 2020, section 2.2).

    For each sample, the style ``s = A(w)`` (an :class:`EqualLinear` whose
    bias starts at 1) scales the input channels of the (equalized) weight::

        w'_ijk  = s_i * w_ijk
        w''_ijk = w'_ijk / sqrt(sum_{i,k} w'_ijk^2 + eps)      (demodulation, per output channel j)

    and the sample is convolved with its own ``w''``. That is computed as
    StyleGAN2's non-fused path does, which is the same by linearity and
    faster than a grouped convolution on the CPU: the input's channels are
    multiplied by ``s``, convolved with the shared weight, and each output
    channel multiplied by its demodulation factor. ``demodulate=False`` is
    the toRGB layer.
    ``up=True`` doubles the resolution first (bilinear; StyleGAN2 uses a
    transposed convolution and a FIR filter).

    :return: ``forward(x, w)`` with ``x`` ``(n, in, H, W)`` and ``w``
        ``(n, w_dim)`` returns ``(n, out, H', W')``, without bias or activation.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, demodulate: bool = True,
                 up: bool = False, eps: float = 1e-8):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.scale = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.demodulate, self.up, self.eps = demodulate, up, eps
        self.padding = kernel_size // 2

    def modulated_weight(self, w: torch.Tensor) -> torch.Tensor:
        """The per-sample weights ``(n, out, in, k, k)`` for intermediate latents ``w``."""
        style = self.affine(w)  # (n, in)
        weight = self.weight[None] * self.scale * style[:, None, :, None, None]
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + self.eps)
        return weight

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        style = self.affine(w)  # (n, in)
        weight = self.weight * self.scale
        out = F.conv2d(x * style[:, :, None, None], weight, padding=self.padding)
        if self.demodulate:
            # sum_{i,k} (s_i w_ijk)^2 = sum_i s_i^2 (sum_k w_ijk^2): a matrix product, not an (n, out, in, k, k) tensor
            squared = style.pow(2) @ weight.pow(2).sum(dim=(2, 3)).T  # (n, out)
            out = out * torch.rsqrt(squared + self.eps)[:, :, None, None]
        return out


class NoiseInjection(nn.Module):
    """Adds ``strength * noise`` to a feature map: one ``N(0, 1)`` value per pixel, shared by the channels.

    ``strength`` is learned and starts at 0 (StyleGAN2). The noise is drawn
    from torch's global random state on every call unless given.
    """

    def __init__(self):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is None:
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        return x + self.strength * noise


class MinibatchStdDev(nn.Module):
    """Appends the minibatch standard deviation as ``features`` extra channels (Karras et al. 2018).

    The batch is split into groups of ``group`` samples (fewer when the batch
    does not divide); within a group, the standard deviation of every
    feature and pixel is averaged over each of ``features`` channel slices and
    pixels, giving one number per group and slice, broadcast to every pixel
    of the group's samples.
    """

    def __init__(self, group: int = 4, features: int = 1):
        super().__init__()
        self.group, self.features = int(group), int(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, height, width = x.shape
        group = math.gcd(min(self.group, n), n)
        y = x.reshape(group, -1, self.features, c // self.features, height, width)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(2, 3, 4))  # (n / group, features)
        y = y.reshape(-1, self.features, 1, 1).repeat(group, 1, height, width)
        return torch.cat([x, y], dim=1)

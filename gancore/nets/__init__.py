"""Reusable network bodies sized from a :class:`gancore.data.DataSpec`.

Families differ mostly in losses; many share these two architectures:

* MLPs for vector data (and small images): ``MLPGenerator``,
  ``MLPDiscriminator`` (:mod:`gancore.nets.mlp`).
* All-convolutional networks for images of any size ``base * 2**n`` with
  ``base`` in 3..7 (8, 28, 32, 64, ...): strided transposed convolutions with
  BatchNorm and ReLU in the generator (tanh output), strided convolutions with
  LeakyReLU in the discriminator (no normalization on its input layer)
  (:mod:`gancore.nets.conv`).

Discriminators expose ``features(x)`` (the body) and ``head`` (the last
layer) so families can add auxiliary heads on the shared body.
Conditional generators (``num_classes > 0``) concatenate a learned label
embedding to the noise.

The modules: :mod:`~gancore.nets.layers` (normalizations, activations,
initialisation), :mod:`~gancore.nets.mlp`, :mod:`~gancore.nets.conv`,
:mod:`~gancore.nets.standard` (the networks chosen per data kind and the
:class:`StandardNetworks` mixin), :mod:`~gancore.nets.autoencoder` and
:mod:`~gancore.nets.blocks` (SAGAN's self-attention and residual blocks,
StyleGAN2's equalized and modulated layers). Every public name is importable
from ``gancore.nets`` itself.
"""

from gancore.nets.autoencoder import (RECONSTRUCTION_ERRORS, AutoEncoder, AutoEncoderDiscriminator, ConvDecoder,
                                      ConvEncoder, mlp_coder)
from gancore.nets.blocks import (LRELU_GAIN, EqualConv2d, EqualLinear, MinibatchStdDev, ModulatedConv2d,
                                 NoiseInjection, ResBlockDown, ResBlockUp, SelfAttention)
from gancore.nets.conv import ConvDiscriminator, ConvGenerator, conv_plan
from gancore.nets.layers import ACTIVATIONS, NORMS, activation, init_weights, norm_2d
from gancore.nets.mlp import MLPDiscriminator, MLPGenerator
from gancore.nets.standard import (ARCHS, Depth, StandardNetworks, by_kind, check_arch, standard_discriminator,
                                   standard_generator, takes_mlp)

__all__ = ["ACTIVATIONS", "ARCHS", "LRELU_GAIN", "NORMS", "RECONSTRUCTION_ERRORS", "AutoEncoder",
           "AutoEncoderDiscriminator", "ConvDecoder", "ConvDiscriminator", "ConvEncoder", "ConvGenerator",
           "Depth", "MLPDiscriminator", "MLPGenerator", "StandardNetworks", "activation", "by_kind", "check_arch",
           "conv_plan", "init_weights", "mlp_coder", "norm_2d", "standard_discriminator", "standard_generator",
           "takes_mlp",
           "EqualConv2d", "EqualLinear", "MinibatchStdDev", "ModulatedConv2d", "NoiseInjection", "ResBlockDown",
           "ResBlockUp", "SelfAttention"]

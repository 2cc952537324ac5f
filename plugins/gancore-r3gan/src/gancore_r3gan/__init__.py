"""R3GAN (Huang et al., NeurIPS 2024, "The GAN is dead; long live the GAN! A Modern GAN Baseline")
as a gancore family, written from the paper's text (not from its code).

Loss, the relativistic *pairing* GAN (RpGAN), with ``D`` the raw score and
real sample ``i`` paired with fake sample ``i`` of the batch::

    L_D = E_i[softplus(-(D(x_i) - D(G(z_i))))]
    L_G = E_i[softplus(-(D(G(z_i)) - D(x_i)))]

(:func:`gancore.losses.rpgan_d` / :func:`gancore.losses.rpgan_g`), regularized
with R1 *and* R2 (the ``r1`` and ``r2`` regularizers, same gamma), which the
family turns on by default: the paper shows RpGAN + R1 + R2 converges locally
where either penalty alone may not.

Networks (:mod:`gancore.nets.residual`): no normalization; residual blocks
1x1 -> grouped 3x3 -> 1x1 widened inside (inverted bottleneck), fix-up
initialisation (the last layer of each branch zero, the others scaled by
``L**-0.25``), bilinear resampling between stages; on vector data (``ring``)
residual MLPs. Defaults by data kind are in ``DEFAULTS`` and the option
declarations; docs/families/r3gan.md has the paper's settings beside ours and
the measurements.
"""

from __future__ import annotations

from gancore import hookimpl
from gancore.declaration import PositiveInt, declare, option
from gancore.errors import PluginError
from gancore.losses import rpgan_d, rpgan_g
from gancore.nets.residual import (
    ResidualDiscriminator,
    ResidualGenerator,
    ResidualMLPDiscriminator,
    ResidualMLPGenerator,
)

__all__ = ["DEFAULTS", "R3GAN", "rpgan_d", "rpgan_g"]

#: Adam as the paper has it: beta1 = 0, beta2 = 0.99.
_ADAM = {"betas": (0.0, 0.99)}
#: Training settings by data kind. R1 and R2 with one gamma (the paper's "R1 + R2"); a learning rate
#: decayed linearly to 0 at the last step (the paper decays its rate too, over a far longer run).
DEFAULTS = {
    "vector": {**_ADAM, "lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear", "regularizers": {"r1": 1.0, "r2": 1.0}},
    "small-image": {**_ADAM, "lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear",
                    "regularizers": {"r1": 0.1, "r2": 0.1}, "plugins": ["ema"]},
    "image": {**_ADAM, "lr_g": 5e-4, "lr_d": 5e-4, "lr_schedule": "linear",
              "regularizers": {"r1": 0.1, "r2": 0.1}, "plugins": ["ema"]},
}


@declare
class R3GAN:
    """Huang et al. 2024: RpGAN loss + R1 + R2, normalization-free grouped-conv residual networks."""

    kind = "family"
    defaults = DEFAULTS

    width: PositiveInt = option(16, help="Channels at the image's resolution (doubled per halving, at most 512).")
    hidden: PositiveInt = option(256, help="Units of the residual MLPs on vector data.")
    blocks: PositiveInt = option(1, by_kind={"vector": 2}, help="Residual blocks per stage (per MLP on vectors).")
    expansion: PositiveInt = option(2, help="Inverted bottleneck: inner width = expansion x the block's width.")
    group_size: PositiveInt = option(16, help="Channels per group of the grouped 3x3 convolution.")

    @hookimpl
    def build_generator(self, config, data):
        if data.is_image:
            return ResidualGenerator(data, config.latent_dim, self.width, self.blocks, self.expansion,
                                     self.group_size)
        if len(data.shape) != 1:
            raise PluginError(f"gancore-r3gan trains on images or vectors; {data.name!r} has shape {data.shape}.")
        return ResidualMLPGenerator(data, config.latent_dim, self.hidden, self.blocks, self.expansion)

    @hookimpl
    def build_discriminator(self, data):
        if data.is_image:
            return ResidualDiscriminator(data, self.width, self.blocks, self.expansion, self.group_size)
        return ResidualMLPDiscriminator(data, self.hidden, self.blocks, self.expansion)

    @hookimpl
    def d_loss(self, step):
        return rpgan_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        # D is frozen in this phase; the real scores enter each pair's difference.
        return rpgan_g(*step.real_and_fake_scores())

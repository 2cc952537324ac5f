"""VAE-GAN (Larsen et al., 2016, "Autoencoding beyond pixels using a learned similarity metric").

A VAE whose decoder is also a GAN's generator, and whose reconstruction error
is measured in the discriminator's features instead of pixels. With an
encoder ``q(z | x) = N(mu(x), diag(sigma^2(x)))``, ``z ~ q(z | x)``,
``x~ = Dec(z)``, prior samples ``x_p = Dec(z_p)``, ``z_p ~ N(0, I)``, and
``Dis_l`` the discriminator's features at its last hidden layer::

    L_prior = KL(q(z | x) || p(z)) = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)
    L_llike = -E_q[log p(Dis_l(x) | z)] = 1/2 ||Dis_l(x~) - Dis_l(x)||^2    (Gaussian, identity covariance;
                                                                            constants dropped)
    L_GAN   = log D(x) + log(1 - D(x_p)) + log(1 - D(x~))

each per sample (sums over code and feature dimensions), averaged over the
batch. Algorithm 1 of the paper updates

    encoder:        L_prior + L_llike
    decoder:        gamma * L_llike - L_GAN      (gamma weighs reconstruction against fooling D)
    discriminator:  -L_GAN                       (D is not trained on L_llike)

Here the decoder's GAN term is the non-saturating one of common practice,
``-log D(x_p) - log D(x~)``, in place of ``log(1 - D(.))``.

How both networks get their own loss from gancore's single generator
optimizer and one backward pass: the generator module's forward returns two
copies of the reconstruction with equal values, ``reconstruction`` (gradients
to encoder and decoder) and ``decoder_reconstruction`` (decoded from the
detached code: gradients to the decoder only). The generator phase's terms::

    kl                       = L_prior                                   -> encoder
    reconstruction           = L_llike(reconstruction)                   -> encoder and decoder
    decoder_reconstruction   = (gamma - 1) * L_llike(decoder_reconstruction)  -> decoder
    adversarial              = -log D(x_p) - log D(decoder_reconstruction)    -> decoder

so the encoder's gradient is exactly that of ``L_prior + L_llike`` and the
decoder's that of ``gamma * L_llike`` plus the GAN term (``gamma < 1`` makes
the correction term negative, as it should). D is frozen in this phase, and
``Dis_l(x)`` of the real images is a constant.

The discriminator is the standard one of :mod:`gancore.nets`, whose
``features(x)`` is ``Dis_l`` and ``head`` the score above it. Regularizers
see one view: real images, and as fakes the prior samples with every other
row replaced by a reconstruction (D's two kinds of fake input, one row per
real row, as interpolating penalties need); its score is D's.

Defaults (``DEFAULTS``): on 28x28 and larger images Adam lr 2e-4, betas
(0.5, 0.999) (the paper used RMSProp, lr 3e-4) and BatchNorm in D; on small
images and vectors lr 1e-3 decayed linearly, R1 and no normalization in D,
and on images an EMA of the generator module; an 8-d code on small images
(100-d elsewhere, 8-d on vectors: the encoder's KL leaves only a few nats in
the code, and the dimensions it leaves unused are noise the decoder learns to
ignore, so its prior samples vary along few directions); ``gamma`` by data
kind (``GAMMA``: 0.1 on small images, where with the 8-d code the decoder's
GAN term weighted up against its feature reconstruction gave better samples;
1 elsewhere, not tuned). Measurements: docs/families/vaegan.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gancore import hookimpl
from gancore.declaration import Norm, PositiveFloat, PositiveInt, declare, option
from gancore.nets import standard_discriminator
from gancore.step import DiscriminatorView
from gancore_ema import SMALL_DATA

from gancore_vaegan.nets import VAEGANGenerator

#: Training defaults by data kind (``DataSpec.kind``): the small-data recipe on ring and digits, and an
#: 8-d code on small images. The encoder's KL keeps few nats in the code (3.5 nats, 4 of 100 dimensions
#: above 0.1, at 2,000 steps on `digits`), so most dimensions of a 100-d code are prior noise in every
#: reconstruction; the decoder learns to ignore them, and its prior samples vary along the few it uses.
#: `digits`, 2,000 steps, classifier-FID / floor (2,000 samples): 100-d 8.4x, 16-d 5.4x, 8-d 3.5x, 4-d 4.1x;
#: at 5,000 steps (benchmarks/quality.py) 8-d 3.13x against 4.9x for 100-d: better, still over 3x
#: (docs/families/vaegan.md).
DEFAULTS = {
    "vector": SMALL_DATA["vector"],
    "small-image": {**SMALL_DATA["small-image"], "latent_dim": 8},
    "image": {},
}
#: D's normalization by data kind, over none (no BatchNorm beside the per-sample R1).
NORM = {"image": "batch"}
#: gamma (the decoder's weight of the feature reconstruction against the GAN term) by data kind; 1 (the
#: encoder's and decoder's reconstruction weighted alike) but on small images: with the 8-d code, `digits`
#: 2.68x the floor at 5,000 steps at 0.1 against 3.30x at 1 (quality_steps.py, 2,000 samples; with the old
#: 100-d code 0.1 was worse, 5.6x against 4.9x).
GAMMA = {"vector": 1.0, "small-image": 0.1, "image": 1.0}


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``L_prior``: ``KL(N(mu, diag(exp(logvar))) || N(0, I))`` summed over the code, averaged over the batch."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()


def feature_reconstruction(reconstructed: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """``L_llike``: ``1/2 ||Dis_l(x~) - Dis_l(x)||^2`` per sample (Gaussian NLL, constants dropped), batch mean."""
    return (0.5 * (reconstructed - real).flatten(1).pow(2).sum(1)).mean()


def vaegan_d_loss(real: torch.Tensor, prior: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """``-L_GAN`` for D from logits: ``-log D(x) - log(1 - D(x_p)) - log(1 - D(x~))`` (batch means)."""
    return F.softplus(-real).mean() + F.softplus(prior).mean() + F.softplus(reconstructed).mean()


def vaegan_g_loss(outputs, features_real, features_rec, features_dec_rec, scores_prior, scores_dec_rec,
                  gamma: float) -> dict[str, torch.Tensor]:
    """The generator phase's named terms (see the module docstring for which network each reaches)."""
    return {"kl": kl_divergence(outputs["mu"], outputs["logvar"]),
            "reconstruction": feature_reconstruction(features_rec, features_real),
            "decoder_reconstruction": (gamma - 1) * feature_reconstruction(features_dec_rec, features_real),
            "adversarial": F.softplus(-scores_prior).mean() + F.softplus(-scores_dec_rec).mean()}


def _mixed_fakes(prior: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """Prior samples with every other row (1, 3, ...) replaced by a reconstruction: one fake per real row."""
    mixed = prior.clone()
    mixed[1::2] = reconstructed[1::2]
    return mixed


@declare
class VAEGAN:
    """Larsen et al. 2016: VAE encoder, decoder = generator, reconstruction in D's feature space, GAN loss."""

    kind = "family"
    defaults = DEFAULTS

    gamma: PositiveFloat = option(1.0, by_kind=GAMMA, help="The decoder's weight of the feature reconstruction "
                                                           "against the GAN term.")
    width: PositiveInt = option(64, help="Channels of the convolutions (images).")
    hidden: PositiveInt = option(256, help="Units per hidden layer of the MLPs (vector data).")
    norm: Norm = option("none", by_kind=NORM, help="Normalization in D's convolutions.")

    @hookimpl
    def build_generator(self, config, data):
        return VAEGANGenerator(data, config.latent_dim, self.width, self.hidden)

    @hookimpl
    def build_discriminator(self, data):
        return standard_discriminator(data, self.width, hidden=self.hidden, norm=self.norm)

    @hookimpl
    def d_loss(self, step):
        x, out = step.real, step.outputs
        prior, rec = out["sample"], out["reconstruction"]
        D = step.discriminator
        scores = D(torch.cat([x, prior, rec]))
        step.views = (DiscriminatorView(real=x, fake=_mixed_fakes(prior, rec), score=D,
                                        parameters=step.D.parameters),)
        return vaegan_d_loss(*scores.split([len(x), len(prior), len(rec)]))

    @hookimpl
    def g_loss(self, step):
        x, out = step.real, step.outputs
        parts = [x, out["reconstruction"], out["decoder_reconstruction"], out["sample"]]
        D = step.D  # frozen in this phase: gradients reach the generator module only
        features = D.features(torch.cat(parts))
        scores = D.head(features).squeeze(1)
        f_real, f_rec, f_dec, _ = features.split([len(p) for p in parts])
        _, _, s_dec, s_prior = scores.split([len(p) for p in parts])
        return vaegan_g_loss(out, f_real.detach(), f_rec, f_dec, s_prior, s_dec, self.gamma)

"""InfoGAN (Chen et al., 2016) as a gancore family.

The generator's input is incompressible noise ``z`` plus a latent code
``c``: one categorical code ``cat ~ Cat(K)`` (one-hot into G) and
``continuous`` codes ``c1, c2, ... ~ U(-1, 1)``. InfoGAN maximises a
variational lower bound of the mutual information between ``c`` and
``G(z, c)``::

    L_I(G, Q) = E_{c ~ p(c), x ~ G(z, c)}[log Q(c | x)] + H(c)  <=  I(c; G(z, c))
    min_{G, Q} max_D  V(D, G) - lambda * L_I(G, Q)

``Q`` is a small head (FC 128, BatchNorm, LeakyReLU, FC) on the
discriminator's shared body, so D's module outputs, per sample, the
adversarial score, ``K`` categorical logits and one mean per continuous code.
``-log Q(c | x)`` is the cross-entropy for the categorical code and, for the
continuous codes, a factored Gaussian with unit variance,
``0.5 * sum_j (c_j - mu_j)^2`` (constants dropped); the two parts are
weighted by ``lambda_cat`` (1, the paper's lambda for discrete codes) and
``lambda_cont`` (0.1: the paper uses a smaller lambda for continuous codes).

Q lives in the discriminator module, so it is trained in the discriminator
phase on the (detached) fakes of that phase, while G is trained on the same
term through Q in the generator phase: the same objective, minimised over
Q's parameters and G's in alternation. The family is unsupervised: it never
reads the batch's labels. Logged: ``d/adversarial``, ``d/info``,
``g/adversarial``, ``g/info`` and ``mi_lower_bound`` (``log K - CE`` of the
categorical code, in nats).

Codes: one 10-way categorical code and 2 continuous codes; 62-dimensional noise on images. The
paper's MNIST settings (``--preset paper``): Adam with lr 2e-4 for D and 1e-3 for G, betas (0.5, 0.999).
Defaults: on small images R1, lr 1e-3 for both decayed linearly to 0, an EMA of G and no BatchNorm in
D's body; on 28x28 and larger DCGAN's recipe there, two convolutions per resolution (``DEFAULTS``,
``OPTION_DEFAULTS``); on ``ring``, gancore's Adam 2e-4. The networks are the DCGAN-style convolutional ones of
:mod:`gancore.nets` (the paper's G/D add fully connected layers). ``gan
sample RUN --traverse cat`` (or ``c1``) draws the paper's figure: one code
varied along each row, everything else fixed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gancore import hookimpl
from gancore.data import DataSpec
from gancore.generator import Generator, LatentCode, draw
from gancore.losses import logistic_d, logistic_g
from gancore.declaration import NonNegativeFloat, NonNegativeInt, Norm, PositiveInt, declare, option
from gancore.nets import ConvDiscriminator, ConvGenerator, Depth, MLPDiscriminator, MLPGenerator, takes_mlp
from gancore.step import DiscriminatorView
from gancore_ema import SMALL_DATA


def info_nll(q_out: torch.Tensor, cat: torch.Tensor, cont: torch.Tensor, lambda_cat: float = 1.0,
             lambda_cont: float = 0.1) -> torch.Tensor:
    """``-(L_I - H(c))``: the negative log-likelihood of the codes under Q, weighted.

    :param q_out: Q's outputs ``(n, K + m)``: ``K`` categorical logits, then ``m`` Gaussian means.
    :param cat: the categorical code, ``(n,)`` indices in ``0..K-1`` (``None`` when ``K = 0``).
    :param cont: the continuous codes, ``(n, m)``.
    """
    k = q_out.shape[1] - cont.shape[1]
    loss = q_out.new_zeros(())
    if k:
        loss = loss + lambda_cat * F.cross_entropy(q_out[:, :k], cat)
    if cont.shape[1]:
        loss = loss + lambda_cont * 0.5 * (cont - q_out[:, k:]).pow(2).sum(1).mean()
    return loss


class InfoGenerator(Generator):
    """``G(z, c)``: noise, a one-hot categorical code and continuous codes, concatenated into one network."""

    def __init__(self, spec: DataSpec, noise_dim: int, categories: int, continuous: int, width: int = 64,
                 hidden: int = 256, layers: int = 3, depth: int = 1):
        super().__init__(noise_dim, 0)
        self.categories, self.continuous = categories, continuous
        width_in = noise_dim + categories + continuous
        self.net = (MLPGenerator(spec, width_in, hidden, layers) if takes_mlp(spec)
                    else ConvGenerator(spec, width_in, width, depth=depth))

    @property
    def latent_codes(self):
        codes = {"cat": LatentCode("categorical", self.categories)} if self.categories else {}
        # Sampled from U(-1, 1); a traversal goes to +-2 like the paper's figures.
        codes.update({f"c{i + 1}": LatentCode("continuous", low=-2.0, high=2.0) for i in range(self.continuous)})
        return codes

    def latent(self, n, labels=None, batch=None, rng=None):
        # Unsupervised: ``labels`` and ``batch`` are not used.
        device = self.latent_device()
        latent = {"z": draw(torch.randn, (n, self.latent_dim), rng=rng, device=device)}
        if self.categories:
            latent["cat"] = draw(torch.randint, 0, self.categories, (n,), rng=rng, device=device)
        for i in range(self.continuous):
            latent[f"c{i + 1}"] = draw(torch.rand, (n,), rng=rng, device=device) * 2 - 1
        return latent

    def continuous_codes(self, latent) -> torch.Tensor:
        z = latent["z"]
        return torch.stack([latent[f"c{i + 1}"] for i in range(self.continuous)], 1) if self.continuous \
            else z.new_zeros(len(z), 0)

    def forward(self, latent):
        parts = [latent["z"]]
        if self.categories:
            parts.append(F.one_hot(latent["cat"], self.categories).to(latent["z"].dtype))
        parts.append(self.continuous_codes(latent).to(latent["z"].dtype))
        return self.net(torch.cat(parts, 1))


class InfoDiscriminator(nn.Module):
    """D's body with two heads: the adversarial score (column 0) and Q (the other columns)."""

    def __init__(self, body: nn.Module, q_outputs: int, q_hidden: int = 128):
        super().__init__()
        self.net = body
        self.q = nn.Sequential(nn.Linear(body.feature_dim, q_hidden), nn.BatchNorm1d(q_hidden),
                               nn.LeakyReLU(0.2, True), nn.Linear(q_hidden, q_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net.features(x)
        return torch.cat([self.net.head(h), self.q(h)], 1)


#: Training defaults by data kind (``DataSpec.kind``), with the paper's 62-d noise on images. On ``digits``
#: the paper's settings give 7.7x the FID floor and 39-41% code/class alignment; R1, a 1e-3 rate decayed
#: linearly, an EMA of G and no BatchNorm in D's body give 0.57x. On ``mnist`` the paper's settings gave
#: 28.4% alignment at 2,000 steps; on 28x28 and larger, DCGAN's measured recipe there (batch 128, lr 5e-4
#: decayed linearly, betas (0, 0.99), R1 gamma 1, EMA, 2,000 steps) with two convolutions per resolution.
DEFAULTS = {
    # On ``ring`` the paper's settings do best of what was measured (8/8, 41.3%; R1 with lr 1e-3: 7/8, 17.5%).
    "vector": {},
    "small-image": {**SMALL_DATA["small-image"], "latent_dim": 62},
    "image": {**SMALL_DATA["image"], "latent_dim": 62},
}
#: Option defaults by data kind: no normalization in D's body on images (R1 is a per-sample penalty), and
#: two convolutions per resolution on 28x28 and larger (DCGAN's finding).
OPTION_DEFAULTS = {"small-image": {"norm": "none"}, "image": {"norm": "none", "depth": 2}}
#: Chen et al.'s MNIST settings (``--preset paper``): 62-d noise, Adam with lr 2e-4 for D and 1e-3 for G,
#: betas (0.5, 0.999), constant rates, BatchNorm in D, no regularizer, no average of G (the batch is
#: gancore's 64; the paper's networks add fully connected layers to these convolutional ones).
PAPER = {"lr_g": 1e-3, "lr_d": 2e-4, "betas": (0.5, 0.999), "lr_schedule": "constant", "n_critic": 1,
         "latent_dim": 62, "regularizers": {}, "options": {"gancore-infogan": {"norm": "batch", "depth": 1}}}


@declare
class InfoGAN(Depth):
    """Chen et al. 2016: noise + categorical/continuous codes, Q head on D, MI lower bound (unsupervised)."""

    kind = "family"
    defaults = DEFAULTS
    paper = PAPER
    option_defaults = OPTION_DEFAULTS

    categories: NonNegativeInt = option(10, help="Categories of the categorical code (0: none; not 1).")
    continuous: NonNegativeInt = option(2, help="Continuous codes, uniform in [-1, 1].")
    lambda_cat: NonNegativeFloat = option(1.0, help="Weight of the categorical code's information term.")
    lambda_cont: NonNegativeFloat = option(0.1, help="Weight of the continuous codes' information term.")
    width: PositiveInt = option(64, help="Channels of the convolutions (images).")
    norm: Norm = option("batch", help="Normalization in D's convolutions.")
    hidden: PositiveInt = option(256, help="Units per hidden layer of the MLPs (vector data).")
    layers: PositiveInt = option(3, help="Hidden layers of the MLPs.")

    def __attrs_post_init__(self):
        # What one option's type cannot say: the codes together.
        if self.categories + self.continuous == 0:
            raise ValueError("InfoGAN needs at least one code: categories >= 2 or continuous >= 1")
        if self.categories == 1:
            raise ValueError("a categorical code needs at least 2 categories (or 0 for none)")

    @hookimpl
    def build_generator(self, config, data):
        return InfoGenerator(data, config.latent_dim, self.categories, self.continuous, self.width, self.hidden,
                             self.layers, depth=self.depth)

    @hookimpl
    def build_discriminator(self, data):
        body = (MLPDiscriminator(data, self.hidden, self.layers) if takes_mlp(data)
                else ConvDiscriminator(data, self.width, norm=self.norm, depth=self.depth))
        return InfoDiscriminator(body, self.categories + self.continuous)

    def _info(self, step, q_out: torch.Tensor) -> torch.Tensor:
        latent = step.latent
        cat = latent.get("cat")
        nll = info_nll(q_out, cat, step.G.continuous_codes(latent), self.lambda_cat, self.lambda_cont)
        if self.categories:
            step.log("mi_lower_bound", math.log(self.categories)
                     - F.cross_entropy(q_out[:, :self.categories].detach(), cat))
        return nll

    @hookimpl
    def d_loss(self, step):
        real, fake, D = step.real, step.fake, step.discriminator
        out = D(torch.cat([real, fake]))
        n = len(real)
        step.views = (DiscriminatorView(real=real, fake=fake, score=lambda x: D(x)[:, 0],
                                        parameters=step.D.parameters),)
        return {"adversarial": logistic_d(out[:n, 0], out[n:, 0]), "info": self._info(step, out[n:, 1:])}

    @hookimpl
    def g_loss(self, step):
        # D (and Q) score the fakes inside a real+fake batch, as in D's own update, so BatchNorm
        # normalises them with the same kind of batch statistics in both phases.
        out = step.discriminator(torch.cat([step.real, step.fake]))[len(step.real):]
        return {"adversarial": logistic_g(out[:, 0]), "info": self._info(step, out[:, 1:])}

"""BEGAN (Berthelot, Schumm and Metz, 2017) as a gancore family.

The discriminator is an auto-encoder; ``L(v) = |v - D(v)|`` is its L1
reconstruction loss (a mean over v's elements, one value per sample). With
``k_0 = 0``:

    L_D     = L(x) - k_t * L(G(z_D))
    L_G     = L(G(z_G))
    k_{t+1} = clip(k_t + lambda_k * (gamma * L(x) - L(G(z_G))), 0, 1)
    M_global = L(x) + |gamma * L(x) - L(G(z_G))|

``k_t`` is updated once per training step, after the generator update
(``post_step`` in phase ``"g"``), from that step's last ``L(x)`` and its
``L(G(z_G))``; it lives in the plugin's checkpointed state, so a resumed run
continues with the same ``k_t``. ``began/k`` and ``began/M_global`` are
logged (``M_global`` falls as training converges). Under several processes
the two losses are averaged across processes first, so every process keeps
the same ``k_t``.

Networks, as in the paper: no BatchNorm, ELU activations; an encoder to an
``h``-dimensional code and a decoder back (here strided and transposed
convolutions, where the paper uses 3x3 convolutions with sub-sampling and
nearest-neighbour up-sampling); the generator has the decoder's architecture
(its own weights), with a tanh output. MLPs for vector data (``ring``).
Defaults (the paper's): ``gamma = 0.5``, ``lambda_k = 0.001``, ``h = N_z =
64`` (``code_dim`` and the latent size), Adam with lr 1e-4, batch size 16
on images (the paper also halves the learning rate when M_global stalls;
``--lr-schedule linear`` is the closest core option).
"""

from __future__ import annotations


import torch

from gancore import hookimpl
from gancore.declaration import Fraction, NonNegativeFloat, PositiveInt, declare, option
from gancore.generator import Generator
from gancore.nets import AutoEncoder, AutoEncoderDiscriminator, ConvDecoder, MLPGenerator, takes_mlp


def began_d_loss(real_loss: torch.Tensor, fake_loss: torch.Tensor, k: torch.Tensor | float) -> torch.Tensor:
    """``L_D = E[L(x)] - k_t * E[L(G(z))]`` from per-sample reconstruction losses."""
    return real_loss.mean() - k * fake_loss.mean()


def update_k(k: torch.Tensor | float, real_loss: torch.Tensor | float, fake_loss: torch.Tensor | float,
             gamma: float, lambda_k: float):
    """``(k_{t+1}, M_global)`` from the batch means ``L(x)`` and ``L(G(z_G))``."""
    balance = gamma * real_loss - fake_loss
    k_next = k + lambda_k * balance
    k_next = k_next.clamp(0.0, 1.0) if isinstance(k_next, torch.Tensor) else min(max(k_next, 0.0), 1.0)
    return k_next, real_loss + abs(balance)


class DecoderGenerator(Generator):
    """BEGAN's generator: the discriminator decoder's architecture, from noise, with a tanh output."""

    def __init__(self, data, latent_dim: int, width: int):
        super().__init__(latent_dim)
        self.net = ConvDecoder(data, latent_dim, width, norm="none", act="elu")

    def forward(self, latent) -> torch.Tensor:
        return torch.tanh(self.net(latent))


#: Training defaults by data kind (``DataSpec.kind``); on images 28x28 and larger, the paper's.
DEFAULTS = {
    "vector": {"lr_g": 1e-4, "lr_d": 1e-4},
    "small-image": {"latent_dim": 64, "lr_g": 1e-4, "lr_d": 1e-4, "lr_schedule": "linear", "plugins": ["ema"]},
    "image": {"latent_dim": 64, "lr_g": 1e-4, "lr_d": 1e-4, "batch_size": 16},
}
#: gamma and lambda_k by data kind (over the paper's 0.5 and 0.001). In 5,000 steps the paper's lambda_k = 0.001 moves k_t
#: too slowly (k stays near 0 and G collapses onto what the auto-encoder reconstructs best: 4/10 digit
#: classes, 105x the FID floor); lambda_k = 0.01 with gamma = 0.7 (more diversity) and batch 64: 7/10,
#: 52.9x. BEGAN does not reach the quality targets on small data yet (docs/results.md).
GAMMA = {"small-image": 0.7}
LAMBDA_K = {"small-image": 0.01}


@declare
class BEGAN:
    """Berthelot et al. 2017: auto-encoder D with L1 loss, equilibrium gamma, proportional control of k_t."""

    kind = "family"
    defaults = DEFAULTS

    gamma: Fraction = option(0.5, by_kind=GAMMA, help="The diversity ratio gamma = E[L(G(z))] / E[L(x)].")
    lambda_k: NonNegativeFloat = option(0.001, by_kind=LAMBDA_K, help="The gain of k_t's proportional control.")
    k0: Fraction = option(0.0, help="k_t's first value.")
    code_dim: PositiveInt = option(64, help="Size of the auto-encoder's code (h).")
    width: PositiveInt = option(64, help="Channels of the convolutions (images).")
    hidden: PositiveInt = option(256, help="Units per hidden layer of the MLPs (vector data).")

    def __attrs_post_init__(self):
        self._real_loss = None
        self._fake_loss = None

    @hookimpl
    def build_generator(self, config, data):
        if takes_mlp(data):
            return MLPGenerator(data, config.latent_dim, self.hidden)
        return DecoderGenerator(data, config.latent_dim, self.width)

    @hookimpl
    def build_discriminator(self, data):
        autoencoder = AutoEncoder(data, self.code_dim, self.width, self.hidden, norm="none", act="elu")
        return AutoEncoderDiscriminator(autoencoder, error="l1")

    def k(self, step) -> torch.Tensor:
        """``k_t``, kept in the plugin's checkpointed state."""
        state = step.state_for(self)
        if "k" not in state:
            state["k"] = torch.tensor(self.k0, device=step.real.device)
        return state["k"]

    @hookimpl
    def d_loss(self, step):
        real_loss, fake_loss = step.real_and_fake_scores()
        self._real_loss = real_loss.mean().detach()
        return began_d_loss(real_loss, fake_loss, self.k(step))

    @hookimpl
    def g_loss(self, step):
        loss = step.fake_scores().mean()
        self._fake_loss = loss.detach()
        return loss

    @hookimpl
    def post_step(self, step, phase):
        if phase != "g" or self._real_loss is None or self._fake_loss is None:
            return
        real_loss, fake_loss = self._real_loss, self._fake_loss
        if step.accelerator.num_processes > 1:
            real_loss, fake_loss = step.accelerator.reduce(torch.stack([real_loss, fake_loss]), "mean")
        k = self.k(step)
        k_next, m_global = update_k(k, real_loss, fake_loss, self.gamma, self.lambda_k)
        k.copy_(k_next)
        step.log("began/k", k)
        step.log("began/M_global", m_global)

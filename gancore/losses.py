"""Adversarial objectives and input-gradient penalties, as plain functions.

These are the formulas of the papers, written once so that families and
regularizers (in their own distributions) share one tested implementation.
All take discriminator outputs as raw scores (logits) and return scalars.

Scores may have any shape (one per sample, ``(N,)``, as :mod:`gancore.nets`'
discriminators return them, or a map of patch scores per sample): the
expectations are means over every element, so the result is always one
number, as the loss hooks must return. Typical use in a family::

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.fake_scores())
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F


def logistic_d(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Goodfellow et al.: ``-E[log D(x)] - E[log(1 - D(G(z)))]`` with ``D = sigmoid(score)``.

    Computed as ``softplus(-real).mean() + softplus(fake).mean()``, stable for large scores.

    :param real_scores: D's raw scores of real samples.
    :param fake_scores: D's raw scores of fake samples.
    :return: the discriminator's loss, a scalar.
    """
    return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()


def logistic_g(fake_scores: torch.Tensor, saturating: bool = False) -> torch.Tensor:
    """The generator's side of the logistic game.

    Non-saturating (the paper's recommended practice): ``-E[log D(G(z))]``.
    Saturating (the minimax objective itself): ``E[log(1 - D(G(z)))]``.
    """
    if saturating:
        return -F.softplus(fake_scores).mean()
    return F.softplus(-fake_scores).mean()


def wasserstein_d(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Arjovsky et al.: the critic minimises ``E[D(G(z))] - E[D(x)]``."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_g(fake_scores: torch.Tensor) -> torch.Tensor:
    """Arjovsky et al.: the generator minimises ``-E[D(G(z))]``."""
    return -fake_scores.mean()


_SCALER: contextvars.ContextVar[Any] = contextvars.ContextVar("gancore_loss_scaler", default=None)


@contextlib.contextmanager
def loss_scaling(scaler: Any) -> Iterator[None]:
    """Within this block :func:`input_gradient` uses ``scaler`` (a ``torch.amp.GradScaler``, or ``None``).

    The trainer enters it around the ``regularize`` hook when fp16 mixed
    precision scales the loss, so every penalty built on
    :func:`input_gradient` follows PyTorch's AMP recipe for gradient
    penalties without knowing about precision.
    """
    token = _SCALER.set(scaler)
    try:
        yield
    finally:
        _SCALER.reset(token)


def input_gradient(score: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(scores, d sum(scores) / d x)`` with the graph kept for a second backward.

    ``x`` is detached and made a leaf, so the gradient is taken with respect
    to exactly the inputs given; ``create_graph=True`` lets the penalty's own
    gradient flow to the discriminator's parameters. The gradient is taken
    with ``torch.autograd.grad`` (not ``backward``), which is what keeps
    penalties correct under DistributedDataParallel.

    Under fp16 loss scaling (see :func:`loss_scaling`) the scores are
    multiplied by the loss scale before differentiating, so small input
    gradients do not underflow in fp16, and the gradient is divided by it
    again in fp32: the returned gradient is the true, unscaled one. If the
    scaled gradient overflows, the penalty is inf, the scaler skips that
    update and lowers its scale, exactly as for any other overflow.
    """
    x = x.detach().requires_grad_(True)
    scores = score(x)
    scaler = _SCALER.get()
    if scaler is None or not scaler.is_enabled():
        (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
        return scores, grad
    # The scale as a tensor, without a device sync (get_scale() would read it back).
    scale = scaler._get_scale_async() if hasattr(scaler, "_get_scale_async") else None
    if scale is None:  # before the scaler's first backward, or an older torch
        scale = scaler.get_scale()
    (grad,) = torch.autograd.grad(scores.float().sum() * scale, x, create_graph=True)
    return scores, grad.float() / scale


def interpolate(real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """``eps * real + (1 - eps) * fake`` with one ``eps ~ U[0, 1]`` *per sample*.

    Drawing ``eps`` per pixel instead is the classic bug: the interpolate
    then lies off the line between the two samples.
    """
    if eps is None:
        eps = torch.rand(real.shape[0], device=real.device, dtype=real.dtype)
    eps = eps.view(-1, *([1] * (real.dim() - 1)))
    return eps * real.detach() + (1 - eps) * fake.detach()


def gradient_norm(grad: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norm of a gradient: ``(N, ...)`` -> ``(N,)`` (WGAN-GP's ``||grad D(x)||``).

    A penalty such as WGAN-GP's is then ``weight * ((gradient_norm(grad) - 1) ** 2).mean()``, with
    ``grad`` from :func:`input_gradient` at :func:`interpolate`'d inputs.
    """
    return grad.flatten(1).norm(2, dim=1)


def least_squares_d(real_scores: torch.Tensor, fake_scores: torch.Tensor, a: float = 0.0,
                    b: float = 1.0) -> torch.Tensor:
    """Mao et al. (LSGAN): ``1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]``.

    ``a`` is the target of fake data, ``b`` of real data (the paper's 0-1-1
    coding: ``a = 0, b = 1``). Relativistic families call it on score
    differences with ``a = -1, b = 1``.
    """
    return 0.5 * ((real_scores - b) ** 2).mean() + 0.5 * ((fake_scores - a) ** 2).mean()


def least_squares_g(fake_scores: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """Mao et al. (LSGAN): the generator minimises ``1/2 E[(D(G(z)) - c)^2]``."""
    return 0.5 * ((fake_scores - c) ** 2).mean()


def rpgan_d(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Huang et al. 2024 (RpGAN, R3GAN's loss): ``E_pairs[softplus(-(D(x_r) - D(x_f)))]``.

    Relativistic *pairing*: real sample ``i`` is compared with fake sample ``i``
    (elementwise over the pairs, then the mean), not with the batch's average
    score as in RaGAN. ``softplus(-t) = -log sigmoid(t)``.
    """
    return F.softplus(-(real_scores - fake_scores)).mean()


def rpgan_g(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Huang et al. 2024 (RpGAN): the generator's side, ``E_pairs[softplus(-(D(x_f) - D(x_r)))]``."""
    return F.softplus(-(fake_scores - real_scores)).mean()


def boundary_seeking_g(fake_scores: torch.Tensor) -> torch.Tensor:
    """Hjelm et al. (BGAN, continuous data): G minimises ``1/2 E[(log D(G(z)) - log(1 - D(G(z))))^2]``.

    With ``D = sigmoid(score)``, ``log D - log(1 - D)`` is the score (the logit) itself, so this is
    ``1/2 E[score^2]``: G seeks D's decision boundary ``D = 1/2``, where the fakes' importance
    weights ``D / (1 - D)`` are 1. D is trained with :func:`logistic_d`.
    """
    return 0.5 * fake_scores.pow(2).mean()


def softmax_d(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Lin (Softmax GAN): D's cross-entropy to the target ``1/|B+|`` on each real sample, 0 on fakes.

    The scores are negative energies, ``s = -E``; the softmax runs over the whole batch
    ``B = B+ ∪ B-`` (reals and fakes), ``Z = sum_{x in B} exp(s(x))``::

        L_D = -sum_{x in B+} (1/|B+|) log(exp(s(x)) / Z) = -mean_{B+} s + log Z
    """
    return -real_scores.mean() + torch.logsumexp(torch.cat([real_scores, fake_scores]).flatten(), 0)


def softmax_g(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Lin (Softmax GAN): G's cross-entropy to the uniform target ``1/|B|`` over the whole batch::

        L_G = -sum_{x in B} (1/|B|) log(exp(s(x)) / Z) = -mean_B s + log Z

    (the real samples' terms carry no gradient to G but are part of the value and of ``Z``).
    """
    scores = torch.cat([real_scores, fake_scores]).flatten()
    return -scores.mean() + torch.logsumexp(scores, 0)

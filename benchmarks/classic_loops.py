"""The loops gancore is compared with: PyTorch-GAN-style per-script training loops.

Written from the published structure of eriklindernoren/PyTorch-GAN's ``implementations/dcgan/dcgan.py``
and ``implementations/wgan_gp/wgan_gp.py`` (not copied), with what makes those scripts what they are:

* data: torchvision's ``MNIST`` dataset read through a ``DataLoader`` (shuffled, no workers), each image
  decoded from the IDX file and put through ``Resize``/``ToTensor``/``Normalize([0.5], [0.5])``;
* every step: fresh ``Variable``-style target tensors, numpy noise copied into a new tensor;
* dcgan.py: the generator is updated first on ``BCELoss(sigmoid(D(G(z))), 1)`` (D not frozen: its
  gradients are computed and thrown away), then D on a real batch and on the same fakes, detached,
  each its own forward pass (its own BatchNorm batch); D's loss is the mean of the two;
* wgan_gp.py: every batch is a critic update on ``-D(x) + D(G(z)) + 10 * GP`` with the fakes *not*
  detached (the backward pass runs on through G, whose gradients are then zeroed), the penalty on a
  per-sample interpolation with ``create_graph=True``; after the first critic update of each group of
  ``n_critic`` the generator is updated on ``-D(G(z))`` with the same ``z`` and a new generator pass.

What is *not* theirs: the networks, optimizers and hyper-parameters are the ones gancore resolves for the
same flags (built by the family's hooks, the same seed), so a comparison measures the loops alone. One
"step" is one generator update on both sides (for WGAN-GP: ``n_critic`` critic updates and one generator
update).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch


def write_mnist_idx(root: Path, images: torch.Tensor, labels: torch.Tensor) -> None:
    """``images`` (uint8, ``(n, 1, 28, 28)``) as torchvision's raw ``MNIST`` IDX files (train and t10k)."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    pixels = images.squeeze(1).numpy().astype(np.uint8)
    classes = labels.numpy().astype(np.uint8)
    for split in ("train", "t10k"):
        with open(raw / f"{split}-images-idx3-ubyte", "wb") as handle:
            handle.write(bytes([0, 0, 8, 3]) + np.array(pixels.shape, dtype=">i4").tobytes() + pixels.tobytes())
        with open(raw / f"{split}-labels-idx1-ubyte", "wb") as handle:
            handle.write(bytes([0, 0, 8, 1]) + np.array(classes.shape, dtype=">i4").tobytes() + classes.tobytes())


def classic_step(family: str, generator: torch.nn.Module, discriminator: torch.nn.Module, config,
                 root: Path, device: str) -> Callable[[], None]:
    """One training step of the classic script for ``family`` (``"DCGAN"`` or ``"WGAN-GP"``)."""
    import torchvision.datasets as datasets
    import torchvision.transforms as transforms
    from torch.autograd import Variable

    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=config.betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=config.betas)
    Tensor = torch.cuda.FloatTensor if device.startswith("cuda") else torch.FloatTensor
    dataloader = torch.utils.data.DataLoader(
        datasets.MNIST(str(root), train=True, download=False,
                       transform=transforms.Compose([transforms.Resize(28), transforms.ToTensor(),
                                                     transforms.Normalize([0.5], [0.5])])),
        batch_size=config.batch_size, shuffle=True, drop_last=True)

    def batches():
        while True:
            yield from dataloader

    source = batches()

    def noise(n):
        return Variable(Tensor(np.random.normal(0, 1, (n, config.latent_dim))))

    adversarial_loss = torch.nn.BCELoss()

    def dcgan_step():
        imgs, _ = next(source)
        valid = Variable(Tensor(imgs.shape[0]).fill_(1.0), requires_grad=False)
        fake = Variable(Tensor(imgs.shape[0]).fill_(0.0), requires_grad=False)
        real_imgs = Variable(imgs.type(Tensor))
        opt_g.zero_grad()
        gen_imgs = generator(noise(imgs.shape[0]))
        g_loss = adversarial_loss(torch.sigmoid(discriminator(gen_imgs)), valid)
        g_loss.backward()
        opt_g.step()
        opt_d.zero_grad()
        real_loss = adversarial_loss(torch.sigmoid(discriminator(real_imgs)), valid)
        fake_loss = adversarial_loss(torch.sigmoid(discriminator(gen_imgs.detach())), fake)
        d_loss = (real_loss + fake_loss) / 2
        d_loss.backward()
        opt_d.step()

    def gradient_penalty(real, fake):
        alpha = Tensor(np.random.random((real.size(0), 1, 1, 1)))
        interpolates = (alpha * real + ((1 - alpha) * fake)).requires_grad_(True)
        d_interpolates = discriminator(interpolates)
        ones = Variable(Tensor(real.shape[0]).fill_(1.0), requires_grad=False)
        gradients = torch.autograd.grad(outputs=d_interpolates, inputs=interpolates, grad_outputs=ones,
                                        create_graph=True, retain_graph=True, only_inputs=True)[0]
        gradients = gradients.view(gradients.size(0), -1)
        return ((gradients.norm(2, dim=1) - 1) ** 2).mean()

    def wgan_gp_step():
        weight = config.regularizers["gp"]
        for critic in range(config.n_critic):
            imgs, _ = next(source)
            real_imgs = Variable(imgs.type(Tensor))
            opt_d.zero_grad()
            z = noise(imgs.shape[0])
            fake_imgs = generator(z)
            real_validity = discriminator(real_imgs)
            fake_validity = discriminator(fake_imgs)
            penalty = gradient_penalty(real_imgs.data, fake_imgs.data)
            d_loss = -torch.mean(real_validity) + torch.mean(fake_validity) + weight * penalty
            d_loss.backward()
            opt_d.step()
            opt_g.zero_grad()
            if critic == 0:  # wgan_gp.py: ``if i % opt.n_critic == 0``
                fake_imgs = generator(z)
                g_loss = -torch.mean(discriminator(fake_imgs))
                g_loss.backward()
                opt_g.step()

    return {"DCGAN": dcgan_step, "WGAN-GP": wgan_gp_step}[family]

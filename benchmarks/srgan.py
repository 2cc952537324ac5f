"""SRGAN and ESRGAN super-resolution (x2, mnist 14x14 -> 28x28): PSNR, SSIM and a perceptual measure
against bicubic upsampling.

Trains ``gancore-srgan`` (and ``gancore-esrgan`` with ``--esrgan``) at its defaults (the configuration ``gan train
-p gancore-srgan --data mnist`` resolves) on the 4,000 training images of
``mnist``'s fixed split (:func:`gancore.metrics.real_split`) and measures it on
the 1,000 held-out test images it never trains on: each test image is
downsampled by 2 (antialiased bicubic, as in training), super-resolved, and
compared with the original. Baselines: bicubic and nearest-neighbour
upsampling of the same low-resolution images. With ``--srresnet`` the same
generator is also trained on the content loss alone (``adversarial=0``, the
paper's SRResNet-MSE), for the paper's observation that the adversarial term
costs PSNR.

The perceptual measure is classifier-FID: the Fréchet distance between the
``mnist`` classifier's penultimate features of the super-resolved test images
and of the true ones (lower is closer in what the classifier sees; LPIPS needs
ImageNet weights that are not available offline). ESRGAN's perceptual *loss*
uses the same classifier's convolutions, so its FID here is measured with
features related to those it was trained on: read that column with this in
mind, and PSNR/SSIM as the measures independent of both losses.

PSNR is ``10 log10(1 / MSE)`` per image with pixels in ``[0, 1]``, averaged
over images; SSIM is Wang et al. 2004's (11x11 Gaussian window, sigma 1.5,
K1 = 0.01, K2 = 0.03, over the valid region), averaged over images.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/srgan.py                 # defaults: 2,000 steps
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/srgan.py --srresnet --steps 1000
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/srgan.py --esrgan --steps 1000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch
import torch.nn.functional as F


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of ``x`` against ``y`` (both in ``[-1, 1]``, compared in ``[0, 1]``)."""
    mse = ((x - y) / 2).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1 / mse.clamp_min(1e-12))


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per-image SSIM (Wang et al. 2004) of ``x`` against ``y`` (both in ``[-1, 1]``, compared in ``[0, 1]``)."""
    x, y = (x + 1) / 2, (y + 1) / 2
    g = torch.exp(-(torch.arange(window) - (window - 1) / 2).float().pow(2) / (2 * sigma ** 2))
    g = g / g.sum()
    kernel = (g[:, None] * g[None, :]).expand(x.shape[1], 1, window, window).contiguous()

    def blur(t):
        return F.conv2d(t, kernel, groups=x.shape[1])

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1)


def measure(name: str, out: torch.Tensor, truth: torch.Tensor) -> dict:
    from gancore.metrics import fid_from_features, load_classifier

    features = load_classifier("mnist").features
    return {"method": name, "psnr": psnr(out, truth).mean().item(), "ssim": ssim(out, truth).mean().item(),
            "classifier_fid": fid_from_features(features(out).numpy(), features(truth).numpy())}


def train(options: dict, args, train_set, log_every: int, family: str = "gancore-srgan"):
    """Train ``family`` (gancore-srgan or gancore-esrgan) with ``options`` at the family's defaults.

    :return: the generator, the resolved config, wall-clock and CPU seconds of training.
    """
    from gancore.plugins import Registry
    from gancore.run.rundir import configure
    from gancore.trainer import Trainer

    user = {"plugins": [family], "data": "mnist", "seed": args.seed, "sample_every": 0,
            "checkpoint_every": 0, "log_every": log_every, "name": "bench", "options": {family: options}}
    if args.steps:
        user["steps"] = args.steps
    with tempfile.TemporaryDirectory() as out:
        config, run = configure(Registry.discover(), train_set.spec, {**user, "out": out})
        print(f"{family} {options or '(defaults)'}: {config.steps} steps, batch {config.batch_size}, "
              f"lr {config.lr_g}/{config.lr_d} {config.lr_schedule}, betas {config.betas}, regularizers "
              f"{config.regularizers}, plugins {list(config.plugins)}", flush=True)
        trainer = Trainer(config, run, train_set, f"{out}/bench", progress=False)
        started, cpu = time.perf_counter(), time.process_time()
        trainer.fit()
        return trainer.sampling_generator().eval(), config, time.perf_counter() - started, time.process_time() - cpu


@torch.no_grad()
def super_resolve(generator, low: torch.Tensor, batch: int = 250) -> torch.Tensor:
    return torch.cat([generator({"source": part}) for part in low.split(batch)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, help="training steps [default: the family's, 2,000]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--srresnet", action="store_true", help="also train with the content loss alone")
    parser.add_argument("--esrgan", action="store_true", help="also train gancore-esrgan at its defaults")
    parser.add_argument("--no-srgan", action="store_true", help="do not train SRGAN (e.g. ESRGAN alone)")
    parser.add_argument("--json", help="write the rows to this JSON file")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)

    from gancore.data import Dataset, load_data
    from gancore.metrics import real_split
    from gancore_srgan import bicubic_upsample, downsample

    split = real_split("mnist")
    spec = load_data("mnist").spec
    # The split's images are floats in [-1, 1]; a Dataset holds uint8 images like load_data's.
    train_set = Dataset(spec, split["train_x"].add(1).mul(127.5).round().to(torch.uint8), split["train_y"])
    truth = split["test_x"]
    low = downsample(truth, 2)
    print(f"mnist: {len(train_set)} train, {len(truth)} held-out test images; x2 from {tuple(low.shape[-2:])}",
          flush=True)

    rows = [measure("nearest", F.interpolate(low, scale_factor=2, mode="nearest"), truth),
            measure("bicubic", bicubic_upsample(low, 2), truth)]
    for row in rows:
        print(f"  {row['method']}: PSNR {row['psnr']:.2f} dB, SSIM {row['ssim']:.4f}, classifier-FID "
              f"{row['classifier_fid']:.2f}", flush=True)
    variants = ([] if args.no_srgan else [("SRGAN", {}, "gancore-srgan")])
    variants += [("SRResNet (MSE only)", {"adversarial": 0.0}, "gancore-srgan")] if args.srresnet else []
    variants += [("ESRGAN", {}, "gancore-esrgan")] if args.esrgan else []
    for name, options, family in variants:
        generator, config, seconds, cpu = train(options, args, train_set, log_every=max(1, (args.steps or 2000) // 4),
                                                family=family)
        row = measure(name, super_resolve(generator, low), truth)
        row.update(steps=config.steps, batch=config.batch_size, seconds=round(seconds, 1), cpu_seconds=round(cpu, 1))
        rows.append(row)
        print(f"  {name}: {config.steps} steps in {seconds:.0f} s ({cpu:.0f} s CPU): PSNR {row['psnr']:.2f} dB, "
              f"SSIM {row['ssim']:.4f}, classifier-FID {row['classifier_fid']:.2f}", flush=True)

    print("\n| method | PSNR (dB) | SSIM | classifier-FID | training |\n|---|---|---|---|---|")
    for row in rows:
        trained = (f"{row['steps']} steps of batch {row['batch']}, {row['cpu_seconds']:.0f} s CPU"
                   if "steps" in row else "-")
        print(f"| {row['method']} | {row['psnr']:.2f} | {row['ssim']:.4f} | {row['classifier_fid']:.2f} | {trained} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"rows": rows, "seed": args.seed, "test_images": len(truth)}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Clustering accuracy of ClusterGAN's encoder against k-means on pixels (issue 30).

    python benchmarks/clustering.py --data mnist                 # train at the defaults, then measure
    python benchmarks/clustering.py --data mnist --run runs/X    # measure a run trained before
    python benchmarks/clustering.py --data digits --steps 2000

Trains `gancore-clustergan` as `gan train` does (`gancore.train`, the family's defaults unless
--steps or --set say otherwise), then clusters every image of the data set (the embedded labelled
set, all of it: clustering is unsupervised, as in the paper's tables) by ``argmax E_c(x)``, with the
sampling generator module (an add-on's average, e.g. EMA, of G and E) and with the trained weights.
Baseline: k-means on the raw pixels (scikit-learn's ``KMeans``, k-means++ starts, ``n_init`` 10),
with as many clusters as ClusterGAN's ``clusters``. Both are scored the same way: the share of
images whose cluster maps to their label under the best one-to-one mapping of clusters to labels
(the Hungarian method, ``gancore_clustergan.cluster_accuracy``). Needs scipy and scikit-learn.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import tempfile
import time

import torch


def kmeans_accuracy(x: torch.Tensor, labels: torch.Tensor, k: int, seed: int) -> float:
    """Clustering accuracy of k-means (scikit-learn) on the flattened pixels."""
    from gancore_clustergan import cluster_accuracy
    from sklearn.cluster import KMeans

    predicted = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x.flatten(1).numpy())
    return cluster_accuracy(torch.as_tensor(predicted), labels)


def encoder_accuracy(run_dir, x: torch.Tensor, labels: torch.Tensor, trained_weights: bool) -> tuple[float, int]:
    """Clustering accuracy of ``argmax E_c(x)`` of the run's generator module, and the clusters it used."""
    from gancore_clustergan import cluster_accuracy

    import gancore

    loaded = gancore.load(run_dir, trained_weights=trained_weights)
    predicted = loaded.module.cluster(x)
    return cluster_accuracy(predicted, labels), int(predicted.unique().numel())


def literal(text: str):
    """An option's value as typed: a number or a bool when it reads as one, else the text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="mnist", choices=("mnist", "digits"))
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the family's for the data)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                        help="a gancore-clustergan option (as gan train --set gancore-clustergan.OPTION=VALUE)")
    parser.add_argument("--run", help="measure this run directory instead of training one")
    parser.add_argument("--out", help="where to train (default: a temporary folder)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    import gancore
    from gancore.classifier import real_split

    split = real_split(args.data)
    x, labels = torch.cat([split["train_x"], split["test_x"]]), torch.cat([split["train_y"], split["test_y"]])
    options = {name: literal(value) for name, value in (item.split("=", 1) for item in args.set)}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = args.run
        if run_dir is None:
            settings = {"data": args.data, "seed": args.seed, "out": args.out or scratch, "name": "clustergan"}
            if args.steps:
                settings["steps"] = args.steps
            finished = gancore.train("gancore-clustergan", options={"gancore-clustergan": options}, **settings)
            run_dir, steps = finished.path, finished.step
        else:
            steps = gancore.load(run_dir).step
        trained = time.perf_counter() - started
        k = int(gancore.load(run_dir).module.clusters)
        sampling, used = encoder_accuracy(run_dir, x, labels, trained_weights=False)
        weights, used_w = encoder_accuracy(run_dir, x, labels, trained_weights=True)
    started = time.perf_counter()
    kmeans = kmeans_accuracy(x, labels, k, args.seed)
    kmeans_time = time.perf_counter() - started
    command = "python benchmarks/clustering.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"data {args.data}: {len(x)} images, {int(labels.unique().numel())} classes, k = {k}")
    print(f"ClusterGAN encoder (sampling weights), {steps} steps: accuracy {sampling:.1%} ({used} clusters used); "
          f"training {trained:.0f} s, {os.cpu_count()} CPUs, {args.threads} thread(s)")
    print(f"ClusterGAN encoder (trained weights), {steps} steps: accuracy {weights:.1%} ({used_w} clusters used)")
    print(f"k-means on pixels (scikit-learn, n_init 10, seed {args.seed}): accuracy {kmeans:.1%} ({kmeans_time:.0f} s)")
    print(f"command: {command}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

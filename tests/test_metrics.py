"""Metric math on small inputs with known answers, and the digits classifier."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gancore import classifier as C
from gancore import metrics as M


def _random_cov(rng, d, rank=None):
    a = rng.standard_normal((d, rank or d))
    return a @ a.T


# --- Fréchet distance ------------------------------------------------------------

def test_frechet_of_identical_gaussians_is_zero():
    rng = np.random.default_rng(0)
    mu, s = rng.standard_normal(6), _random_cov(rng, 6)
    assert M.frechet_distance(mu, s, mu, s) == pytest.approx(0, abs=1e-9)


def test_frechet_one_dimensional_closed_form():
    # 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2 with s the standard deviations.
    value = M.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]])
    assert value == pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2, rel=1e-12)


def test_frechet_diagonal_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.0])  # one variance exactly 0
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    assert M.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("rank", [None, 3, 1])
@pytest.mark.parametrize("c", [0.25, 1.0, 4.0])
def test_frechet_of_scaled_random_covariance_matches_closed_form(rank, c):
    # sigma2 = c sigma1  =>  tr sqrt(sigma1 sigma2) = sqrt(c) tr sigma1, so
    # FID = ||mu1 - mu2||^2 + (1 - sqrt c)^2 tr sigma1, also for singular sigma1.
    rng = np.random.default_rng(rank or 0)
    d = 8
    s1 = _random_cov(rng, d, rank)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    expected = ((mu1 - mu2) ** 2).sum() + (1 - math.sqrt(c)) ** 2 * np.trace(s1)
    assert M.frechet_distance(mu1, s1, mu2, c * s1) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_frechet_near_singular_covariances_are_stable_and_real():
    rng = np.random.default_rng(3)
    d = 32
    s1 = _random_cov(rng, d, 4) + 1e-12 * np.eye(d)
    s2 = _random_cov(rng, d, 4) + 1e-12 * np.eye(d)
    mu = np.zeros(d)
    value = M.frechet_distance(mu, s1, mu, s2)
    assert math.isfinite(value) and value >= 0
    # The Fréchet distance is a squared metric: symmetric, and its root obeys the triangle inequality.
    assert value == pytest.approx(M.frechet_distance(mu, s2, mu, s1), rel=1e-8)
    s3 = _random_cov(rng, d, 4)

    def root(a, b):
        return math.sqrt(M.frechet_distance(mu, a, mu, b))

    assert root(s1, s3) <= root(s1, s2) + root(s2, s3) + 1e-6


def test_frechet_agrees_with_scipy_sqrtm_on_well_conditioned_random_covariances():
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(7)
    d = 10
    s1, s2 = _random_cov(rng, d) + np.eye(d), _random_cov(rng, d) + np.eye(d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    reference = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * sqrtm(s1 @ s2).real)
    assert M.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-9)


def test_frechet_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        M.frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


def test_gaussian_stats_and_fid_from_features():
    x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    mu, sigma = M.gaussian_stats(x)
    assert mu.dtype == np.float64 and np.allclose(mu, [1, 1]) and np.allclose(sigma, np.eye(2) * 4 / 3)
    assert M.fid_from_features(x, x + 1) == pytest.approx(2.0)  # a pure shift by (1, 1)


# --- KID, IS ----------------------------------------------------------------------------

def test_kernel_distance_by_hand():
    # d = 1, k(x, y) = (xy + 1)^3. a = {0, 1}, b = {1, 2}:
    # k_aa off-diagonal 1, k_bb off-diagonal 27, k_ab = {1, 1, 8, 27} with mean 9.25
    # => MMD^2_u = 1 + 27 - 2 * 9.25 = 9.5 (every subset is the whole set).
    mean, std = M.kernel_distance([[0.0], [1.0]], [[1.0], [2.0]], subsets=5)
    assert mean == pytest.approx(9.5) and std == pytest.approx(0.0)


def test_kernel_distance_is_small_for_same_distribution_and_large_for_shifted():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((500, 4)), rng.standard_normal((500, 4))
    same, _ = M.kernel_distance(x, y, subsets=10, subset_size=200)
    shifted, _ = M.kernel_distance(x, y + 2, subsets=10, subset_size=200)
    assert abs(same) < 0.05 and shifted > 1.0


def test_inception_score_known_values():
    confident_uniform = torch.eye(4).repeat(5, 1)  # one-hot, classes equally used
    assert M.inception_score(confident_uniform)[0] == pytest.approx(4.0)
    assert M.inception_score(torch.full((10, 4), 0.25))[0] == pytest.approx(1.0)
    collapsed = torch.tensor([[1.0, 0, 0, 0]] * 10)
    assert M.inception_score(collapsed)[0] == pytest.approx(1.0)
    # two classes used equally, one-hot: exp(log 2) = 2
    assert M.inception_score(torch.eye(4)[[0, 1] * 6])[0] == pytest.approx(2.0)


# --- class and mode metrics -------------------------------------------------------------------

def test_class_histogram_coverage_and_kl():
    h = M.class_histogram([0, 0, 1, 1], 4)
    assert h["counts"] == [2, 2, 0, 0] and h["classes_covered"] == 2
    assert h["kl_uniform"] == pytest.approx(math.log(2))
    assert M.class_histogram(torch.arange(10), 10)["kl_uniform"] == pytest.approx(0.0)
    assert M.class_histogram([3] * 7, 10)["kl_uniform"] == pytest.approx(math.log(10))


def test_gan_test_accuracy():
    assert M.gan_test_accuracy(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 2, 3])) == 0.75
    with pytest.raises(ValueError):
        M.gan_test_accuracy(torch.tensor([0]), torch.tensor([0, 1]))


def test_ring_modes_metrics_known_answers():
    from gancore.data import RING_STD, ring_modes

    modes = ring_modes()
    perfect = modes.repeat(3, 1)
    assert M.ring_modes_metrics(perfect) == {"modes": 8, "high_quality": 1.0, "median_distance_std": 0.0}
    two = torch.cat([modes[:2], modes[:2] + 10 * RING_STD])  # 2 modes hit, half the samples far off
    result = M.ring_modes_metrics(two)
    assert result["modes"] == 2 and result["high_quality"] == 0.5
    origin = M.ring_modes_metrics(torch.zeros(5, 2))
    assert origin["modes"] == 0 and origin["high_quality"] == 0.0
    assert origin["median_distance_std"] == pytest.approx(2.0 / RING_STD)


def test_ring_benchmark_uses_the_one_implementation():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "ring.py"
    assert "def ring_modes_metrics" not in path.read_text()
    assert "from gancore.metrics import ring_modes_metrics" in path.read_text()
    assert importlib.util.spec_from_file_location("ring_bench", path) is not None


# --- the digits classifier -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits_classifier():
    return C.load_classifier("digits")


def test_digits_classifier_is_accurate_and_described(digits_classifier):
    clf = digits_classifier
    assert clf.accuracy >= 0.97
    assert len(clf.recipe_hash) == 16 and clf.path.is_file() and clf.path.name.startswith("digits-")
    split = C.real_split("digits")
    x = split["test_x"][:50]
    assert clf.logits(x).shape == (50, 10) and clf.predict(x).dtype == torch.int64
    assert clf.features(x).shape == (50, clf.feature_dim)
    assert float((clf.predict(split["test_x"]) == split["test_y"]).float().mean()) == pytest.approx(clf.accuracy)
    with pytest.raises(Exception, match="shape"):
        clf.features(torch.zeros(2, 1, 28, 28))


def test_split_is_fixed_and_disjoint():
    a, b = C.real_split("digits"), C.real_split("digits")
    assert torch.equal(a["test_x"], b["test_x"]) and len(a["train_x"]) + len(a["test_x"]) == 1797
    assert len(a["test_x"]) == 359
    assert a["train_x"].min() >= -1 and a["train_x"].max() <= 1


def test_held_out_digits_are_near_the_floor_and_noise_is_far(digits_classifier):
    clf = digits_classifier
    split = C.real_split("digits")
    ref = M.reference_stats(clf)
    assert ref["floor"] > 0 and ref["n_floor"] == 359 and ref["n_real"] == 1438
    # Resampled held-out digits (a "generator" that draws from unseen real data).
    index = torch.randint(0, len(split["test_x"]), (2000,), generator=torch.Generator().manual_seed(0))
    real = M.classifier_fid(clf, split["test_x"][index])
    assert 0.5 * ref["floor"] < real["fid"] < 1.5 * ref["floor"], (real, ref["floor"])
    noise = M.classifier_fid(clf, torch.rand(2000, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    assert noise["fid"] > 20 * ref["floor"] and noise["ratio"] > 20
    assert noise["n_fake"] == 2000 and noise["n_real"] == 1438


def test_classifier_cache_is_reused_and_a_corrupt_file_is_retrained(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCORE_CACHE", str(tmp_path))
    # A one-epoch recipe keeps this test fast; it hashes to its own file.
    monkeypatch.setitem(C.RECIPES, "digits", {**C.RECIPES["digits"], "epochs": 1})
    monkeypatch.setattr(C, "_LOADED", {})
    first = C.load_classifier("digits")
    assert first.path.parent == tmp_path / "classifiers" and first.path.is_file()
    C._LOADED.clear()
    trained, real_train = [], C.train_classifier

    def counting(*args, **kwargs):
        trained.append(1)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(C, "train_classifier", counting)
    again = C.load_classifier("digits")
    assert trained == [] and again.accuracy == first.accuracy
    x = C.real_split("digits")["test_x"][:20]
    assert torch.equal(again.features(x), first.features(x))
    first.path.write_bytes(b"not a safetensors file")
    C._LOADED.clear()
    rebuilt = C.load_classifier("digits")
    assert trained == [1] and rebuilt.path.is_file() and rebuilt.accuracy == pytest.approx(first.accuracy)
    assert C.load_classifier("digits") is rebuilt


def test_no_classifier_for_other_data():
    with pytest.raises(Exception, match="no classifier for data 'ring'"):
        C.load_classifier("ring")

"""Precision/recall (Kynkäänniemi et al. 2019, k=3) and density/coverage (Naeem et al. 2020, k=5),
worked out by hand on points on a line (1-D features, so every distance is a difference)."""

from __future__ import annotations

import pytest
import torch

from gancore import fidelity as F


def _col(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).unsqueeze(1)


# Precision/recall, k = 3.
# Real R = {0, 1, 2, 3, 10}. Distance from each to its 3rd nearest other point (the ball radius):
#   0: others at 1, 2, 3, 10 -> 3          ball [-3, 3]
#   1: others at 1, 1, 2, 9  -> 2          ball [-1, 3]
#   2: others at 1, 1, 2, 8  -> 2          ball [ 0, 4]
#   3: others at 1, 2, 3, 7  -> 3          ball [ 0, 6]
#  10: others at 7, 8, 9, 10 -> 9          ball [ 1, 19]
# Fake G = {-30, 0, 0.5, 1, 1.5, 2}. Radii among G:
# -30: others at 30, 30.5, 31, 31.5, 32 -> 31    ball [-61, 1]
#   0: others at 0.5, 1, 1.5, 2, 30     -> 1.5   ball [-1.5, 1.5]
# 0.5: others at 0.5, 0.5, 1, 1.5, 30.5 -> 1     ball [-0.5, 1.5]
#   1: others at 0.5, 0.5, 1, 1, 31     -> 1     ball [0, 2]
# 1.5: others at 0.5, 0.5, 1, 1.5, 31.5 -> 1     ball [0.5, 2.5]
#   2: others at 0.5, 1, 1.5, 2, 32     -> 1.5   ball [0.5, 3.5]
# precision: fakes inside some real ball: 0, 0.5, 1, 1.5, 2 (all in [-3, 3]); -30 in none -> 5/6.
# recall: reals inside some fake ball (union [-61, 3.5]): 0, 1, 2, 3; 10 in none -> 4/5.
# F-score: 2 * (5/6) * (4/5) / (5/6 + 4/5) = (4/3) / (49/30) = 40/49.
REAL_PR = _col(0, 1, 2, 3, 10)
FAKE_PR = _col(-30, 0, 0.5, 1, 1.5, 2)


def test_knn_radii_by_hand():
    assert F.knn_radii(REAL_PR, 3).tolist() == [3, 2, 2, 3, 9]
    assert F.knn_radii(FAKE_PR, 3).tolist() == [31, 1.5, 1, 1, 1, 1.5]


def test_precision_recall_by_hand():
    out = F.precision_recall(FAKE_PR, REAL_PR)
    assert out["k"] == 3
    assert out["precision"] == pytest.approx(5 / 6)
    assert out["recall"] == pytest.approx(4 / 5)
    assert out["f_score"] == pytest.approx(40 / 49)
    # Swapping the sets swaps the roles: precision of R against G is G's recall, and back.
    swapped = F.precision_recall(REAL_PR, FAKE_PR)
    assert (swapped["precision"], swapped["recall"]) == pytest.approx((4 / 5, 5 / 6))


# Density/coverage, k = 5.
# Real R = {0, 1, 2, 3, 4, 5, 20}. Distance to the 5th nearest other point:
#   0: 1, 2, 3, 4, 5, 20   -> 5    ball [-5, 5]
#   1: 1, 1, 2, 3, 4, 19   -> 4    ball [-3, 5]
#   2: 1, 1, 2, 2, 3, 18   -> 3    ball [-1, 5]
#   3: 1, 1, 2, 2, 3, 17   -> 3    ball [ 0, 6]
#   4: 1, 1, 2, 3, 4, 16   -> 4    ball [ 0, 8]
#   5: 1, 2, 3, 4, 5, 15   -> 5    ball [ 0, 10]
#  20: 15, 16, 17, 18, 19, 20 -> 19  ball [ 1, 39]
# Fake G = {-4, 5.5, 9, 25, 50}; the real balls holding each:
#  -4: [-5, 5]                                  -> 1
# 5.5: [0, 6], [0, 8], [0, 10], [1, 39]         -> 4
#   9: [0, 10], [1, 39]                         -> 2
#  25: [1, 39]                                  -> 1
#  50: none                                     -> 0
# density = (1 + 4 + 2 + 1 + 0) / (k * M) = 8 / (5 * 5) = 0.32
# coverage: balls holding at least one fake: those of 0 (-4), 3, 4, 5, 20 (5.5); not 1's [-3, 5] nor
# 2's [-1, 5] -> 5/7.
REAL_DC = _col(0, 1, 2, 3, 4, 5, 20)
FAKE_DC = _col(-4, 5.5, 9, 25, 50)


def test_density_coverage_by_hand():
    assert F.knn_radii(REAL_DC, 5).tolist() == [5, 4, 3, 3, 4, 5, 19]
    out = F.density_coverage(FAKE_DC, REAL_DC)
    assert out == {"density": pytest.approx(0.32), "coverage": pytest.approx(5 / 7), "k": 5}


def test_density_counts_crowding_and_identical_sets_score_one():
    # Every fake at real point 3 sits in all 7 balls except 20's ([1, 39] holds 3 too: all 7):
    # density = 7 * M / (5 * M) = 1.4, above 1 (crowding); coverage: every ball holds it -> 1.
    crowded = F.density_coverage(_col(3, 3, 3), REAL_DC)
    assert crowded["density"] == pytest.approx(7 / 5) and crowded["coverage"] == 1.0
    torch.manual_seed(0)
    x = torch.randn(40, 3)
    both = F.fidelity(x, x)
    assert both["precision"] == both["recall"] == both["coverage"] == 1.0
    # Each point lies in its own ball and the balls of the points whose 5 nearest include it.
    assert both["density"] >= 1 / 5


def test_bad_shapes_and_k_are_refused():
    with pytest.raises(ValueError, match="differ in size"):
        F.density_coverage(torch.zeros(6, 2), torch.zeros(6, 3))
    with pytest.raises(ValueError, match="need more than k samples"):
        F.precision_recall(_col(1, 2, 3), REAL_PR)
    with pytest.raises(ValueError, match=r"must be \(N, D\)"):
        F.density_coverage(torch.zeros(6), REAL_DC)


def test_measure_on_a_trained_generator_uses_fids_features(gan, tmp_path):
    import gancore
    from gancore import classifier as C
    from gancore.data import load_data

    for name, data in (("ring", ["--plugin", "gancore-gan", "--data", "ring"]),
                       ("digits", ["--plugin", "gancore-dcgan", "--set", "gancore-dcgan.width=8", "--data", "digits"])):
        result = gan("train", *data, "--steps", 2, "--batch-size", 16, "--out", tmp_path, "--name", name,
                     "--checkpoint-every", 2, "--sample-every", 2, "--log-every", 2, "--grid-size", 16)
        assert result.exit_code == 0, result.output
    ring = gancore.load(tmp_path / "ring")
    record = ring.fidelity(n=300, seed=1)
    assert record == ring.fidelity(n=300, seed=1)  # seeded: the same numbers again
    # On vector data the features are the points: the same as computing on them directly.
    # A real set larger than n is cut to a seeded n (equal sizes, as in both papers).
    data = load_data("ring").x
    direct = F.fidelity(ring.sample(300, seed=1), data[torch.randperm(len(data), generator=torch.Generator()
                                                                       .manual_seed(1))[:300]])
    assert record["results"] == pytest.approx(direct)
    prov = record["provenance"]
    assert prov["n_fake"] == prov["n_real"] == 300 and prov["n_real_available"] == len(data) and prov["real_subset"]
    digits = gancore.load(tmp_path / "digits")
    record = digits.fidelity(n=200, seed=0)
    clf = C.load_classifier("digits")
    direct = F.fidelity(clf.features(digits.sample(200, seed=0)),
                        F.subset(clf.features(C.real_split("digits")["train_x"]), 200, 0))
    assert record["results"] == pytest.approx(direct)
    assert record["provenance"]["extractor"]["recipe_hash"] == clf.recipe_hash
    assert 0 <= record["results"]["precision"] <= 1 and 0 <= record["results"]["coverage"] <= 1

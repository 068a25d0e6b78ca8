"""FairGRPO_ND: the elbow rule, K-means on reward vectors, planted groups, bounded history."""

from __future__ import annotations

import numpy as np
import pytest
from clinfair.trainers.advantage import (
    FairAdvantageConfig,
    FairAdvantageScaler,
    VectorHistory,
    choose_k_elbow,
    cluster_reward_vectors,
)


@pytest.mark.parametrize(
    "inertias,k",
    [
        ([5.0], 1),  # one distinct vector
        ([10.0, 0.0], 2),  # two distinct vectors: k_cap = 2
        ([100.0, 10.0, 9.0], 2),  # drops 90, 1: 1 < 9 -> stop at 2
        ([100.0, 10.0, 1.0], 3),  # drops 90, 9: 9 is not < 9 -> 3
        ([100.0, 60.0, 30.0], 3),  # drops 40, 30
        ([100.0, 50.0, 49.0, 10.0], 2),  # max_k 4: drops 50, 1, 39 -> first small drop at i=1
        ([100.0, 50.0, 30.0, 29.0], 3),  # drops 50, 20, 1 -> 20 >= 5, 1 < 2 -> 3
        ([4.0, 4.0, 4.0], 3),  # no drop at all: 0 < 0 is false -> k_cap
    ],
)
def test_elbow_rule_by_hand(inertias, k):
    assert choose_k_elbow(inertias, tol=0.10) == k


def blobs(centres: list[float], per_blob: int, g: int, rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([c + 0.01 * rng.standard_normal((per_blob, g)) for c in centres])


@pytest.mark.parametrize("centres", [[0.1, 0.9], [0.0, 0.5, 1.0]])
def test_elbow_picks_k_on_constructed_data(centres):
    # tight blobs: within-blob inertia is tiny, so the drop after the true k is < 10 % of the one before
    k = len(centres)
    result = cluster_reward_vectors(blobs(centres, 20, 10, np.random.default_rng(0)), max_k=3)
    assert result.k == k
    # relabelled by ascending mean: blob i -> cluster i
    np.testing.assert_array_equal(result.labels, np.repeat(np.arange(k), 20))
    np.testing.assert_allclose(result.sizes, [20] * k)
    np.testing.assert_allclose(result.means, centres, atol=0.01)


def test_identical_vectors_are_one_cluster():
    result = cluster_reward_vectors(np.full((20, 10), 0.5), max_k=3)
    assert (result.k, result.inertias, result.sizes.tolist()) == (1, [0.0], [20.0])


def test_fewer_vectors_than_clusters():
    result = cluster_reward_vectors(np.array([[1.0, 0.0], [0.0, 0.0]]), max_k=3)
    assert result.k == 2 and sorted(result.labels) == [0, 1]
    assert cluster_reward_vectors(np.array([[1.0, 0.0]]), max_k=3).k == 1


def test_sample_weights_count_as_prompts():
    # Two vectors standing for 3 and 1 prompts: k = 2, sizes 3 and 1, weighted k=1 inertia:
    # mean = (3·1 + 1·0)/4 = .75 in both coordinates -> 3·2·.0625 + 1·2·.5625 = 1.5
    result = cluster_reward_vectors(np.array([[1.0, 1.0], [0.0, 0.0]]), np.array([3.0, 1.0]))
    assert result.k == 2
    np.testing.assert_allclose(result.sizes, [1.0, 3.0])
    assert result.inertias[0] == pytest.approx(1.5)


def planted_batch(rng: np.random.Generator, prompts: int, g: int):
    # three planted difficulty groups: success rate .95 / .5 / .05
    true = rng.choice(np.array(["easy", "mid", "hard"]), size=prompts)
    p = np.select([true == "easy", true == "mid"], [0.95, 0.5], 0.05)
    rewards = (rng.random((prompts, g)) < p[:, None]).astype(float)
    return rewards.ravel(), np.repeat(true, g)


def run_planted(feature: str, g: int, seed: int, steps: int = 3) -> tuple[float, int]:
    rng = np.random.default_rng(seed)
    scaler = FairAdvantageScaler(FairAdvantageConfig(grouping="clusters", cluster_feature=feature))
    for _ in range(steps):
        rewards, true = planted_batch(rng, 90, g)
        out = scaler(rewards, ["A"] * rewards.size, [None] * rewards.size, g, true_groups=true)
        assert np.isfinite(out).all()
    return scaler.last_stats["ari"], scaler.last_stats["domains"]["A"]["clustering"]["k"]


@pytest.mark.parametrize("feature", ["sorted", "raw"])
@pytest.mark.parametrize("g,min_ari", [(10, 0.7), (20, 0.85)])
def test_clusters_recover_planted_groups(feature, g, min_ari):
    # the "mid" group (success .5) overlaps the others a little at G = 10, less at G = 20
    runs = [run_planted(feature, g, seed) for seed in range(5)]
    assert all(k == 3 for _, k in runs)
    assert np.mean([ari for ari, _ in runs]) > min_ari


def test_ari_and_nmi_are_logged_per_domain():
    rng = np.random.default_rng(3)
    r1, t1 = planted_batch(rng, 40, 10)
    r2, t2 = planted_batch(rng, 40, 10)
    scaler = FairAdvantageScaler(FairAdvantageConfig(grouping="clusters"))
    scaler(
        np.concatenate([r1, r2]),
        ["A"] * r1.size + ["B"] * r2.size,
        [None] * (r1.size + r2.size),
        10,
        true_groups=np.concatenate([t1, t2]),
    )
    stats = scaler.last_stats
    for d in ("A", "B"):
        assert 0.5 < stats["domains"][d]["clustering"]["ari"] <= 1.0
        assert 0.5 < stats["domains"][d]["clustering"]["nmi"] <= 1.0
    assert stats["ari"] == pytest.approx(
        np.mean([stats["domains"][d]["clustering"]["ari"] for d in ("A", "B")])
    )
    assert "fair/ari" in scaler.log_scalars() and "fair/A/k" in scaler.log_scalars()


def test_vector_history_is_bounded_and_keeps_total_weight():
    history = VectorHistory(max_size=5, rng=np.random.default_rng(0))
    for step in range(3):
        history.decay(1.0)
        history.add(np.full((4, 2), float(step)))
    assert len(history) == 5
    assert history.weights.sum() == pytest.approx(12.0)  # 3 batches x 4 prompts
    # exponential: ((4·.5) + 4)·.5 + 4 = 7
    history = VectorHistory(max_size=5, rng=np.random.default_rng(0))
    for _ in range(3):
        history.decay(0.5)
        history.add(np.zeros((4, 2)))
    assert history.weights.sum() == pytest.approx(7.0)
    history.decay(0.0)
    assert len(history) == 0


def test_unbounded_history_keeps_everything():
    history = VectorHistory(max_size=None, rng=np.random.default_rng(0))
    for _ in range(3):
        history.add(np.ones((4, 2)))
    assert len(history) == 12 and history.weights.tolist() == [1.0] * 12


def test_clustering_cost_stays_bounded_as_the_run_grows():
    rng = np.random.default_rng(0)
    cfg = FairAdvantageConfig(grouping="clusters", max_history=64)
    scaler = FairAdvantageScaler(cfg)
    for _ in range(10):
        rewards, _ = planted_batch(rng, 32, 4)
        scaler(rewards, ["A"] * rewards.size, [None] * rewards.size, 4)
    info = scaler.last_stats["domains"]["A"]["clustering"]
    assert info["vectors"] == 64 + 32  # history cap + this batch
    # cluster sizes still count prompts of the whole window (10 batches x 32)
    assert sum(info["sizes"]) == pytest.approx(320)
    assert scaler.last_stats["domains"]["A"]["N"] == 320


def test_numerically_indistinguishable_vectors_leave_no_empty_cluster():
    # three distinct vectors K-means cannot separate: every inertia is 0, so the elbow rule
    # keeps k_cap = 3, but the fit finds fewer clusters; k counts the non-empty ones
    x = np.array([[0.0, 0.0], [5e-324, 0.0], [1e-323, 0.0]])
    result = cluster_reward_vectors(x, max_k=3)
    assert result.k == len(result.sizes) == len(set(result.labels.tolist()))
    assert (result.sizes > 0).all() and np.isfinite(result.means).all()


def test_merged_points_carry_the_weight_of_their_copies():
    # binary sorted vectors repeat a lot; K-means runs on one weighted point per distinct vector,
    # so sizes, means and the inertia must still be those of all 120 prompts
    rng = np.random.default_rng(1)
    rewards, _ = planted_batch(rng, 120, 10)
    x = np.sort(rewards.reshape(120, 10), axis=1)
    merged = cluster_reward_vectors(x, merge_identical=True)
    every_copy = cluster_reward_vectors(x, merge_identical=False)
    assert merged.inertias[0] == pytest.approx(every_copy.inertias[0])
    np.testing.assert_allclose(merged.sizes, np.bincount(merged.labels))
    centroids = np.array([x[merged.labels == c].mean(axis=0) for c in range(merged.k)])
    np.testing.assert_allclose(merged.means, centroids.mean(axis=1))
    within = ((x - centroids[merged.labels]) ** 2).sum()
    assert merged.inertias[merged.k - 1] == pytest.approx(within, rel=1e-6)


def test_merging_identical_vectors_on_clear_clusters_changes_nothing():
    x = np.repeat(np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0]]), [5, 9, 4], axis=0)
    merged = cluster_reward_vectors(x, merge_identical=True)
    every_copy = cluster_reward_vectors(x, merge_identical=False)
    assert merged.k == every_copy.k == 3
    np.testing.assert_array_equal(merged.labels, every_copy.labels)
    np.testing.assert_allclose(merged.sizes, [5, 9, 4])

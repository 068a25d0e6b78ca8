"""FairAdvantageConfig.reference_nd(): the authors' FairGRPO_ND, by hand and replayed over several batches.

The hand-computed batch and the plain-loop simulation are written from docs/design.md section
"FairGRPO_ND in the authors' code" (DDVD233/qoq_med3 ``compute_fair_grpo_nd_outcome_advantage``),
independently of clinfair.trainers.advantage:

- every prompt's G-vector of raw rewards joins its domain's history (never reset), batch first;
- s = (r - mean_p) / (stdev_p + 1e-6) (G = 1: mean 0, std 1);
- per domain, K-means over the whole history, k in 1..3 by the elbow rule (tol 0.1),
  KMeans(n_init="auto", random_state=0); sizes n_c, centroid means m_c;
- μ_d = Σ (m_c/n_c) / Σ (1/n_c); T_d = max(√N_d · μ_d, 1e-6), N_d = the history size;
- factor = clip(T_d · √n_c · max(m_c, 1e-6), 1e-6, 1e6); a = s / factor (raw reward if not finite);
- finally a / (sample std over the batch + 1e-6), no mean subtraction.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

import numpy as np
import pytest
from clinfair.trainers.advantage import FairAdvantageConfig, FairAdvantageScaler
from sklearn.cluster import KMeans

EPS = 1e-6


def test_reference_nd_config_fields():
    nd = FairAdvantageConfig.reference_nd()
    assert (nd.grouping, nd.guard, nd.domain_mean, nd.cluster_feature) == (
        "clusters",
        "authors_nd",
        "clusters",
        "raw",
    )
    assert (nd.window, nd.temperature, nd.renorm, nd.eps, nd.grpo_eps) == (
        "cumulative",
        "sqrt_n_times_mean",
        "std",
        1e-6,
        1e-6,
    )
    assert (nd.max_k, nd.elbow_tol, nd.random_state, nd.max_history, nd.merge_identical) == (
        3,
        0.1,
        0,
        None,
        False,
    )
    assert FairAdvantageConfig.reference_nd(window="batch").window == "batch"
    with pytest.raises(ValueError, match="domain_mean='clusters' needs grouping='clusters'"):
        FairAdvantageConfig(domain_mean="clusters")


def test_reference_nd_by_hand():
    # Domain A (G = 2): [1,0], [1,0], [0,0]. Two distinct vectors -> k = 2:
    #   cluster hi = {[1,0] x2}: n 2, m .5;  cluster lo = {[0,0]}: n 1, m 0.
    #   μ_A = (.5/2 + 0/1) / (1/2 + 1/1) = 1/6; N_A = 3; T_A = √3/6.
    #   factor hi = T_A·√2·.5; factor lo = T_A·1·max(0, 1e-6) = 2.9e-7 -> clipped up to 1e-6.
    #   s[1,0] = ±.5/(√.5 + 1e-6); s[0,0] = 0.
    # Domain B (G = 2): [-1,1], [1,1]: k = 2, clusters of one: m 0 and m 1; μ_B = (0 + 1)/2 = .5;
    #   T_B = √2·.5; factor of [-1,1] = T_B·1·max(0, 1e-6) = 7.1e-7 -> 1e-6 (the clamp);
    #   s[-1,1] = ∓1/(√2 + 1e-6); s[1,1] = 0.
    rewards = [1, 0, 1, 0, 0, 0, -1, 1, 1, 1]
    domains = ["A"] * 6 + ["B"] * 4
    s_a = 0.5 / (math.sqrt(0.5) + EPS)
    t_a = math.sqrt(3) / 6
    hi = s_a / (t_a * math.sqrt(2) * 0.5)
    s_b = 1 / (math.sqrt(2) + EPS)
    b = s_b / EPS
    scaled = [hi, -hi, hi, -hi, 0, 0, -b, b, 0, 0]
    expected = np.array(scaled) / (statistics.stdev(scaled) + EPS)

    scaler = FairAdvantageScaler(FairAdvantageConfig.reference_nd())
    got = scaler(rewards, domains, ["F"] * 10, 2)  # the group labels are ignored
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    a = scaler.last_stats["domains"]["A"]
    assert a["mean_reward"] == pytest.approx(1 / 6) and a["T"] == pytest.approx(t_a)
    assert a["clustering"]["k"] == 2 and sorted(a["clustering"]["sizes"]) == [1, 2]
    assert scaler.last_stats["domains"]["B"]["groups"]["c0"]["floored"]


def test_reference_nd_single_rollout_uses_the_raw_reward_as_base():
    # G = 1: their prompt mean is 0 and std 1, so s = r / (1 + 1e-6) (TRL's GRPO would give 0).
    # Vectors [1], [1], [0.5], [0] in one domain: three distinct values -> elbow over k = 1..3.
    rewards = [1.0, 1.0, 0.5, 0.0]
    x = np.array(rewards)[:, None]
    inertia = [KMeans(n_clusters=k, n_init="auto", random_state=0).fit(x).inertia_ for k in (1, 2, 3)]
    k = 2 if inertia[1] - inertia[2] < 0.1 * (inertia[0] - inertia[1]) else 3
    assert k == 3  # drops .5625 then .125 (more than 10 %): every distinct value is its own cluster
    sizes, means = {1.0: 2, 0.5: 1, 0.0: 1}, {1.0: 1.0, 0.5: 0.5, 0.0: 0.0}
    mu = (1.0 / 2 + 0.5 / 1 + 0.0 / 1) / (1 / 2 + 1 + 1)
    t_d = math.sqrt(4) * mu
    scaled = [
        (r / (1 + EPS)) / min(max(t_d * math.sqrt(sizes[r]) * max(means[r], EPS), EPS), 1e6) for r in rewards
    ]
    expected = np.array(scaled) / (statistics.stdev(scaled) + EPS)
    got = FairAdvantageScaler(FairAdvantageConfig.reference_nd())(rewards, ["A"] * 4, [None] * 4, 1)
    np.testing.assert_allclose(got, expected, rtol=1e-9)


class AuthorsNDSimulation:
    """Plain loops over an explicit history, from the docs/design.md text."""

    def __init__(self) -> None:
        self.history = defaultdict(list)  # domain -> [vector]

    @staticmethod
    def elbow(x: np.ndarray) -> int:
        k_cap = min(3, len({tuple(row) for row in x.tolist()}))
        inertia = [
            KMeans(n_clusters=k, n_init="auto", random_state=0).fit(x).inertia_ for k in range(1, k_cap + 1)
        ]
        drop = [inertia[i] - inertia[i + 1] for i in range(len(inertia) - 1)]
        for i in range(1, len(drop)):
            if drop[i] < 0.10 * drop[i - 1]:
                return i + 1
        return k_cap

    def __call__(self, rewards, domains, g):
        prompts = range(len(rewards) // g)
        vec = [[float(x) for x in rewards[p * g : (p + 1) * g]] for p in prompts]
        dom = [domains[p * g] for p in prompts]
        position = {}
        for p in prompts:
            position[p] = len(self.history[dom[p]])
            self.history[dom[p]].append(vec[p])
        fitted = {}
        for d, vectors in self.history.items():
            x = np.array(vectors, dtype=np.float32)  # the authors' precision
            km = KMeans(n_clusters=self.elbow(x), n_init="auto", random_state=0).fit(x)
            sizes = np.bincount(km.labels_).astype(float)
            means = km.cluster_centers_.mean(axis=1).astype(float)  # theirs: float(centroid.mean())
            mu = float((means / sizes).sum() / (1 / sizes).sum())
            fitted[d] = (km.labels_, sizes, means, max(math.sqrt(len(vectors)) * mu, EPS))
        scores = []
        for p in prompts:
            labels, sizes, means, t_d = fitted[dom[p]]
            c = labels[position[p]]
            factor = min(max(t_d * math.sqrt(sizes[c]) * max(means[c], EPS), EPS), 1e6)
            if g == 1:
                s = [vec[p][0] / (1 + EPS)]
            else:
                mean, sd = statistics.fmean(vec[p]), statistics.stdev(vec[p])
                s = [(r - mean) / (sd + EPS) for r in vec[p]]
            for x, raw in zip(s, vec[p]):
                y = x / factor
                scores.append(y if math.isfinite(y) else raw)
        sd = statistics.stdev(scores)
        return np.array([x / (sd + EPS) for x in scores])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_nd_replays_the_authors_history(seed):
    rng = np.random.default_rng(seed)
    simulation = AuthorsNDSimulation()
    scaler = FairAdvantageScaler(FairAdvantageConfig.reference_nd())
    for step in range(4):
        rewards, domains = [], []
        for _ in range(12):
            d = str(rng.choice(["A", "B", "C"], p=[0.5, 0.35, 0.15]))
            r = rng.choice([0.0, 0.5, 1.0], size=4) if d != "C" else np.zeros(4)  # C always fails
            rewards += r.tolist()
            domains += [d] * 4
        expected = simulation(rewards, domains, 4)
        got = scaler(rewards, domains, [None] * len(rewards), 4)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=f"step {step}")
    assert sum(d["N"] for d in scaler.last_stats["domains"].values()) <= 48


def test_reference_nd_scores_clusters_against_true_groups():
    # two planted groups per domain: one always right, one always wrong, in random rollout order
    rng = np.random.default_rng(0)
    rewards, truth = [], []
    for p in range(16):
        good = p % 2 == 0
        rewards += (rng.random(4) < (0.9 if good else 0.1)).astype(float).tolist()
        truth += ["good" if good else "bad"] * 4
    scaler = FairAdvantageScaler(FairAdvantageConfig.reference_nd())
    scaler(rewards, ["A"] * 64, [None] * 64, 4, true_groups=truth)
    info = scaler.last_stats["domains"]["A"]["clustering"]
    assert info["k"] in (2, 3) and sum(info["sizes"]) == 16
    assert info["means"][0] < 0.2 and info["means"][-1] > 0.8  # the planted groups' reward levels
    assert info["ari"] > 0.5 and info["nmi"] > 0.5 and scaler.last_stats["nmi"] == info["nmi"]

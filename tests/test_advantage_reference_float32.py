"""The authors' modes cluster float32 vectors, as the authors' code does, and that matters.

A plain re-statement of the authors' two functions, written here from their code's steps
(DDVD233/mirl ``core_algos.compute_fair_grpo_outcome_advantage`` for ``reference()``,
DDVD233/qoq_med3 ``compute_fair_grpo_nd_outcome_advantage`` for ``reference_nd()``),
independently of clinfair.trainers.advantage:

- each prompt's rollout rewards become ``np.asarray(rewards, dtype=np.float32)`` and join the
  domain's history (mirl: the UNK prompts only; qoq_med3: every prompt), never reset;
- ``_select_k_elbow``: k_cap = min(3, distinct vectors); inertias of
  ``KMeans(n_clusters=k, n_init="auto", random_state=0).fit(X)`` for k = 1..k_cap;
  drops = -np.diff(inertias); the first i >= 1 with drops[i] < 0.1·drops[i-1] gives k = i+1;
- ``_cluster_info_question``: the same KMeans fitted with that k; counts by label; a cluster's
  mean = its centroid's mean; μ_d = Σ (m_c/n_c) / Σ (1/n_c);
- the arithmetic after clustering as in ``test_advantage_reference.py`` and
  ``test_advantage_reference_nd.py`` (the same formulas, restated here).

The batches: three domains, 16 prompts x 6 rollouts, 60 % of prompts unlabelled, six steps.
The same re-statement with float64 vectors forms other clusters on some step; the test
asserts that such a step is present, so it fails on float64 clustering (clinfair before the
``cluster_dtype`` field matched the float64 re-statement to ~1e-15, never the float32 one).
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections import defaultdict

import numpy as np
import pytest
from clinfair.trainers.advantage import AdvantageWarning, FairAdvantageConfig, FairAdvantageScaler
from sklearn.cluster import KMeans

EPS = 1e-6
G = 6
PROMPTS = 16
STEPS = 6


def select_k_elbow(x: np.ndarray, k_max: int = 3, tol: float = 0.10) -> int:
    k_cap = min(k_max, len(np.unique(x, axis=0)))
    inertias = [
        KMeans(n_clusters=k, n_init="auto", random_state=0).fit(x).inertia_ for k in range(1, k_cap + 1)
    ]
    if len(inertias) == 1:
        return 1
    drops = np.diff(inertias) * -1.0
    for i in range(1, len(drops)):
        if drops[i] < tol * drops[i - 1]:
            return i + 1
    return k_cap


def cluster_info(vectors: list[np.ndarray]):
    x = np.stack(vectors, axis=0)
    km = KMeans(n_clusters=select_k_elbow(x), n_init="auto", random_state=0).fit(x)
    _, counts = np.unique(km.labels_, return_counts=True)
    counts = counts.astype(float)
    centroid_means = km.cluster_centers_.mean(axis=1)
    weights = 1.0 / counts
    mu_d = float((weights * centroid_means).sum() / weights.sum())
    return mu_d, km.labels_, counts, km.cluster_centers_


def grpo_scores(vec: list[float]) -> list[float]:
    mean, sd = statistics.fmean(vec), statistics.stdev(vec)
    return [(r - mean) / (sd + EPS) for r in vec]


def batch_std_normalised(scores: list[float]) -> np.ndarray:
    sd = statistics.stdev(scores)
    return np.array([x / (sd + EPS) for x in scores])


class AuthorsFairGRPO:
    """mirl's FairGRPO: explicit groups, UNK prompts clustered per domain."""

    def __init__(self, dtype) -> None:
        self.dtype = dtype
        self.groups = defaultdict(lambda: defaultdict(list))  # domain -> group -> [vector]
        self.unk = defaultdict(list)  # domain -> [vector]

    def __call__(self, rewards, domains, groups, g):
        prompts = range(len(rewards) // g)
        raw = [[float(r) for r in rewards[p * g : (p + 1) * g]] for p in prompts]
        vec = [np.asarray(v, dtype=self.dtype) for v in raw]
        dom = [domains[p * g] for p in prompts]
        grp = [groups[p * g] for p in prompts]
        position = {}
        for p in prompts:
            if grp[p] == "UNK":
                position[p] = len(self.unk[dom[p]])
                self.unk[dom[p]].append(vec[p])
            else:
                self.groups[dom[p]][grp[p]].append(vec[p])
        cache = {d: cluster_info(vectors) for d, vectors in self.unk.items() if vectors}
        scores = []
        for p in prompts:
            domain_vectors = [v for vs in self.groups[dom[p]].values() for v in vs] + self.unk.get(dom[p], [])
            all_rewards = [r for v in domain_vectors for r in v.tolist()]
            t_d = max(math.sqrt(len(domain_vectors)) * float(np.mean(all_rewards)), EPS)
            if grp[p] == "UNK":
                _, labels, counts, centroids = cache[dom[p]]
                c = labels[position[p]]
                n_g, mu_g = float(counts[c]), float(centroids[c].mean())
            else:
                members = self.groups[dom[p]][grp[p]]
                n_g, mu_g = float(len(members)), float(np.mean([r for v in members for r in v.tolist()]))
            factor = t_d * math.sqrt(n_g) * mu_g
            for s in grpo_scores(raw[p]):
                y = s / factor if factor != 0 else math.inf
                scores.append(y if math.isfinite(y) else s)
        return batch_std_normalised(scores)


class AuthorsFairGRPOND:
    """qoq_med3's FairGRPO_ND: every prompt clustered per domain."""

    def __init__(self, dtype) -> None:
        self.dtype = dtype
        self.history = defaultdict(list)  # domain -> [vector]

    def __call__(self, rewards, domains, g):
        prompts = range(len(rewards) // g)
        raw = [[float(r) for r in rewards[p * g : (p + 1) * g]] for p in prompts]
        dom = [domains[p * g] for p in prompts]
        position = {}
        for p in prompts:
            position[p] = len(self.history[dom[p]])
            self.history[dom[p]].append(np.asarray(raw[p], dtype=self.dtype))
        cache = {d: cluster_info(vectors) for d, vectors in self.history.items()}
        scores = []
        for p in prompts:
            mu_d, labels, counts, centroids = cache[dom[p]]
            t_d = max(math.sqrt(len(self.history[dom[p]])) * mu_d, EPS)
            c = labels[position[p]]
            n_g, mu_g = float(counts[c]), max(float(centroids[c].mean()), EPS)
            factor = min(max(t_d * math.sqrt(n_g) * mu_g, EPS), 1e6)
            for s, r in zip(grpo_scores(raw[p]), raw[p]):
                y = s / factor
                scores.append(y if math.isfinite(y) else r)
        return batch_std_normalised(scores)


def random_batch(rng: np.random.Generator, unlabelled: float):
    """16 prompts x 6 rollouts in 3 domains, rewards on {0, .5, 1} (domain C mostly fails); a
    prompt is unlabelled (UNK) with probability ``unlabelled``. Discrete rewards give K-means
    many near-ties, which float32 and float64 arithmetic break differently."""
    rewards, domains, groups = [], [], []
    for _ in range(PROMPTS):
        d = str(rng.choice(["A", "B", "C"], p=[0.5, 0.3, 0.2]))
        if d == "C":
            r = rng.choice([0.0, 0.5], size=G, p=[0.8, 0.2])
        else:
            r = rng.choice([0.0, 0.5, 1.0], size=G)
        rewards += r.tolist()
        domains += [d] * G
        groups += ["UNK" if rng.random() < unlabelled else str(rng.choice(["F", "M"]))] * G
    return rewards, domains, groups


def replay(mode: str, seed: int):
    """(clinfair, authors float32, authors float64) advantages of every step of one run."""
    rng = np.random.default_rng(seed)
    if mode == "reference":
        scaler = FairAdvantageScaler(FairAdvantageConfig.reference())
        ours32, ours64 = AuthorsFairGRPO(np.float32), AuthorsFairGRPO(np.float64)
    else:
        scaler = FairAdvantageScaler(FairAdvantageConfig.reference_nd())
        ours32, ours64 = AuthorsFairGRPOND(np.float32), AuthorsFairGRPOND(np.float64)
    steps = []
    for _ in range(STEPS):
        rewards, domains, groups = random_batch(rng, unlabelled=0.6)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AdvantageWarning)
            got = scaler(rewards, domains, groups, G)
        if mode == "reference":
            steps.append((got, ours32(rewards, domains, groups, G), ours64(rewards, domains, groups, G)))
        else:
            steps.append((got, ours32(rewards, domains, G), ours64(rewards, domains, G)))
    return steps


@pytest.mark.parametrize(
    ("mode", "seed"), [("reference", 0), ("reference", 3), ("reference_nd", 0), ("reference_nd", 3)]
)
def test_reference_modes_equal_the_authors_float32_functions_where_float64_would_not(mode, seed):
    steps = replay(mode, seed)
    for step, (got, authors32, _) in enumerate(steps):
        np.testing.assert_allclose(got, authors32, rtol=1e-9, atol=1e-12, err_msg=f"{mode} step {step}")
    # the case that makes precision part of the semantics is present: on some step the same
    # function with float64 vectors forms other clusters, and the advantages differ by O(1)
    float64_differences = [float(np.abs(authors32 - authors64).max()) for _, authors32, authors64 in steps]
    assert max(float64_differences) > 0.5, float64_differences

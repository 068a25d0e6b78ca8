"""FairAdvantageConfig.reference() replayed over several batches against a plain-loop simulation.

The simulation below is written from docs/design.md section 3 (the authors'-code behaviour) as
straightforward Python loops over an explicit history, independent of clinfair.trainers.advantage:

- history: per domain, per explicit group, the list of every prompt's reward vector so far;
  per domain, the list of UNK prompts' vectors; the current batch is appended first;
- s = (r - mean_p) / (stdev_p + 1e-6) with the sample standard deviation;
- N_d = prompts of domain d in the history, r̄_d = mean of all their rewards,
  T_d = max(√N_d · r̄_d, 1e-6);
- explicit group: N_g = its prompts in the history, r̄_g = mean of their rewards;
  UNK prompt: K-means over the domain's UNK history (k by the elbow rule over k = 1..3),
  N_g = size of its cluster, r̄_g = mean of the centroid;
- a = s / (T_d · √N_g · r̄_g), kept as s where that is NaN or ±inf;
- finally a / (sample std over the batch + 1e-6).
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


def elbow_k(x: np.ndarray) -> int:
    """k in 1..3: scan drops, stop at the first drop below 10 % of the one before it."""
    k_max = min(3, len({tuple(row) for row in x.tolist()}))
    inertia = [
        KMeans(n_clusters=k, n_init="auto", random_state=0).fit(x).inertia_ for k in range(1, k_max + 1)
    ]
    drop = [inertia[i] - inertia[i + 1] for i in range(len(inertia) - 1)]
    k = k_max
    for i in range(1, len(drop)):
        if drop[i] < 0.10 * drop[i - 1]:
            k = i + 1
            break
    return k


class AuthorsSimulation:
    def __init__(self) -> None:
        self.groups = defaultdict(lambda: defaultdict(list))  # domain -> group -> [vector]
        self.unk = defaultdict(list)  # domain -> [vector]

    def __call__(self, rewards, domains, groups, g):
        prompts = range(len(rewards) // g)
        vec = [list(map(float, rewards[p * g : (p + 1) * g])) for p in prompts]
        dom = [domains[p * g] for p in prompts]
        grp = [groups[p * g] for p in prompts]

        unk_position = {}
        for p in prompts:
            if grp[p] == "UNK":
                unk_position[p] = len(self.unk[dom[p]])
                self.unk[dom[p]].append(vec[p])
            else:
                self.groups[dom[p]][grp[p]].append(vec[p])

        clusters = {}
        for d, vectors in self.unk.items():
            x = np.array(vectors, dtype=np.float32)  # the authors' precision
            km = KMeans(n_clusters=elbow_k(x), n_init="auto", random_state=0).fit(x)
            clusters[d] = km

        scores = []
        for p in prompts:
            mean, sd = statistics.fmean(vec[p]), statistics.stdev(vec[p])
            s = [(r - mean) / (sd + EPS) for r in vec[p]]

            domain_vectors = [v for vs in self.groups[dom[p]].values() for v in vs] + self.unk.get(dom[p], [])
            n_d = len(domain_vectors)
            mean_d = statistics.fmean(r for v in domain_vectors for r in v)
            t_d = max(math.sqrt(n_d) * mean_d, EPS)

            if grp[p] == "UNK":
                km = clusters[dom[p]]
                c = km.labels_[unk_position[p]]
                n_g = int((km.labels_ == c).sum())
                mean_g = float(km.cluster_centers_[c].mean())
            else:
                members = self.groups[dom[p]][grp[p]]
                n_g = len(members)
                mean_g = statistics.fmean(r for v in members for r in v)

            factor = t_d * math.sqrt(n_g) * mean_g
            for x in s:
                try:
                    y = x / factor
                except ZeroDivisionError:
                    y = math.inf
                scores.append(y if math.isfinite(y) else x)
        sd = statistics.stdev(scores)
        return np.array([x / (sd + EPS) for x in scores])


def random_batch(rng: np.random.Generator, prompts: int, g: int):
    # rewards on {0, .5, 1}; domain C always scores 0 and a group in B is always wrong
    rewards, domains, groups = [], [], []
    for _ in range(prompts):
        d = rng.choice(["A", "B", "C"], p=[0.5, 0.35, 0.15])
        grp = rng.choice(["F", "M", "UNK"], p=[0.35, 0.35, 0.3])
        r = rng.choice([0.0, 0.5, 1.0], size=g)
        if d == "C" or (d == "B" and grp == "F"):
            r = np.zeros(g)
        rewards += r.tolist()
        domains += [str(d)] * g
        groups += [str(grp)] * g
    return rewards, domains, groups


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_mode_replays_authors_history(seed):
    rng = np.random.default_rng(seed)
    simulation = AuthorsSimulation()
    scaler = FairAdvantageScaler(FairAdvantageConfig.reference())
    for step in range(4):
        rewards, domains, groups = random_batch(rng, prompts=16, g=4)
        expected = simulation(rewards, domains, groups, 4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AdvantageWarning)
            got = scaler(rewards, domains, groups, 4)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=f"step {step}")
    # statistics are over the whole run: 4 batches x 16 prompts
    assert sum(d["N"] for d in scaler.last_stats["domains"].values()) == pytest.approx(64)


def test_reference_mode_flips_sign_for_negative_mean_like_the_authors():
    # Rewards -1/0: group mean < 0 -> the factor is negative and the advantage changes sign.
    simulation = AuthorsSimulation()
    scaler = FairAdvantageScaler(FairAdvantageConfig.reference())
    batches = [
        ([-1, 0, 1, 1, 0, 1], ["A"] * 6, ["F", "F", "M", "M", "M", "M"]),
        ([0, -1, 1, 0, 1, 1], ["A"] * 6, ["F", "F", "M", "M", "M", "M"]),
    ]
    for batch in batches:
        with pytest.warns(AdvantageWarning):
            got = scaler(*batch, 2)
        np.testing.assert_allclose(got, simulation(*batch, 2), rtol=1e-9)

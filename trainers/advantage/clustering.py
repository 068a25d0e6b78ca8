"""K-means groups of reward vectors (FairGRPO_ND, and FairGRPO's UNK prompts): the elbow rule,
the clustering and the bounded history of past vectors."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import ThreadpoolController  # a scikit-learn dependency


def choose_k_elbow(inertias: Sequence[float], tol: float = 0.10, dtype: str = "float64") -> int:
    """The authors' elbow rule (``_select_k_elbow``), given inertias for k = 1, 2, ..., k_cap.

    drops[i] = inertia(k=i+1) - inertia(k=i+2). Scanning i = 1, 2, ...: the first i with
    drops[i] < tol · drops[i-1] returns k = i+1 (going to k+1 gains too little). No such i:
    k = k_cap. Consequence, kept from their code: with two or more inertias the rule never
    returns 1 (the first drop has nothing to be compared with); k = 1 only when k_cap = 1,
    i.e. when all vectors are identical. With max_k = 3: k = 2 if drop(2→3) < 10 % of
    drop(1→2), else 3.
    """
    if len(inertias) == 0:
        raise ValueError("choose_k_elbow needs at least one inertia")
    drops = -np.diff(np.asarray(inertias, dtype=np.dtype(dtype)))  # the authors': float32 inertias
    for i in range(1, len(drops)):
        if drops[i] < tol * drops[i - 1]:
            return i + 1
    return len(inertias)


@dataclass
class ClusterResult:
    """K-means outcome; clusters relabelled by ascending weighted mean reward (0 = lowest)."""

    labels: np.ndarray  # (n,) cluster of each vector
    k: int
    inertias: list[float]  # for k = 1 .. k_cap
    sizes: np.ndarray  # (k,) sum of sample weights per cluster
    means: np.ndarray  # (k,) weighted mean over members of their mean reward


@functools.cache
def _openmp_controller() -> ThreadpoolController:
    return ThreadpoolController()  # scanning the loaded libraries takes ~10 ms: do it once


def cluster_reward_vectors(
    vectors: np.ndarray,
    sample_weight: np.ndarray | None = None,
    max_k: int = 3,
    elbow_tol: float = 0.10,
    random_state: int = 0,
    merge_identical: bool = True,
    dtype: str = "float64",
) -> ClusterResult:
    """K-means on per-prompt reward vectors, k by ``choose_k_elbow`` over k = 1..k_cap.

    ``merge_identical``: identical vectors become one point carrying their summed weight. The
    K-means objective Σ w·‖x - centre‖² is unchanged and with discrete rewards it is far
    cheaper (binary rewards, sorted feature: at most G + 1 distinct vectors), but k-means++
    draws its seeds differently, so a run can land in another local optimum than clustering
    every copy (what the authors do: ``merge_identical=False``). k_cap = min(max_k,
    number of distinct vectors), so fewer prompts than clusters is fine. sklearn
    KMeans(n_clusters=k, n_init="auto", random_state); the k = 1 inertia is Σ w·‖x - x̄_w‖²
    directly. Vectors distinct but numerically indistinguishable can leave a cluster empty
    (sklearn's ConvergenceWarning, silenced here): empty clusters are dropped, so k counts
    the non-empty ones.

    ``dtype``: the precision K-means runs in. "float32" is the authors' (their vectors are
    float32 arrays); then, as in their code, the k = 1 inertia also comes from
    ``KMeans(n_clusters=1)``, the elbow rule compares float32 inertia drops, and a cluster's
    mean reward is its float32 centroid's mean, so k and every statistic come from the same numbers.
    """
    x = np.asarray(vectors, dtype=np.dtype(dtype))
    w = np.ones(len(x)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if merge_identical:
        points, inverse = np.unique(x, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        point_w = np.bincount(inverse, weights=w, minlength=len(points))
        distinct = len(points)
    else:
        points, inverse, point_w = x, np.arange(len(x)), w
        distinct = len(np.unique(x, axis=0))
    authors_precision = x.dtype == np.float32
    inertias: list[float] = []
    if not authors_precision:
        centre = np.average(points, axis=0, weights=point_w)
        inertias.append(float((point_w * ((points - centre) ** 2).sum(axis=1)).sum()))
    label_sets = [np.zeros(len(points), dtype=int)]
    centroid_sets: list[np.ndarray] = []  # float32 mode: each fit's centroids, k = 1 first
    # One OpenMP thread: the data are small, and thread start-up costs more than it saves
    # (about 4x slower with 2 threads on a busy 2-core host).
    with _openmp_controller().limit(limits=1, user_api="openmp"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in range(1 if authors_precision else 2, min(max_k, distinct) + 1):
            km = KMeans(n_clusters=k, n_init="auto", random_state=random_state)
            km.fit(points, sample_weight=point_w)
            inertias.append(float(km.inertia_))
            centroid_sets.append(km.cluster_centers_)
            if k > 1:
                label_sets.append(km.labels_)
    chosen = choose_k_elbow(inertias, elbow_tol, dtype)
    used, point_labels = np.unique(label_sets[chosen - 1], return_inverse=True)
    k = int(point_labels.max()) + 1
    sizes = np.bincount(point_labels, weights=point_w, minlength=k)
    if authors_precision:  # their m_c: the float32 centroid's mean
        means = centroid_sets[chosen - 1][used].mean(axis=1).astype(np.float64)
    else:
        means = np.bincount(point_labels, weights=point_w * points.mean(axis=1), minlength=k) / sizes
    order = np.argsort(means, kind="stable")
    relabel = np.empty(k, dtype=int)
    relabel[order] = np.arange(k)
    return ClusterResult(relabel[point_labels][inverse], k, inertias, sizes[order], means[order])


class VectorHistory:
    """Reward vectors of past prompts of one domain, with weights, bounded in size.

    Each stored vector has a weight = how many past prompts it stands for. Every step the
    weights are multiplied by the window decay (0 empties the store, 1 keeps them), the
    current batch is appended with weight 1, and if more than ``max_size`` vectors are held,
    a uniformly random subset of ``max_size`` is kept and its weights are rescaled so the total
    weight is unchanged. Uniform inclusion with weights divided by the inclusion rate is an
    unbiased estimate of the full history's weighted counts, so cluster sizes N_g stay in
    "prompts of the window" units while K-means never sees more than max_size + batch vectors.
    With max_size=None nothing is dropped (exact, unbounded cost).
    """

    def __init__(self, max_size: int | None, rng: np.random.Generator) -> None:
        self.max_size = max_size
        self.rng = rng
        self.vectors: np.ndarray | None = None
        self.weights = np.zeros(0)

    def decay(self, factor: float) -> None:
        if factor == 0.0:
            self.vectors, self.weights = None, np.zeros(0)
        else:
            self.weights = self.weights * factor

    def with_batch(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stored vectors followed by the batch's, and their weights (batch weight 1)."""
        if self.vectors is None:
            return batch, np.ones(len(batch))
        if self.vectors.shape[1] != batch.shape[1]:
            raise ValueError(
                f"num_generations changed from {self.vectors.shape[1]} to {batch.shape[1]}; the clustering "
                "history needs a fixed G (call FairAdvantageScaler.reset())"
            )
        return np.concatenate([self.vectors, batch]), np.concatenate([self.weights, np.ones(len(batch))])

    def add(self, batch: np.ndarray) -> None:
        vectors, weights = self.with_batch(batch)
        if self.max_size is not None and len(vectors) > self.max_size:
            keep = np.sort(self.rng.choice(len(vectors), size=self.max_size, replace=False))
            total = weights.sum()
            vectors, weights = vectors[keep], weights[keep]
            weights = weights * (total / weights.sum())
        self.vectors, self.weights = vectors, weights

    def __len__(self) -> int:
        return 0 if self.vectors is None else len(self.vectors)

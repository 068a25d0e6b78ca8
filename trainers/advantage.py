"""Fairness-aware advantage maths: GRPO, FairGRPO, FairGRPO_ND, resampling, group-DRO, RLOO, REINFORCE++.

Pure numpy + scikit-learn; no torch, TRL or vLLM, so it can be tested and reused anywhere.
The TRL adapters call into this module with the rewards of one *gathered* generation batch.

Layout of one generation batch (TRL's): P prompts, G rollouts each, flattened prompt-major,
so rows ``p*G .. p*G+G-1`` are the G rollouts of prompt p. Every row carries its prompt's
domain d(p) (the dataset) and group g(p) (the demographic key inside the domain, or "UNK").

GRPO (TRL 1.16 default)::

    s = (r - mean_p) / (std_p + eps_grpo)         std: sample (ddof = 1), NaN-aware, eps_grpo = 1e-4

FairGRPO (paper): for a statistics window W, N_d = prompts of domain d in W, r̄_d = mean reward
over their rollouts, N_{d,g}, r̄_{d,g} the same inside group g, and a temperature T(N, r̄)::

    a = s / max(T(N_d, r̄_d) · T(N_{d,g}, r̄_{d,g}), eps)      then re-normalised over the batch

Small or poorly performing groups get small temperatures, so their signal is amplified. See
``FairAdvantageConfig`` for the options and ``FairAdvantageConfig.reference()`` for the exact
behaviour of the authors' code (DDVD233/mirl, ``compute_fair_grpo_outcome_advantage``) and
``FairAdvantageConfig.reference_nd()`` for their FairGRPO_ND (DDVD233/qoq_med3,
``compute_fair_grpo_nd_outcome_advantage``). The other baselines of the paper's table (RLOO,
REINFORCE++, REINFORCE++-baseline) are at the end of this module.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from clinfair.tasks.schema import UNKNOWN_GROUP
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from threadpoolctl import ThreadpoolController  # a scikit-learn dependency

from clinfair.core.errors import ClinfairError

UNK = UNKNOWN_GROUP  # the group (and domain) of a prompt whose demographics are unknown
TRL_GRPO_EPS = 1e-4  # TRL 1.16 hard-codes `advantages / (std_rewards + 1e-4)`

WINDOWS = ("batch", "cumulative", "exponential")
TEMPERATURES = ("sqrt_n_times_r", "sqrt_n_times_mean", "n", "r")
RENORMS = ("zscore", "std", "none")
GUARDS = ("floor", "authors", "authors_nd")
DOMAIN_MEANS = ("rollouts", "clusters")
ND_FACTOR_MAX = 1e6  # the authors' FairGRPO_ND clamps its scaling factor to [eps, 1e6]
GROUPINGS = ("explicit", "clusters", "explicit_with_clusters_for_unk")
GRPO_SCALES = ("group", "batch", "none")
FEATURES = ("raw", "sorted")


class AdvantageWarning(UserWarning):
    """Bad or degenerate input that the advantage maths handled in a defined way."""


# --------------------------------------------------------------------------------------------
# Small numeric helpers
# --------------------------------------------------------------------------------------------


def _nanstd(x: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Sample standard deviation (ddof = 1) ignoring NaN; NaN where fewer than 2 values.

    Same as TRL's ``trl.trainer.utils.nanstd``, without numpy's empty-slice warnings.
    """
    valid = ~np.isnan(x)
    count = valid.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, x, 0.0).sum(axis=axis) / count
        centred = np.where(valid, x - (mean if axis is None else np.expand_dims(mean, axis)), 0.0)
        var = (centred**2).sum(axis=axis) / (count - 1)
    return np.where(count > 1, np.sqrt(np.where(count > 1, var, 0.0)), np.nan)


def _prompt_sums(grouped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each prompt's (row's) sum and count of its scorable (non-NaN) rewards."""
    scorable = ~np.isnan(grouped)
    return np.where(scorable, grouped, 0.0).sum(axis=1), scorable.sum(axis=1)


def _label(value: Any) -> str:
    """Domain / group label: None or a float NaN (a pandas null) becomes "UNK"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNK
    return str(value)


def _as_rewards(rewards: Any) -> np.ndarray:
    """Flat float64 array; None becomes NaN (numpy does that for a float dtype)."""
    return np.asarray(rewards, dtype=np.float64).reshape(-1)


def _per_prompt(values: Sequence[Any], num_prompts: int, num_generations: int, name: str) -> list[str]:
    """Per-row labels -> one label per prompt, checking they are constant within each prompt."""
    if len(values) != num_prompts * num_generations:
        raise ValueError(
            f"{name} has {len(values)} entries, expected one per row ({num_prompts} prompts x {num_generations})"
        )
    labels = np.array([_label(v) for v in values], dtype=object).reshape(num_prompts, num_generations)
    differs = (labels != labels[:, :1]).any(axis=1)
    if differs.any():
        p = int(np.flatnonzero(differs)[0])
        raise ValueError(
            f"{name} must be constant within a prompt's {num_generations} rollouts; prompt {p} has "
            f"{sorted(set(labels[p]))}"
        )
    return list(labels[:, 0])


# --------------------------------------------------------------------------------------------
# GRPO (TRL's inline advantage, as a function)
# --------------------------------------------------------------------------------------------


def grpo_advantages(
    rewards: Sequence[float] | np.ndarray,
    num_generations: int,
    scale: str = "group",
    eps: float = TRL_GRPO_EPS,
) -> np.ndarray:
    """GRPO advantages exactly as TRL 1.16 computes them inline (``sum_then_normalize``).

    For prompt p with rewards r_{p,1..G} (NaN = unscorable, ignored by the statistics)::

        mean_p = nanmean_j r_{p,j}
        A      = r - mean_p                                   scale = "none"  (Dr.GRPO)
        A      = (r - mean_p) / (nanstd_j r_{p,j} + eps)        scale = "group" (default)
        A      = (r - mean_p) / (nanstd over the batch + eps)   scale = "batch"

    nanstd is the sample std (ddof = 1); with G = 1 (or a batch of one row) the std is 0.
    NaN advantages (unscorable rows, or a prompt with < 2 scorable rollouts) become 0.
    """
    if scale not in GRPO_SCALES:
        raise ValueError(f"scale must be one of {GRPO_SCALES}, got {scale!r}")
    r = _as_rewards(rewards)
    if num_generations < 1 or r.size % num_generations:
        raise ValueError(
            f"{r.size} rewards cannot be split into prompts of num_generations={num_generations}"
        )
    if r.size == 0:
        return r
    grouped = r.reshape(-1, num_generations)
    total, count = _prompt_sums(grouped)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    advantages = grouped - mean[:, None]
    if scale != "none":
        if scale == "group":
            std = _nanstd(grouped, axis=1)[:, None] if num_generations > 1 else np.zeros_like(grouped)
        else:
            std = np.full_like(grouped, _nanstd(r) if r.size > 1 else 0.0)
        advantages = advantages / (std + eps)
    return np.nan_to_num(advantages.reshape(-1), nan=0.0)


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FairAdvantageConfig:
    """Every choice of the FairGRPO advantage. Defaults: the paper's formula, made robust.

    Statistics window W (which prompts N and r̄ are counted over; the current batch is always
    added before the temperatures are computed):
        window: "batch" (this generation batch only) | "cumulative" (whole run so far) |
            "exponential" (old counts and sums multiplied by ``decay`` each step).
        decay: in (0, 1]; used only by "exponential".

    Temperature T(N, r̄) (the paper's ablations):
        temperature: "sqrt_n_times_r" √(N·r̄) (paper) | "sqrt_n_times_mean" √N·r̄ (authors' code) |
            "n" N | "r" r̄.
        guard: "floor" (default): r̄ is floored at ``min_mean_reward`` and the divisor is
            max(T_d·T_{d,g}, eps), so nothing explodes. "authors": as their code, T_d =
            max(T(N_d, r̄_d), eps), group factor T(N_g, r̄_g) unfloored, and where s / (T_d·T_g)
            is NaN or ±inf, s is left unscaled (a negative r̄ flips the sign, as in their code).
            "authors_nd": as their FairGRPO_ND: T_d = max(T(N_d, μ_d), eps), the group's r̄
            floored at eps, the divisor clip(T_d·T_g, eps, 1e6); where s / divisor is NaN or
            ±inf the *raw reward* is used; and with G = 1 the base advantage is r / (1 + grpo_eps)
            (their prompt mean 0, std 1) instead of TRL's 0.
        min_mean_reward: the floor of r̄ under the "floor" guard.
        domain_mean: how r̄_d is taken. "rollouts": the mean reward over the window's rollouts
            of domain d. "clusters" (the authors' FairGRPO_ND; needs grouping="clusters"):
            μ_d = Σ_c (m_c / n_c) / Σ_c (1 / n_c) over the domain's clusters (size n_c, mean
            reward m_c), a mean weighted by inverse cluster size.
        eps: temperature floor and the epsilon of the batch re-normalisation.

    Base advantage s (TRL 1.16 GRPO):
        grpo_scale: "group" | "batch" | "none", TRL's ``scale_rewards``.
        grpo_eps: added to the std in s; TRL uses 1e-4, the authors' code 1e-6.

    Re-normalisation over the batch (sample std, ddof = 1, over scorable rows; + eps):
        renorm: "zscore" (a - mean)/std | "std" a/std (authors) | "none".
        Each prompt's s sums to 0 and is scaled by one factor, so the batch mean is 0 and
        "zscore" and "std" agree up to rounding; both are kept for the ablations.

    Groups:
        grouping: "explicit" (the given group labels; "UNK" is a group like any other) |
            "clusters" (FairGRPO_ND: ignore labels, K-means per domain) |
            "explicit_with_clusters_for_unk" (authors' FairGRPO: labels, but UNK prompts are
            clustered per domain).
        cluster_feature: "raw" (rollout order, as the authors) | "sorted" (rollouts are
            exchangeable, so the sorted vector is the principled feature).
        max_k, elbow_tol, random_state: K-means k in 1..max_k by the elbow rule of
            ``choose_k_elbow``; sklearn KMeans(n_init="auto", random_state).
        max_history: most reward vectors kept per clustered domain; None = unbounded (the
            authors re-cluster the whole history). See ``VectorHistory`` for the subsampling.
        merge_identical: cluster identical vectors as one weighted point (same objective, much
            faster); False clusters every copy, as the authors (see ``cluster_reward_vectors``).
    """

    window: str = "cumulative"
    decay: float = 0.99
    temperature: str = "sqrt_n_times_r"
    guard: str = "floor"
    min_mean_reward: float = 0.05
    domain_mean: str = "rollouts"
    eps: float = 1e-6
    grpo_scale: str = "group"
    grpo_eps: float = TRL_GRPO_EPS
    renorm: str = "zscore"
    grouping: str = "explicit"
    cluster_feature: str = "sorted"
    max_k: int = 3
    elbow_tol: float = 0.10
    random_state: int = 0
    max_history: int | None = 2048
    merge_identical: bool = True

    def __post_init__(self) -> None:
        choices = {
            "window": WINDOWS,
            "temperature": TEMPERATURES,
            "guard": GUARDS,
            "grpo_scale": GRPO_SCALES,
            "renorm": RENORMS,
            "grouping": GROUPINGS,
            "cluster_feature": FEATURES,
            "domain_mean": DOMAIN_MEANS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"FairAdvantageConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}"
                )
        positive = {
            "eps": self.eps,
            "grpo_eps": self.grpo_eps,
            "min_mean_reward": self.min_mean_reward,
            "elbow_tol": self.elbow_tol,
        }
        for name, value in positive.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"FairAdvantageConfig.{name} must be a finite number > 0, got {value!r}")
        if not (isinstance(self.decay, int | float) and 0 < self.decay <= 1):
            raise ValueError(f"FairAdvantageConfig.decay must be in (0, 1], got {self.decay!r}")
        if not (isinstance(self.max_k, int) and self.max_k >= 1):
            raise ValueError(f"FairAdvantageConfig.max_k must be an integer >= 1, got {self.max_k!r}")
        if self.max_history is not None and not (isinstance(self.max_history, int) and self.max_history >= 1):
            raise ValueError(
                f"FairAdvantageConfig.max_history must be None or an integer >= 1, got {self.max_history!r}"
            )
        if not isinstance(self.merge_identical, bool):
            raise ValueError(
                f"FairAdvantageConfig.merge_identical must be True or False, got {self.merge_identical!r}"
            )
        if not isinstance(self.random_state, int):
            raise ValueError(
                f"FairAdvantageConfig.random_state must be an integer, got {self.random_state!r}"
            )
        if self.domain_mean == "clusters" and self.grouping != "clusters":
            raise ValueError(
                "FairAdvantageConfig.domain_mean='clusters' needs grouping='clusters' (every prompt clustered), "
                f"got grouping={self.grouping!r}"
            )

    @classmethod
    def reference(cls, **overrides: Any) -> FairAdvantageConfig:
        """The authors' code (DDVD233/mirl ``core_algos.compute_fair_grpo_outcome_advantage``).

        W = the whole run so far, current batch added first; s = (r - mean_p)/(std_p + 1e-6);
        T_d = max(√N_d·r̄_d, ε); group factor √N_g·r̄_g, no floor; a = s/(T_d·factor), left as s
        where that is NaN/inf; then every score divided by the batch std (ddof = 1) + 1e-6, no
        mean subtraction; ε = 1e-6; UNK prompts clustered per domain on raw rollout vectors,
        k ∈ 1..3 by the elbow rule, the whole history re-clustered every step (unbounded, every
        copy of a repeated vector clustered).
        ``overrides`` replace single fields. The authors' FairGRPO_ND is :meth:`reference_nd`, not
        ``reference(grouping="clusters")``.

        Not reproduced: their UNK prompt takes the cluster of the *first* history entry with its
        question id (a repeated question reuses an old assignment); here it takes the cluster
        of its current reward vector. K-means runs in float64 (theirs float32).
        """
        base = cls(
            window="cumulative",
            temperature="sqrt_n_times_mean",
            guard="authors",
            eps=1e-6,
            grpo_scale="group",
            grpo_eps=1e-6,
            renorm="std",
            grouping="explicit_with_clusters_for_unk",
            cluster_feature="raw",
            max_k=3,
            elbow_tol=0.10,
            random_state=0,
            max_history=None,
            merge_identical=False,
        )
        return replace(base, **overrides)

    # -- the authors' FairGRPO_ND (issue 14) ---------------------------------------------------

    @classmethod
    def reference_nd(cls, **overrides: Any) -> FairAdvantageConfig:
        """The authors' FairGRPO_ND (DDVD233/qoq_med3 ``compute_fair_grpo_nd_outcome_advantage``).

        Every prompt is unlabelled. Its G-vector of raw rewards (rollout order) joins its
        domain's history, never reset; s = (r - mean_p)/(std_p + 1e-6), sample std (G = 1:
        s = r / (1 + 1e-6)). Per domain, K-means on the whole history (k ≤ 3 by the elbow rule,
        tol 0.1, ``KMeans(n_init="auto", random_state=0)``, every copy clustered); with cluster
        sizes n_c and mean rewards m_c, μ_d = Σ_c (m_c/n_c) / Σ_c (1/n_c); T_d = max(√N_d·μ_d, ε)
        with N_d the history size; the prompt's cluster c gives the factor
        clip(T_d·√n_c·max(m_c, ε), ε, 1e6); a = s / factor, the raw reward where that is NaN or
        inf; finally every value divided by the batch std (ddof = 1) + ε, no mean subtraction.
        ε = 1e-6. ``overrides`` replace single fields.

        Not reproduced, as in ``reference()``: a repeated question takes the cluster of its
        current reward vector (theirs: of its first history entry); K-means in float64 (theirs
        float32); unscorable (None/NaN) rewards are excluded and get advantage 0 (theirs has none).
        """
        base = replace(cls.reference(), grouping="clusters", guard="authors_nd", domain_mean="clusters")
        return replace(base, **overrides)

    @property
    def window_decay(self) -> float:
        """Factor applied to the old window statistics each step: 0 batch, 1 cumulative."""
        return {"batch": 0.0, "cumulative": 1.0, "exponential": float(self.decay)}[self.window]


# --------------------------------------------------------------------------------------------
# Clustering (FairGRPO_ND)
# --------------------------------------------------------------------------------------------


def choose_k_elbow(inertias: Sequence[float], tol: float = 0.10) -> int:
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
    drops = -np.diff(np.asarray(inertias, dtype=np.float64))
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
    """
    x = np.asarray(vectors, dtype=np.float64)
    w = np.ones(len(x)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if merge_identical:
        points, inverse = np.unique(x, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        point_w = np.bincount(inverse, weights=w, minlength=len(points))
        distinct = len(points)
    else:
        points, inverse, point_w = x, np.arange(len(x)), w
        distinct = len(np.unique(x, axis=0))
    centre = np.average(points, axis=0, weights=point_w)
    inertias = [float((point_w * ((points - centre) ** 2).sum(axis=1)).sum())]
    label_sets = [np.zeros(len(points), dtype=int)]
    # One OpenMP thread: the data are small, and thread start-up costs more than it saves
    # (about 4x slower with 2 threads on a busy 2-core host).
    with _openmp_controller().limit(limits=1, user_api="openmp"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in range(2, min(max_k, distinct) + 1):
            km = KMeans(n_clusters=k, n_init="auto", random_state=random_state)
            km.fit(points, sample_weight=point_w)
            inertias.append(float(km.inertia_))
            label_sets.append(km.labels_)
    _, point_labels = np.unique(label_sets[choose_k_elbow(inertias, elbow_tol) - 1], return_inverse=True)
    k = int(point_labels.max()) + 1
    sizes = np.bincount(point_labels, weights=point_w, minlength=k)
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


# --------------------------------------------------------------------------------------------
# The scaler
# --------------------------------------------------------------------------------------------


def temperature(n: float, mean: float, kind: str) -> float:
    """T(N, r̄): "sqrt_n_times_r" √(N·r̄), "sqrt_n_times_mean" √N·r̄, "n" N, "r" r̄.

    A negative N·r̄ under the square root gives NaN (only reachable with the "authors" guard).
    """
    with np.errstate(invalid="ignore"):
        if kind == "sqrt_n_times_r":
            return float(np.sqrt(n * mean))
        if kind == "sqrt_n_times_mean":
            return float(np.sqrt(n) * mean)
        if kind == "n":
            return float(n)
        if kind == "r":
            return float(mean)
    raise ValueError(f"temperature must be one of {TEMPERATURES}, got {kind!r}")


class FairAdvantageScaler:
    """Stateful FairGRPO / FairGRPO_ND advantage for successive generation batches.

    Call it once per generation batch, in training order::

        scaler = FairAdvantageScaler(FairAdvantageConfig())
        advantages = scaler(rewards, domains, groups, num_generations=G)

    ``rewards``: P·G floats, prompt-major (None/NaN/inf = unscorable: excluded from every
    statistic, advantage 0, with a warning). ``domains`` / ``groups`` / ``true_groups``: one
    label per row, constant within a prompt; None -> "UNK". ``true_groups`` (optional) only
    feeds ARI / NMI of the clusters in ``last_stats``.

    Steps: (1) s = ``grpo_advantages`` with ``grpo_scale``/``grpo_eps``; (2) add the batch to
    the window statistics (per domain, per explicit (domain, group), and the clustering
    histories); (3) per prompt T_d = T(N_d, r̄_d), T_g = T(N_{d,g}, r̄_{d,g}) with its group or
    cluster; (4) a = s / divisor (see ``FairAdvantageConfig.guard``); (5) re-normalise.

    After a call, ``last_stats`` holds what was used (JSON-friendly)::

        {"step", "prompts", "num_generations", "unscorable_rewards",
         "domains": {d: {"N", "mean_reward", "T", "floored", "batch_prompts",
                         "groups": {g: {"N", "mean_reward", "T", "floored", "batch_prompts"}},
                         "clustering": {"k", "vectors", "sizes", "means", "inertias",
                                        "batch_prompts", ["ari", "nmi"]}}},  # clustered domains
         ["ari", "nmi"]}                                       # prompt-weighted over domains

    Cluster groups are named "c0".."c{k-1}" by ascending mean reward ("UNK/c0".. under
    "explicit_with_clusters_for_unk"). ``log_scalars()`` flattens this for trainer logs.
    """

    def __init__(self, config: FairAdvantageConfig | None = None) -> None:
        self.config = config or FairAdvantageConfig()
        self.reset()

    def reset(self) -> None:
        """Forget the window statistics and clustering histories."""
        self.step = 0
        self._rng = np.random.default_rng(self.config.random_state)
        # [prompt count, reward sum, scorable-reward count], decayed together
        self._domain_sums: dict[str, np.ndarray] = {}
        self._group_sums: dict[tuple[str, str], np.ndarray] = {}
        self._histories: dict[str, VectorHistory] = {}
        self.last_stats: dict[str, Any] = {}

    # -- public -------------------------------------------------------------------------------

    def __call__(
        self,
        rewards: Sequence[float | None] | np.ndarray,
        domains: Sequence[Any],
        groups: Sequence[Any],
        num_generations: int,
        true_groups: Sequence[Any] | None = None,
    ) -> np.ndarray:
        """Advantages (P·G floats) for one generation batch; updates the window statistics."""
        cfg = self.config
        g_count = int(num_generations)
        r = _as_rewards(rewards)
        if g_count < 1 or r.size % g_count:
            raise ValueError(f"{r.size} rewards cannot be split into prompts of num_generations={g_count}")
        n_prompts = r.size // g_count
        doms = _per_prompt(domains, n_prompts, g_count, "domains")
        grps = _per_prompt(groups, n_prompts, g_count, "groups")
        trues = None if true_groups is None else _per_prompt(true_groups, n_prompts, g_count, "true_groups")
        self.step += 1
        if n_prompts == 0:
            self.last_stats = {
                "step": self.step,
                "prompts": 0,
                "num_generations": g_count,
                "unscorable_rewards": 0,
                "domains": {},
            }
            return r

        bad = ~np.isfinite(r)
        if bad.any():
            warnings.warn(
                "some rewards are None, NaN or infinite; they are excluded from the statistics and get "
                "advantage 0 (count in last_stats['unscorable_rewards'])",
                AdvantageWarning,
                stacklevel=2,
            )
            r = np.where(bad, np.nan, r)
        if UNK in doms:
            warnings.warn(
                "missing domain (dataset) on some rows; they form the domain 'UNK'",
                AdvantageWarning,
                stacklevel=2,
            )

        s = grpo_advantages(r, g_count, cfg.grpo_scale, cfg.grpo_eps)
        if cfg.guard == "authors_nd" and g_count == 1:
            s = np.nan_to_num(r / (1.0 + cfg.grpo_eps), nan=0.0)  # their single rollout: mean 0, std 1
        per_prompt = r.reshape(n_prompts, g_count)
        prompt_sum, prompt_count = _prompt_sums(per_prompt)
        prompt_ok = prompt_count > 0

        self._update_sums(doms, grps, prompt_ok, prompt_sum, prompt_count)
        group_of, group_stats, clustering = self._assign_groups(doms, grps, trues, per_prompt, prompt_ok)

        stats: dict[str, Any] = {
            "step": self.step,
            "prompts": n_prompts,
            "num_generations": g_count,
            "unscorable_rewards": int(bad.sum()),
            "domains": {},
        }
        divisor = np.ones(n_prompts)  # unscorable prompts have s = 0; their divisor is irrelevant
        for p in np.flatnonzero(prompt_ok):
            d, g = doms[p], group_of[p]
            if d not in stats["domains"]:
                stats["domains"][d] = self._domain_entry(d, clustering.get(d))
            dom_stats = stats["domains"][d]
            if g not in dom_stats["groups"]:
                dom_stats["groups"][g] = self._group_entry(*group_stats[(d, g)])
            grp_stats = dom_stats["groups"][g]
            dom_stats["batch_prompts"] += 1
            grp_stats["batch_prompts"] += 1
            divisor[p] = self._divisor(dom_stats["T"], grp_stats["T"])
        for d, info in clustering.items():
            stats["domains"][d]["clustering"] = info

        advantages = self._scale(s, np.repeat(divisor, g_count), r)
        advantages = self._renormalise(advantages, np.repeat(prompt_ok, g_count) & ~bad)
        self._finish_stats(stats, clustering)
        self.last_stats = stats
        return advantages

    def log_scalars(self, prefix: str = "fair") -> dict[str, float]:
        """``last_stats`` as a flat {name: float} dict for trainer logs."""
        out: dict[str, float] = {}
        st = self.last_stats
        if not st:
            return out
        out[f"{prefix}/unscorable_rewards"] = float(st["unscorable_rewards"])
        for key in ("ari", "nmi"):
            if key in st:
                out[f"{prefix}/{key}"] = float(st[key])
        for d, dom in st["domains"].items():
            for key in ("N", "mean_reward", "T"):
                out[f"{prefix}/{d}/{key}"] = float(dom[key])
            for g, grp in dom["groups"].items():
                for key in ("N", "mean_reward", "T"):
                    out[f"{prefix}/{d}/{g}/{key}"] = float(grp[key])
            if "clustering" in dom:
                out[f"{prefix}/{d}/k"] = float(dom["clustering"]["k"])
        return out

    # -- statistics ---------------------------------------------------------------------------

    def _update_sums(
        self,
        doms: list[str],
        grps: list[str],
        prompt_ok: np.ndarray,
        prompt_sum: np.ndarray,
        prompt_count: np.ndarray,
    ) -> None:
        """Decay the window, then add this batch (the current batch counts in its own window)."""
        decay = self.config.window_decay
        for table in (self._domain_sums, self._group_sums):
            if decay == 0.0:
                table.clear()
            for key in table:
                table[key] *= decay
        for p in np.flatnonzero(prompt_ok):
            row = np.array([1.0, prompt_sum[p], prompt_count[p]])
            for table, key in ((self._domain_sums, doms[p]), (self._group_sums, (doms[p], grps[p]))):
                table[key] = table.get(key, np.zeros(3)) + row
        for history in self._histories.values():
            history.decay(decay)

    def _assign_groups(
        self,
        doms: list[str],
        grps: list[str],
        trues: list[str] | None,
        per_prompt: np.ndarray,
        prompt_ok: np.ndarray,
    ) -> tuple[list[str], dict[tuple[str, str], tuple[float, float]], dict[str, dict[str, Any]]]:
        """Group label of every prompt, (N, r̄) of every (domain, group) used, clustering info."""
        cfg = self.config
        group_of = list(grps)
        group_stats: dict[tuple[str, str], tuple[float, float]] = {}
        clustering: dict[str, dict[str, Any]] = {}

        if cfg.grouping == "clusters":
            to_cluster = prompt_ok.copy()
        elif cfg.grouping == "explicit_with_clusters_for_unk":
            to_cluster = prompt_ok & (np.array(grps, dtype=object) == UNK)
        else:
            to_cluster = np.zeros(len(grps), dtype=bool)

        for p in np.flatnonzero(prompt_ok & ~to_cluster):
            n, total, count = self._group_sums[(doms[p], grps[p])]
            group_stats[(doms[p], grps[p])] = (float(n), float(total / count))

        if to_cluster.any():
            # NaN rollouts take their prompt's mean, so a vector's mean is the prompt's mean reward
            row_mean = np.nanmean(np.where(prompt_ok[:, None], per_prompt, 0.0), axis=1)
            vectors = np.where(np.isnan(per_prompt), row_mean[:, None], per_prompt)
            if cfg.cluster_feature == "sorted":
                vectors = np.sort(vectors, axis=1)
            prefix = f"{UNK}/" if cfg.grouping == "explicit_with_clusters_for_unk" else ""
            dom_arr = np.array(doms, dtype=object)
            for d in sorted(set(dom_arr[to_cluster])):
                idx = np.flatnonzero(to_cluster & (dom_arr == d))
                history = self._histories.setdefault(d, VectorHistory(cfg.max_history, self._rng))
                x, w = history.with_batch(vectors[idx])
                result = cluster_reward_vectors(
                    x, w, cfg.max_k, cfg.elbow_tol, cfg.random_state, cfg.merge_identical
                )
                history.add(vectors[idx])
                batch_labels = result.labels[len(x) - len(idx) :]
                for p, c in zip(idx, batch_labels):
                    group_of[p] = f"{prefix}c{c}"
                for c in range(result.k):
                    group_stats[(d, f"{prefix}c{c}")] = (float(result.sizes[c]), float(result.means[c]))
                info: dict[str, Any] = {
                    "k": result.k,
                    "vectors": len(x),
                    "sizes": result.sizes.tolist(),
                    "means": result.means.tolist(),
                    "inertias": result.inertias,
                    "batch_prompts": len(idx),
                }
                if trues is not None:
                    true_labels = [trues[p] for p in idx]
                    info["ari"] = float(adjusted_rand_score(true_labels, batch_labels))
                    info["nmi"] = float(normalized_mutual_info_score(true_labels, batch_labels))
                clustering[d] = info
        return group_of, group_stats, clustering

    def _domain_entry(self, d: str, clustering: dict[str, Any] | None = None) -> dict[str, Any]:
        n, total, count = self._domain_sums[d]
        mean = float(total / count)
        if self.config.domain_mean == "clusters" and clustering is not None:
            inverse = 1.0 / np.asarray(clustering["sizes"], dtype=np.float64)
            mean = float((inverse * np.asarray(clustering["means"])).sum() / inverse.sum())
        entry = self._group_entry(float(n), mean, is_group=False)
        entry["groups"] = {}
        return entry

    def _group_entry(self, n: float, mean: float, is_group: bool = True) -> dict[str, Any]:
        cfg = self.config
        if cfg.guard == "authors_nd":  # their FairGRPO_ND floors the cluster's mean only, at eps
            floored = is_group and mean < cfg.eps
            used_mean = max(mean, cfg.eps) if floored else mean
        else:
            floored = cfg.guard == "floor" and cfg.temperature != "n" and mean < cfg.min_mean_reward
            used_mean = max(mean, cfg.min_mean_reward) if floored else mean
        return {
            "N": n,
            "mean_reward": mean,
            "T": temperature(n, used_mean, cfg.temperature),
            "floored": bool(floored),
            "batch_prompts": 0,
        }

    # -- scaling ------------------------------------------------------------------------------

    def _divisor(self, t_domain: float, t_group: float) -> float:
        """max(T_d·T_g, eps) ("floor"), max(T_d, eps)·T_g unfloored ("authors"), or
        clip(max(T_d, eps)·T_g, eps, 1e6) ("authors_nd")."""
        eps = self.config.eps
        if self.config.guard == "floor":
            return max(t_domain * t_group, eps)
        divisor = float(np.maximum(t_domain, eps) * t_group)  # np.maximum keeps a NaN as NaN
        if self.config.guard == "authors_nd":
            return float(np.clip(divisor, eps, ND_FACTOR_MAX))
        return divisor

    def _scale(self, s: np.ndarray, divisor: np.ndarray, rewards: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = s / divisor
        if self.config.guard == "authors_nd":  # their FairGRPO_ND falls back to the raw reward
            return np.where(np.isfinite(scaled), scaled, rewards)
        if self.config.guard == "authors":
            if (divisor <= 0).any() or not np.isfinite(divisor).all():
                warnings.warn(
                    "authors' guard: a temperature is <= 0 or NaN (mean reward <= 0); those advantages are "
                    "left unscaled or change sign, as in the authors' code",
                    AdvantageWarning,
                    stacklevel=3,
                )
            return np.where(np.isfinite(scaled), scaled, s)
        return scaled

    def _renormalise(self, a: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """zscore: (a - mean)/(std + eps); std: a/(std + eps); over scorable rows, ddof = 1."""
        cfg = self.config
        if cfg.renorm == "none":
            return np.where(valid, a, 0.0)
        if valid.sum() < 2:
            warnings.warn(
                "fewer than 2 scorable rewards in the batch: re-normalisation skipped",
                AdvantageWarning,
                stacklevel=3,
            )
            return np.where(valid, a, 0.0)
        values = a[valid]
        std = float(values.std(ddof=1))
        centre = float(values.mean()) if cfg.renorm == "zscore" else 0.0
        return np.where(valid, (a - centre) / (std + cfg.eps), 0.0)

    @staticmethod
    def _finish_stats(stats: dict[str, Any], clustering: dict[str, dict[str, Any]]) -> None:
        """Prompt-weighted ARI / NMI over the clustered domains, when true groups were given."""
        scored = [info for info in clustering.values() if "ari" in info]
        if scored:
            weights = np.array([info["batch_prompts"] for info in scored], dtype=float)
            for key in ("ari", "nmi"):
                stats[key] = float(np.average([info[key] for info in scored], weights=weights))


# --------------------------------------------------------------------------------------------
# Baselines: resampling and group-DRO
# --------------------------------------------------------------------------------------------


def resampling_weights(domains: Sequence[Any], groups: Sequence[Any]) -> np.ndarray:
    """Sampling probability of each prompt ∝ 1 / count of its (domain, group); sums to 1.

    Every (domain, group) cell then gets the same expected number of draws. None -> "UNK".
    """
    if len(domains) != len(groups):
        raise ValueError(f"domains ({len(domains)}) and groups ({len(groups)}) differ in length")
    if len(domains) == 0:
        return np.zeros(0)
    keys = [(_label(d), _label(g)) for d, g in zip(domains, groups)]
    counts: dict[tuple[str, str], int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    weights = np.array([1.0 / counts[key] for key in keys])
    return weights / weights.sum()


class GroupDROWeights:
    """Online group-DRO weights (Sagawa et al. 2020, exponentiated-gradient ascent on groups).

    After each batch, for every group g seen with mean reward r̄_g (rewards in [0, 1], 1 best)::

        q_g <- q_g · exp(eta · (1 - r̄_g)),  then q normalised to sum 1.

    A group seen for the first time enters with the average weight of the known ones. Kept in
    log space, so long runs do not overflow. Groups are any hashable keys (e.g. "domain/group");
    None -> "UNK". NaN rewards are ignored; a group with no scorable reward is not updated.
    ``weights_for`` gives per-sample advantage multipliers w_i = q_{g_i} / mean_j q_{g_j}
    (mean 1 over the batch, so the loss scale matches unweighted GRPO); a group never
    updated counts with the average weight.
    """

    def __init__(self, eta: float = 0.1) -> None:
        if not (math.isfinite(eta) and eta >= 0):
            raise ValueError(f"GroupDROWeights.eta must be a finite number >= 0, got {eta!r}")
        self.eta = float(eta)
        self._log_q: dict[Hashable, float] = {}

    @property
    def q(self) -> dict[Hashable, float]:
        """Current normalised group weights."""
        return {g: math.exp(v) for g, v in self._log_q.items()}

    def update(
        self, groups: Sequence[Any], rewards: Sequence[float | None] | np.ndarray
    ) -> dict[Hashable, float]:
        r = _as_rewards(rewards)
        if len(groups) != r.size:
            raise ValueError(f"groups ({len(groups)}) and rewards ({r.size}) differ in length")
        keys = np.array([_label(g) for g in groups], dtype=object)
        scorable = np.isfinite(r)
        means = {g: float(r[(keys == g) & scorable].mean()) for g in dict.fromkeys(keys[scorable])}
        start = -math.log(len(self._log_q)) if self._log_q else 0.0  # log of the average q
        for g, mean in means.items():
            self._log_q[g] = self._log_q.get(g, start) + self.eta * (1.0 - mean)
        if self._log_q:
            log_total = float(np.logaddexp.reduce(list(self._log_q.values())))
            self._log_q = {g: v - log_total for g, v in self._log_q.items()}
        return self.q

    def weights_for(self, groups: Sequence[Any]) -> np.ndarray:
        if len(groups) == 0:
            return np.zeros(0)
        q = self.q
        default = 1.0 / len(q) if q else 1.0
        w = np.array([q.get(_label(g), default) for g in groups])
        return w / w.mean()


# --------------------------------------------------------------------------------------------
# Baselines of the paper's table: RLOO, REINFORCE++ and REINFORCE++-baseline
# --------------------------------------------------------------------------------------------
# The authors ran these as verl advantage estimators (DDVD233/mirl ``core_algos.py``) under the
# same PPO-clip token loss as GRPO; clinfair does the same under TRL's GRPO loss. Unscorable
# rewards (None/NaN) are excluded from every statistic and get advantage 0, as in TRL.

VERL_WHITEN_EPS = 1e-8  # verl's masked_whiten: (x - mean) * rsqrt(var + 1e-8)


def _grouped(rewards: Sequence[float | None] | np.ndarray, num_generations: int) -> np.ndarray:
    r = _as_rewards(rewards)
    if num_generations < 1 or r.size % num_generations:
        raise ValueError(
            f"{r.size} rewards cannot be split into prompts of num_generations={num_generations}"
        )
    return np.where(np.isfinite(r), r, np.nan).reshape(-1, num_generations)


def rloo_advantages(rewards: Sequence[float | None] | np.ndarray, num_generations: int) -> np.ndarray:
    """RLOO (Ahmadian et al. 2024): A = r - mean of the prompt's *other* scorable rollouts.

    Equal to TRL 1.16's ``RLOOTrainer`` advantage (``normalize_advantages=False``, β = 0) and to
    verl's ``compute_rloo_outcome_advantage`` (r·G/(G-1) - mean_p·G/(G-1) is the same number).
    A prompt with fewer than two scorable rollouts has no baseline: advantage 0, as TRL
    (verl would keep the raw reward when G = 1).
    """
    grouped = _grouped(rewards, num_generations)
    total, count = _prompt_sums(grouped)
    with np.errstate(invalid="ignore", divide="ignore"):
        advantages = grouped - (total[:, None] - grouped) / (count[:, None] - 1)
    return np.nan_to_num(np.where(count[:, None] > 1, advantages, np.nan), nan=0.0).reshape(-1)


def whiten(values: np.ndarray, weights: np.ndarray | None = None, eps: float = VERL_WHITEN_EPS) -> np.ndarray:
    """verl's ``masked_whiten`` of a per-sequence value broadcast over its tokens.

    Each value counts ``weights`` times (its completion's token count; None = once):
    mean = Σ w·x / Σ w, var = Σ w·(x - mean)² / (Σ w - 1) (verl's Bessel correction over
    tokens), result (x - mean) / √(var + eps). NaN values are left out and stay NaN. Fewer than
    two counted units (Σ w ≤ 1) cannot be whitened (verl raises): the values are only centred.
    """
    x = np.asarray(values, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != x.shape or (w < 0).any():
        raise ValueError(f"whitening weights must be {x.shape[0]} counts >= 0, got shape {w.shape}")
    valid = ~np.isnan(x) & (w > 0)
    total = w[valid].sum()
    if total == 0:
        return x
    mean = (w[valid] * x[valid]).sum() / total
    if total <= 1:
        return x - mean
    var = (w[valid] * (x[valid] - mean) ** 2).sum() / (total - 1)
    return (x - mean) / np.sqrt(var + eps)


def reinforce_pp_advantages(
    rewards: Sequence[float | None] | np.ndarray,
    num_generations: int,
    baseline: bool = False,
    lengths: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """REINFORCE++ (Hu 2025, arXiv 2501.03262) on outcome rewards, as verl computes it.

    ``baseline=False`` (verl ``compute_reinforce_plus_plus_outcome_advantage``, γ = 1, no KL in
    the reward): every token's return is the outcome reward r; the returns are whitened over
    all tokens of the batch, so A = whiten(r). No per-prompt baseline.
    ``baseline=True`` (``compute_reinforce_plus_plus_baseline_outcome_advantage``): r minus the
    prompt's mean reward (over scorable rollouts; 0 when G = 1, as verl), then whitened over
    the batch's tokens. ``lengths``: completion token counts, the whitening weights of verl's
    token-level statistics (None: one weight per completion).
    """
    grouped = _grouped(rewards, num_generations)
    if baseline and num_generations > 1:
        total, count = _prompt_sums(grouped)
        grouped = grouped - (total / np.maximum(count, 1))[:, None]
    flat = grouped.reshape(-1)
    weights = None if lengths is None else np.asarray(lengths, dtype=np.float64).reshape(-1)
    if weights is not None and weights.size != flat.size:
        raise ValueError(f"lengths has {weights.size} entries for {flat.size} rewards")
    return np.nan_to_num(whiten(flat, weights), nan=0.0)


# Checkpoint state as JSON (no pickle: loading a checkpoint never runs code)
# --------------------------------------------------------------------------------------------

#: Version of the layout :func:`advantage_state_to_json` writes; bump it when the layout changes.
ADVANTAGE_STATE_VERSION = 1


class AdvantageStateError(ClinfairError, ValueError):
    """A saved advantage state that cannot be loaded (unknown version or kind, damaged)."""


def advantage_state_to_json(state: FairAdvantageScaler | GroupDROWeights) -> dict[str, Any]:
    """The complete state of a scaler or of group-DRO weights as a JSON-able document.

    Floats are written as JSON numbers (Python's shortest repr, read back exactly; NaN and
    infinities as ``NaN``/``Infinity``); the random generator as numpy's bit-generator state.
    ``advantage_state_from_json(json.loads(json.dumps(doc)))`` continues exactly where ``state``
    stopped.
    """
    if isinstance(state, FairAdvantageScaler):
        body: dict[str, Any] = {
            "config": {f.name: getattr(state.config, f.name) for f in fields(state.config)},
            "step": state.step,
            "rng": state._rng.bit_generator.state,
            "domain_sums": [[d, v.tolist()] for d, v in state._domain_sums.items()],
            "group_sums": [[d, g, v.tolist()] for (d, g), v in state._group_sums.items()],
            "histories": [
                [d, h.max_size, None if h.vectors is None else h.vectors.tolist(), h.weights.tolist()]
                for d, h in state._histories.items()
            ],
            "last_stats": state.last_stats,
        }
    elif isinstance(state, GroupDROWeights):
        if not all(isinstance(g, str) for g in state._log_q):
            raise AdvantageStateError("group-DRO weights are saved for text group keys only")
        body = {"eta": state.eta, "log_q": [[g, v] for g, v in state._log_q.items()]}
    else:
        raise AdvantageStateError(f"cannot save the state of a {type(state).__name__}")
    return {"version": ADVANTAGE_STATE_VERSION, "kind": type(state).__name__, "state": body}


def advantage_state_from_json(document: Any) -> FairAdvantageScaler | GroupDROWeights:
    """Rebuild what :func:`advantage_state_to_json` saved; an unknown version or kind is an error."""
    if not isinstance(document, dict) or "version" not in document:
        raise AdvantageStateError("not a clinfair advantage state (no version)")
    version = document["version"]
    if version != ADVANTAGE_STATE_VERSION:
        raise AdvantageStateError(
            f"advantage state version {version!r} is unknown to this clinfair (it reads version "
            f"{ADVANTAGE_STATE_VERSION}); resume with the clinfair that saved it"
        )
    kind, body = document.get("kind"), document.get("state")
    try:
        if kind == "FairAdvantageScaler":
            scaler = FairAdvantageScaler(FairAdvantageConfig(**body["config"]))
            scaler.step = int(body["step"])
            scaler._rng.bit_generator.state = body["rng"]
            scaler._domain_sums = {d: np.asarray(v, dtype=np.float64) for d, v in body["domain_sums"]}
            scaler._group_sums = {(d, g): np.asarray(v, dtype=np.float64) for d, g, v in body["group_sums"]}
            for d, max_size, vectors, weights in body["histories"]:
                history = VectorHistory(max_size, scaler._rng)  # shares the scaler's generator, as when built
                history.vectors = None if vectors is None else np.asarray(vectors, dtype=np.float64)
                history.weights = np.asarray(weights, dtype=np.float64)
                scaler._histories[d] = history
            scaler.last_stats = body["last_stats"]
            return scaler
        if kind == "GroupDROWeights":
            weights = GroupDROWeights(body["eta"])
            weights._log_q = {g: float(v) for g, v in body["log_q"]}
            return weights
    except (KeyError, TypeError, ValueError) as error:
        raise AdvantageStateError(f"damaged {kind} state ({type(error).__name__}: {error})") from None
    raise AdvantageStateError(f"unknown advantage state kind {kind!r}")

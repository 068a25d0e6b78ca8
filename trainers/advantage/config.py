"""``FairAdvantageConfig``: every choice of the FairGRPO / FairGRPO_ND advantage, and the authors' presets."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from clinfair.trainers.advantage.grpo import GRPO_SCALES, TRL_GRPO_EPS

from clinfair.core.errors import ClinfairError
from clinfair.core.yamlio import load_dataclass

WINDOWS = ("batch", "cumulative", "exponential")
TEMPERATURES = ("sqrt_n_times_r", "sqrt_n_times_mean", "n", "r")
RENORMS = ("zscore", "std", "none")
GUARDS = ("floor", "authors", "authors_nd")
DOMAIN_MEANS = ("rollouts", "clusters")
ND_FACTOR_MAX = 1e6  # the authors' FairGRPO_ND clamps its scaling factor to [eps, 1e6]
GROUPINGS = ("explicit", "clusters", "explicit_with_clusters_for_unk")
FEATURES = ("raw", "sorted")
CLUSTER_DTYPES = ("float64", "float32")
FAIR_MODES = ("paper", "reference")  # the methods' ``fair_mode``: the paper's formula, or the authors' code


class FairAdvantageError(ClinfairError, ValueError):
    """A ``fair_advantage`` setting that cannot be used (unknown field, refused value)."""


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
        cluster_dtype: "float64" | "float32", the precision of the vectors K-means sees. The
            authors cluster float32 vectors (``np.asarray(v, dtype=np.float32)``), and on the
            same data float64 K-means can pick another k or other clusters (not rounding noise:
            the advantages then differ by O(1)), so their presets use "float32"; with float32 every
            inertia, k = 1 included, comes from sklearn's KMeans, as in their elbow rule.
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
    cluster_dtype: str = "float64"

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
            "cluster_dtype": CLUSTER_DTYPES,
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
        copy of a repeated vector clustered), on float32 vectors as theirs (``cluster_dtype``).
        ``overrides`` replace single fields. The authors' FairGRPO_ND is :meth:`reference_nd`, not
        ``reference(grouping="clusters")``.

        Not reproduced: their UNK prompt takes the cluster of the *first* history entry with its
        question id (a repeated question reuses an old assignment); here it takes the cluster
        of its current reward vector. Outside K-means the arithmetic is float64 (theirs: torch
        float32 scores), a rounding-level difference (~1e-7 relative); the clustering itself is
        float32 like theirs, which is not rounding-level (see ``cluster_dtype``).
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
            cluster_dtype="float32",
        )
        return replace(base, **overrides)

    # -- the authors' FairGRPO_ND (issue 14) ---------------------------------------------------

    @classmethod
    def reference_nd(cls, **overrides: Any) -> FairAdvantageConfig:
        """The authors' FairGRPO_ND (DDVD233/qoq_med3 ``compute_fair_grpo_nd_outcome_advantage``).

        Every prompt is unlabelled. Its G-vector of raw rewards (rollout order) joins its
        domain's history, never reset; s = (r - mean_p)/(std_p + 1e-6), sample std (G = 1:
        s = r / (1 + 1e-6)). Per domain, K-means on the whole history (k ≤ 3 by the elbow rule,
        tol 0.1, ``KMeans(n_init="auto", random_state=0)`` on float32 vectors, every copy clustered); with cluster
        sizes n_c and mean rewards m_c, μ_d = Σ_c (m_c/n_c) / Σ_c (1/n_c); T_d = max(√N_d·μ_d, ε)
        with N_d the history size; the prompt's cluster c gives the factor
        clip(T_d·√n_c·max(m_c, ε), ε, 1e6); a = s / factor, the raw reward where that is NaN or
        inf; finally every value divided by the batch std (ddof = 1) + ε, no mean subtraction.
        ε = 1e-6. ``overrides`` replace single fields.

        Not reproduced, as in ``reference()``: a repeated question takes the cluster of its
        current reward vector (theirs: of its first history entry); the arithmetic outside
        K-means is float64 (theirs torch float32, a rounding-level difference); unscorable
        (None/NaN) rewards are excluded and get advantage 0 (theirs has none).
        """
        base = replace(cls.reference(), grouping="clusters", guard="authors_nd", domain_mean="clusters")
        return replace(base, **overrides)

    @property
    def window_decay(self) -> float:
        """Factor applied to the old window statistics each step: 0 batch, 1 cumulative."""
        return {"batch": 0.0, "cumulative": 1.0, "exponential": float(self.decay)}[self.window]


def mode_config(fair_mode: str, clusters: bool = False, grpo_scale: str = "group") -> FairAdvantageConfig:
    """The configuration a FairGRPO (``clusters=False``) or FairGRPO_ND (``clusters=True``) mode
    starts from, before any ``fair_advantage`` setting.

    "paper": the defaults (K-means groups for FairGRPO_ND), with the GRPO base advantage scaled
    as the run's TRL ``scale_rewards`` (``grpo_scale``); "reference": the authors' code,
    :meth:`FairAdvantageConfig.reference` or :meth:`FairAdvantageConfig.reference_nd`.
    """
    if fair_mode not in FAIR_MODES:
        raise FairAdvantageError(f"fair_mode must be one of {FAIR_MODES}, got {fair_mode!r}")
    if fair_mode == "reference":
        return FairAdvantageConfig.reference_nd() if clusters else FairAdvantageConfig.reference()
    if clusters:
        return FairAdvantageConfig(grpo_scale=grpo_scale, grouping="clusters")
    return FairAdvantageConfig(grpo_scale=grpo_scale)


def resolve_fair_advantage(
    base: FairAdvantageConfig,
    fair_advantage: FairAdvantageConfig | Mapping[str, Any] | None,
    where: str = "fair_advantage",
) -> FairAdvantageConfig:
    """The ``fair_advantage`` setting of a method, as one ``FairAdvantageConfig``.

    None: ``base`` (the mode's configuration). A ``FairAdvantageConfig``: itself. A mapping (a
    recipe's ``fair_advantage:`` block, ``fair_advantage.window=batch``): ``base`` with those fields
    replaced, read by ``clinfair.core.yamlio.load_dataclass``, so an unknown key is the one shared
    unknown-key error and a refused value one line, both a :class:`FairAdvantageError` naming ``where``.
    """
    if fair_advantage is None:
        return base
    if isinstance(fair_advantage, FairAdvantageConfig):
        return fair_advantage
    if not isinstance(fair_advantage, Mapping):
        raise FairAdvantageError(
            f"{where}: a mapping of FairAdvantageConfig fields, got {type(fair_advantage).__name__}"
        )
    known = {f.name for f in fields(FairAdvantageConfig)}
    values = {name: getattr(base, name) for name in known if name not in fair_advantage}
    values.update(fair_advantage)  # unknown keys stay in, for load_dataclass's error
    return load_dataclass(FairAdvantageConfig, values, where, FairAdvantageError)

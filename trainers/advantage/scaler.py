"""``FairAdvantageScaler``: the stateful FairGRPO / FairGRPO_ND advantage of successive batches."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from clinfair.trainers.advantage.clustering import VectorHistory, cluster_reward_vectors
from clinfair.trainers.advantage.common import UNK, AdvantageWarning, _as_rewards, _per_prompt, _prompt_sums
from clinfair.trainers.advantage.config import ND_FACTOR_MAX, RENORMS, TEMPERATURES, FairAdvantageConfig
from clinfair.trainers.advantage.grpo import grpo_advantages
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


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


def renormalise(a: np.ndarray, valid: np.ndarray, kind: str, eps: float) -> np.ndarray:
    """FairGRPO's batch re-normalisation over the scorable rows (``valid``), sample std (ddof = 1):
    "zscore" (a - mean)/(std + eps), "std" a/(std + eps), "none" a. Unscorable rows get 0; with
    fewer than 2 scorable rows nothing is rescaled (with an ``AdvantageWarning``)."""
    if kind not in RENORMS:
        raise ValueError(f"renorm must be one of {RENORMS}, got {kind!r}")
    if kind == "none":
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
    centre = float(values.mean()) if kind == "zscore" else 0.0
    return np.where(valid, (a - centre) / (std + eps), 0.0)


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
        # each key's [prompts, reward sum, reward count] plus this batch's prompts, added one prompt
        # at a time in batch order (Python floats: the same IEEE arithmetic as numpy's, without a
        # small array per prompt)
        scorable = np.flatnonzero(prompt_ok).tolist()
        sums, counts = prompt_sum.tolist(), prompt_count.tolist()
        for table, keys in ((self._domain_sums, doms), (self._group_sums, list(zip(doms, grps)))):
            added: dict[Any, list[float]] = {}
            for p in scorable:
                total = added.get(keys[p])
                if total is None:
                    start = table.get(keys[p])
                    total = added[keys[p]] = [0.0, 0.0, 0.0] if start is None else start.tolist()
                total[0] += 1.0
                total[1] += sums[p]
                total[2] += counts[p]
            for key, total in added.items():
                table[key] = np.array(total)
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
                    x, w, cfg.max_k, cfg.elbow_tol, cfg.random_state, cfg.merge_identical, cfg.cluster_dtype
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
        return renormalise(a, valid, self.config.renorm, self.config.eps)

    @staticmethod
    def _finish_stats(stats: dict[str, Any], clustering: dict[str, dict[str, Any]]) -> None:
        """Prompt-weighted ARI / NMI over the clustered domains, when true groups were given."""
        scored = [info for info in clustering.values() if "ari" in info]
        if scored:
            weights = np.array([info["batch_prompts"] for info in scored], dtype=float)
            for key in ("ari", "nmi"):
                stats[key] = float(np.average([info[key] for info in scored], weights=weights))

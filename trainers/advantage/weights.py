"""Re-weighting baselines: the resampling baseline's sampling weights and online group-DRO weights."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
from clinfair.trainers.advantage.common import _as_rewards, _label


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

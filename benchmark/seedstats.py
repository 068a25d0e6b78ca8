"""Statistics over seeds: t-intervals, paired tests and Holm's correction.

RL results are reported as intervals over seeds, and two methods are compared on the same
seeds (paired): ``clinfair study``, ``clinfair simulate`` and ``clinfair demo`` share these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    """Mean and the half-width of its two-sided 95 % Student t-interval (None for one value)."""

    mean: float
    half: float | None
    n: int

    def text(self, scale: float = 1.0, digits: int = 1) -> str:
        if self.half is None:
            return f"{self.mean * scale:.{digits}f}"
        return f"{self.mean * scale:.{digits}f} ± {self.half * scale:.{digits}f}"

    def excludes_zero(self) -> bool:
        return self.half is not None and abs(self.mean) > self.half


def t_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Mean ± t_{(1+level)/2, n-1} · s / √n (s: sample std, ddof = 1)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("t_interval needs at least one value")
    mean = float(x.mean())
    if x.size < 2:
        return Interval(mean, None, 1)
    quantile = float(stats.t.ppf((1 + level) / 2, x.size - 1))
    return Interval(mean, quantile * float(x.std(ddof=1)) / math.sqrt(x.size), int(x.size))


def paired_t_pvalue(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided p-value of the paired t-test of a - b. None: fewer than 2 pairs, or no
    difference at all (every |a - b| below 1e-9, float noise); 0.0: one constant nonzero difference."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size < 2 or np.all(np.abs(diff) < 1e-9):
        return None
    if np.allclose(diff, diff[0], rtol=0, atol=1e-12):
        return 0.0
    return float(stats.ttest_rel(a, b).pvalue)


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); None stays None."""
    present = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    m = len(present)
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted

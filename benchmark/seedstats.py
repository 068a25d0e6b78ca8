"""Statistics over seeds: t-intervals, paired tests, Holm's correction, power and the
two-level bootstrap.

The unit of inference is the training run (one seed): RL results are reported as intervals
over seeds, and two methods are compared on the same seeds (paired) by the paired t-test and
the exact sign-flip permutation test of the per-seed differences. A row-level bootstrap within
one run measures that run's evaluation noise only; rows pooled across seeds are not
independent draws and never make a test. ``clinfair study``, ``clinfair simulate`` and
``clinfair demo`` share these.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.optimize import brentq


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


#: up to this many seeds the sign-flip test enumerates every one of the 2^n sign patterns
EXACT_SIGN_FLIP_SEEDS = 12


def sign_flip_pvalue(differences: Sequence[float], n_resamples: int = 100_000, seed: int = 0) -> float | None:
    """Two-sided p-value of the sign-flip permutation test of paired per-seed differences.

    Under "no difference" each seed's difference is as likely to have either sign, so the
    statistic |Σ s_i·d_i| is compared with its value under every sign pattern s: exactly (all
    2^n patterns) for n <= ``EXACT_SIGN_FLIP_SEEDS``, else from ``n_resamples`` random patterns
    ((1 + hits) / (1 + n_resamples)). With n seeds the smallest exact p-value is 2 / 2^n (0.5 for 2
    seeds, 0.0625 for 5, 0.002 for 10). None: fewer than 2 seeds, or no difference at all.
    """
    d = np.asarray(differences, dtype=float)
    if d.size < 2 or np.all(np.abs(d) < 1e-9):
        return None
    observed = abs(d.sum())
    tolerance = 1e-12 * max(1.0, float(np.abs(d).sum()))  # float noise must not split ties
    if d.size <= EXACT_SIGN_FLIP_SEEDS:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
        return float(np.mean(np.abs(signs @ d) >= observed - tolerance))
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(n_resamples, d.size))
    hits = int(np.sum(np.abs(signs @ d) >= observed - tolerance))
    return (1 + hits) / (1 + n_resamples)


def paired_t_power(effect: float, sd: float, seeds: int, alpha: float = 0.05) -> float:
    """Power of the two-sided paired t-test at level ``alpha`` with ``seeds`` pairs, when the
    per-seed differences have mean ``effect`` and standard deviation ``sd``: the probability
    that |T| exceeds t_{1-α/2, n-1} for T noncentral t with n - 1 degrees of freedom and
    noncentrality effect / sd · √n (exact, ``scipy.stats.nct``)."""
    if seeds < 2:
        return 0.0
    if sd <= 0:
        return 1.0 if effect != 0 else alpha
    df = seeds - 1
    critical = float(stats.t.ppf(1 - alpha / 2, df))
    noncentrality = effect / sd * math.sqrt(seeds)
    # P(T < -c | δ) = P(T > c | -δ): scipy's nct.cdf far in the lower tail can return NaN, its sf does not
    upper, lower = (float(stats.nct.sf(critical, df, sign * noncentrality)) for sign in (1, -1))
    return float(np.nan_to_num(upper) + np.nan_to_num(lower))


def minimum_detectable_difference(sd: float, seeds: int, power: float = 0.8, alpha: float = 0.05) -> float:
    """The smallest mean difference the paired t-test detects with probability ``power``
    (two-sided, level ``alpha``) from ``seeds`` pairs whose differences have standard deviation ``sd``."""

    if seeds < 2:
        return math.inf
    if sd <= 0:
        return 0.0
    high = sd
    while paired_t_power(high, sd, seeds, alpha) < power:
        high *= 2
    return float(brentq(lambda e: paired_t_power(e, sd, seeds, alpha) - power, 0.0, high, xtol=1e-12 * sd))


def seeds_needed(
    effect: float, sd: float, power: float = 0.8, alpha: float = 0.05, most: int = 100_000
) -> int | None:
    """The fewest paired seeds (>= 2) at which the paired t-test reaches ``power`` for a true
    difference ``effect``; None when even ``most`` seeds do not."""
    if effect == 0:
        return None
    if paired_t_power(effect, sd, most, alpha) < power:
        return None
    low, high = 2, 2
    while paired_t_power(effect, sd, high, alpha) < power:
        low, high = high, high * 2
    high = min(high, most)
    while low < high:  # power grows with n: the first n that reaches it
        middle = (low + high) // 2
        if paired_t_power(effect, sd, middle, alpha) >= power:
            high = middle
        else:
            low = middle + 1
    return low


def two_level_bootstrap(
    seed_statistic: Callable[[int, np.ndarray], float | None],
    rows_per_seed: Sequence[int],
    n_resamples: int,
    rng: np.random.Generator,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile interval of the mean over seeds from a two-level (cluster) bootstrap: each
    resample draws the seeds with replacement, then, within each drawn seed, its rows with
    replacement; ``seed_statistic(k, rows)`` is seed k's value on those rows (None when it is not
    defined there, e.g. a group no resampled row falls in: that seed is left out of the mean).
    Both levels of variation (between training runs, between test rows) are in the interval.
    None: fewer than 2 seeds or no resample with a value."""
    if len(rows_per_seed) < 2 or n_resamples < 1:
        return None
    n_seeds = len(rows_per_seed)
    means = []
    for _ in range(n_resamples):
        values = []
        for k in rng.integers(0, n_seeds, n_seeds):
            value = seed_statistic(int(k), rng.integers(0, rows_per_seed[k], rows_per_seed[k]))
            if value is not None:
                values.append(value)
        if values:
            means.append(float(np.mean(values)))
    if not means:
        return None
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)

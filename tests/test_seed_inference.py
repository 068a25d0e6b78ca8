"""Seed-level inference (``clinfair.benchmark.seedstats``): the sign-flip permutation test, the
power of the paired t-test and the two-level bootstrap, against scipy, an independent
integral and hand-computed examples."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from clinfair.benchmark.seedstats import (
    minimum_detectable_difference,
    paired_t_power,
    paired_t_pvalue,
    seeds_needed,
    sign_flip_pvalue,
    two_level_bootstrap,
)
from scipy import integrate, stats


def test_sign_flip_hand_example():
    # d = (1, 2, 3): the 8 sign patterns give |sums| 6, 4, 2, 0, 0, 2, 4, 6; the observed 6 is met twice
    assert sign_flip_pvalue([1.0, 2.0, 3.0]) == pytest.approx(2 / 8)
    # (1, -1): patterns give |sums| 0, 2, 2, 0 against the observed 0: every pattern is as extreme
    assert sign_flip_pvalue([1.0, -1.0]) == 1.0
    assert sign_flip_pvalue([0.0, 0.0]) is None and sign_flip_pvalue([0.3]) is None


@pytest.mark.parametrize("n", [2, 5, 9, 12])
def test_sign_flip_matches_scipy_and_a_hand_enumeration(n):
    rng = np.random.default_rng(n)
    a, b = rng.normal(0.6, 0.1, n), rng.normal(0.55, 0.1, n)
    d = a - b
    enumerated = np.mean(
        [abs(np.dot(signs, d)) >= abs(d.sum()) - 1e-12 for signs in itertools.product((1, -1), repeat=n)]
    )
    scipy_p = stats.permutation_test(
        (a, b),
        lambda x, y: np.mean(x - y),
        permutation_type="samples",
        n_resamples=np.inf,
        alternative="two-sided",
    ).pvalue
    assert sign_flip_pvalue(d) == pytest.approx(enumerated, abs=1e-15)
    assert sign_flip_pvalue(d) == pytest.approx(scipy_p, abs=1e-12)


def test_sign_flip_beyond_twelve_seeds_is_a_close_monte_carlo_estimate():
    d = np.random.default_rng(3).normal(0.2, 1.0, 14)
    exact = np.mean(
        [abs(np.dot(s, d)) >= abs(d.sum()) - 1e-12 for s in itertools.product((1, -1), repeat=14)]
    )
    assert sign_flip_pvalue(d, n_resamples=200_000) == pytest.approx(exact, abs=0.005)


def test_paired_t_matches_scipy():
    a, b = [0.61, 0.52, 0.70, 0.66, 0.58], [0.55, 0.50, 0.61, 0.69, 0.50]
    assert paired_t_pvalue(a, b) == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-12)


def _power_by_integral(effect: float, sd: float, n: int, alpha: float = 0.05) -> float:
    """T = (Z + δ) / sqrt(V / df), Z ~ N(0, 1), V ~ χ²_df: integrate the normal tails over V."""
    df, delta = n - 1, effect / sd * math.sqrt(n)
    c = stats.t.ppf(1 - alpha / 2, df)

    def tails(v):
        s = c * math.sqrt(v / df)
        return (stats.norm.sf(s - delta) + stats.norm.cdf(-s - delta)) * stats.chi2.pdf(v, df)

    return integrate.quad(tails, 0, np.inf, limit=200)[0]


@pytest.mark.parametrize(
    "effect, sd, n, alpha", [(0.05, 0.12, 5, 0.05), (0.3, 1.0, 20, 0.05), (1.0, 0.5, 3, 0.0125)]
)
def test_power_matches_an_independent_integral(effect, sd, n, alpha):
    assert paired_t_power(effect, sd, n, alpha) == pytest.approx(
        _power_by_integral(effect, sd, n, alpha), abs=1e-7
    )


def test_power_published_example():
    # G*Power's one-sample / paired t example: d = 0.5, two-sided α = 0.05, 80 % power -> n = 34,
    # actual power 0.8078 (n = 33: below 0.8)
    assert seeds_needed(0.5, 1.0) == 34
    assert paired_t_power(0.5, 1.0, 34) == pytest.approx(0.8078, abs=5e-4)
    assert paired_t_power(0.5, 1.0, 33) < 0.8


def test_minimum_detectable_difference_reaches_80_percent_by_the_integral():
    mdd = minimum_detectable_difference(0.12, 5)
    assert _power_by_integral(mdd, 0.12, 5) == pytest.approx(0.8, abs=1e-6)
    assert minimum_detectable_difference(0.12, 1) == math.inf
    assert seeds_needed(0.0, 0.1) is None


def test_two_level_bootstrap_hand_example():
    # two seeds, no row variation, values 0 and 1: the mean of a resample is 0, 0.5 or 1
    # (probability 1/4, 1/2, 1/4), so the 95 % percentile interval is [0, 1]
    values = [np.zeros(5), np.ones(5)]
    low, high = two_level_bootstrap(
        lambda k, rows: float(values[k][rows].mean()), [5, 5], 4000, np.random.default_rng(0)
    )
    assert (low, high) == (0.0, 1.0)


def test_two_level_bootstrap_holds_the_between_run_variation_a_pooled_bootstrap_misses():
    rng = np.random.default_rng(1)
    # five training runs whose accuracies differ by run (sd 0.1) on 2000 rows each
    runs = [(rng.random(2000) < p).astype(float) for p in rng.normal(0.6, 0.1, 5)]
    two_level = two_level_bootstrap(lambda k, rows: float(runs[k][rows].mean()), [2000] * 5, 1000, rng)
    pooled = np.concatenate(runs)
    pooled_means = [pooled[rng.integers(0, pooled.size, pooled.size)].mean() for _ in range(1000)]
    pooled_width = np.diff(np.quantile(pooled_means, [0.025, 0.975]))[0]
    assert two_level[1] - two_level[0] > 4 * pooled_width

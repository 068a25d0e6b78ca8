"""A study's statistics, pure (numpy and scipy; the formulas live in
:mod:`clinfair.benchmark.seedstats`): the unit of inference is the training run (one seed).

* per method: mean and 95 % t-interval over seeds of each metric;
* per comparison (a method vs the baseline, paired by seed): the mean per-seed difference with
  its t-interval, the paired t-test and the exact sign-flip permutation test over seeds;
* the primary endpoint, in addition: the two-level bootstrap interval (seeds, then rows within
  each drawn seed), each seed's row-level bootstrap interval (that pair of runs' measurement
  uncertainty, not inference about another training run), and the power of its test for the
  config's target effect at the observed standard deviation of the per-seed differences (at
  5 % / the number of comparisons: Holm's first, strictest, step);
* Holm's correction over each family: the primary family (the primary endpoint, one test per
  comparison) and the secondary family (every other test the report holds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from clinfair.benchmark.seedstats import (
    holm,
    minimum_detectable_difference,
    paired_t_power,
    paired_t_pvalue,
    seeds_needed,
    sign_flip_pvalue,
    t_interval,
    two_level_bootstrap,
)

#: the power a primary test must reach for the report not to call the study underpowered
TARGET_POWER = 0.8
ALPHA = 0.05


def interval(values: Sequence[float]) -> dict[str, Any] | None:
    """A t-interval as stored in ``report.json`` (mean, half, n); None for no value."""
    return asdict(t_interval(values)) if len(values) else None


def method_intervals(per_seed: Mapping[int, Mapping[str, float | None]], metrics: Sequence[str]) -> dict:
    """Per metric, the mean and 95 % t-interval over the seeds that have a value."""
    out: dict[str, Any] = {}
    for key in metrics:
        out[key] = interval([v[key] for v in per_seed.values() if v.get(key) is not None])
    return out


def seed_test(mine: Sequence[float], base: Sequence[float]) -> dict[str, Any]:
    """The paired comparison of one quantity over seeds: the difference's t-interval, the
    standard deviation of the per-seed differences, the paired t-test and the sign-flip test."""
    d = np.subtract(mine, base)
    return {
        "diff": interval(d.tolist()),
        "sd": float(d.std(ddof=1)) if d.size >= 2 else None,
        "p": paired_t_pvalue(mine, base),
        "p_sign_flip": sign_flip_pvalue(d),
    }


def endpoint_value(
    values: np.ndarray, groups: np.ndarray | None, group: str | None, gap: bool
) -> float | None:
    """The endpoint on some rows: the mean of ``values`` (1/0 per row) overall, on ``group``, or the
    gap (max - min over the groups present; rows without a group are left out). None: no row."""
    if groups is None or (group is None and not gap):
        return float(values.mean()) if values.size else None
    if group is not None:
        inside = groups == group
        return float(values[inside].mean()) if inside.any() else None
    means = [values[groups == g].mean() for g in np.unique(groups[groups != ""])]
    return float(max(means) - min(means)) if len(means) >= 2 else None


def primary_analysis(
    pairs: Mapping[int, tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    group: str | None,
    gap: bool,
    target_effect: float,
    n_bootstrap: int,
    seed: int = 0,
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """The primary endpoint of one comparison. ``pairs[seed] = (method rows, baseline rows,
    groups)``: per row of the evaluation (the same rows in both runs) the 1/0 value of the
    endpoint's metric, and the row's group ('' for none) or None (all rows)."""
    seeds = sorted(pairs)
    mine = {s: endpoint_value(pairs[s][0], pairs[s][2], group, gap) for s in seeds}
    base = {s: endpoint_value(pairs[s][1], pairs[s][2], group, gap) for s in seeds}
    usable = [s for s in seeds if mine[s] is not None and base[s] is not None]
    result: dict[str, Any] = {"seeds": usable, "per_seed": {}}
    for k, s in enumerate(usable):
        result["per_seed"][str(s)] = {
            "method": mine[s],
            "baseline": base[s],
            "diff": mine[s] - base[s],
            # that pair of runs' measurement uncertainty: rows resampled, the two runs held fixed
            "row_bootstrap_ci": _row_bootstrap(pairs[s], group, gap, n_bootstrap, seed + k),
        }
    result.update(seed_test([mine[s] for s in usable], [base[s] for s in usable]))
    result["two_level_ci"] = (
        two_level_bootstrap(
            lambda k, rows: _difference(pairs[usable[k]], rows, group, gap),
            [pairs[s][0].size for s in usable],
            n_bootstrap,
            np.random.default_rng(seed),
        )
        if n_bootstrap
        else None
    )
    result["power"] = power_entry(result["sd"], len(usable), target_effect, alpha)
    return result


def _difference(pair: tuple, rows: np.ndarray, group: str | None, gap: bool) -> float | None:
    mine_rows, base_rows, groups = pair
    chosen = None if groups is None else groups[rows]
    a = endpoint_value(mine_rows[rows], chosen, group, gap)
    b = endpoint_value(base_rows[rows], chosen, group, gap)
    return None if a is None or b is None else a - b


def _row_bootstrap(pair: tuple, group: str | None, gap: bool, n: int, seed: int) -> list[float] | None:
    rng = np.random.default_rng(seed)
    size = pair[0].size
    values = [_difference(pair, rng.integers(0, size, size), group, gap) for _ in range(n)]
    values = [v for v in values if v is not None]
    return [float(q) for q in np.quantile(values, [0.025, 0.975])] if values else None


def family_alpha(comparisons: int) -> float:
    """The level a primary test's power is computed at: 5 % / the number of primary tests
    (Holm's first step, the conservative one)."""
    return ALPHA / max(1, comparisons)


def power_entry(sd: float | None, seeds: int, target_effect: float, alpha: float = ALPHA) -> dict[str, Any]:
    """Power of the paired t-test at level ``alpha`` for ``target_effect`` at the observed SD of
    the per-seed differences, the minimum detectable difference at 80 % power and the seeds the
    target would need."""
    if sd is None or seeds < 2:
        return {"target_effect": target_effect, "seeds": seeds, "sd": sd, "alpha": alpha, "power": None}
    return {
        "target_effect": target_effect,
        "seeds": seeds,
        "sd": sd,
        "alpha": alpha,
        "power": paired_t_power(target_effect, sd, seeds, alpha),
        "minimum_detectable": minimum_detectable_difference(sd, seeds, TARGET_POWER, alpha),
        "seeds_needed": seeds_needed(target_effect, sd, TARGET_POWER, alpha),
    }


def adjust_family(entries: Sequence[dict[str, Any]]) -> int:
    """Holm over one family: sets ``p_holm`` (paired t) and ``p_sign_flip_holm`` on every entry;
    returns the family's size (the tests with a p-value)."""
    for key in ("p", "p_sign_flip"):
        for entry, adjusted in zip(entries, holm([e.get(key) for e in entries])):
            entry[f"{key}_holm"] = adjusted
    return sum(e.get("p") is not None for e in entries)


def significant(entry: Mapping[str, Any]) -> bool:
    """Both seed-level tests, Holm-adjusted within their family, below 5 %."""
    return all((entry.get(k) is not None and entry[k] < ALPHA) for k in ("p_holm", "p_sign_flip_holm"))

"""What the standard, score and paired layers share about bootstrap samples once drawn (the draws
themselves, and their named seeded generators, are ``clinfair.benchmark.resampling``'s):

* :func:`nanmean` and :func:`extreme`: row-wise reductions over the finite values of a
  (resamples, groups or labels) array, without warnings;
* :func:`across_groups`: one metric across the groups of an attribute (worst group, gap,
  ratio) with percentile intervals from the same resamples -- the one summary both layers use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from clinfair.benchmark.metrics.results import AcrossGroups, Estimate, WorstGroup


def nanmean(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN; NaN where every value is NaN (no warning)."""
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0).sum(axis=-1)
    count = finite.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, np.nan)


def extreme(values: np.ndarray, *, low: bool) -> np.ndarray:
    """Row-wise min (or max) over the finite values of a (B, G) array; NaN if none."""
    finite = np.isfinite(values)
    bound = np.inf if low else -np.inf
    filled = np.where(finite, values, bound)
    result = filled.min(axis=1, initial=bound) if low else filled.max(axis=1, initial=bound)
    return np.where(finite.any(axis=1), result, np.nan)


def across_groups(
    names: Sequence[str],
    values: np.ndarray,
    samples: np.ndarray | None,
    ci_level: float,
    higher_is_better: bool | None,
) -> AcrossGroups:
    """Worst group, gap (max - min) and ratio (min / max) over the groups with a defined value.

    ``values`` (G,) are the groups' point values, ``samples`` (B, G) their values on the same
    resamples (NaN where undefined). The worst group is the lowest when higher is better, the
    highest otherwise, and none without a direction; gap and ratio need 2 groups with a value.
    """
    defined = np.isfinite(values)
    if higher_is_better is None:
        worst = WorstGroup.of(None, Estimate.undefined("no better direction for this metric"))
    elif not defined.any():
        worst = WorstGroup.of(None, Estimate.undefined("no group with a defined value"))
    else:
        pick = np.nanargmin if higher_is_better else np.nanargmax
        index = int(pick(np.where(defined, values, np.nan)))
        worst_boot = None if samples is None else extreme(samples, low=higher_is_better)
        worst = WorstGroup.of(names[index], Estimate.of(values[index], worst_boot, None, ci_level))
    compared = int(defined.sum())
    if compared < 2:
        reason = f"{compared} group(s) with a defined value; at least 2 are needed"
        return AcrossGroups(worst, Estimate.undefined(reason), Estimate.undefined(reason), compared)
    high, low = values[defined].max(), values[defined].min()
    gap_boot = ratio_boot = None
    if samples is not None:
        enough = np.isfinite(samples).sum(axis=1) >= 2
        boot_high, boot_low = extreme(samples, low=False), extreme(samples, low=True)
        gap_boot = np.where(enough, boot_high - boot_low, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio_boot = np.where(enough & (boot_high > 0), boot_low / boot_high, np.nan)
    gap = Estimate.of(high - low, gap_boot, None, ci_level)
    ratio = Estimate.of(
        low / high if high > 0 else math.nan,
        ratio_boot,
        None if high > 0 else "the largest group value is 0",
        ci_level,
    )
    return AcrossGroups(worst, gap, ratio, compared, gap_boot)

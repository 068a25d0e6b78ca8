"""Paired comparison of two prediction sets on the same rows (e.g. GRPO vs FairGRPO).

Each resample draws the same rows for both prediction columns, so the spread of the
difference reflects only where the two models disagree. Per dataset: the difference a - b of
one standard metric on all rows and, with an attribute, per group (rows resampled within
groups), of the gap across groups and of the worst-group value. Each difference has a
percentile interval and a two-sided bootstrap p-value (see :func:`paired_difference`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from clinfair.benchmark.metrics.bootstrap import extreme
from clinfair.benchmark.metrics.encoding import EncodedDataset
from clinfair.benchmark.metrics.groups import Grouping, group_counts
from clinfair.benchmark.metrics.registry import STANDARD, get_metric
from clinfair.benchmark.metrics.results import (
    PairedDifference,
    PairedGroup,
    PairedResult,
    number,
    percentile_ci,
)
from clinfair.benchmark.metrics.standard import batch_metrics, bootstrap_types
from clinfair.benchmark.resampling import named_rng


def _paired_metric(
    dataset: EncodedDataset, counts: np.ndarray, name: str, n_bootstrap: int, rng: np.random.Generator
) -> tuple[list[float], list[np.ndarray] | None]:
    """The metric of both prediction sets on the same rows, and on the same resamples."""
    points = [
        float(batch_metrics(counts[None, :].astype(float), o, dataset.task)[0][name][0])
        for o in dataset.outcomes
    ]
    if not n_bootstrap:
        return points, None
    return points, [
        b[name] for b in bootstrap_types(counts, dataset.outcomes, dataset.task, n_bootstrap, rng)
    ]


def paired_difference(
    points: Sequence[float], samples: Sequence[np.ndarray] | None, level: float
) -> PairedDifference:
    """Difference a - b of ``points`` with its percentile CI and a two-sided bootstrap p-value.

    ``samples`` are a's and b's values on the same resamples. The p-value is 2 x the smaller
    share of resamples on either side of 0 (capped at 1): a rough indication of how often the
    sign of the difference flips, not an exact test.
    """
    a, b = points
    diff = a - b
    if not math.isfinite(diff):
        return PairedDifference(
            number(a), number(b), number(diff), None, None, None, "the metric is undefined for a or b"
        )
    ci = used = p_value = None
    if samples is not None:
        boot = samples[0] - samples[1]
        boot = boot[np.isfinite(boot)]
        ci, used = percentile_ci(boot, level)
        if boot.size:
            p_value = float(min(1.0, 2 * min((boot <= 0).mean(), (boot >= 0).mean())))
    return PairedDifference(number(a), number(b), number(diff), ci, used, p_value, None)


def _across_groups(values: np.ndarray, kind: str, higher_is_better: bool | None) -> np.ndarray:
    """Row-wise gap or worst value of a (B, G) array over its finite entries; NaN if too few."""
    defined = np.isfinite(values).sum(axis=1)
    high, low = extreme(values, low=False), extreme(values, low=True)
    if kind == "gap":
        return np.where(defined >= 2, high - low, np.nan)
    return low if higher_is_better else high


def paired_from_datasets(
    datasets: Sequence[EncodedDataset],
    grouping: Grouping | None,
    name: str,
    columns: tuple[str, str],
    n_bootstrap: int,
    seed: int,
    ci_level: float,
) -> PairedResult:
    """The comparison over datasets encoded with both prediction columns (a first)."""
    higher = get_metric(STANDARD, name).higher_is_better
    by_dataset: dict[str, dict[str, Any]] = {}
    for dataset in datasets:
        rng = named_rng(seed, dataset.name, "paired")
        entry: dict[str, Any] = {
            "overall": paired_difference(
                *_paired_metric(dataset, dataset.type_counts, name, n_bootstrap, rng), ci_level
            )
        }
        if grouping is not None:
            listed, counts = group_counts(dataset, grouping)
            present = counts.sum(axis=1) > 0
            groups, points, samples = {}, [], []
            for index, row_counts in zip(listed[present], counts[present]):
                point, boot = _paired_metric(dataset, row_counts, name, n_bootstrap, rng)
                groups[grouping.groups[index]] = PairedGroup.of(
                    int(row_counts.sum()), paired_difference(point, boot, ci_level)
                )
                points.append(point)
                samples.append(boot)
            entry |= {"attribute": grouping.name, "groups": groups}
            point_array = np.array(points, dtype=float).reshape(-1, 2)  # (groups, prediction set)
            for kind in ("gap", "worst") if higher is not None else ("gap",):
                side_points = [
                    float(_across_groups(point_array[None, :, side], kind, higher)[0]) for side in (0, 1)
                ]
                side_samples = None
                if n_bootstrap and samples:
                    side_samples = [
                        _across_groups(np.stack([s[side] for s in samples], axis=1), kind, higher)
                        for side in (0, 1)
                    ]
                entry[kind] = paired_difference(side_points, side_samples, ci_level)
        by_dataset[dataset.name] = entry
    return PairedResult(name, columns[0], columns[1], by_dataset)

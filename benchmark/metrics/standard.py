"""The standard layer: per-group accuracy, macro-F1, TPR, FPR, FDR and selection rate.

Any attribute or intersection of attributes; per group the metrics of
:data:`~clinfair.benchmark.metrics.registry.STANDARD_METRICS` with percentile bootstrap intervals that
resample rows within each group; per attribute the worst group, gap and min/max ratio
(:func:`clinfair.benchmark.metrics.bootstrap.across_groups`). Here an undefined rate is ``None`` with a
reason, never a silent 0.

Binary tasks report the rates of the positive label; multi-class and multi-label tasks the
unweighted mean over the label space of the one-vs-rest rates, leaving out labels whose rate
is undefined in the group. Accuracy is the exact-match rate.

A resample of a group is one multinomial draw over its row types (see
:mod:`clinfair.benchmark.metrics.encoding`), which has exactly the distribution of resampling its rows
with replacement; no Python loop runs over rows or resamples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from clinfair.benchmark.metrics.bootstrap import across_groups, nanmean
from clinfair.benchmark.metrics.encoding import EncodedDataset, Outcomes, TaskLabels
from clinfair.benchmark.metrics.groups import Grouping, group_counts
from clinfair.benchmark.metrics.registry import STANDARD, STANDARD_METRICS, get_metric
from clinfair.benchmark.metrics.results import (
    AttributeResult,
    DatasetResult,
    Estimate,
    GroupResult,
    StandardResult,
    number,
)
from clinfair.benchmark.resampling import chunk_sizes, named_rng, type_counts

#: Why a one-vs-rest rate of one label is undefined in a group.
_UNDEFINED_BECAUSE = {
    "tpr": "no positives",
    "fpr": "no negatives",
    "fdr": "no positive predictions",
    "f1": "label absent from truth and predictions",
    "selection_rate": "no rows",
}
_METRIC_TO_LABEL_RATE = {
    "macro_f1": "f1",
    "tpr": "tpr",
    "fpr": "fpr",
    "fdr": "fdr",
    "selection_rate": "selection_rate",
}


def _label_rates(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """One-vs-rest rates per label; NaN where undefined. Arrays are (B, K), ``n`` is (B, 1)."""
    positives, predicted = tp + fn, tp + fp
    negatives = n - positives
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "tpr": np.where(positives > 0, tp / positives, np.nan),
            "fpr": np.where(negatives > 0, fp / negatives, np.nan),
            "fdr": np.where(predicted > 0, fp / predicted, np.nan),
            "f1": np.where(positives + predicted > 0, 2 * tp / (positives + predicted), np.nan),
            "selection_rate": np.where(n > 0, predicted / n, np.nan),
        }


def batch_metrics(
    weights: np.ndarray, outcomes: Outcomes, task: TaskLabels
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Standard metrics for a batch of weightings of the row types.

    ``weights`` is (B, n_types): row counts per type (the observed counts, or bootstrap
    resamples). Returns ``(metrics, label_rates)``: each metric an array (B,), each label
    rate an array (B, n_space). Binary tasks: rates of the positive label; otherwise the
    macro average over the label space of the one-vs-rest rates, skipping labels whose rate
    is undefined. Accuracy is the exact-match rate; macro-F1 always averages over labels.
    """
    n = weights.sum(axis=1, keepdims=True)
    space = slice(0, task.n_space)
    rates = _label_rates(
        (weights @ outcomes.tp)[:, space],
        (weights @ outcomes.fp)[:, space],
        (weights @ outcomes.fn)[:, space],
        n,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        metrics = {"accuracy": np.where(n[:, 0] > 0, (weights @ outcomes.correct) / n[:, 0], np.nan)}
    metrics["macro_f1"] = nanmean(rates["f1"])
    for name in ("tpr", "fpr", "fdr", "selection_rate"):
        values = rates[name]
        metrics[name] = values[:, task.positive] if task.kind == "binary" else nanmean(values)
    return metrics, rates


def _reason(
    name: str, value: float, rates: Mapping[str, np.ndarray], task: TaskLabels, rows: int
) -> str | None:
    """Why a point value is undefined, or which labels a macro average left out."""
    if rows == 0:
        return "no rows in group"
    if name == "accuracy":
        return None
    per_label = rates[_METRIC_TO_LABEL_RATE[name]][0]
    because = _UNDEFINED_BECAUSE[_METRIC_TO_LABEL_RATE[name]]
    if task.kind == "binary" and name != "macro_f1":
        return None if math.isfinite(value) else f"{because} (label {task.labels[task.positive]!r}) in group"
    left_out = [task.labels[i] for i in np.flatnonzero(~np.isfinite(per_label))]
    if not left_out:
        return None
    if not math.isfinite(value):
        return f"undefined for every label ({because} in group)"
    return (
        f"mean over {task.n_space - len(left_out)} of {task.n_space} labels; left out ({because}): "
        + ", ".join(left_out)
    )


def bootstrap_types(
    counts: np.ndarray,
    outcomes: Sequence[Outcomes],
    task: TaskLabels,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> list[dict[str, np.ndarray]]:
    """Bootstrap samples (n_bootstrap,) of every standard metric, one dict per prediction set.

    A resample draws the group's n rows with replacement, counted per type present in the group
    (``clinfair.benchmark.resampling.type_counts``: one multinomial draw). All prediction sets
    share the same resamples, which is what a paired comparison needs. The cost is proportional
    to n_bootstrap x the number of distinct types in the group.
    """
    present = np.flatnonzero(counts)
    local = [o.take(present) for o in outcomes]
    parts: list[list[dict[str, np.ndarray]]] = [[] for _ in outcomes]
    for size in chunk_sizes(n_bootstrap, len(present)):
        weights = type_counts(counts[present], size, rng)
        for part, o in zip(parts, local):
            part.append(batch_metrics(weights, o, task)[0])
    return [{name: np.concatenate([p[name] for p in part]) for name in STANDARD_METRICS} for part in parts]


def _group_result(
    counts: np.ndarray,
    dataset: EncodedDataset,
    n_bootstrap: int,
    rng: np.random.Generator,
    ci_level: float,
    min_group_size: int,
) -> tuple[GroupResult, dict[str, float], dict[str, np.ndarray] | None]:
    """One group's result, its point values and its bootstrap samples per metric."""
    rows = int(counts.sum())
    task = dataset.task
    points, rates = batch_metrics(counts[None, :].astype(float), dataset.outcomes[0], task)
    point = {name: float(values[0]) for name, values in points.items()}
    samples = None
    if rows and n_bootstrap:
        samples = bootstrap_types(counts, dataset.outcomes[:1], task, n_bootstrap, rng)[0]
    result = GroupResult(
        rows=rows,
        small=rows < min_group_size,
        metrics={
            name: Estimate.of(
                point[name],
                None if samples is None else samples[name],
                _reason(name, point[name], rates, task, rows),
                ci_level,
            )
            for name in STANDARD_METRICS
        },
        per_label={
            label: {rate: number(values[0, i]) for rate, values in rates.items()}
            for i, label in enumerate(task.labels[: task.n_space])
        }
        if rows
        else {},
    )
    return result, point, samples


def _for_grouping(
    dataset: EncodedDataset,
    grouping: Grouping,
    n_bootstrap: int,
    seed: int,
    ci_level: float,
    min_group_size: int,
) -> AttributeResult:
    listed, counts = group_counts(dataset, grouping)
    rng = named_rng(seed, dataset.name, grouping.name)
    groups, points, samples = {}, [], []
    for index, group_counts_ in zip(listed, counts):
        result, point, boot = _group_result(
            group_counts_, dataset, n_bootstrap, rng, ci_level, min_group_size
        )
        groups[grouping.groups[index]] = result
        points.append(point)
        samples.append(boot)
    names = [grouping.groups[i] for i in listed]
    summary = {}
    for name in STANDARD_METRICS:
        values = np.array([p[name] for p in points])
        boot = None
        if n_bootstrap:  # (n_bootstrap, groups); an empty group has no resample
            nan = np.full(n_bootstrap, np.nan)
            boot = np.column_stack(
                [nan if s is None else s[name] for s in samples] or [np.empty((n_bootstrap, 0))]
            )
        summary[name] = across_groups(
            names, values, boot, ci_level, get_metric(STANDARD, name).higher_is_better
        )
    member = grouping.codes[dataset.rows]
    return AttributeResult(
        rows_with_null=int((member < 0).sum()),
        groups=groups,
        small_groups=[name for name, g in groups.items() if g.small],
        summary=summary,
    )


def _definitions(ci_level: float) -> dict[str, str]:
    return {
        "accuracy": "exact match of the predicted and true label sets; an invalid answer is wrong",
        "binary": "tpr, fpr, fdr and selection_rate are those of the positive label",
        "multiclass/multilabel": "tpr, fpr, fdr, selection_rate and macro_f1 are unweighted means over "
        "the label space of one-vs-rest rates, leaving out labels whose rate is undefined in the "
        "group (named in 'reason'); selection_rate is then the mean share of rows predicting each label",
        "ci": f"{ci_level:.0%} percentile bootstrap, rows resampled within each group; "
        "computed over the resamples where the statistic is defined (ci_resamples)",
        "gap": "max - min over groups with a defined value; ratio = min / max",
    }


def standard_from_datasets(
    datasets: Sequence[EncodedDataset],
    groupings: Sequence[Grouping],
    n_bootstrap: int,
    seed: int,
    ci_level: float,
    min_group_size: int,
) -> StandardResult:
    """The standard layer over encoded datasets, for each grouping."""
    by_dataset = {}
    for dataset in datasets:
        task = dataset.task
        overall, _, _ = _group_result(
            dataset.type_counts, dataset, n_bootstrap, named_rng(seed, dataset.name), ci_level, min_group_size
        )
        by_dataset[dataset.name] = DatasetResult(
            task=task.kind,
            label_space=list(task.labels[: task.n_space]),
            positive_label=None if task.positive is None else task.labels[task.positive],
            positive_label_rule=task.positive_rule,
            overall=overall,
            attributes={
                g.name: _for_grouping(dataset, g, n_bootstrap, seed, ci_level, min_group_size)
                for g in groupings
            },
        )
    return StandardResult(_definitions(ci_level), by_dataset)

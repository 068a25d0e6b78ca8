"""Typed results of the metrics layers, and their JSON form.

Every layer returns dataclasses; :func:`as_json` turns them into the report's plain dicts
(field order = key order; a field marked ``json=False`` stays out of the report), which is
what ``clinfair metrics`` and ``results.json`` write. An undefined value is ``None`` with a
``reason``, never NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import numpy as np

#: The ``schema`` of a metrics report; readers (the leaderboard) refuse another.
METRICS_SCHEMA = "clinfair.metrics/1"


def number(value: float) -> float | None:
    """A finite float, or None."""
    return float(value) if math.isfinite(value) else None


def percentile_ci(samples: np.ndarray | None, level: float) -> tuple[list[float] | None, int | None]:
    """Percentile interval over the resamples where the statistic is defined, and how many those are."""
    if samples is None:
        return None, None
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None, 0
    low, high = np.percentile(finite, [50 * (1 - level), 50 * (1 + level)])
    return [float(low), float(high)], int(finite.size)


def as_json(value: Any) -> Any:
    """Dataclasses (recursively, also inside dicts and lists) as plain dicts; tuples as lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: as_json(getattr(value, f.name)) for f in fields(value) if f.metadata.get("json", True)
        }
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(item) for item in value]
    return value


def _internal(default: Any = None) -> Any:
    """A field the code reads but the report leaves out (bootstrap samples)."""
    return field(default=default, repr=False, compare=False, metadata={"json": False})


@dataclass(frozen=True)
class Estimate:
    """A value with its percentile bootstrap interval (``None`` without resamples)."""

    value: float | None
    ci: list[float] | None
    ci_resamples: int | None
    reason: str | None  # why the value is undefined, or what a macro average left out

    @classmethod
    def of(cls, value: float, samples: np.ndarray | None, reason: str | None, level: float) -> Estimate:
        ci, used = percentile_ci(samples, level)
        return cls(number(value), ci, used, reason)

    @classmethod
    def undefined(cls, reason: str) -> Estimate:
        return cls(None, None, None, reason)


@dataclass(frozen=True)
class WorstGroup:
    """The worst group's value (lowest when higher is better) with its interval."""

    group: str | None
    value: float | None
    ci: list[float] | None
    ci_resamples: int | None
    reason: str | None

    @classmethod
    def of(cls, group: str | None, estimate: Estimate) -> WorstGroup:
        return cls(group, estimate.value, estimate.ci, estimate.ci_resamples, estimate.reason)


@dataclass(frozen=True)
class AcrossGroups:
    """One metric across the groups of an attribute: worst group, gap (max - min), ratio (min / max)."""

    worst: WorstGroup
    gap: Estimate
    ratio: Estimate
    groups_compared: int
    #: (B,) the gap on each resample (NaN where fewer than 2 groups have a value); None without resamples.
    gap_samples: np.ndarray | None = _internal()


@dataclass(frozen=True)
class GroupResult:
    """Standard layer: one group (or all rows) of a dataset."""

    rows: int
    small: bool  # fewer than min_group_size rows
    metrics: dict[str, Estimate]  # one per STANDARD_METRICS
    per_label: dict[str, dict[str, float | None]]  # one-vs-rest rates of every label of the label space


@dataclass(frozen=True)
class AttributeResult:
    """Standard layer: the groups of one attribute (or intersection) in one dataset."""

    rows_with_null: int
    groups: dict[str, GroupResult]
    small_groups: list[str]
    summary: dict[str, AcrossGroups]  # one per STANDARD_METRICS


@dataclass(frozen=True)
class DatasetResult:
    """Standard layer: one dataset."""

    task: str  # binary | multiclass | multilabel
    label_space: list[str]
    positive_label: str | None
    positive_label_rule: str | None
    overall: GroupResult
    attributes: dict[str, AttributeResult]


@dataclass(frozen=True)
class StandardResult:
    """Standard layer of a table (``report["standard"]``)."""

    definitions: dict[str, str]
    by_dataset: dict[str, DatasetResult]


@dataclass(frozen=True)
class PaperResult:
    """Paper protocol of a table: ``overall`` and ``by_dataset[name]`` hold exactly the paper keys
    (``None`` where no attribute counts); ``detail`` holds per attribute and group values and why a
    dataset was left out of the overall values."""

    overall: dict[str, float | None]
    by_dataset: dict[str, dict[str, float | None]]
    detail: dict[str, Any]


@dataclass(frozen=True)
class PairedDifference:
    """a - b of one metric on the same rows, its interval and a two-sided bootstrap p-value."""

    a: float | None
    b: float | None
    difference: float | None
    ci: list[float] | None
    ci_resamples: int | None
    p_value: float | None
    reason: str | None


@dataclass(frozen=True)
class PairedGroup:
    """A paired difference within one group, with the group's row count."""

    rows: int
    a: float | None
    b: float | None
    difference: float | None
    ci: list[float] | None
    ci_resamples: int | None
    p_value: float | None
    reason: str | None

    @classmethod
    def of(cls, rows: int, difference: PairedDifference) -> PairedGroup:
        return cls(rows, *(getattr(difference, f.name) for f in fields(PairedDifference)))


@dataclass(frozen=True)
class PairedResult:
    """A paired comparison of two prediction columns (``paired_bootstrap``)."""

    metric: str
    column_a: str
    column_b: str
    #: per dataset: ``overall`` and, with an attribute, ``attribute``, ``groups``, ``gap`` and ``worst``
    by_dataset: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class ScoreResult:
    """Score layer of a table (``report["scores"]``)."""

    settings: dict[str, Any]
    definitions: dict[str, str]
    counts: dict[str, int]
    by_dataset: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Report:
    """The full report (what ``clinfair metrics`` writes and ``results.json`` holds under ``metrics``)."""

    settings: dict[str, Any]
    counts: dict[str, Any]
    paper: PaperResult
    standard: StandardResult
    scores: ScoreResult | None
    schema: str = METRICS_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serialisable, NaN-free report."""
        report = {
            "schema": self.schema,
            "settings": self.settings,
            "counts": self.counts,
            "paper": {"overall": self.paper.overall, "by_dataset": self.paper.by_dataset},
            "paper_detail": self.paper.detail,
            "standard": as_json(self.standard),
        }
        if self.scores is not None:
            report["scores"] = as_json(self.scores)
        return report

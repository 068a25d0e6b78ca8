""":class:`MetricFrame`: one object over a predictions table, and the functions built on it.

Like fairlearn's ``MetricFrame``, the table is checked and encoded once (per dataset, label
matrices compressed into row types; per attribute, group codes) and every layer is a method
over that encoding, returning typed results (:mod:`clinfair.benchmark.metrics.results`):

>>> frame = MetricFrame(df, label_spaces={"isic2020": ["benign", "malignant"]})
>>> frame.paper().overall["f1_gap"]
>>> frame.standard(["sex", "sex*age_group"], n_bootstrap=1000).by_dataset["isic2020"]
>>> frame.report(n_bootstrap=1000).to_dict()  # what `clinfair metrics` writes

The module-level functions (:func:`build_report`, :func:`paper_protocol`,
:func:`standard_layer`, :func:`score_layer`, :func:`paired_bootstrap`) are thin wrappers
that return the report's plain dicts.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from clinfair.benchmark.bootstrap import N_BOOTSTRAP
from clinfair.benchmark.metrics.encoding import (
    REQUIRED_COLUMNS,
    EncodedDataset,
    MetricsInputError,
    encode_table,
)
from clinfair.benchmark.metrics.groups import (
    Groupings,
    attribute_specs,
    demographic_counts,
    grouping_spec,
)
from clinfair.benchmark.metrics.paired import paired_from_datasets
from clinfair.benchmark.metrics.paper import paper_from_datasets
from clinfair.benchmark.metrics.registry import STANDARD_METRICS
from clinfair.benchmark.metrics.results import (
    PairedResult,
    PaperResult,
    Report,
    ScoreResult,
    StandardResult,
    as_json,
)
from clinfair.benchmark.metrics.scores import SCORE_COLUMNS, has_scores, score_section
from clinfair.benchmark.metrics.standard import standard_from_datasets
from clinfair.tasks.attributes import DEMOGRAPHICS

#: Attributes: ``"auto"``, a comma list (``"sex,sex*age_group"``) or a list of names / intersections.
Attributes = str | Sequence[str | Sequence[str]]


def _check_bootstrap(n_bootstrap: int, ci_level: float) -> None:
    if n_bootstrap < 0:
        raise MetricsInputError("n_bootstrap must be >= 0")
    if not 0 < ci_level < 1:
        raise MetricsInputError("ci_level must be between 0 and 1")


class MetricFrame:
    """The metrics of one predictions table.

    ``df`` has one row per example: ``dataset``, ``answer`` (list of labels), the prediction
    column(s) (list of labels, or null for an invalid answer), ``sex``, ``age_group`` and any
    further attribute, as a column or a key of an ``attributes`` dict column (``required``
    overrides which columns must exist). ``label_spaces`` and ``positive_labels`` map a dataset
    to its label space and to the positive label of a binary task.

    Raises :class:`MetricsInputError` for a table that cannot be scored.
    """

    def __init__(
        self,
        df: pd.DataFrame,
        *,
        label_spaces: Mapping[str, Sequence[str]] | None = None,
        positive_labels: Mapping[str, str] | None = None,
        prediction_columns: Sequence[str] = ("prediction",),
        required: Sequence[str] | None = None,
    ) -> None:
        if required is None:
            required = ("dataset", "answer", *prediction_columns, *DEMOGRAPHICS)
        self.df = df
        self.label_spaces = dict(label_spaces or {})
        self.positive_labels = dict(positive_labels or {})
        self.prediction_columns = tuple(prediction_columns)
        #: per dataset (sorted by name), its encoded rows; and the table's bad-input counts
        self.datasets: list[EncodedDataset]
        self.counts: dict[str, Any]
        self.datasets, self.counts = encode_table(
            df, self.prediction_columns, self.label_spaces, self.positive_labels, required
        )
        self.groupings = Groupings(df)

    def attribute_specs(self, attributes: Attributes = "auto") -> list[tuple[str, ...]]:
        """``"auto"`` (sex, age_group, sex*age_group and each key of an ``attributes`` dict column)
        or the given names / intersections, parsed (``"sex*age_group"`` -> ``("sex", "age_group")``)."""
        return attribute_specs(self.df, attributes)

    def paper(self, rows: np.ndarray | None = None) -> PaperResult:
        """The FairGRPO authors' fairness protocol (DESIGN.md section 4; :mod:`clinfair.benchmark.metrics.paper`).

        Per dataset and per attribute (sex with groups F, M; age_group with A1..A4), each group
        with rows gets its macro accuracy, F1, TPR, FPR and FDR (undefined ratios count as 0,
        as in the authors' code); an attribute counts only when at least two of its groups have
        rows, and then gives mean, gap (max - min) and std (ddof = 1) over its groups. A
        dataset's values are the means over its counted attributes. The overall values are the
        means over the datasets whose age attribute counts; the overall ES is computed from the
        overall value and std, as the authors do.

        ``rows``: positions in the table of a bootstrap resample (repeats allowed) to score
        instead of the table; the encoding is reused, so a resample costs no parsing.
        """
        datasets = self.datasets if rows is None else [d.resampled(rows) for d in self.datasets]
        return paper_from_datasets(datasets, self.groupings)

    def standard(
        self,
        attributes: Attributes = "auto",
        *,
        n_bootstrap: int = N_BOOTSTRAP,
        seed: int = 0,
        min_group_size: int = 30,
        ci_level: float = 0.95,
    ) -> StandardResult:
        """Per-group metrics with bootstrap intervals for each dataset and attribute (or intersection)."""
        specs = self.attribute_specs(attributes)
        groupings = [self.groupings.get(spec) for spec in specs]
        return standard_from_datasets(self.datasets, groupings, n_bootstrap, seed, ci_level, min_group_size)

    def scores(
        self,
        attributes: Attributes = "auto",
        *,
        n_bootstrap: int = N_BOOTSTRAP,
        seed: int = 0,
        min_group_size: int = 30,
        ci_level: float = 0.95,
        threshold: float = 0.5,
    ) -> ScoreResult:
        """Score-based per-group metrics (AUROC, Brier, ECE; :mod:`clinfair.benchmark.metrics.scores`) from the
        table's ``choices`` and ``scores`` columns."""
        missing = [column for column in SCORE_COLUMNS if column not in self.df.columns]
        if missing:
            raise MetricsInputError(
                f"missing column(s) {', '.join(map(repr, missing))} for the score metrics"
            )
        if not 0 <= threshold <= 1:
            raise MetricsInputError("the threshold must be between 0 and 1")
        groupings = [self.groupings.get(spec) for spec in self.attribute_specs(attributes)]
        return score_section(
            self.df,
            groupings,
            self.label_spaces,
            self.positive_labels,
            n_bootstrap,
            seed,
            ci_level,
            min_group_size,
            threshold,
        )

    def paired(
        self,
        column_b: str,
        *,
        column_a: str = "prediction",
        metric: str = "accuracy",
        attribute: str | Sequence[str] | None = None,
        n_bootstrap: int = N_BOOTSTRAP,
        seed: int = 0,
        ci_level: float = 0.95,
    ) -> PairedResult:
        """Compare two prediction columns on the same rows (:mod:`clinfair.benchmark.metrics.paired`).

        ``metric`` is one of :data:`STANDARD_METRICS`; with ``attribute`` (a name or an
        intersection like ``"sex*age_group"``), also per group, the gap and the worst group.
        """
        if metric not in STANDARD_METRICS:
            raise MetricsInputError(f"unknown metric {metric!r}; choose from {list(STANDARD_METRICS)}")
        columns = (column_a, column_b)
        if self.prediction_columns == columns:
            datasets = self.datasets
        else:
            datasets, _ = encode_table(
                self.df,
                columns,
                self.label_spaces,
                self.positive_labels,
                ("dataset", "answer", column_a, column_b),
            )
        grouping = None if attribute is None else self.groupings.get(grouping_spec(attribute))
        return paired_from_datasets(datasets, grouping, metric, columns, n_bootstrap, seed, ci_level)

    def report(
        self,
        attributes: Attributes = "auto",
        *,
        n_bootstrap: int = N_BOOTSTRAP,
        seed: int = 0,
        min_group_size: int = 30,
        ci_level: float = 0.95,
        score_threshold: float = 0.5,
    ) -> Report:
        """Every layer: counts, paper protocol, standard layer and (when the table has scores) the
        score layer; see :func:`build_report` for the sections."""
        _check_bootstrap(n_bootstrap, ci_level)
        specs = self.attribute_specs(attributes)
        names = list(dict.fromkeys([*DEMOGRAPHICS, *itertools.chain.from_iterable(specs)]))
        demographics = demographic_counts(self.groupings, names)
        counts = dict(self.counts)
        counts["null_demographics"] = demographics["null"]
        counts["unrecognised_demographics"] = demographics["unrecognised"]
        counts["by_dataset"] = {
            d.name: d.counts
            | {
                "null_demographics": demographics["by_dataset"][d.name]["null"],
                "unrecognised_demographics": demographics["by_dataset"][d.name]["unrecognised"],
            }
            for d in self.datasets
        }
        settings = {
            "attributes": ["*".join(spec) for spec in specs],
            "n_bootstrap": n_bootstrap,
            "seed": seed,
            "min_group_size": min_group_size,
            "ci_level": ci_level,
            "invalid_prediction": "scored as wrong: predicts no label",
        }
        layer = {
            "n_bootstrap": n_bootstrap,
            "seed": seed,
            "min_group_size": min_group_size,
            "ci_level": ci_level,
        }
        paper = self.paper()
        standard = self.standard(specs, **layer)
        scores = self.scores(specs, **layer, threshold=score_threshold) if has_scores(self.df) else None
        return Report(settings=settings, counts=counts, paper=paper, standard=standard, scores=scores)


def build_report(
    df: pd.DataFrame,
    *,
    label_spaces: Mapping[str, Sequence[str]] | None = None,
    positive_labels: Mapping[str, str] | None = None,
    attributes: Attributes = "auto",
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    min_group_size: int = 30,
    ci_level: float = 0.95,
    score_threshold: float = 0.5,
) -> dict[str, Any]:
    """The full metrics report of a predictions table (what ``clinfair metrics`` writes).

    Sections: ``settings``; ``counts`` (rows, invalid predictions, rows without answer, null
    demographics per field, labels outside the label space, overall and per dataset);
    ``paper`` (``overall`` and ``by_dataset[name]``, exactly :data:`PAPER_KEYS`, as
    fractions except ``pp`` and ``eod`` which are x100); ``paper_detail`` (per attribute
    and group, which datasets enter the overall values and why not); ``standard`` (see
    :func:`standard_layer`); ``scores`` only when the table has a ``scores`` column with
    values (see :mod:`clinfair.benchmark.metrics.scores`; ``score_threshold`` is its threshold for
    TPR / FPR and the equalized-odds difference). The dict is JSON-serialisable and NaN-free
    (``None``).

    Raises :class:`MetricsInputError` for a table that cannot be scored.
    """
    _check_bootstrap(n_bootstrap, ci_level)
    frame = MetricFrame(
        df, label_spaces=label_spaces, positive_labels=positive_labels, required=REQUIRED_COLUMNS
    )
    report = frame.report(
        attributes,
        n_bootstrap=n_bootstrap,
        seed=seed,
        min_group_size=min_group_size,
        ci_level=ci_level,
        score_threshold=score_threshold,
    )
    return report.to_dict()


def paper_protocol(
    df: pd.DataFrame,
    *,
    label_spaces: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The FairGRPO authors' fairness protocol (:meth:`MetricFrame.paper`) as a dict.

    Returns ``{"overall": {...}, "by_dataset": {name: {...}}, "detail": {...}}`` where the
    first two hold exactly :data:`PAPER_KEYS` (``None`` where no attribute counts) and
    ``detail`` holds the per-attribute and per-group values and why a dataset was left out.
    """
    return as_json(MetricFrame(df, label_spaces=label_spaces).paper())


def standard_layer(
    df: pd.DataFrame,
    *,
    label_spaces: Mapping[str, Sequence[str]] | None = None,
    positive_labels: Mapping[str, str] | None = None,
    attributes: Attributes = "auto",
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    min_group_size: int = 30,
    ci_level: float = 0.95,
) -> dict[str, Any]:
    """Per-group metrics with bootstrap CIs for each dataset and attribute (or intersection).

    ``attributes`` is ``"auto"`` (sex, age_group, sex*age_group and each key of an
    ``attributes`` dict column) or a list of names / intersections (``"sex*age_group"`` or
    ``("sex", "age_group")``). Each group entry holds ``rows``, ``small`` (fewer than
    ``min_group_size`` rows), ``metrics`` (value, ci, ci_resamples, reason for each of
    :data:`STANDARD_METRICS`) and ``per_label`` one-vs-rest rates; each attribute a
    ``summary`` with the worst group, the gap and the min/max ratio per metric, with CIs.
    """
    frame = MetricFrame(
        df,
        label_spaces=label_spaces,
        positive_labels=positive_labels,
        required=("dataset", "answer", "prediction"),
    )
    result = frame.standard(
        attributes, n_bootstrap=n_bootstrap, seed=seed, min_group_size=min_group_size, ci_level=ci_level
    )
    return as_json(result)


def score_layer(
    df: pd.DataFrame,
    *,
    label_spaces: Mapping[str, Sequence[str]] | None = None,
    positive_labels: Mapping[str, str] | None = None,
    attributes: Attributes = "auto",
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    min_group_size: int = 30,
    ci_level: float = 0.95,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Score-based per-group metrics of a predictions table with a ``scores`` column.

    The table needs ``dataset``, ``choices``, ``answer`` and ``scores`` (no prediction). Returns
    ``settings``, ``definitions``, ``counts`` (rows left out, by reason) and ``by_dataset[name]``
    with the task kind, label space, positive label, ``overall`` (a group entry over all scored
    rows) and ``attributes[attribute]`` with ``groups`` (entries), ``small_groups`` and ``summary``
    (``SUMMARY_METRICS``). A group entry holds ``rows``, ``small``, ``metrics`` (value, ci,
    ci_resamples, reason of each of ``GROUP_METRICS``, plus ``tpr`` and ``fpr`` for binary
    tasks), ``per_label`` and ``reliability`` curves. JSON-serialisable and NaN-free.
    """
    _check_bootstrap(n_bootstrap, ci_level)
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    missing = [column for column in SCORE_COLUMNS if column not in df.columns]
    if missing:
        raise MetricsInputError(f"missing column(s) {', '.join(map(repr, missing))} for the score metrics")
    if not 0 <= threshold <= 1:
        raise MetricsInputError("the threshold must be between 0 and 1")
    groupings = Groupings(df)
    result = score_section(
        df,
        [groupings.get(spec) for spec in attribute_specs(df, attributes)],
        label_spaces,
        positive_labels,
        n_bootstrap,
        seed,
        ci_level,
        min_group_size,
        threshold,
    )
    return as_json(result)


def paired_bootstrap(
    df: pd.DataFrame,
    *,
    column_a: str = "prediction",
    column_b: str,
    metric: str = "accuracy",
    attribute: str | Sequence[str] | None = None,
    label_spaces: Mapping[str, Sequence[str]] | None = None,
    positive_labels: Mapping[str, str] | None = None,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    ci_level: float = 0.95,
) -> dict[str, Any]:
    """Compare two prediction sets on the same rows (e.g. GRPO vs FairGRPO); see :meth:`MetricFrame.paired`.

    Each resample draws the same rows for both prediction columns, so the spread of the
    difference reflects only where the two models disagree. Per dataset: the difference
    a - b of ``metric`` on all rows and, with ``attribute``, per group (rows resampled within
    groups), of the gap across groups and of the worst-group value, each with a percentile
    CI and a two-sided bootstrap p-value.
    """
    if metric not in STANDARD_METRICS:
        raise MetricsInputError(f"unknown metric {metric!r}; choose from {list(STANDARD_METRICS)}")
    frame = MetricFrame(
        df,
        label_spaces=label_spaces,
        positive_labels=positive_labels,
        prediction_columns=(column_a, column_b),
        required=("dataset", "answer", column_a, column_b),
    )
    result = frame.paired(
        column_b,
        column_a=column_a,
        metric=metric,
        attribute=attribute,
        n_bootstrap=n_bootstrap,
        seed=seed,
        ci_level=ci_level,
    )
    return as_json(result)

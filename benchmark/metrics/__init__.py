"""Group-fairness metrics for clinfair predictions (DESIGN.md section 4).

Two layers, computed from the same table of predictions:

* **Paper protocol** (:func:`paper_protocol`) reproduces the FairGRPO authors' evaluation
  code, which produced the paper's tables: one-vs-rest counts per label, macro average over
  the labels present in the ground truth, sub-groups by sex (F, M) and by the four age bins,
  gap = max - min, std with ddof = 1, attribute -> dataset -> overall averaging. Every
  undefined ratio counts as 0 there, because that is what the authors' code does and the
  point of this layer is to reproduce their numbers.
* **Standard layer** (:func:`standard_layer`): any attribute or intersection of attributes,
  per-group accuracy, macro-F1, TPR, FPR, FDR and selection rate, worst group, gap and
  min/max ratio, with percentile bootstrap confidence intervals that resample rows within
  each group, plus :func:`paired_bootstrap` to compare two prediction sets on the same rows.
  Here an undefined rate is ``None`` with a reason, never a silent 0.

Input is a ``pandas.DataFrame`` with one row per example: ``dataset``, ``answer`` (list of
labels), ``prediction`` (list of labels, or null for an invalid answer), ``sex``,
``age_group`` and any further attribute, either as a column or as a key of an
``attributes`` dict column. :class:`MetricFrame` encodes the table once and computes every layer from it, returning
typed results; :func:`build_report` runs everything and returns one JSON-serialisable,
NaN-free dict.

Scoring choices that hold in both layers:

* An **invalid answer** (prediction null or NaN) is scored as wrong: it predicts no label,
  so it is a false negative for every true label and a true negative for every other label,
  and it never counts as an exact match. This is also what the authors' code does with an
  unparsable answer (``"None"`` -> empty set).
* A row whose ``answer`` is null, NaN or has no label cannot be scored. It is left out of
  every metric and counted (``rows_without_answer``).
* The **label space** of a dataset is, in order of precedence: the ``label_spaces``
  argument, the union of a ``choices`` column over the dataset's rows, or the union of the
  labels seen in ``answer``. Labels outside it are counted per label and kept as predicted
  (an answer with an unknown label is not an exact match); the standard layer's macro
  averages run over the label space only.
* A null demographic puts a row in no group of that attribute (nor of any intersection
  using it); such rows are counted.

Performance: each dataset's rows are compressed once into the distinct combinations of
(true label set, predicted label set, invalid flag) -- a handful for single-label tasks.
Group counts are then a ``bincount`` over those types, and a bootstrap resample of a group
is one multinomial draw over its types, which has exactly the distribution of resampling
its rows with replacement. No Python loop runs over rows or resamples.

The package, by concern: ``registry`` (every metric declared once), ``encoding`` (table ->
row types), ``groups`` (attribute values -> group codes; the attribute spec itself is
``clinfair.tasks.attributes``), ``paper`` (paper protocol), ``standard`` (standard layer),
``scores`` (score-based AUROC / Brier / ECE), ``bootstrap`` (reductions over bootstrap samples
and the across-group summary both layers share; the draws are ``clinfair.benchmark.resampling``),
``paired`` (paired comparison), ``results`` (typed results and their JSON form) and ``frame``
(:class:`MetricFrame` and the functions over it).
"""

import importlib
from typing import TYPE_CHECKING, Any

# Names resolve on first use (PEP 562), so importing the registry alone (``clinfair --help``
# reads it for the demo and study tables) does not import pandas and pyarrow.
_EXPORTS = {
    "named_rng": "clinfair.benchmark.resampling",
    "METRICS_SCHEMA": "clinfair.benchmark.metrics.results",
    "NEGATIVE_LABEL_NAMES": "clinfair.benchmark.metrics.encoding",
    "OUTSIDE_LABEL": "clinfair.benchmark.metrics.encoding",
    "REQUIRED_COLUMNS": "clinfair.benchmark.metrics.encoding",
    "MetricsInputError": "clinfair.benchmark.metrics.encoding",
    "MetricFrame": "clinfair.benchmark.metrics.frame",
    "build_report": "clinfair.benchmark.metrics.frame",
    "paired_bootstrap": "clinfair.benchmark.metrics.frame",
    "paper_protocol": "clinfair.benchmark.metrics.frame",
    "score_layer": "clinfair.benchmark.metrics.frame",
    "standard_layer": "clinfair.benchmark.metrics.frame",
    "PAPER_ATTRIBUTES": "clinfair.benchmark.metrics.groups",
    "paired_difference": "clinfair.benchmark.metrics.paired",
    "METRICS": "clinfair.benchmark.metrics.registry",
    "PAPER_GROUP_METRICS": "clinfair.benchmark.metrics.registry",
    "PAPER_KEY_HIGHER_IS_BETTER": "clinfair.benchmark.metrics.registry",
    "PAPER_KEYS": "clinfair.benchmark.metrics.registry",
    "STANDARD_METRICS": "clinfair.benchmark.metrics.registry",
    "Metric": "clinfair.benchmark.metrics.registry",
    "get_metric": "clinfair.benchmark.metrics.registry",
    "layer_keys": "clinfair.benchmark.metrics.registry",
    "select_metrics": "clinfair.benchmark.metrics.registry",
    "AcrossGroups": "clinfair.benchmark.metrics.results",
    "AttributeResult": "clinfair.benchmark.metrics.results",
    "DatasetResult": "clinfair.benchmark.metrics.results",
    "Estimate": "clinfair.benchmark.metrics.results",
    "GroupResult": "clinfair.benchmark.metrics.results",
    "PairedDifference": "clinfair.benchmark.metrics.results",
    "PairedResult": "clinfair.benchmark.metrics.results",
    "PaperResult": "clinfair.benchmark.metrics.results",
    "Report": "clinfair.benchmark.metrics.results",
    "ScoreResult": "clinfair.benchmark.metrics.results",
    "StandardResult": "clinfair.benchmark.metrics.results",
    "as_json": "clinfair.benchmark.metrics.results",
    "has_scores": "clinfair.benchmark.metrics.scores",
}

if TYPE_CHECKING:
    from clinfair.benchmark.metrics.encoding import (
        NEGATIVE_LABEL_NAMES,
        OUTSIDE_LABEL,
        REQUIRED_COLUMNS,
        MetricsInputError,
    )
    from clinfair.benchmark.metrics.frame import (
        MetricFrame,
        build_report,
        paired_bootstrap,
        paper_protocol,
        score_layer,
        standard_layer,
    )
    from clinfair.benchmark.metrics.groups import PAPER_ATTRIBUTES
    from clinfair.benchmark.metrics.paired import paired_difference
    from clinfair.benchmark.metrics.registry import (
        METRICS,
        PAPER_GROUP_METRICS,
        PAPER_KEY_HIGHER_IS_BETTER,
        PAPER_KEYS,
        STANDARD_METRICS,
        Metric,
        get_metric,
        layer_keys,
        select_metrics,
    )
    from clinfair.benchmark.metrics.results import (
        AcrossGroups,
        AttributeResult,
        DatasetResult,
        Estimate,
        GroupResult,
        PairedDifference,
        PairedResult,
        PaperResult,
        Report,
        ScoreResult,
        StandardResult,
        as_json,
    )
    from clinfair.benchmark.metrics.scores import has_scores
    from clinfair.benchmark.resampling import named_rng


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "METRICS",
    "METRICS_SCHEMA",
    "NEGATIVE_LABEL_NAMES",
    "OUTSIDE_LABEL",
    "PAPER_ATTRIBUTES",
    "PAPER_GROUP_METRICS",
    "PAPER_KEYS",
    "PAPER_KEY_HIGHER_IS_BETTER",
    "REQUIRED_COLUMNS",
    "STANDARD_METRICS",
    "AcrossGroups",
    "AttributeResult",
    "DatasetResult",
    "Estimate",
    "GroupResult",
    "Metric",
    "MetricFrame",
    "MetricsInputError",
    "PairedDifference",
    "PairedResult",
    "PaperResult",
    "Report",
    "ScoreResult",
    "StandardResult",
    "as_json",
    "build_report",
    "has_scores",
    "get_metric",
    "layer_keys",
    "select_metrics",
    "named_rng",
    "paired_bootstrap",
    "paired_difference",
    "paper_protocol",
    "score_layer",
    "standard_layer",
]

"""The leaderboard's numbers: every one recomputed from each run's ``predictions.parquet``.

Nothing a build ranks or publishes is read from a file it did not just compute:

* :func:`scored_predictions` recomputes ``valid`` and ``correct`` from ``prediction`` and
  ``answer`` (``clinfair.tasks.prompts.is_correct``), whatever the file's own columns say;
* :func:`recompute_report` runs what ``clinfair metrics`` runs (``build_report``) with the
  settings ``results.json`` records, and :func:`disagreements` lists every value of
  ``results.json`` that differs from it beyond rounding (the build refuses such a run,
  ``clinfair.leaderboard.tables.compute_tables``);
* :func:`paper_bootstrap` gives the paper protocol's values and the run-level exact accuracy
  and invalid rate their intervals. ``results.json`` holds the paper protocol's point values
  but no intervals for them (the standard layer's intervals are per group, on other
  definitions): the rows of ``predictions.parquet`` are resampled with replacement **within
  each stratum** (dataset x sex x age group, a null value being its own level), so every group
  keeps its size and every attribute counts exactly as on the real data; the paper protocol
  (``clinfair.benchmark.metrics.MetricFrame.paper``) is recomputed on each resample and the
  percentile intervals are taken over the resamples where the value is defined.

The columns (:data:`COLUMNS`): exact accuracy and invalid rate first (what a reader must see
before anything else: a model that never answers has exact accuracy 0, while the paper
protocol's one-vs-rest accuracy of a binary task is 0.5), then the paper protocol's, then the
score-based ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from clinfair.benchmark.metrics import (
    PAPER_ATTRIBUTES,
    PAPER_GROUP_METRICS,
    MetricFrame,
    MetricsInputError,
    as_json,
    build_report,
    get_metric,
    select_metrics,
)
from clinfair.benchmark.metrics.groups import Groupings, grouping_spec
from clinfair.benchmark.metrics.registry import PAPER, RUN, SCORE_GROUP, SCORE_SUMMARY
from clinfair.benchmark.resampling import named_rng, stratified_rows
from clinfair.benchmark.runner import PREDICTIONS_FILE, RESULTS_FILE, majority_baseline
from clinfair.leaderboard.defaults import DEFAULT_BOOTSTRAP, DEFAULT_CI_LEVEL
from clinfair.leaderboard.runs import MATCH_TOLERANCE
from clinfair.tasks.prompts import is_correct

OVERALL = "overall"
_NULL = "<null>"  # the stratum level of a missing demographic
_PAPER_COLUMNS = ("dataset", "answer", "prediction", *PAPER_ATTRIBUTES)

#: Run-level columns, first in every table: the exact-match accuracy (an invalid answer is wrong)
#: and the share of invalid answers, over the scope's rows (overall: every row of the run).
VALIDITY_METRICS = (get_metric(RUN, "exact_match"), get_metric(RUN, "invalid"))
VALIDITY_KEYS = tuple(metric.key for metric in VALIDITY_METRICS)
#: The paper protocol's columns, in the paper's order (declared in ``clinfair.benchmark.metrics.registry``).
METRICS = select_metrics(PAPER, ("accuracy", "f1", "pp", "eod", "fpr_gap", "f1_std", "f1_gap", "f1_es"))
METRIC_KEYS = tuple(metric.key for metric in METRICS)
#: How the leaderboard reduces each score-based column over a task's attributes (see ``score_values``).
_SCORE_SCOPE = {
    "auroc": ", all scored rows",
    "worst_group_auroc": " over sex and age-group groups",
    "auroc_gap": ", mean over sex and age group",
    "ece_gap": ", mean over sex and age group",
}
#: Score-based columns (``clinfair eval --scores``), from the recomputed report: per task, AUROC
#: on all scored rows; worst-group AUROC = the lowest group AUROC over the sex and age-group attributes;
#: the gaps = their mean over those two attributes (as the paper averages its gaps); overall = the mean
#: over tasks. Runs evaluated without scores show no value.
SCORE_METRICS = tuple(
    replace(m, description=m.description + _SCORE_SCOPE[m.key])
    for m in (
        get_metric(SCORE_GROUP, "auroc"),
        *select_metrics(SCORE_SUMMARY, ("worst_group_auroc", "auroc_gap", "ece_gap")),
    )
)
#: The leaderboard's columns: exact accuracy and invalid rate, the paper protocol's, the score-based ones.
COLUMNS = VALIDITY_METRICS + METRICS + SCORE_METRICS
_SCORE_ATTRIBUTES = tuple(PAPER_ATTRIBUTES)
_DEFINITION_FIELDS = ("key", "label", "higher_is_better", "percent", "description", "fairness")


def metric_definitions() -> list[dict[str, Any]]:
    """The metric table as plain dicts (the manifest carries it to the page and the Space app)."""
    return [{name: getattr(metric, name) for name in _DEFINITION_FIELDS} for metric in COLUMNS]


# --------------------------------------------------------------------------------------
# Recomputation from predictions.parquet
# --------------------------------------------------------------------------------------


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def scored_predictions(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``valid`` and ``correct`` recomputed from ``prediction`` and ``answer``.

    A null prediction is an invalid answer (the metrics' own rule); a valid one is correct when
    its label set is the answer's (``clinfair.tasks.prompts.is_correct``). The file's own
    ``valid`` / ``correct`` columns are never read: a hand-edited file cannot rank a silent model.
    """
    frame = frame.copy()
    predictions = [None if _is_null(value) else value for value in frame["prediction"]]
    frame["valid"] = [value is not None for value in predictions]
    frame["correct"] = [
        is_correct(prediction, answer) for prediction, answer in zip(predictions, frame["answer"])
    ]
    return frame


def recompute_report(predictions: pd.DataFrame, results: Mapping[str, Any]) -> dict[str, Any]:
    """The metrics report of the predictions, computed as ``clinfair eval`` computed the stored one
    (``build_report`` with the attributes, resamples, seed, minimum group size and interval level
    recorded in ``results.json``'s ``metrics.settings``), so an honest pair of files agrees exactly."""
    settings = results["metrics"].get("settings") or {}
    label_spaces = {task: list(info["label_space"]) for task, info in results["tasks"].items()}
    return build_report(
        predictions,
        label_spaces=label_spaces,
        attributes=settings.get("attributes") or results.get("attributes") or "auto",
        n_bootstrap=int(settings.get("n_bootstrap", 0)),
        seed=int(settings.get("seed", results.get("seed") or 0)),
        min_group_size=int(settings.get("min_group_size", 30)),
        ci_level=float(settings.get("ci_level", 0.95)),
    )


def task_counts(predictions: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per task, the counts ``results.json``'s ``tasks`` block records, from the (scored) predictions."""
    counts = {}
    for task, rows in predictions.groupby("dataset", sort=False):
        counts[str(task)] = {
            "rows": int(len(rows)),
            "invalid_answers": int((~rows["valid"]).sum()),
            "invalid_rate": float((~rows["valid"]).mean()),
            "accuracy_exact": float(rows["correct"].mean()),
            "majority_baseline": majority_baseline(rows["answer"]),
        }
    return counts


def _differences(stored: Any, computed: Any, path: str, found: list[tuple[str, Any, Any]]) -> None:
    if isinstance(computed, Mapping):
        if not isinstance(stored, Mapping):
            found.append((path, stored, "a table of values"))
            return
        for key in dict.fromkeys([*computed, *stored]):
            _differences(stored.get(key), computed.get(key), f"{path}.{key}", found)
    elif isinstance(computed, (list, tuple)):
        if not isinstance(stored, (list, tuple)) or len(stored) != len(computed):
            found.append((path, stored, computed))
            return
        for index, (old, new) in enumerate(zip(stored, computed)):
            _differences(old, new, f"{path}[{index}]", found)
    elif isinstance(computed, (int, float)) and not isinstance(computed, bool):
        if (
            not isinstance(stored, (int, float))
            or isinstance(stored, bool)
            or not math.isclose(stored, computed, rel_tol=MATCH_TOLERANCE, abs_tol=MATCH_TOLERANCE)
        ):
            found.append((path, stored, computed))
    elif stored != computed:
        found.append((path, stored, computed))


def disagreements(
    results: Mapping[str, Any], report: Mapping[str, Any], counts: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, Any, Any]]:
    """Every value of ``results.json`` (its ``metrics`` and the counts of its ``tasks`` block) that
    differs from the recomputation beyond rounding, as ``(path, stored, recomputed)``."""
    found: list[tuple[str, Any, Any]] = []
    _differences(results["metrics"], report, "metrics", found)
    for task, computed in counts.items():
        stored = results["tasks"].get(task) or {}
        for key, value in computed.items():
            if key in stored:  # results of an older clinfair may lack a count
                _differences(stored[key], value, f"tasks.{task}.{key}", found)
    return found


def disagreement_message(folder: Any, found: Sequence[tuple[str, Any, Any]]) -> str:
    """One line naming the first disagreement and how many more there are."""
    path, stored, computed = found[0]
    more = f" (and {len(found) - 1} other value(s))" if len(found) > 1 else ""
    return (
        f"{folder}: {RESULTS_FILE} says {path} = {stored!r} but {PREDICTIONS_FILE} gives {computed!r}{more}; "
        "the files do not belong together or were edited (re-run `clinfair eval`)"
    )


# --------------------------------------------------------------------------------------
# Bootstrap of the paper protocol and of the run-level columns
# --------------------------------------------------------------------------------------


def _strata(frame: pd.DataFrame) -> list[np.ndarray]:
    keys = [frame[c].astype(object).where(frame[c].notna(), _NULL) for c in ("dataset", *PAPER_ATTRIBUTES)]
    return list(frame.groupby(keys, sort=True).indices.values())


def _flatten(report: Mapping[str, Any], tasks: Sequence[str]) -> dict[tuple, float | None]:
    """(scope, metric) and (task, attribute, group, metric) -> value of one paper-protocol output."""
    values: dict[tuple, float | None] = {}
    for scope, block in (
        (OVERALL, report["overall"]),
        *((t, report["by_dataset"].get(t) or {}) for t in tasks),
    ):
        for key in METRIC_KEYS:
            values[(scope, key)] = block.get(key)
    for task in tasks:
        attributes = report["detail"]["by_dataset"].get(task, {}).get("attributes", {})
        for attribute, entry in attributes.items():
            for group, numbers in entry["groups"].items():
                for key in PAPER_GROUP_METRICS:
                    values[(task, attribute, group, key)] = numbers.get(key)
    return values


class _Validity:
    """Exact accuracy and invalid rate per scope of any resample of the rows (a few bincounts)."""

    def __init__(self, frame: pd.DataFrame, tasks: Sequence[str]) -> None:
        scored = scored_predictions(frame)
        self.correct = scored["correct"].to_numpy(dtype=float)
        self.invalid = (~scored["valid"]).to_numpy(dtype=float)
        position = {task: i for i, task in enumerate(tasks)}
        self.task = np.array([position.get(task, -1) for task in frame["dataset"]], dtype=np.intp)
        self.tasks = list(tasks)

    def values(self, rows: np.ndarray) -> dict[tuple, float | None]:
        found: dict[tuple, float | None] = {}
        n = len(rows)
        found[(OVERALL, "exact_match")] = float(self.correct[rows].mean()) if n else None
        found[(OVERALL, "invalid")] = float(self.invalid[rows].mean()) if n else None
        task = self.task[rows]
        known = task >= 0
        sizes = np.bincount(task[known], minlength=len(self.tasks))
        exact = np.bincount(task[known], weights=self.correct[rows][known], minlength=len(self.tasks))
        invalid = np.bincount(task[known], weights=self.invalid[rows][known], minlength=len(self.tasks))
        for i, name in enumerate(self.tasks):
            found[(name, "exact_match")] = float(exact[i] / sizes[i]) if sizes[i] else None
            found[(name, "invalid")] = float(invalid[i] / sizes[i]) if sizes[i] else None
        return found


@dataclass
class PaperCI:
    """Point values of the paper protocol (and of the run-level exact accuracy and invalid rate,
    keyed ``(scope, "exact_match")`` / ``(scope, "invalid")``) and their intervals, keyed as
    :func:`_flatten` keys them."""

    report: dict[str, Any]  # the paper protocol on the real rows (as ``paper_protocol`` returns it)
    point: dict[tuple, float | None]
    ci: dict[tuple, tuple[float, float] | None]
    resamples: dict[tuple, int]


def paper_bootstrap(
    predictions: pd.DataFrame,
    label_spaces: Mapping[str, Sequence[str]],
    *,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    ci_level: float = DEFAULT_CI_LEVEL,
    name: str = "",
) -> PaperCI:
    """Stratified percentile bootstrap of every paper-protocol value (see module docstring).

    The table is encoded once; each of the ``n_bootstrap`` resamples only re-counts the rows it
    draws (:meth:`MetricFrame.paper`); 0 gives point values only.
    """
    frame = predictions[list(_PAPER_COLUMNS)].reset_index(drop=True)
    tasks = list(label_spaces)
    metrics = MetricFrame(frame, label_spaces=label_spaces)  # encoded once; a resample re-counts rows
    validity = _Validity(frame, tasks)
    report = as_json(metrics.paper())
    point = _flatten(report, tasks) | validity.values(np.arange(len(frame)))
    samples: dict[tuple, list[float]] = {key: [] for key in point}
    rng = named_rng(seed, name)  # the run's name only: adding a run leaves the others alone
    strata = _strata(frame)
    for _ in range(n_bootstrap):
        rows = stratified_rows(strata, rng)
        resampled = _flatten(as_json(metrics.paper(rows)), tasks) | validity.values(rows)
        for key, value in resampled.items():
            if value is not None and key in samples:
                samples[key].append(value)
    tail = 100 * (1 - ci_level) / 2
    ci = {
        key: (float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail)))
        if values
        else None
        for key, values in samples.items()
    }
    return PaperCI(report, point, ci, {key: len(values) for key, values in samples.items()})


# --------------------------------------------------------------------------------------
# Per-run values
# --------------------------------------------------------------------------------------


def validity(predictions: pd.DataFrame) -> dict[str, Any]:
    """The run's invalid-answer rate, exact accuracy and majority baseline over all its rows, from
    its scored predictions (:func:`scored_predictions`)."""
    rows = len(predictions)
    invalid_rate = float(1 - predictions["valid"].mean()) if rows else 0.0
    exact = float(predictions["correct"].mean()) if rows else 0.0
    baselines = [(len(part), majority_baseline(part["answer"])) for _, part in predictions.groupby("dataset")]
    baseline = sum(n * b for n, b in baselines) / rows if rows else None
    return {"invalid_rate": invalid_rate, "exact_accuracy": exact, "majority_baseline": baseline}


def score_values(report: Mapping[str, Any], scopes: Sequence[str]) -> dict[str, float | None]:
    """The score-based columns of one run (``SCORE_METRICS``), per scope, from its metrics report."""

    def value(entry: Mapping[str, Any] | None) -> float | None:
        return None if not entry else entry.get("value")

    by_task: dict[str, dict[str, float | None]] = {}
    for task, block in ((report.get("scores") or {}).get("by_dataset") or {}).items():
        summaries = [
            block["attributes"][name]["summary"]
            for name in _SCORE_ATTRIBUTES
            if name in block.get("attributes", {})
        ]
        worst = [v for v in (value(s.get("worst_group_auroc")) for s in summaries) if v is not None]
        values = {
            "auroc": value(block["overall"]["metrics"].get("auroc")),
            "worst_group_auroc": min(worst, default=None),
        }
        for key in ("auroc_gap", "ece_gap"):
            gaps = [v for v in (value(s.get(key)) for s in summaries) if v is not None]
            values[key] = float(np.mean(gaps)) if gaps else None
        by_task[task] = values
    row: dict[str, float | None] = {}
    for metric in SCORE_METRICS:
        per_task = [v[metric.key] for v in by_task.values() if v[metric.key] is not None]
        row[f"{OVERALL}.{metric.key}"] = float(np.mean(per_task)) if per_task else None
        for scope in scopes:
            if scope != OVERALL:
                row[f"{scope}.{metric.key}"] = by_task.get(scope, {}).get(metric.key)
    return row


# --------------------------------------------------------------------------------------
# Per-group values
# --------------------------------------------------------------------------------------


def group_invalid_rates(predictions: pd.DataFrame, attributes: Sequence[str]) -> dict[tuple, float]:
    """``(task, attribute, group) -> invalid rate`` of the (scored) predictions, for every
    attribute or intersection (``"sex*age_group"``), groups named as the metrics name them."""
    groupings = Groupings(predictions)
    invalid = (~predictions["valid"]).to_numpy(dtype=float)
    datasets = predictions["dataset"].to_numpy()
    rates: dict[tuple, float] = {}
    for attribute in dict.fromkeys(attributes):
        try:
            grouping = groupings.get(grouping_spec(attribute))
        except MetricsInputError:  # an attribute the file cannot group by has no group to mark
            continue
        for task in dict.fromkeys(datasets):
            mine = (datasets == task) & (grouping.codes >= 0)
            codes = grouping.codes[mine]
            sizes = np.bincount(codes, minlength=len(grouping.groups))
            counts = np.bincount(codes, weights=invalid[mine], minlength=len(grouping.groups))
            for index, group in enumerate(grouping.groups):
                if sizes[index]:
                    rates[(str(task), attribute, group)] = float(counts[index] / sizes[index])
    return rates


def standard_groups(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The standard layer's per-group values with their bootstrap intervals, from a metrics report."""
    rows = []
    standard = report.get("standard", {}).get("by_dataset", {})
    for task, block in standard.items():
        for attribute, entry in block.get("attributes", {}).items():
            for group, numbers in entry.get("groups", {}).items():
                for metric, cell in numbers.get("metrics", {}).items():
                    ci = cell.get("ci")
                    rows.append(
                        {
                            "task": task,
                            "attribute": attribute,
                            "group": group,
                            "rows": numbers.get("rows"),
                            "metric": metric,
                            "value": cell.get("value"),
                            "ci_low": ci[0] if ci else None,
                            "ci_high": ci[1] if ci else None,
                            "note": cell.get("reason") or ("small group" if numbers.get("small") else None),
                        }
                    )
    return rows


def paper_groups(tasks: Sequence[str], paper: PaperCI) -> list[dict[str, Any]]:
    """The paper protocol's per-group values (sex and age group) with their bootstrap intervals."""
    rows = []
    for task in tasks:
        attributes = paper.report["detail"]["by_dataset"].get(task, {}).get("attributes", {})
        for attribute in PAPER_ATTRIBUTES:
            entry = attributes.get(attribute)
            if entry is None:
                continue
            for group, numbers in entry["groups"].items():
                if not numbers["rows"]:
                    continue
                for metric in PAPER_GROUP_METRICS:
                    ci = paper.ci.get((task, attribute, group, metric))
                    rows.append(
                        {
                            "task": task,
                            "attribute": attribute,
                            "group": group,
                            "rows": numbers["rows"],
                            "metric": metric,
                            "value": numbers.get(metric),
                            "ci_low": ci[0] if ci else None,
                            "ci_high": ci[1] if ci else None,
                            "note": None if entry["counted"] else entry["reason"],
                        }
                    )
    return rows

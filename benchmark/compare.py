"""Paired comparison of evaluation runs on the same rows (``clinfair compare``).

Given two or more ``clinfair eval`` result folders (``results.json`` + ``predictions.parquet``)
and one of them as the baseline, every other run is compared with the baseline on the
*same rows*: rows are matched by ``(dataset, id)``, and runs on different rows, tasks or
ground truth are refused with a message naming the first difference.

Each difference is ``run - baseline`` with a paired bootstrap
(``clinfair.benchmark.resampling.stratified_rows``): every resample draws the same rows for both runs (with replacement, within each dataset, so every dataset keeps its
size), so the spread reflects only where the two runs disagree. Reported per difference:
the point estimate on all rows, its percentile interval (``ci_level``, default 95 %) and a
two-sided bootstrap p-value (2 x the smaller share of resamples on either side of 0; see
``clinfair.benchmark.metrics.paired_difference``), and ``significant`` = the interval excludes 0. The
p-values are per comparison, not corrected for the number of keys and runs compared.

* **Exact accuracy and invalid rate** (:data:`HEADLINE_KEYS`), read first: the share of answers
  equal to the label set and of answers that did not parse, overall (every row pooled) and per
  dataset, resampled like the paper keys. The report's summary table shows them first for every run.
* **Paper keys** (:data:`COMPARE_PAPER_KEYS`: PP, EOD, FPR gap, F1, ΔF1, σF1, accuracy), the
  paper protocol (``clinfair.benchmark.metrics.MetricFrame.paper``) recomputed on every resample, overall
  and per dataset. PP and EOD are ×100, as in the paper's tables.
* **Standard per-group metrics** (``clinfair.benchmark.metrics.STANDARD_METRICS``) for each attribute
  (default: ``clinfair.tasks.attributes.resolve_for_table`` on the baseline's predictions):
  per group, the gap across groups and the worst group, from
  ``clinfair.benchmark.metrics.MetricFrame.paired`` (rows resampled within groups).

The report is JSON (``comparison.json``) and Markdown (``comparison.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from clinfair.benchmark.bootstrap import N_BOOTSTRAP
from clinfair.benchmark.eval_result import PREDICTIONS_FILE, EvalResult, ResultFolderError
from clinfair.benchmark.metrics import (
    STANDARD_METRICS,
    MetricFrame,
    MetricsInputError,
    PaperResult,
    as_json,
    get_metric,
    paired_difference,
)
from clinfair.benchmark.metrics.encoding import to_list_array
from clinfair.benchmark.metrics.registry import PAPER, RUN
from clinfair.benchmark.resampling import named_rng, stratified_rows
from clinfair.tasks.attributes import resolve_for_table
from clinfair.tasks.registry import registered_tasks

from clinfair.core.errors import ClinfairError

#: The paper's fairness and performance keys compared (keys of ``paper_protocol``'s output).
COMPARE_PAPER_KEYS = ("pp", "eod", "fpr_gap", "f1", "f1_gap", "f1_std", "accuracy")
PAPER_KEY_LABELS = {key: get_metric(PAPER, key).scaled_label for key in COMPARE_PAPER_KEYS}
#: Read first: the share of answers equal to the label set and of answers that did not parse (an
#: all-invalid run has exact accuracy 0 where the paper protocol's group-averaged accuracy says 0.5).
HEADLINE_KEYS = ("exact_match", "invalid")
HEADLINE_LABELS = {key: get_metric(RUN, key).label for key in HEADLINE_KEYS}
#: The paper keys the summary table shows after the headline, labelled as the paper protocol's.
SUMMARY_PAPER_KEYS = ("accuracy", "f1")
REPORT_SCHEMA = "clinfair.compare/1"


class CompareError(ClinfairError, ValueError):
    """Runs that cannot be compared (missing files, different rows or tasks): one clear line."""


@dataclass
class EvalRun:
    """One ``clinfair eval`` output folder."""

    folder: Path
    name: str
    method: str | None
    label_spaces: dict[str, list[str]]
    predictions: pd.DataFrame
    #: The per-group attributes its ``results.json`` lists (what ``clinfair eval`` reported).
    attributes: list[str] = field(default_factory=list)


def load_run(folder: str | Path) -> EvalRun:
    """Read a result folder (``clinfair.benchmark.eval_result.EvalResult``): name, method, label spaces
    and the predictions."""
    try:
        result = EvalResult.load(folder)
        predictions = result.predictions
    except ResultFolderError as error:
        raise CompareError(str(error)) from None
    recorded = result.results.get("attributes")
    return EvalRun(
        folder=result.folder,
        name=result.name,
        method=result.method,
        label_spaces=result.label_spaces,
        predictions=predictions,
        attributes=[str(item) for item in recorded] if isinstance(recorded, list) else [],
    )


def _row_keys(frame: pd.DataFrame) -> pd.Index:
    return pd.Index(frame["dataset"].astype(str) + "/" + frame["id"].astype(str))


def align(baseline: EvalRun, run: EvalRun) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both prediction tables on the same rows in the same order, or a CompareError saying why not."""
    if sorted(baseline.label_spaces) != sorted(run.label_spaces):
        raise CompareError(
            f"{run.name} evaluated tasks {sorted(run.label_spaces)} but the baseline {baseline.name} "
            f"{sorted(baseline.label_spaces)}: compare runs on the same task set"
        )
    for task in baseline.label_spaces:
        if sorted(baseline.label_spaces[task]) != sorted(run.label_spaces[task]):
            raise CompareError(f"{run.name} and {baseline.name} have different label spaces for task {task}")
    keys_base, keys_run = _row_keys(baseline.predictions), _row_keys(run.predictions)
    only_base, only_run = keys_base.difference(keys_run), keys_run.difference(keys_base)
    if len(only_base) or len(only_run):
        parts = []
        if len(only_run):
            parts.append(f"{len(only_run)} row(s) not in the baseline (first: {only_run[0]})")
        if len(only_base):
            parts.append(f"lacks {len(only_base)} of the baseline's rows (first: {only_base[0]})")
        raise CompareError(
            f"{run.name} and the baseline {baseline.name} are on different rows: {run.name} has "
            + " and ".join(parts)
            + "; evaluate both on the same split and --limit"
        )
    base = baseline.predictions.set_axis(keys_base).sort_index()
    other = run.predictions.set_axis(keys_run).loc[base.index]
    differs = [
        key for key, a, b in zip(base.index, base["answer"], other["answer"]) if sorted(a) != sorted(b)
    ]
    if differs:
        raise CompareError(
            f"{run.name} and {baseline.name} have different ground truth on {len(differs)} row(s) "
            f"(first: {differs[0]}): they were evaluated on different prepared data"
        )
    return base.reset_index(drop=True), other.reset_index(drop=True)


def _paper_values(paper: PaperResult) -> dict[str, dict[str, float]]:
    """{"overall": {key: value}, dataset: {key: value}} with NaN for an undefined value."""
    scopes = {"overall": paper.overall, **paper.by_dataset}
    return {
        scope: {k: np.nan if values[k] is None else float(values[k]) for k in COMPARE_PAPER_KEYS}
        for scope, values in scopes.items()
    }


def dataset_strata(frame: pd.DataFrame) -> list[np.ndarray]:
    """Row positions of each dataset, datasets sorted by name: the strata of a paired resample."""
    return [positions for _, positions in sorted(frame.groupby("dataset", sort=True).indices.items())]


def row_outcomes(frame: pd.DataFrame, label_spaces: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Per row of ``frame``: ``exact_match`` (1 when the answer equals the label set, an invalid
    answer 0, NaN for a row the metrics cannot score) and ``invalid`` (1 when the prediction is
    null), by the metrics' own encoding."""
    exact = np.full(len(frame), np.nan)
    for dataset in MetricFrame(frame, label_spaces=label_spaces).datasets:
        exact[dataset.rows] = dataset.outcomes[0].correct[dataset.row_type]
    invalid = to_list_array(frame["prediction"], "prediction").is_null().to_numpy(zero_copy_only=False)
    return {"exact_match": exact, "invalid": invalid.astype(float)}


def _scope_means(values: dict[str, np.ndarray], codes: np.ndarray, names: Sequence[str], rows: np.ndarray):
    """{scope: {key: mean over ``rows``}} for ``overall`` (every row pooled) and each dataset."""
    scopes = {"overall": rows, **{name: rows[codes[rows] == i] for i, name in enumerate(names)}}
    out = {}
    for scope, chosen in scopes.items():
        out[scope] = {}
        for key, array in values.items():
            drawn = array[chosen]
            drawn = drawn[np.isfinite(drawn)]
            out[scope][key] = float(drawn.mean()) if drawn.size else np.nan
    return out


def paired_headline(
    base: pd.DataFrame,
    run: pd.DataFrame,
    label_spaces: dict[str, list[str]],
    n_bootstrap: int,
    seed: int,
    ci_level: float,
) -> dict[str, dict[str, dict[str, Any]]]:
    """{scope: {key: entry}} for :data:`HEADLINE_KEYS` (exact accuracy and invalid rate, pooled over
    every row for ``overall``), with the paired bootstrap of the paper keys (rows within datasets)."""
    values_base, values_run = row_outcomes(base, label_spaces), row_outcomes(run, label_spaces)
    codes, names = pd.factorize(base["dataset"].astype(str), sort=True)
    everything = np.arange(len(base))
    points_base = _scope_means(values_base, codes, names, everything)
    points_run = _scope_means(values_run, codes, names, everything)
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    rng = named_rng(seed, "compare", "headline")
    strata = dataset_strata(base)
    for _ in range(n_bootstrap):
        rows = stratified_rows(strata, rng)
        boot_base = _scope_means(values_base, codes, names, rows)
        for scope, means in _scope_means(values_run, codes, names, rows).items():
            for key, value in means.items():
                samples.setdefault((scope, key), []).append((value, boot_base[scope][key]))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for scope in points_base:
        out[scope] = {}
        for key in HEADLINE_KEYS:
            pairs = np.array(samples.get((scope, key), []), dtype=float).reshape(-1, 2)
            boot = (pairs[:, 0], pairs[:, 1]) if n_bootstrap else None
            point = (points_run[scope][key], points_base[scope][key])
            out[scope][key] = _rename(as_json(paired_difference(point, boot, ci_level)))
    return out


def paired_paper_keys(
    base: pd.DataFrame,
    run: pd.DataFrame,
    label_spaces: dict[str, list[str]],
    n_bootstrap: int,
    seed: int,
    ci_level: float,
) -> dict[str, dict[str, dict[str, Any]]]:
    """{scope: {key: entry}} for the paper keys, scope = "overall" or a dataset name."""
    # each table is encoded once; a resample only re-counts the rows it draws
    frame_base, frame_run = (MetricFrame(table, label_spaces=label_spaces) for table in (base, run))
    points_base, points_run = _paper_values(frame_base.paper()), _paper_values(frame_run.paper())
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    rng = named_rng(seed, "compare", "paper")
    strata = dataset_strata(base)
    for _ in range(n_bootstrap):
        rows = stratified_rows(strata, rng)  # the same rows of both runs: a paired resample
        boot_base, boot_run = _paper_values(frame_base.paper(rows)), _paper_values(frame_run.paper(rows))
        for scope, values in boot_run.items():
            for key, value in values.items():
                samples.setdefault((scope, key), []).append((value, boot_base[scope][key]))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for scope in points_base:
        out[scope] = {}
        for key in COMPARE_PAPER_KEYS:
            pairs = np.array(samples.get((scope, key), []), dtype=float).reshape(-1, 2)
            boot = (pairs[:, 0], pairs[:, 1]) if n_bootstrap else None
            point = (points_run[scope][key], points_base[scope][key])
            out[scope][key] = _rename(as_json(paired_difference(point, boot, ci_level)))
    return out


def paired_standard(
    base: pd.DataFrame,
    run: pd.DataFrame,
    label_spaces: dict[str, list[str]],
    attributes: Sequence[str],
    n_bootstrap: int,
    seed: int,
    ci_level: float,
) -> dict[str, Any]:
    """{dataset: {attribute: {metric: {"overall", "groups": {g: entry}, "gap", ["worst"]}}}}."""
    merged = base.assign(prediction_run=run["prediction"].to_numpy())
    columns = ("prediction_run", "prediction")
    # encoded once for every attribute and metric
    frame = MetricFrame(
        merged,
        label_spaces=label_spaces,
        prediction_columns=columns,
        required=("dataset", "answer", *columns),
    )
    out: dict[str, Any] = {}
    for attribute in attributes:
        for metric in STANDARD_METRICS:
            paired = frame.paired(
                "prediction",
                column_a="prediction_run",
                metric=metric,
                attribute=attribute,
                n_bootstrap=n_bootstrap,
                seed=seed,
                ci_level=ci_level,
            )
            result = as_json(paired)
            for dataset, entry in result["by_dataset"].items():
                scope = out.setdefault(dataset, {}).setdefault(attribute, {})
                scope[metric] = {
                    "overall": _rename(entry["overall"]),
                    "groups": {
                        g: _rename(v) | {"rows": v["rows"]} for g, v in entry.get("groups", {}).items()
                    },
                    **{kind: _rename(entry[kind]) for kind in ("gap", "worst") if kind in entry},
                }
    return out


def _rename(entry: dict[str, Any]) -> dict[str, Any]:
    """A paired comparison's a/b entry in this report's words (a = run, b = baseline)."""
    ci = entry["ci"]
    return {
        "run": entry["a"],
        "baseline": entry["b"],
        "difference": entry["difference"],
        "ci": ci,
        "ci_resamples": entry["ci_resamples"],
        "p_value": entry["p_value"],
        "significant": bool(ci is not None and (ci[0] > 0 or ci[1] < 0)),
        "reason": entry["reason"],
    }


def compare_runs(
    runs: Sequence[EvalRun],
    baseline: EvalRun,
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    ci_level: float = 0.95,
    attributes: str | Sequence[str] | None = None,
) -> dict[str, Any]:
    """The comparison report of every run in ``runs`` (other than ``baseline``) against ``baseline``.

    ``attributes``: the per-group attributes, checked against the baseline's predictions; by default
    those ``clinfair metrics`` reports for them (``clinfair.tasks.attributes.resolve_for_table``).
    """
    if n_bootstrap < 0:
        raise CompareError("--n-bootstrap must be >= 0")
    if not 0 < ci_level < 1:
        raise CompareError("--ci-level must be between 0 and 1")
    others = [run for run in runs if run is not baseline]
    if not others:
        raise CompareError("give at least two runs: the baseline and one to compare with it")
    aligned = [align(baseline, run) for run in others]  # refuse before any bootstrap
    table = baseline.predictions
    attributes = resolve_for_table(
        attributes,
        specs=registered_tasks(baseline.label_spaces),
        columns=[str(column) for column in table.columns],
        attribute_dicts=table["attributes"] if "attributes" in table.columns else (),
        recorded=baseline.attributes,
        where=str(baseline.folder / PREDICTIONS_FILE),
    )
    comparisons = []
    for run, (base_rows, run_rows) in zip(others, aligned):
        try:
            comparisons.append(
                {
                    "run": _describe(run),
                    "rows": int(len(base_rows)),
                    "headline": paired_headline(
                        base_rows, run_rows, baseline.label_spaces, n_bootstrap, seed, ci_level
                    ),
                    "paper": paired_paper_keys(
                        base_rows, run_rows, baseline.label_spaces, n_bootstrap, seed, ci_level
                    ),
                    "standard": paired_standard(
                        base_rows, run_rows, baseline.label_spaces, attributes, n_bootstrap, seed, ci_level
                    ),
                }
            )
        except MetricsInputError as error:
            raise CompareError(f"{run.name}: {error}") from None
    return {
        "schema": REPORT_SCHEMA,
        "settings": {
            "n_bootstrap": n_bootstrap,
            "seed": seed,
            "ci_level": ci_level,
            "attributes": list(attributes),
            "difference": "run - baseline",
            "resampling": "rows with replacement within each dataset, paired",
            "headline": "exact_match: share of rows whose answer equals the label set (an invalid answer "
            "is wrong); invalid: share of rows whose answer did not parse; overall: every row pooled",
            "p_value": "two-sided bootstrap, uncorrected",
            "significant": "the interval excludes 0",
        },
        "baseline": _describe(baseline),
        "tasks": sorted(baseline.label_spaces),
        "comparisons": comparisons,
    }


def _describe(run: EvalRun) -> dict[str, Any]:
    return {"name": run.name, "method": run.method, "folder": str(run.folder)}


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _row(label: str, entry: dict[str, Any]) -> str:
    ci = entry["ci"]
    interval = "n/a" if ci is None else f"[{ci[0]:+.3f}, {ci[1]:+.3f}]"
    difference = "n/a" if entry["difference"] is None else f"{entry['difference']:+.3f}"
    mark = " *" if entry["significant"] else ""
    p = _fmt(entry["p_value"])
    if entry["p_value"] == 0 and entry["ci_resamples"]:  # no resample crossed 0: p is below 1 / resamples
        p = f"< {1 / entry['ci_resamples']:.3g}"
    return f"| {label} | {_fmt(entry['baseline'])} | {_fmt(entry['run'])} | {difference}{mark} | {interval} | {p} |"


def _summary_table(report: dict[str, Any]) -> list[str]:
    """One row per run on all its rows: exact accuracy and invalid rate first, then the paper
    protocol's (group-averaged, one-vs-rest) accuracy and F1, labelled as such."""
    paper_labels = [f"{get_metric(PAPER, key).label} (paper protocol)" for key in SUMMARY_PAPER_KEYS]
    columns = [HEADLINE_LABELS[key] for key in HEADLINE_KEYS] + paper_labels
    lines = ["| run | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    first = report["comparisons"][0]
    sides = [(report["baseline"], first, "baseline")]
    sides += [(comparison["run"], comparison, "run") for comparison in report["comparisons"]]
    for described, comparison, side in sides:
        headline, paper = comparison["headline"]["overall"], comparison["paper"]["overall"]
        cells = [_fmt(headline[key][side]) for key in HEADLINE_KEYS]
        cells += [_fmt(paper[key][side]) for key in SUMMARY_PAPER_KEYS]
        lines.append(f"| {described['name']} | " + " | ".join(cells) + " |")
    return lines


def markdown_report(report: dict[str, Any]) -> str:
    """The comparison as Markdown tables: every run's exact accuracy and invalid rate (then the paper
    protocol's accuracy and F1), then per run against the baseline the exact accuracy and invalid
    rate, the paper keys overall and per dataset, and the standard metrics' gap and worst group per
    attribute. ``*`` marks a difference whose interval excludes 0."""
    s = report["settings"]
    base = report["baseline"]
    lines = [
        f"# Paired comparison against {base['name']}",
        "",
        f"Difference = run − baseline on the same rows; {int(s['ci_level'] * 100)} % paired bootstrap interval "
        f"({s['n_bootstrap']} resamples, seed {s['seed']}); p: two-sided bootstrap p-value, uncorrected; "
        "`*`: the interval excludes 0. Tasks: " + ", ".join(report["tasks"]) + ".",
        "",
        *_summary_table(report),
        "",
        f"{HEADLINE_LABELS['exact_match']}: answers equal to the label set (an invalid answer is wrong); "
        f"{HEADLINE_LABELS['invalid']}: share of answers that did not parse; both over every row. The paper "
        "protocol's values average one-vs-rest rates over labels and groups: a model that never answers "
        "still gets Acc 0.5 on a binary task.",
    ]
    header = ["| key | baseline | run | difference | interval | p |", "|---|---|---|---|---|---|"]
    for comparison in report["comparisons"]:
        run = comparison["run"]
        lines += [
            "",
            f"## {run['name']}" + (f" ({run['method']})" if run["method"] else "") + f" vs {base['name']}",
            "",
            f"{comparison['rows']} rows.",
            "",
        ]
        for scope, entries in comparison["headline"].items():
            lines += [f"**Exact accuracy and invalid rate, {scope}**", "", *header]
            lines += [_row(HEADLINE_LABELS[key], entries[key]) for key in HEADLINE_KEYS]
            lines.append("")
        for scope, entries in comparison["paper"].items():
            lines += [f"**Paper protocol, {scope}**", "", *header]
            lines += [_row(PAPER_KEY_LABELS[key], entries[key]) for key in COMPARE_PAPER_KEYS]
            lines.append("")
        for dataset, by_attribute in comparison["standard"].items():
            lines += [f"**Per-group metrics, {dataset}** (gap across groups and worst group)", "", *header]
            for attribute, by_metric in by_attribute.items():
                for metric, entry in by_metric.items():
                    for kind in ("gap", "worst"):
                        if kind in entry:
                            lines.append(_row(f"{metric} {kind} by {attribute}", entry[kind]))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"

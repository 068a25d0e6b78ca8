"""The leaderboard tables: paper-protocol values with bootstrap confidence intervals.

``results.json`` holds the paper protocol's point values but no intervals for them (the
standard layer's intervals are per group, on other definitions). :func:`paper_bootstrap`
adds them: it resamples the rows of ``predictions.parquet`` with replacement **within
each stratum** (dataset x sex x age group, a null value being its own level), so every
group keeps its size and every attribute counts exactly as on the real data, recomputes
the paper protocol (``clinfair.benchmark.metrics.MetricFrame.paper``) on each resample, and takes
percentile intervals over the resamples where the value is defined. The point value is the protocol on the real rows,
which must equal ``results.json``'s (checked, see ``clinfair.leaderboard.runs.check_paper_values``).

Three tables come out (:func:`compute_tables`):

* ``scores`` (long): run, method, scope (``overall`` or a task), metric, value, ci_low,
  ci_high, ci_resamples;
* ``leaderboard`` (wide): one row per run, identity columns, then ``<scope>.<metric>``,
  ``<scope>.<metric>.ci_low`` and ``<scope>.<metric>.ci_high`` for every metric of
  :data:`METRICS` and every scope;
* ``groups`` (long): per run, task, attribute and group, the ``paper`` layer's values (sex
  and age group, with the intervals of the same resamples) and the ``standard`` layer's
  (every attribute and intersection, intervals from ``clinfair eval``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from clinfair.benchmark.metrics import (
    PAPER_ATTRIBUTES,
    PAPER_GROUP_METRICS,
    Metric,
    MetricFrame,
    as_json,
    get_metric,
    select_metrics,
)
from clinfair.benchmark.metrics.registry import PAPER, SCORE_GROUP, SCORE_SUMMARY
from clinfair.benchmark.resampling import named_rng, stratified_rows
from clinfair.leaderboard.defaults import DEFAULT_BOOTSTRAP, DEFAULT_CI_LEVEL, DEFAULT_MAX_INVALID
from clinfair.leaderboard.runs import LeaderboardError, Run, check_paper_values

OVERALL = "overall"
_NULL = "<null>"  # the stratum level of a missing demographic
_PAPER_COLUMNS = ("dataset", "answer", "prediction", *PAPER_ATTRIBUTES)


#: The paper protocol's columns, in the paper's order (declared in ``clinfair.benchmark.metrics.registry``).
METRICS = select_metrics(PAPER, ("accuracy", "f1", "pp", "eod", "fpr_gap", "f1_std", "f1_gap", "f1_es"))
METRIC_KEYS = tuple(metric.key for metric in METRICS)
#: How the leaderboard reduces each score-based column over a task's attributes (see ``_score_values``).
_SCORE_SCOPE = {
    "auroc": ", all scored rows",
    "worst_group_auroc": " over sex and age-group groups",
    "auroc_gap": ", mean over sex and age group",
    "ece_gap": ", mean over sex and age group",
}
#: Score-based columns (``clinfair eval --scores``), read from each run's ``results.json``: per task, AUROC
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
#: The leaderboard's columns: the paper protocol's, then the score-based ones.
COLUMNS = METRICS + SCORE_METRICS
_SCORE_ATTRIBUTES = tuple(PAPER_ATTRIBUTES)
_DEFINITION_FIELDS = ("key", "label", "higher_is_better", "percent", "description", "fairness")


def metric_definitions() -> list[dict[str, Any]]:
    """The metric table as plain dicts (the manifest carries it to the page and the Space app)."""
    return [{name: getattr(metric, name) for name in _DEFINITION_FIELDS} for metric in COLUMNS]


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


@dataclass
class PaperCI:
    """Point values of the paper protocol and their intervals, keyed as :func:`_flatten` keys them."""

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
    report = as_json(metrics.paper())
    point = _flatten(report, tasks)
    samples: dict[tuple, list[float]] = {key: [] for key in point}
    rng = named_rng(seed, name)  # the run's name only: adding a run leaves the others alone
    strata = _strata(frame)
    for _ in range(n_bootstrap):
        rows = stratified_rows(strata, rng)
        resampled = _flatten(as_json(metrics.paper(rows)), tasks)
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


def ranking_exclusion(
    invalid_rate: float, exact: float, baseline: float | None, max_invalid: float
) -> str | None:
    """Why a run is not ranked on fairness metrics (None: it is): a model that does not really answer
    (too many invalid answers, or no better than always giving the most common answer) has small
    gaps for free, and a fairness leaderboard must not reward that."""
    if invalid_rate > max_invalid:
        return f"{invalid_rate:.0%} invalid answers (more than {max_invalid:.0%})"
    if baseline is not None and exact <= baseline + 1e-12:
        return f"exact accuracy {exact:.1%} is not above the majority-class baseline {baseline:.1%}"
    return None


def split_references(runs: Sequence[Run]) -> dict[str, str]:
    """Per task, the reference split: the split hash (``results.json``'s ``split_sha256``) most runs
    share; a tie goes to the smallest hash, so the choice does not depend on the order of the runs.
    Runs whose results predate the hash have none and count for no split."""
    counts: dict[str, Counter] = {}
    for run in runs:
        for task, info in run.results["tasks"].items():
            if info.get("split_sha256"):
                counts.setdefault(task, Counter())[info["split_sha256"]] += 1
    return {task: min(found, key=lambda digest: (-found[digest], digest)) for task, found in counts.items()}


def split_exclusion(run: Run, references: Mapping[str, str]) -> str | None:
    """Why a run is not ranked on any column (None: it is): it evaluated other rows of a task than
    the reference split (:func:`split_references`), so none of its numbers compare with the others'."""
    other = [
        f"{task} (split SHA-256 {info['split_sha256'][:12]}…, reference {references[task][:12]}…)"
        for task, info in run.results["tasks"].items()
        if info.get("split_sha256") and task in references and info["split_sha256"] != references[task]
    ]
    if not other:
        return None
    return "evaluated on other rows than the split most runs share (ties: the smallest hash) of " + ", ".join(
        other
    )


def _validity(run: Run, max_invalid: float) -> dict[str, Any]:
    """The run's invalid-answer rate, exact accuracy and majority baseline, from its predictions."""
    from clinfair.benchmark.runner import majority_baseline

    frame = run.predictions
    rows = len(frame)
    invalid_rate = float(1 - frame["valid"].mean()) if rows else 0.0
    exact = float(frame["correct"].mean()) if rows else 0.0
    baselines = [(len(part), majority_baseline(part["answer"])) for _, part in frame.groupby("dataset")]
    baseline = sum(n * b for n, b in baselines) / rows if rows else None
    return {
        "invalid_rate": invalid_rate,
        "exact_accuracy": exact,
        "majority_baseline": baseline,
        "unranked": ranking_exclusion(invalid_rate, exact, baseline, max_invalid),
    }


def _score_values(run: Run, scopes: Sequence[str]) -> dict[str, float | None]:
    """The score-based columns of one run (``SCORE_METRICS``), per scope, from its results.json."""

    def value(entry: Mapping[str, Any] | None) -> float | None:
        return None if not entry else entry.get("value")

    by_task: dict[str, dict[str, float | None]] = {}
    for task, block in ((run.results["metrics"].get("scores") or {}).get("by_dataset") or {}).items():
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


def _identity(run: Run) -> dict[str, Any]:
    model = run.results["model"]
    return {
        "run": run.name,
        "run_id": run.run_id,
        "model": run.model,
        "revision": model.get("revision"),
        "method": run.method,
        "backend": model.get("backend"),
        "dtype": model.get("dtype"),
        "rows": int(sum(info["rows"] for info in run.results["tasks"].values())),
        "invalid": int(sum(info["invalid_answers"] for info in run.results["tasks"].values())),
        "flags": run.flags,
        "probe": run.probe_finding,
    }


def _standard_groups(run: Run) -> list[dict[str, Any]]:
    """The standard layer's per-group values with the intervals ``clinfair eval`` computed."""
    rows = []
    standard = run.results["metrics"].get("standard", {}).get("by_dataset", {})
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


def _paper_groups(run: Run, paper: PaperCI) -> list[dict[str, Any]]:
    rows = []
    for task in run.tasks:
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


@dataclass
class Tables:
    leaderboard: pd.DataFrame
    scores: pd.DataFrame
    groups: pd.DataFrame
    scopes: list[str]  # "overall", then the tasks in first-seen order
    baseline: str | None = None  # the run others are marked against (mark_against_baseline)


def compute_tables(
    runs: Sequence[Run],
    *,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    ci_level: float = DEFAULT_CI_LEVEL,
    max_invalid: float = DEFAULT_MAX_INVALID,
) -> Tables:
    """Recompute and bootstrap the paper protocol of every run and assemble the three tables.

    Raises ``LeaderboardError`` when a run's predictions do not reproduce its results.json.
    """
    scopes = [OVERALL, *dict.fromkeys(task for run in runs for task in run.tasks)]
    references = split_references(runs)
    wide, scores, groups = [], [], []
    for run in runs:
        paper = paper_bootstrap(
            run.predictions,
            run.label_spaces,
            n_bootstrap=n_bootstrap,
            seed=seed,
            ci_level=ci_level,
            name=run.name,
        )
        check_paper_values(run, paper.report)
        identity = _identity(run) | _validity(run, max_invalid)
        identity["other_split"] = split_exclusion(run, references)  # not ranked on any column
        if identity["other_split"]:
            identity["unranked"] = "; ".join(filter(None, (identity["other_split"], identity["unranked"])))
        score_values = _score_values(run, scopes)
        row = dict(identity) | score_values
        scores += [
            {
                "run": run.name,
                "method": run.method,
                "model": run.model,
                "scope": key.rsplit(".", 1)[0],
                "metric": key.rsplit(".", 1)[1],
                "value": value,
                "ci_low": None,
                "ci_high": None,
                "ci_resamples": 0,
            }
            for key, value in score_values.items()
        ]
        for scope in scopes:
            for key in METRIC_KEYS:
                value = paper.point.get((scope, key))
                ci = paper.ci.get((scope, key))
                row[f"{scope}.{key}"] = value
                row[f"{scope}.{key}.ci_low"] = ci[0] if ci else None
                row[f"{scope}.{key}.ci_high"] = ci[1] if ci else None
                if (scope, key) in paper.point:
                    scores.append(
                        {
                            "run": run.name,
                            "method": run.method,
                            "model": run.model,
                            "scope": scope,
                            "metric": key,
                            "value": value,
                            "ci_low": ci[0] if ci else None,
                            "ci_high": ci[1] if ci else None,
                            "ci_resamples": paper.resamples[(scope, key)],
                        }
                    )
        wide.append(row)
        base = {"run": run.name, "method": run.method}
        groups += [base | {"layer": "paper"} | g for g in _paper_groups(run, paper)]
        groups += [base | {"layer": "standard"} | g for g in _standard_groups(run)]
    return Tables(
        leaderboard=_typed(pd.DataFrame(wide)),
        scores=_typed(pd.DataFrame(scores)),
        groups=_typed(pd.DataFrame(groups)),
        scopes=scopes,
    )


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns as float64 (None -> NaN) so parquet types do not depend on the data."""
    keys = (*METRIC_KEYS, *(m.key for m in SCORE_METRICS), "ci_low", "ci_high", "value")
    numeric = [c for c in frame.columns if c.split(".")[-1] in keys]
    for column in numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


# --------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------


def format_value(value: float | None, metric: Metric) -> str:
    """Fractions with 3 decimals, x100 values (PP, EOD) with 1; a dash where undefined."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{value:.1f}" if metric.percent else f"{value:.3f}"


def _cell(row: Mapping[str, Any], scope: str, metric: Metric, with_ci: bool) -> str:
    text = format_value(row.get(f"{scope}.{metric.key}"), metric)
    low, high = row.get(f"{scope}.{metric.key}.ci_low"), row.get(f"{scope}.{metric.key}.ci_high")
    if with_ci and text != "–" and low is not None and not np.isnan(low):
        text += f" [{format_value(low, metric)}, {format_value(high, metric)}]"
    return text


def _escape(text: Any) -> str:
    return str(text).replace("|", "\\|")


def _header(metric: Metric) -> str:
    return f"{metric.label} {'↑' if metric.higher_is_better else '↓'}"


def _ranked(row: Mapping[str, Any], metric: Metric) -> bool:
    """Whether a run competes on this column: not when it evaluated other rows (any column), nor when
    it does not really answer (gap and fairness columns)."""
    return not (row.get("other_split") or (metric.fairness and row.get("unranked")))


def _best(frame: pd.DataFrame, column: str, metric: Metric) -> float | None:
    """The best value of a column among the runs ranked on it, or None when fewer than two runs
    have one (nothing to compare)."""
    ranked = frame[[_ranked(row, metric) for row in frame.to_dict("records")]] if len(frame) else frame
    values = pd.to_numeric(ranked[column], errors="coerce").dropna()
    if len(values) < 2:
        return None
    return float(values.max() if metric.higher_is_better else values.min())


def mark_against_baseline(
    frame: pd.DataFrame, runs: Sequence[Run], baseline: str, *, n_bootstrap: int, seed: int, ci_level: float
) -> dict[str, str]:
    """Mark, in ``frame`` (columns ``<scope>.<key>.vs_baseline``), every paper value that differs from the
    baseline run's on the same rows by more than chance: the paired bootstrap of ``clinfair compare``
    (rows resampled within datasets; the interval excludes 0). Returns the runs that could not be
    compared (other rows or tasks) and why."""
    from clinfair.benchmark.compare import CompareError, EvalRun, align, paired_paper_keys

    by_name = {run.name: run for run in runs}
    if baseline not in by_name:
        raise LeaderboardError(f"--baseline {baseline!r} is not one of the runs ({', '.join(by_name)})")

    def as_eval_run(run: Run) -> EvalRun:
        return EvalRun(run.folder, run.name, run.method, dict(run.label_spaces), run.predictions)

    base = as_eval_run(by_name[baseline])
    skipped: dict[str, str] = {}
    for index, row in frame.iterrows():
        if row["run"] == baseline:
            continue
        try:
            base_rows, run_rows = align(base, as_eval_run(by_name[row["run"]]))
        except CompareError as error:
            skipped[row["run"]] = str(error)
            continue
        paired = paired_paper_keys(base_rows, run_rows, base.label_spaces, n_bootstrap, seed, ci_level)
        for scope, entries in paired.items():
            for key, entry in entries.items():
                if entry["significant"]:
                    frame.loc[index, f"{scope}.{key}.vs_baseline"] = (
                        "higher" if entry["difference"] > 0 else "lower"
                    )
    return skipped


def _significance(row: Mapping[str, Any], scope: str, metric: Metric) -> str:
    """'*' after a value that differs significantly from the baseline run's (see mark_against_baseline)."""
    direction = row.get(f"{scope}.{metric.key}.vs_baseline")
    return "*" if isinstance(direction, str) else ""


def markdown_table(
    frame: pd.DataFrame, scope: str, *, with_ci: bool, bold_best: bool, columns: Sequence[Metric] = METRICS
) -> str:
    """One scope of the wide table as a Markdown table, one row per run."""
    lines = [
        "| Run | Method | " + " | ".join(_header(m) for m in columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    best = {m.key: _best(frame, f"{scope}.{m.key}", m) for m in columns} if bold_best else {}
    for row in frame.to_dict("records"):
        cells = []
        for metric in columns:
            text = _cell(row, scope, metric, with_ci) + _significance(row, scope, metric)
            value = row.get(f"{scope}.{metric.key}")
            if not _ranked(row, metric):
                text += " †"  # not ranked: see the notes
            elif bold_best and best[metric.key] is not None and np.isclose(value, best[metric.key]):
                text = f"**{text}**"
            cells.append(text)
        flag = (" ⚠" if row.get("flags") else "") + (" ⚑" if row.get("probe") else "")
        lines.append(
            f"| {_escape(row['run'])}{flag} | {_escape(row['method'])} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def _notes(
    n_bootstrap: int,
    ci_level: float,
    flagged: Sequence[Mapping[str, Any]],
    unranked: Sequence[Mapping[str, Any]] = (),
    baseline: str | None = None,
    probed: Sequence[Mapping[str, Any]] = (),
) -> list[str]:
    notes = [
        "",
        "Paper protocol (DESIGN.md section 4): Acc, F1, ΔFPR, σF1, ΔF1 and F1_ES are fractions; "
        "PP = 100 × FDR gap and EOD = 100 × TPR gap. "
        f"Intervals: {ci_level:.0%} percentile bootstrap over {n_bootstrap} resamples of the prediction rows "
        "within dataset × sex × age-group strata.",
    ]
    for row in flagged:
        notes.append(f"⚠ {row['run']}: {row['flags']}")
    for row in unranked:
        where = "any column" if row.get("other_split") else "gap and fairness metrics"
        notes.append(f"† {row['run']} is not ranked on {where}: {row['unranked']}.")
    for row in probed:
        notes.append(f"⚑ {row['run']}, counterfactual probe (`clinfair probe`): {row['probe']}.")
    if baseline:
        notes.append(
            f"* differs from {baseline} on the same rows: paired bootstrap of the difference, its "
            f"{ci_level:.0%} interval excludes 0 (rows resampled within datasets; uncorrected; "
            "`clinfair compare` gives the intervals and p-values)."
        )
    return notes


def leaderboard_markdown(tables: Tables, *, n_bootstrap: int, ci_level: float, title: str) -> str:
    """Every scope's table with intervals (``leaderboard.md``)."""
    frame = tables.leaderboard
    parts = [f"# {title}", ""]
    for scope in tables.scopes:
        parts += [
            f"## {scope}",
            "",
            markdown_table(frame, scope, with_ci=True, bold_best=False, columns=COLUMNS),
            "",
        ]
    flagged = [row for row in frame.to_dict("records") if row["flags"]]
    unranked = [row for row in frame.to_dict("records") if row.get("unranked")]
    probed = [row for row in frame.to_dict("records") if row.get("probe")]
    return "\n".join(parts + _notes(n_bootstrap, ci_level, flagged, unranked, tables.baseline, probed)) + "\n"


def paper_markdown(tables: Tables, *, n_bootstrap: int, ci_level: float, title: str) -> str:
    """The paper's layout (``paper_table.md``): point values, best per column in bold, PP/EOD x100."""
    frame = tables.leaderboard
    parts = [f"# {title} — paper layout", ""]
    for scope in tables.scopes:
        parts += [f"## {scope}", "", markdown_table(frame, scope, with_ci=False, bold_best=True), ""]
    flagged = [row for row in frame.to_dict("records") if row["flags"]]
    unranked = [row for row in frame.to_dict("records") if row.get("unranked")]
    probed = [row for row in frame.to_dict("records") if row.get("probe")]
    return "\n".join(parts + _notes(n_bootstrap, ci_level, flagged, unranked, tables.baseline, probed)) + "\n"

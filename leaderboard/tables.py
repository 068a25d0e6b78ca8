"""The leaderboard tables, assembled from the statistics (``clinfair.leaderboard.statistics``) and
the ranking policy (``clinfair.leaderboard.ranking``); ``clinfair.leaderboard.markdown`` renders them.

Every number comes from the runs' ``predictions.parquet``: :func:`compute_tables` first
recomputes each run's metrics report and refuses a run whose ``results.json`` disagrees with it,
then bootstraps the paper protocol and the run-level columns. Three tables come out:

* ``leaderboard`` (wide): one row per run: identity columns (run, run_id, model, revision,
  method, backend, dtype, rows, invalid, settings, flags, probe), the ranking status
  (invalid_rate, exact_accuracy, majority_baseline, unranked, other_split), then per scope
  ``<scope>.<metric>``, ``<scope>.<metric>.ci_low`` and ``<scope>.<metric>.ci_high`` for every
  column of :data:`COLUMNS`: exact accuracy and invalid rate first;
* ``scores`` (long): run, method, scope (``overall`` or a task), metric, value, ci_low,
  ci_high, ci_resamples, for every column (the Space app's table);
* ``groups`` (long): per run, task, attribute and group, the ``paper`` layer's values (sex
  and age group, with the intervals of the same resamples) and the ``standard`` layer's
  (every attribute and intersection, with its bootstrap intervals), each with the group's
  invalid rate and, above ``--max-invalid``, why the cell is marked (``invalid_note``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from clinfair.benchmark.metrics import PAPER_ATTRIBUTES
from clinfair.leaderboard.defaults import DEFAULT_BOOTSTRAP, DEFAULT_CI_LEVEL, DEFAULT_MAX_INVALID
from clinfair.leaderboard.ranking import (
    comparison_exclusion,
    group_exclusion,
    ranking_exclusion,
    split_exclusion,
    split_references,
)
from clinfair.leaderboard.runs import LeaderboardError, Run, check_paper_values, settings_text
from clinfair.leaderboard.statistics import (
    COLUMNS,
    METRIC_KEYS,
    OVERALL,
    SCORE_METRICS,
    VALIDITY_KEYS,
    disagreement_message,
    disagreements,
    group_invalid_rates,
    paper_bootstrap,
    paper_groups,
    recompute_report,
    score_values,
    scored_predictions,
    standard_groups,
    task_counts,
    validity,
)


@dataclass
class Tables:
    leaderboard: pd.DataFrame
    scores: pd.DataFrame
    groups: pd.DataFrame
    scopes: list[str]  # "overall", then the tasks in first-seen order
    baseline: str | None = None  # the run others are marked against (mark_against_baseline)


def recompute(run: Run) -> dict[str, Any]:
    """Score the run's predictions again (``valid`` and ``correct`` included) and return the metrics
    report; raises :class:`LeaderboardError` naming the first value of its results.json that differs."""
    run.predictions = scored_predictions(run.predictions)
    report = recompute_report(run.predictions, run.results)
    check_paper_values(run, report["paper"])
    found = disagreements(run.results, report, task_counts(run.predictions))
    if found:
        raise LeaderboardError(disagreement_message(run.folder, found))
    return report


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
        "rows": int(len(run.predictions)),
        "invalid": int((~run.predictions["valid"]).sum()),
        "settings": settings_text(run.settings),
        "flags": run.flags,
        "probe": run.probe_finding,
    }


def _status(run: Run, references: dict[str, str], max_invalid: float) -> dict[str, Any]:
    """The run's validity numbers and why it is not ranked (None: it is)."""
    numbers = validity(run.predictions)
    other_split = split_exclusion(run, references)
    reasons = (
        other_split,
        comparison_exclusion(run),
        ranking_exclusion(
            numbers["invalid_rate"], numbers["exact_accuracy"], numbers["majority_baseline"], max_invalid
        ),
    )
    return numbers | {"unranked": "; ".join(filter(None, reasons)) or None, "other_split": other_split}


def _mark_groups(rows: list[dict[str, Any]], rates: dict[tuple, float], max_invalid: float) -> None:
    for row in rows:
        rate = rates.get((row["task"], row["attribute"], row["group"]))
        row["invalid_rate"] = rate
        row["invalid_note"] = group_exclusion(rate, max_invalid)


def compute_tables(
    runs: Sequence[Run],
    *,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    ci_level: float = DEFAULT_CI_LEVEL,
    max_invalid: float = DEFAULT_MAX_INVALID,
) -> Tables:
    """Recompute and bootstrap every run's values and assemble the three tables.

    Raises ``LeaderboardError`` when a run's predictions do not reproduce its results.json,
    before any bootstrap runs.
    """
    scopes = [OVERALL, *dict.fromkeys(task for run in runs for task in run.tasks)]
    reports = [recompute(run) for run in runs]  # every run checked before the long part
    references = split_references(runs)
    wide, scores, groups = [], [], []
    for run, report in zip(runs, reports):
        paper = paper_bootstrap(
            run.predictions,
            run.label_spaces,
            n_bootstrap=n_bootstrap,
            seed=seed,
            ci_level=ci_level,
            name=run.name,
        )
        row = _identity(run) | _status(run, references, max_invalid)
        scored = score_values(report, scopes)
        for scope in scopes:
            for key in (*VALIDITY_KEYS, *METRIC_KEYS):
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
            for metric in SCORE_METRICS:
                row[f"{scope}.{metric.key}"] = scored.get(f"{scope}.{metric.key}")
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
            for key, value in scored.items()
        ]
        wide.append(row)
        base = {"run": run.name, "method": run.method}
        paper_rows, standard_rows = paper_groups(run.tasks, paper), standard_groups(report)
        attributes = [*PAPER_ATTRIBUTES, *(row["attribute"] for row in standard_rows)]
        rates = group_invalid_rates(run.predictions, attributes)
        _mark_groups(paper_rows, rates, max_invalid)
        _mark_groups(standard_rows, rates, max_invalid)
        groups += [base | {"layer": "paper"} | g for g in paper_rows]
        groups += [base | {"layer": "standard"} | g for g in standard_rows]
    return Tables(
        leaderboard=_typed(pd.DataFrame(wide)),
        scores=_typed(pd.DataFrame(scores)),
        groups=_typed(pd.DataFrame(groups)),
        scopes=scopes,
    )


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns as float64 (None -> NaN) so parquet types do not depend on the data."""
    keys = {metric.key for metric in COLUMNS}
    numeric = [
        c
        for c in frame.columns
        if c in ("ci_low", "ci_high", "value", "invalid_rate")
        or ("." in c and c.split(".")[-1] in keys | {"ci_low", "ci_high"})
    ]
    for column in numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame

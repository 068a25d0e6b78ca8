"""The leaderboard's ranking policy: which runs compete, which value is best, what is marked.

A run is ranked (may be best, in bold, and on a Pareto frontier) only when nothing below
excludes it; an excluded run is still shown, greyed and marked † with its reason, in every table:

* **validity** (:func:`ranking_exclusion`): more invalid answers than ``--max-invalid``, or an
  exact accuracy not above the majority-class baseline. A model that does not really answer has
  small gaps and a one-vs-rest accuracy of 0.5 on a binary task for free; a leaderboard must not
  reward either;
* **rows** (:func:`split_exclusion`): it evaluated other rows of a task than the split most
  runs share, so none of its numbers compare with the others';
* **settings** (:func:`comparison_exclusion`): built with ``--allow-mixed``, it was evaluated
  otherwise than the reference runs (``clinfair.leaderboard.runs.comparability``: versions,
  protocol, rows, and the settings that change the numbers, such as max new tokens).

Per group, a cell whose group has more invalid answers than the same rule allows is marked
(:func:`group_exclusion`). :func:`mark_against_baseline` marks the values that differ from a
baseline run's beyond chance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from clinfair.benchmark.compare import CompareError, EvalRun, align, paired_paper_keys
from clinfair.benchmark.metrics import Metric
from clinfair.leaderboard.runs import LeaderboardError, Run


def ranking_exclusion(
    invalid_rate: float, exact: float, baseline: float | None, max_invalid: float
) -> str | None:
    """Why a run fails the validity rule (None: it passes): a model that does not really answer
    (too many invalid answers, or no better than always giving the most common answer)."""
    if invalid_rate > max_invalid:
        return f"{invalid_rate:.0%} invalid answers (more than {max_invalid:.0%})"
    if baseline is not None and exact <= baseline + 1e-12:
        return f"exact accuracy {exact:.1%} is not above the majority-class baseline {baseline:.1%}"
    return None


def group_exclusion(invalid_rate: float | None, max_invalid: float) -> str | None:
    """Why a per-group cell is marked (None: it is not): its group's answers are too often invalid."""
    if invalid_rate is not None and invalid_rate > max_invalid:
        return f"{invalid_rate:.0%} invalid answers in this group (more than {max_invalid:.0%})"
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
    """Why a run is not ranked because of its rows (None: it is): it evaluated other rows of a task than
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


def comparison_exclusion(run: Run) -> str | None:
    """Why a run built with ``--allow-mixed`` is not ranked with the others (None: it is): its
    evaluation setup or settings differ from the reference's (``run.flags``)."""
    return f"not evaluated like the other runs ({run.flags})" if run.flags else None


def is_ranked(row: Mapping[str, Any]) -> bool:
    """Whether a run competes (may be best, in bold, on a frontier): no exclusion gave it a reason."""
    reason = row.get("unranked")
    return not (isinstance(reason, str) and reason)


def best(frame: pd.DataFrame, column: str, metric: Metric) -> float | None:
    """The best value of a column among the ranked runs, or None when fewer than two ranked runs
    have one (nothing to compare)."""
    ranked = frame[[is_ranked(row) for row in frame.to_dict("records")]] if len(frame) else frame
    if column not in ranked:
        return None
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

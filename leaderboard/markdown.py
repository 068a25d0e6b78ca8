"""Rendering the leaderboard tables as Markdown: ``leaderboard.md``, ``paper_table.md`` and the
dataset card's table (``clinfair.leaderboard.hub``).

Every table starts with exact accuracy and the invalid rate; the paper protocol's columns are
headed ``(paper)``. A run the ranking policy excludes (``clinfair.leaderboard.ranking``) has
every cell marked † and is never bold; the notes under the tables give each reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from clinfair.benchmark.metrics import Metric
from clinfair.benchmark.metrics.registry import PAPER
from clinfair.leaderboard.ranking import best, is_ranked
from clinfair.leaderboard.statistics import COLUMNS, METRICS, VALIDITY_METRICS
from clinfair.leaderboard.tables import Tables

from clinfair.core.text import markdown_text as _escape  # user text: one line, no markup

#: The columns of ``paper_table.md`` and of the dataset card: the run-level ones, then the paper's.
PAPER_TABLE_COLUMNS = VALIDITY_METRICS + METRICS


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


def header(metric: Metric) -> str:
    """A column's header: its label (``(paper)`` for the paper protocol's) and its direction."""
    label = f"{metric.label} (paper)" if metric.layer == PAPER else metric.label
    return f"{label} {'↑' if metric.higher_is_better else '↓'}"


def _significance(row: Mapping[str, Any], scope: str, metric: Metric) -> str:
    """'*' after a value that differs significantly from the baseline run's (see mark_against_baseline)."""
    direction = row.get(f"{scope}.{metric.key}.vs_baseline")
    return "*" if isinstance(direction, str) else ""


def markdown_table(
    frame: pd.DataFrame,
    scope: str,
    *,
    with_ci: bool,
    bold_best: bool,
    columns: Sequence[Metric] = PAPER_TABLE_COLUMNS,
) -> str:
    """One scope of the wide table as a Markdown table, one row per run."""
    lines = [
        "| Run | Method | " + " | ".join(header(m) for m in columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    best_values = {m.key: best(frame, f"{scope}.{m.key}", m) for m in columns} if bold_best else {}
    for row in frame.to_dict("records"):
        ranked = is_ranked(row)
        cells = []
        for metric in columns:
            text = _cell(row, scope, metric, with_ci) + _significance(row, scope, metric)
            value = row.get(f"{scope}.{metric.key}")
            if not ranked:
                text += " †"  # not ranked: see the notes
            elif (
                bold_best
                and best_values[metric.key] is not None
                and value is not None
                and np.isclose(value, best_values[metric.key])
            ):
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
        "Exact acc: share of answers whose labels are exactly the true ones (an invalid answer is wrong); "
        "Invalid: share of answers that did not parse. Columns marked (paper) follow the FairGRPO paper's "
        "protocol (docs/design.md section 4): one-vs-rest per label, averaged over groups, so a model that never "
        "answers still gets Acc (paper) 0.5 on a binary task. Acc, F1, ΔFPR, σF1, ΔF1 and F1_ES are "
        "fractions; PP = 100 × FDR gap and EOD = 100 × TPR gap. "
        f"Intervals: {ci_level:.0%} percentile bootstrap over {n_bootstrap} resamples of the prediction rows "
        "within dataset × sex × age-group strata.",
    ]
    for row in flagged:
        notes.append(f"⚠ {_escape(row['run'])}: {_escape(row['flags'])}")
    for row in unranked:
        notes.append(f"† {_escape(row['run'])} is not ranked on any column: {_escape(row['unranked'])}.")
    for row in probed:
        notes.append(
            f"⚑ {_escape(row['run'])}, counterfactual probe (`clinfair probe`): {_escape(row['probe'])}."
        )
    if baseline:
        notes.append(
            f"* differs from {_escape(baseline)} on the same rows: paired bootstrap of the difference, its "
            f"{ci_level:.0%} interval excludes 0 (rows resampled within datasets; uncorrected; "
            "`clinfair compare` gives the intervals and p-values)."
        )
    return notes


def _all_notes(tables: Tables, n_bootstrap: int, ci_level: float) -> list[str]:
    records = tables.leaderboard.to_dict("records")
    flagged = [row for row in records if row["flags"]]
    unranked = [row for row in records if not is_ranked(row)]
    probed = [row for row in records if row.get("probe")]
    return _notes(n_bootstrap, ci_level, flagged, unranked, tables.baseline, probed)


def _settings_section(tables: Tables) -> list[str]:
    """Each run's settings that change the numbers (runs with other settings are flagged ⚠)."""
    lines = ["## Settings", "", "| Run | Settings |", "|---|---|"]
    for row in tables.leaderboard.to_dict("records"):
        flag = " ⚠" if row.get("flags") else ""
        lines.append(f"| {_escape(row['run'])}{flag} | {_escape(row.get('settings') or '–')} |")
    return [*lines, ""]


def leaderboard_markdown(tables: Tables, *, n_bootstrap: int, ci_level: float, title: str) -> str:
    """Every scope's table with intervals, then each run's settings (``leaderboard.md``)."""
    frame = tables.leaderboard
    parts = [f"# {_escape(title)}", ""]
    for scope in tables.scopes:
        parts += [
            f"## {_escape(scope)}",
            "",
            markdown_table(frame, scope, with_ci=True, bold_best=False, columns=COLUMNS),
            "",
        ]
    parts += _settings_section(tables)
    return "\n".join(parts + _all_notes(tables, n_bootstrap, ci_level)) + "\n"


def paper_markdown(tables: Tables, *, n_bootstrap: int, ci_level: float, title: str) -> str:
    """The paper's layout (``paper_table.md``): point values, best ranked value per column in bold,
    PP/EOD x100, exact accuracy and invalid rate first."""
    frame = tables.leaderboard
    parts = [f"# {_escape(title)} — paper layout", ""]
    for scope in tables.scopes:
        parts += [f"## {_escape(scope)}", "", markdown_table(frame, scope, with_ci=False, bold_best=True), ""]
    return "\n".join(parts + _all_notes(tables, n_bootstrap, ci_level)) + "\n"

"""The static ``index.html``: one self-contained file, readable offline and from any host.

CSS and JavaScript are inline and the figures are PNG data URIs, so the page makes no
request (its Content-Security-Policy forbids any). The table sorts by a click on a column
header (numbers numerically, undefined values last), a text box and a method menu hide
the rows that do not match, and a task menu switches the metric columns and figures
between ``overall`` and each task.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from clinfair.leaderboard.tables import COLUMNS, DEFAULT_MAX_INVALID, OVERALL, format_value

from clinfair.core.text import html_text


@dataclass(frozen=True)
class Figure:
    """A PNG written under ``plots/`` and shown on the page."""

    file: str  # path relative to the build folder, e.g. plots/groups_synthetic_sex.png
    png: bytes
    caption: str
    kind: str  # "scatter" | "groups" | "dynamics"
    scope: str | None = None  # scatter: the scope it plots
    task: str | None = None  # groups: the task it plots
    attribute: str | None = None  # groups: the attribute it plots (the page's attribute menu)

    def html(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        attributes = ""
        if self.kind == "scatter":
            attributes = f' data-scope="{html_text(self.scope or "")}"'
        elif self.kind == "groups":
            attributes = f' data-task="{html_text(self.task or "")}"'
            if self.attribute:
                attributes += f' data-attribute="{html_text(self.attribute)}"'
        return (
            f'<figure{attributes}><img src="data:image/png;base64,{data}" alt="{html_text(self.caption)}">'
            f"<figcaption>{html_text(self.caption)} — <code>{html_text(self.file)}</code></figcaption></figure>"
        )


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _text_cell(value: Any, css: str = "text") -> str:
    shown = "–" if _is_missing(value) or value == "" else str(value)
    return f'<td class="{css}" title="{html_text(shown)}">{html_text(shown)}</td>'


def _metric_cell(row: Mapping[str, Any], scope: str, metric) -> str:
    value = row.get(f"{scope}.{metric.key}")
    low, high = row.get(f"{scope}.{metric.key}.ci_low"), row.get(f"{scope}.{metric.key}.ci_high")
    data = "" if _is_missing(value) else repr(float(value))
    text = html_text(format_value(None if _is_missing(value) else value, metric))
    direction = row.get(f"{scope}.{metric.key}.vs_baseline")
    if isinstance(direction, str):
        text += f'<sup title="significantly {direction} than the baseline run (paired bootstrap)">*</sup>'
    if not _is_missing(value) and not _is_missing(low):
        text += f'<span class="ci">[{format_value(low, metric)}, {format_value(high, metric)}]</span>'
    hidden = "" if scope == OVERALL else " hidden"
    # shown greyed, never best, sorted after the ranked runs; other rows: on every column
    reason = _exclusion(row)
    if (metric.fairness or row.get("other_split")) and reason:
        return (
            f'<td class="unranked" data-scope="{html_text(scope)}" data-value="{data}" '
            f'title="{html_text(reason)}"{hidden}>{text}</td>'
        )
    return f'<td data-scope="{html_text(scope)}" data-value="{data}"{hidden}>{text}</td>'


#: Metric columns shown whatever the width (validity first, then the paper's headline values).
ALWAYS_SHOWN = ("exact_match", "invalid", "accuracy", "f1", "f1_es")
#: The other metric columns, in the order they fold behind the "more columns" toggle when the
#: table is wider than the window (the first folds first); a key not named here folds before them.
FOLD_ORDER = (
    "ece_gap",
    "auroc_gap",
    "worst_group_auroc",
    "f1_std",
    "fpr_gap",
    "pp",
    "f1_gap",
    "auroc",
    "eod",
)


def _fold_rank(key: str) -> int | None:
    """None: never folded; else the column's place in the folding order (0 folds first)."""
    if key in ALWAYS_SHOWN:
        return None
    return FOLD_ORDER.index(key) + 1 if key in FOLD_ORDER else 0


def _head(scopes: Sequence[str]) -> str:
    cells = [
        '<th class="text run" data-type="text">Run</th>',
        '<th class="text" data-type="text">Method</th>',
        '<th class="text model" data-type="text">Model</th>',
    ]
    for scope in scopes:
        hidden = "" if scope == OVERALL else " hidden"
        for metric in COLUMNS:
            arrow = "↑" if metric.higher_is_better else "↓"
            rank = _fold_rank(metric.key)
            fold = "" if rank is None else f' data-fold="{rank}"'
            cells.append(
                f'<th data-type="num" data-fairness="{int(metric.fairness)}" data-scope="{html_text(scope)}" '
                f'data-key="{html_text(scope)}.{metric.key}"{fold} '
                f'title="{html_text(metric.description)}"{hidden}>{html_text(metric.label)} '
                f'<span class="dir">{arrow}</span></th>'
            )
    return "".join(cells)


def _exclusion(row: Mapping[str, Any]) -> str | None:
    """Why a run is not ranked, as the page says it (None: ranked)."""
    if not row.get("unranked") or _is_missing(row.get("unranked")):
        return None
    scope = "" if row.get("other_split") else " on fairness"
    return f"not ranked{scope}: {row['unranked']}"


def _body(frame: pd.DataFrame, scopes: Sequence[str]) -> str:
    rows = []
    for row in frame.to_dict("records"):
        search = " ".join(str(row[c]) for c in ("run", "model", "method")).lower()
        flag = (
            f' <span class="flag" title="{html_text(row["flags"])}">⚠</span>'
            if row.get("flags") and not _is_missing(row["flags"])
            else ""
        )
        if row.get("probe") and not _is_missing(row["probe"]):
            flag += (
                f' <span class="flag probe" title="counterfactual probe: {html_text(row["probe"])}">⚑</span>'
            )
        reason = _exclusion(row)
        note = f'<span class="reason">{html_text(reason)}</span>' if reason else ""
        cells = [
            f'<td class="text run" title="{html_text(row["run"])}"><strong>{html_text(row["run"])}</strong>'
            f"{flag}{note}</td>",
            _text_cell(row["method"]),
            _text_cell(row["model"], "text model"),
        ]
        cells += [_metric_cell(row, scope, metric) for scope in scopes for metric in COLUMNS]
        css = ' class="invalid"' if reason else ""
        rows.append(
            f'<tr data-run="{html_text(row["run"])}" data-method="{html_text(row["method"])}" '
            f'data-unranked="{2 if row.get("other_split") else 1 if reason else 0}" '
            f'data-search="{html_text(search)}"{css}>{"".join(cells)}</tr>'
        )
    return "".join(rows)


def _runs_body(frame: pd.DataFrame) -> str:
    rows = []
    for row in frame.to_dict("records"):
        reason = _exclusion(row)
        cells = [_text_cell(row["run"], "text run")]
        cells += [_text_cell(row[c]) for c in ("model", "revision", "method", "backend", "dtype")]
        cells += [f"<td>{int(row['rows'])}</td>", f"<td>{int(row['invalid'])}</td>"]
        notes = "; ".join(t for t in (reason, row["flags"]) if t and not _is_missing(t))
        cells += [_text_cell(notes, "text wrap")]
        css = ' class="invalid"' if reason else ""
        rows.append(f"<tr{css}>" + "".join(cells) + "</tr>")
    return "".join(rows)


#: The standard-layer metrics of the per-group tables: (key, column label, higher is better).
GROUP_TABLE_METRICS = (
    ("accuracy", "Acc", True),
    ("macro_f1", "macro-F1", True),
    ("tpr", "TPR", True),
    ("fpr", "FPR", False),
    ("fdr", "FDR", False),
)


def _group_value(cell: Mapping[str, Any] | None) -> float | None:
    return None if cell is None or _is_missing(cell["value"]) else float(cell["value"])


def _group_cell(cell: Mapping[str, Any] | None, worst: bool) -> str:
    value = _group_value(cell)
    if value is None:
        note = "" if cell is None or _is_missing(cell.get("note")) else str(cell["note"])
        return f'<td title="{html_text(note or "undefined")}">–</td>'
    text = f"{value:.3f}"
    if not _is_missing(cell["ci_low"]) and not _is_missing(cell["ci_high"]):
        text += f'<span class="ci">[{float(cell["ci_low"]):.3f}, {float(cell["ci_high"]):.3f}]</span>'
    css, title = [], []
    if worst:
        css.append("worst")
        title.append("worst group on this metric")
    invalid_note = cell.get("invalid_note")
    if isinstance(invalid_note, str) and invalid_note:  # the group answers too rarely to trust the value
        css.append("unranked")
        title.append(invalid_note)
    attributes = f' class="{" ".join(css)}" title="{html_text("; ".join(title))}"' if css else ""
    return f'<td data-value="{value!r}"{attributes}>{text}</td>'


def _groups_body(groups: pd.DataFrame | None) -> str:
    """The standard layer's values (intervals from ``clinfair eval``), one pivot per run, task and
    attribute: its groups (with rows) down, the metrics across, the worst group of each metric marked
    (lowest accuracy, F1, TPR; highest FPR, FDR). Groups without rows are left out."""
    if groups is None or not len(groups):
        return ""
    standard = groups[groups["layer"] == "standard"]
    blocks = []
    for (run, task, attribute), block in standard.groupby(["run", "task", "attribute"], sort=False):
        entries = []
        for group, part in block.groupby("group", sort=False):
            count = part["rows"].iloc[0]
            if _is_missing(count) or not int(count):
                continue
            entries.append((group, int(count), {row["metric"]: row for row in part.to_dict("records")}))
        if not entries:
            continue
        worst = {}
        for metric, _, higher in GROUP_TABLE_METRICS:
            values = [(_group_value(cells.get(metric)), group) for group, _, cells in entries]
            values = [(v, g) for v, g in values if v is not None]
            if len({v for v, _ in values}) > 1:  # groups that all agree have no worst one
                extreme = (min if higher else max)(v for v, _ in values)
                worst[metric] = {g for v, g in values if v == extreme}
        rows = []
        for group, count, cells in entries:
            row = [f'<td class="text">{html_text(group)}</td>', f"<td>{count}</td>"]
            row += [_group_cell(cells.get(m), group in worst.get(m, ())) for m, _, _ in GROUP_TABLE_METRICS]
            rows.append(f'<tr data-group="{html_text(group)}">{"".join(row)}</tr>')
        head = "".join(
            f"<th>{html_text(label)} {'↑' if higher else '↓'}</th>"
            for _, label, higher in GROUP_TABLE_METRICS
        )
        blocks.append(
            f'<div class="pivot" data-task="{html_text(task)}" data-attribute="{html_text(attribute)}" '
            f'data-group-run="{html_text(run)}"><h4>{html_text(run)} · {html_text(task)} · '
            f"{html_text(attribute)}</h4>"
            f'<table class="groups"><thead><tr><th class="text">Group</th><th>Rows</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )
    return "".join(blocks)


def _attribute_names(groups: pd.DataFrame | None, figures: Sequence[Figure]) -> list[str]:
    names = [] if groups is None or not len(groups) else list(groups["attribute"].astype(str))
    return list(dict.fromkeys([*names, *(f.attribute for f in figures if f.attribute)]))


def _warning(comparison: Mapping[str, Any]) -> str:
    if not comparison["mixed"]:
        return ""
    items = "".join(f"<li>{html_text(line)}</li>" for line in comparison["differences"])
    return (
        '<div class="warning" id="mixed-warning"><strong>Mixed evaluation setups (built with --allow-mixed).</strong> '
        "Rows marked ⚠ were not evaluated like the others; compare them with care:"
        f"<ul>{items}</ul></div>"
    )


def render_page(
    *,
    title: str,
    leaderboard: pd.DataFrame,
    scopes: Sequence[str],
    figures: Sequence[Figure],
    comparison: Mapping[str, Any],
    n_bootstrap: int,
    ci_level: float,
    clinfair_version: str,
    max_invalid: float = DEFAULT_MAX_INVALID,
    groups: pd.DataFrame | None = None,
) -> str:
    """The complete HTML document (``groups``: the build's per-group table, for the page's
    per-group values and its attribute menu)."""
    template = (
        resources.files("clinfair.leaderboard").joinpath("templates/index.html").read_text(encoding="utf-8")
    )
    methods = sorted(set(leaderboard["method"]))
    scatter = [f for f in figures if f.kind == "scatter"]
    group_figures = [f for f in figures if f.kind == "groups"]
    dynamics = [f for f in figures if f.kind == "dynamics"]
    dynamics_section = ""
    if dynamics:
        dynamics_section = "<h2>Training dynamics</h2>" + "".join(f.html() for f in dynamics)
    ci_text = (
        f"{ci_level:.0%} bootstrap interval"
        if n_bootstrap
        else "value (no bootstrap intervals: --n-bootstrap 0)"
    )
    definitions = "".join(
        f"<dt>{html_text(m.label)} {'↑' if m.higher_is_better else '↓'}</dt><dd>{html_text(m.description)}</dd>"
        for m in COLUMNS
    ) + (
        "<dt>intervals</dt><dd>"
        + html_text(
            f"{ci_level:.0%} percentile bootstrap over {n_bootstrap} resamples of the prediction rows, drawn "
            "with replacement within each dataset × sex × age-group stratum (group sizes fixed)."
        )
        + "</dd>"
    )
    subtitle = (
        f"{len(leaderboard)} run(s) · tasks: {', '.join(s for s in scopes if s != OVERALL)} · "
        "paper protocol of the FairGRPO authors (group-averaged values over sex and age group)"
    )
    replacements = {
        "title": html_text(title),
        "subtitle": html_text(subtitle),
        "warning": _warning(comparison),
        "method_options": "".join(f'<option value="{html_text(m)}">{html_text(m)}</option>' for m in methods),
        "scope_options": "".join(f'<option value="{html_text(s)}">{html_text(s)}</option>' for s in scopes),
        "table_head": _head(scopes),
        "table_body": _body(leaderboard, scopes),
        "ci_text": html_text(ci_text),
        "unranked_rule": html_text(
            f"more than {max_invalid:.0%} invalid answers, or exact accuracy not above the "
            "majority-class baseline"
        ),
        "scatter_figures": "".join(f.html() for f in scatter),
        "group_figures": "".join(f.html() for f in group_figures),
        "attribute_options": "".join(
            f'<option value="{html_text(a)}">{html_text(a)}</option>'
            for a in _attribute_names(groups, figures)
        ),
        "group_run_options": "".join(
            f'<option value="{html_text(r)}">{html_text(r)}</option>' for r in leaderboard["run"]
        ),
        "group_tables": _groups_body(groups),
        "dynamics_section": dynamics_section,
        "runs_body": _runs_body(leaderboard),
        "definitions": definitions,
        "footer": html_text(f"Built by clinfair {clinfair_version} (`clinfair leaderboard build`)."),
    }
    # one pass, so text taken from the runs (a run named "{{footer}}") is never substituted again
    return re.sub(r"\{\{(\w+)\}\}", lambda match: replacements[match.group(1)], template)

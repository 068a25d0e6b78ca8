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
from html import escape
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from clinfair.leaderboard.defaults import DEFAULT_MAX_INVALID
from clinfair.leaderboard.markdown import format_value
from clinfair.leaderboard.statistics import COLUMNS, OVERALL


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
            attributes = f' data-scope="{escape(self.scope or "")}"'
        elif self.kind == "groups":
            attributes = f' data-task="{escape(self.task or "")}"'
            if self.attribute:
                attributes += f' data-attribute="{escape(self.attribute)}"'
        return (
            f'<figure{attributes}><img src="data:image/png;base64,{data}" alt="{escape(self.caption)}">'
            f"<figcaption>{escape(self.caption)} — <code>{escape(self.file)}</code></figcaption></figure>"
        )


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _text_cell(value: Any, css: str = "text") -> str:
    shown = "–" if _is_missing(value) or value == "" else str(value)
    return f'<td class="{css}" title="{escape(shown)}">{escape(shown)}</td>'


def _metric_cell(row: Mapping[str, Any], scope: str, metric) -> str:
    value = row.get(f"{scope}.{metric.key}")
    low, high = row.get(f"{scope}.{metric.key}.ci_low"), row.get(f"{scope}.{metric.key}.ci_high")
    data = "" if _is_missing(value) else repr(float(value))
    text = escape(format_value(None if _is_missing(value) else value, metric))
    direction = row.get(f"{scope}.{metric.key}.vs_baseline")
    if isinstance(direction, str):
        text += f'<sup title="significantly {direction} than the baseline run (paired bootstrap)">*</sup>'
    if not _is_missing(value) and not _is_missing(low):
        text += f'<span class="ci">[{format_value(low, metric)}, {format_value(high, metric)}]</span>'
    hidden = "" if scope == OVERALL else " hidden"
    # shown greyed, never best, sorted after the ranked runs; other rows: on every column
    if row.get("unranked"):  # clinfair.leaderboard.ranking: an excluded run is ranked on no column
        reason = escape(f"not ranked: {row['unranked']}")
        return (
            f'<td class="unranked" data-scope="{escape(scope)}" data-value="{data}" title="{reason}"'
            f"{hidden}>{text}</td>"
        )
    return f'<td data-scope="{escape(scope)}" data-value="{data}"{hidden}>{text}</td>'


def _head(scopes: Sequence[str]) -> str:
    cells = [
        '<th class="text" data-type="text">Run</th>',
        '<th class="text" data-type="text">Method</th>',
        '<th class="text" data-type="text">Model</th>',
    ]
    for scope in scopes:
        hidden = "" if scope == OVERALL else " hidden"
        for metric in COLUMNS:
            arrow = "↑" if metric.higher_is_better else "↓"
            cells.append(
                f'<th data-type="num" data-fairness="{int(metric.fairness)}" data-scope="{escape(scope)}" '
                f'data-key="{escape(scope)}.{metric.key}" '
                f'title="{escape(metric.description)}"{hidden}>{escape(metric.label)} '
                f'<span class="dir">{arrow}</span></th>'
            )
    return "".join(cells)


def _body(frame: pd.DataFrame, scopes: Sequence[str]) -> str:
    rows = []
    for row in frame.to_dict("records"):
        search = " ".join(str(row[c]) for c in ("run", "model", "method")).lower()
        flag = f' <span class="flag" title="{escape(row["flags"])}">⚠</span>' if row.get("flags") else ""
        if row.get("probe"):
            flag += f' <span class="flag probe" title="counterfactual probe: {escape(row["probe"])}">⚑</span>'
        cells = [
            f'<td class="text"><strong>{escape(row["run"])}</strong>{flag}</td>',
            _text_cell(row["method"]),
            _text_cell(row["model"], "text model"),
        ]
        cells += [_metric_cell(row, scope, metric) for scope in scopes for metric in COLUMNS]
        rows.append(
            f'<tr data-run="{escape(row["run"])}" data-method="{escape(row["method"])}" '
            f'data-unranked="{2 if row.get("other_split") else 1 if row.get("unranked") else 0}" '
            f'data-search="{escape(search)}">{"".join(cells)}</tr>'
        )
    return "".join(rows)


def _runs_body(frame: pd.DataFrame) -> str:
    rows = []
    for row in frame.to_dict("records"):
        cells = [_text_cell(row[c]) for c in ("run", "model", "revision", "method", "backend", "dtype")]
        cells += [f"<td>{int(row['rows'])}</td>", f"<td>{int(row['invalid'])}</td>", _text_cell(row["flags"])]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(rows)


#: The standard-layer metrics of the per-group table: (key, column label).
GROUP_TABLE_METRICS = (
    ("accuracy", "Acc"),
    ("macro_f1", "macro-F1"),
    ("tpr", "TPR"),
    ("fpr", "FPR"),
    ("fdr", "FDR"),
)


def _group_cell(cell: Mapping[str, Any] | None) -> str:
    value = None if cell is None or _is_missing(cell["value"]) else float(cell["value"])
    if value is None:
        note = "" if cell is None or _is_missing(cell.get("note")) else str(cell["note"])
        return f'<td title="{escape(note or "undefined")}">–</td>'
    text = f"{value:.3f}"
    if not _is_missing(cell["ci_low"]) and not _is_missing(cell["ci_high"]):
        text += f'<span class="ci">[{float(cell["ci_low"]):.3f}, {float(cell["ci_high"]):.3f}]</span>'
    return f'<td data-value="{value!r}">{text}</td>'


def _groups_body(groups: pd.DataFrame | None) -> str:
    """One row per run, task, attribute and group with rows: the standard layer's values and the
    intervals ``clinfair eval`` computed (every attribute of the runs, e.g. fitzpatrick)."""
    if groups is None or not len(groups):
        return ""
    standard = groups[groups["layer"] == "standard"]
    rows = []
    for (run, task, attribute, group), part in standard.groupby(
        ["run", "task", "attribute", "group"], sort=False
    ):
        count = part["rows"].iloc[0]
        if _is_missing(count) or not int(count):
            continue
        by_metric = {row["metric"]: row for row in part.to_dict("records")}
        cells = [_text_cell(run), _text_cell(task), _text_cell(attribute), _text_cell(group)]
        cells.append(f"<td>{int(count)}</td>")
        cells += [_group_cell(by_metric.get(metric)) for metric, _ in GROUP_TABLE_METRICS]
        rows.append(
            f'<tr data-task="{escape(str(task))}" data-attribute="{escape(str(attribute))}">{"".join(cells)}</tr>'
        )
    return "".join(rows)


def _attribute_names(groups: pd.DataFrame | None, figures: Sequence[Figure]) -> list[str]:
    names = [] if groups is None or not len(groups) else list(groups["attribute"].astype(str))
    return list(dict.fromkeys([*names, *(f.attribute for f in figures if f.attribute)]))


def _warning(comparison: Mapping[str, Any]) -> str:
    if not comparison["mixed"]:
        return ""
    items = "".join(f"<li>{escape(line)}</li>" for line in comparison["differences"])
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
        f"<dt>{escape(m.label)} {'↑' if m.higher_is_better else '↓'}</dt><dd>{escape(m.description)}</dd>"
        for m in COLUMNS
    ) + (
        "<dt>intervals</dt><dd>"
        + escape(
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
        "title": escape(title),
        "subtitle": escape(subtitle),
        "warning": _warning(comparison),
        "method_options": "".join(f'<option value="{escape(m)}">{escape(m)}</option>' for m in methods),
        "scope_options": "".join(f'<option value="{escape(s)}">{escape(s)}</option>' for s in scopes),
        "table_head": _head(scopes),
        "table_body": _body(leaderboard, scopes),
        "ci_text": escape(ci_text),
        "unranked_rule": escape(
            f"more than {max_invalid:.0%} invalid answers, or exact accuracy not above the "
            "majority-class baseline"
        ),
        "scatter_figures": "".join(f.html() for f in scatter),
        "group_figures": "".join(f.html() for f in group_figures),
        "attribute_options": "".join(
            f'<option value="{escape(a)}">{escape(a)}</option>' for a in _attribute_names(groups, figures)
        ),
        "group_table_head": "".join(f"<th>{escape(label)}</th>" for _, label in GROUP_TABLE_METRICS),
        "group_table_body": _groups_body(groups),
        "dynamics_section": dynamics_section,
        "runs_body": _runs_body(leaderboard),
        "definitions": definitions,
        "footer": escape(f"Built by clinfair {clinfair_version} (`clinfair leaderboard build`)."),
    }
    # one pass, so text taken from the runs (a run named "{{footer}}") is never substituted again
    return re.sub(r"\{\{(\w+)\}\}", lambda match: replacements[match.group(1)], template)

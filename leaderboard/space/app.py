"""clinfair fairness leaderboard: a Gradio app (Hugging Face Space entry point).

It shows a leaderboard *build*: the folder ``clinfair leaderboard build`` writes, or the
Hub dataset ``clinfair leaderboard push`` made of it (same files). Set the source with the
``CLINFAIR_LEADERBOARD`` environment variable (a Space variable), as a local folder or a
dataset repository id (``ORG/NAME``, downloaded with ``huggingface_hub.snapshot_download``;
a private one needs an ``HF_TOKEN`` secret). Locally: ``clinfair leaderboard serve DIR``.

Tabs: the leaderboard (gradio_leaderboard; filter by task and method, search runs, choose
columns), per-group values (choose task, attribute, layer and metric; bar chart with
intervals and the table), the figures of the static page, and training dynamics when the
build has them.

This file imports only gradio, gradio_leaderboard, pandas, matplotlib and huggingface_hub
(``requirements.txt``), not clinfair: a Space runs it as it is. Everything it knows about
metrics (names, direction, definitions) comes from the build's ``manifest.json``.

Text is text: names from the runs (run, model, method, task, attribute, group) and the title
are never given to a Markdown component. They go into tables, menus and captions (which Gradio
shows as text), into HTML only through ``html.escape``, and into figures through
:func:`plot_text` (a copy of ``clinfair.core.text.plot_text``: no mathtext).
"""

from __future__ import annotations

import html
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import pandas as pd  # noqa: E402
from gradio_leaderboard import ColumnFilter, Leaderboard, SelectColumns  # noqa: E402
from PIL import Image  # noqa: E402

SOURCE_VARIABLE = "CLINFAIR_LEADERBOARD"
MANIFEST_FORMAT = "clinfair.leaderboard/1"


@dataclass
class Board:
    """The tables of one build, read into memory."""

    folder: Path
    manifest: dict[str, Any]
    scores: pd.DataFrame
    groups: pd.DataFrame
    dynamics: pd.DataFrame | None

    @property
    def labels(self) -> dict[str, str]:
        """Metric key -> column label with its better direction, e.g. ``f1`` -> ``F1 ↑``."""
        return {
            m["key"]: f"{m['label']} {'↑' if m['higher_is_better'] else '↓'}"
            for m in self.manifest["metrics"]
        }


def plot_text(value: Any) -> str:
    """``value`` as literal matplotlib text: one line (line breaks and control characters become
    spaces, bidirectional overrides are dropped), every ``$`` escaped so no mathtext is parsed.
    A copy of ``clinfair.core.text.plot_text`` (the Space cannot import clinfair; a test compares them)."""
    import unicodedata

    bidi = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    out = []
    for char in str(value):
        if char in bidi:
            continue
        out.append(" " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char)
    return "".join(out).replace("$", r"\$")


def _text(value: Any) -> str:
    """``value`` as HTML text (for ``gr.HTML``): every markup character escaped."""
    return html.escape(str(value), quote=True)


def resolve_source(source: str) -> Path:
    """A local build folder as it is; anything else is taken as a Hub dataset repository id."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if path.exists() or not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", source):
        raise FileNotFoundError(f"{source}: no such leaderboard folder (nor a Hub dataset id ORG/NAME)")
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id=source, repo_type="dataset"))


def load_board(folder: Path) -> Board:
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{folder} is not a clinfair leaderboard build (no manifest.json)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{manifest_path}: unsupported format {manifest.get('format')!r}")
    dynamics = folder / "dynamics.parquet"
    return Board(
        folder=folder,
        manifest=manifest,
        scores=pd.read_parquet(folder / "scores.parquet"),
        groups=pd.read_parquet(folder / "groups.parquet"),
        dynamics=pd.read_parquet(dynamics) if dynamics.is_file() else None,
    )


def _interval(low: float, high: float, percent: bool) -> str:
    if pd.isna(low) or pd.isna(high):
        return ""
    digits = 1 if percent else 3
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def leaderboard_frame(board: Board) -> pd.DataFrame:
    """One row per run and scope: the metric values, and each interval as a text column."""
    scores = board.scores
    labels = board.labels
    percent = {m["key"]: m["percent"] for m in board.manifest["metrics"]}
    flags = {run["run"]: run["flags"] for run in board.manifest["runs"]}
    status = {run["run"]: run_status(run) for run in board.manifest["runs"]}
    rows = []
    for (run, scope), block in scores.groupby(["run", "scope"], sort=False):
        first = block.iloc[0]
        row: dict[str, Any] = {
            "Run": run,
            "Method": first["method"],
            "Task": scope,
            "Status": status.get(run, ""),
            "Model": first["model"],
        }
        by_metric = block.set_index("metric")
        for key, label in labels.items():
            if key in by_metric.index:
                cell = by_metric.loc[key]
                digits = 1 if percent[key] else 3
                row[label] = None if pd.isna(cell["value"]) else round(float(cell["value"]), digits)
                row[f"{label} CI"] = _interval(cell["ci_low"], cell["ci_high"], percent[key])
        row["Flags"] = flags.get(run, "")
        rows.append(row)
    return pd.DataFrame(rows)


def run_status(run: dict[str, Any]) -> str:
    """The Status column: "ranked", or why the run is not (too many invalid answers, another
    split), as the page greys it."""
    reason = run.get("unranked")
    if not reason:
        return "ranked"
    return f"not ranked{'' if run.get('other_split') else ' on fairness'}: {reason}"


def group_rows(groups: pd.DataFrame, task: str, attribute: str, layer: str, metric: str) -> pd.DataFrame:
    """The per-group values of one task, attribute, layer and metric (the Groups tab's filters)."""
    chosen = groups[
        (groups["task"] == task)
        & (groups["attribute"] == attribute)
        & (groups["layer"] == layer)
        & (groups["metric"] == metric)
    ]
    return chosen[["run", "method", "group", "rows", "value", "ci_low", "ci_high", "note"]].reset_index(
        drop=True
    )


def group_figure(data: pd.DataFrame, metric: str):
    """Grouped bars: one bar per run in each group, with the interval (clipped to [0, 1]: every
    per-group metric is a rate) as an error bar. Groups without rows are left out; each tick
    names its group with its rows on a second line, turned when the labels would overlap."""
    figure, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    data = data[data["rows"].fillna(0).astype(float) > 0]
    if data.empty:
        ax.text(0.5, 0.5, "no values for this selection", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return figure
    groups = list(dict.fromkeys(data["group"]))
    counts = data.drop_duplicates("group").set_index("group")["rows"]
    runs = list(dict.fromkeys(data["run"]))
    width = 0.8 / len(runs)
    for i, run in enumerate(runs):
        rows = data[data["run"] == run].set_index("group").reindex(groups)
        values = rows["value"].astype(float)
        below = (values - rows["ci_low"].astype(float).clip(0, 1)).fillna(0).clip(lower=0)
        above = (rows["ci_high"].astype(float).clip(0, 1) - values).fillna(0).clip(lower=0)
        positions = [g + (i - (len(runs) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(positions, values.fillna(0), width, yerr=[below, above], capsize=2, label=plot_text(run))
    ax.set_xticks(range(len(groups)), [f"{plot_text(g)}\nn={int(counts[g])}" for g in groups])
    ax.set_ylim(0, 1.05)  # every per-group metric is a rate
    ax.set_ylabel(plot_text(metric))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(
        fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1)
    )  # beside, never on the bars
    renderer = figure.canvas.get_renderer()
    for rotation in (0, 45, 90):  # turn the labels until no two overlap
        for label in ax.get_xticklabels():
            label.set_rotation(rotation)
            label.set_horizontalalignment("right" if rotation == 45 else "center")
        figure.canvas.draw()
        boxes = [label.get_window_extent(renderer) for label in ax.get_xticklabels() if label.get_text()]
        if not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :]):
            break
    return figure


def _choices(frame: pd.DataFrame, column: str) -> list[str]:
    return list(dict.fromkeys(frame[column].astype(str)))


def create_app(source: str) -> gr.Blocks:
    """The app for one build (a local folder or a Hub dataset id)."""
    board = load_board(resolve_source(source))
    manifest = board.manifest
    table = leaderboard_frame(board)
    metric_labels = list(board.labels.values())
    groups = board.groups

    def select_groups(task: str, attribute: str, layer: str, metric: str):
        chosen = group_rows(groups, task, attribute, layer, metric)
        plt.close("all")  # the previous selection's figure
        return group_figure(chosen, metric), chosen.round(4)

    def attribute_choices(task: str, layer: str):
        rows = groups[(groups["task"] == task) & (groups["layer"] == layer)]
        attributes, metrics = _choices(rows, "attribute"), _choices(rows, "metric")
        return (
            gr.Dropdown(choices=attributes, value=attributes[0] if attributes else None),
            gr.Dropdown(choices=metrics, value=metrics[0] if metrics else None),
        )

    # system fonts: the default theme would fetch Google Fonts, and the app must work offline
    theme = gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )
    with gr.Blocks(title=manifest["title"], theme=theme) as app:
        gr.HTML(
            f"<h1>{_text(manifest['title'])}</h1><p>{len(manifest['runs'])} run(s) · built by clinfair "
            f"{_text(manifest['clinfair_version'])} · exact accuracy and invalid rate first, then the "
            "paper protocol (the FairGRPO authors'); intervals: "
            f"{manifest['settings']['ci_level']:.0%} bootstrap over {manifest['settings']['n_bootstrap']} "
            "resamples. Status: runs not ranked (too many invalid answers, or no better than the "
            "majority class) say why.</p>"
        )
        if manifest["comparison"]["mixed"]:
            gr.HTML(
                "<p><strong>⚠ Mixed evaluation setups:</strong> "
                + "; ".join(_text(line) for line in manifest["comparison"]["differences"])
                + "</p>"
            )
        with gr.Tabs():
            with gr.Tab("Leaderboard"):
                main = ["Run", "Method", "Task", "Status", *metric_labels]
                Leaderboard(
                    value=table,
                    datatype=["str" if table[c].dtype == object else "number" for c in table.columns],
                    search_columns=["Run", "Model"],
                    select_columns=SelectColumns(
                        default_selection=main,
                        cant_deselect=["Run", "Task"],
                        label="Columns (each metric also has its interval, '… CI')",
                    ),
                    filter_columns=[
                        ColumnFilter("Task", type="checkboxgroup", label="Task"),
                        ColumnFilter("Method", type="checkboxgroup", label="Method"),
                    ],
                    elem_id="clinfair-leaderboard",
                )
            with gr.Tab("Groups"):
                tasks = _choices(groups, "task") if len(groups) else []
                with gr.Row():
                    task = gr.Dropdown(tasks, value=tasks[0] if tasks else None, label="Task")
                    layer = gr.Dropdown(["paper", "standard"], value="paper", label="Layer")
                    first = groups[(groups["task"] == task.value) & (groups["layer"] == "paper")]
                    attributes, metrics = _choices(first, "attribute"), _choices(first, "metric")
                    attribute = gr.Dropdown(
                        attributes, value=attributes[0] if attributes else None, label="Attribute"
                    )
                    metric = gr.Dropdown(metrics, value=metrics[0] if metrics else None, label="Metric")
                plot = gr.Plot(label="per-group values (error bars: intervals)")
                values = gr.Dataframe(label="values", interactive=False)
                gr.Markdown(
                    "`paper`: the paper protocol's per-group values (sex, age group), intervals from the "
                    "leaderboard's bootstrap. `standard`: clinfair's standard layer (every attribute and "
                    "intersection; undefined rates are empty, with the reason in `note`), intervals from "
                    "`clinfair eval`."
                )
                inputs = [task, attribute, layer, metric]
                for control in (task, layer):
                    control.change(attribute_choices, [task, layer], [attribute, metric])
                for control in inputs:
                    control.change(select_groups, inputs, [plot, values])
                app.load(select_groups, inputs, [plot, values])
            with gr.Tab("Figures"):
                images = [
                    (Image.open(io.BytesIO((board.folder / f["file"]).read_bytes())), f["caption"])
                    for f in manifest["figures"]
                    if (board.folder / f["file"]).is_file()
                ]
                gr.Gallery(images, columns=2, height="auto", label="figures of the static page")
            if board.dynamics is not None:
                with gr.Tab("Training dynamics"):
                    dyn = board.dynamics
                    names = _choices(dyn, "metric")
                    picked = gr.Dropdown(names, value="f1" if "f1" in names else names[0], label="Metric")
                    line = gr.LinePlot(x="step", y="value", color="curve", label="validation, overall")

                    def curves(name: str) -> pd.DataFrame:
                        return dyn[(dyn["scope"] == "overall") & (dyn["metric"] == name)]

                    picked.change(curves, picked, line)
                    app.load(curves, picked, line)
            with gr.Tab("About"):
                gr.HTML(
                    "<ul>"
                    + "".join(
                        f"<li><strong>{_text(m['label'])}</strong> "
                        f"({'higher' if m['higher_is_better'] else 'lower'} is better): {_text(m['description'])}</li>"
                        for m in manifest["metrics"]
                    )
                    + "</ul>"
                )
                gr.Dataframe(
                    pd.DataFrame(
                        [
                            {
                                "Run": r["run"],
                                "Model": r["model"],
                                "Method": r.get("method"),
                                "Status": run_status(r),
                            }
                            for r in manifest["runs"]
                        ]
                    ),
                    label="runs",
                    interactive=False,
                    datatype="str",
                )
    return app


if __name__ == "__main__":
    create_app(os.environ.get(SOURCE_VARIABLE, "leaderboard")).launch()

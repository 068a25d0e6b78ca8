"""The leaderboard's figures, drawn with matplotlib's Agg backend (no display needed).

Every function returns PNG bytes: the build writes them under ``plots/`` and embeds the
same bytes in ``index.html`` as data URIs, so the page needs no network and no side files.
Each run keeps its colour across figures (the order the runs were given in).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

DPI = 110
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LINE_STYLES = ("-", "--", ":", "-.")
#: Training-dynamics panels: (metric key, title). Lower is better for all but F1.
DYNAMICS_PANELS = (("f1", "F1 ↑"), ("f1_gap", "ΔF1 ↓"), ("eod", "EOD (×100) ↓"), ("pp", "PP (×100) ↓"))


def _colours(names: Sequence[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {name: cmap(i % 10) for i, name in enumerate(names)}


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _error(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Asymmetric error-bar lengths; 0 where an interval is missing."""
    below = np.nan_to_num(values - low, nan=0.0).clip(min=0)
    above = np.nan_to_num(high - values, nan=0.0).clip(min=0)
    return np.vstack([below, above])


def group_bars(groups: pd.DataFrame, runs: Sequence[str], task: str, attribute: str) -> bytes:
    """F1 and accuracy of each group (paper layer) per run, with bootstrap intervals."""
    data = groups[
        (groups["layer"] == "paper") & (groups["task"] == task) & (groups["attribute"] == attribute)
    ]
    names = list(dict.fromkeys(data["group"]))
    colours = _colours(runs)
    shown = [run for run in runs if run in set(data["run"])]
    figure, axes = plt.subplots(1, 2, figsize=(7.5, 3.6), sharey=True, layout="constrained")
    width = 0.8 / max(len(shown), 1)
    positions = np.arange(len(names))
    for ax, metric, title in zip(axes, ("f1", "accuracy"), ("F1 ↑", "Acc ↑")):
        for i, run in enumerate(shown):
            rows = data[(data["run"] == run) & (data["metric"] == metric)].set_index("group").reindex(names)
            values = rows["value"].to_numpy(float)
            err = _error(values, rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float))
            ax.bar(positions + (i - (len(shown) - 1) / 2) * width, np.nan_to_num(values), width,
                   yerr=err, capsize=2, color=colours[run], label=run)  # fmt: skip
        counts = data.drop_duplicates("group").set_index("group")["rows"].reindex(names)
        ax.set_xticks(positions, [f"{g}\nn={int(n)}" for g, n in zip(names, counts)])
        ax.set_title(title)
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel(attribute)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(
        handles, labels, loc="outside lower center", ncol=min(len(shown), 4), fontsize=8, frameon=False
    )
    figure.suptitle(f"{task} by {attribute} (paper protocol, 95% bootstrap CI)", fontsize=10)
    return _png(figure)


def accuracy_gap_scatter(scores: pd.DataFrame, runs: Sequence[str], scope: str) -> bytes:
    """Performance against disparity for every run: Acc vs EOD and F1 vs ΔF1, with intervals."""
    data = scores[scores["scope"] == scope]
    colours = _colours(runs)
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    panels = (("accuracy", "eod", "Acc ↑", "EOD (×100) ↓"), ("f1", "f1_gap", "F1 ↑", "ΔF1 ↓"))
    for ax, (x_key, y_key, x_label, y_label) in zip(axes, panels):
        for index, run in enumerate(runs):
            rows = data[data["run"] == run].set_index("metric")
            if x_key not in rows.index or y_key not in rows.index:
                continue
            x, y = rows.loc[x_key], rows.loc[y_key]
            if pd.isna(x["value"]) or pd.isna(y["value"]):
                continue
            xerr = _error(np.array([x["value"]]), np.array([x["ci_low"]]), np.array([x["ci_high"]]))
            yerr = _error(np.array([y["value"]]), np.array([y["ci_low"]]), np.array([y["ci_high"]]))
            # a marker shape and a label offset per run keep runs with equal values apart
            ax.errorbar(x["value"], y["value"], xerr=xerr, yerr=yerr, fmt=MARKERS[index % len(MARKERS)],
                        color=colours[run], capsize=3, label=f"{run} ({x['method']})")  # fmt: skip
            ax.annotate(run, (x["value"], y["value"]), textcoords="offset points", xytext=(6, 5 + 11 * index),
                        fontsize=8)  # fmt: skip
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.grid(alpha=0.3)
        ax.margins(0.15)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    figure.suptitle(f"{scope}: performance vs group gap (paper protocol, 95% bootstrap CI)", fontsize=10)
    return _png(figure)


def dynamics_curves(frame: pd.DataFrame, scope: str = "overall") -> bytes:
    """F1, ΔF1, EOD and PP against the training step, one line per training run.

    Runs of one method (e.g. its seeds) share a colour and differ by line style, so a
    dozen runs stay readable.
    """
    data = frame[frame["scope"] == scope]
    curves = list(dict.fromkeys(data["curve"]))
    method_of = dict(zip(data["curve"], data["method"].fillna("")))
    colours = _colours(list(dict.fromkeys(method_of[curve] for curve in curves)))
    runs_so_far: Counter[str] = Counter()
    styles = {}  # the i-th run of a method: the i-th line style and marker
    for curve in curves:
        index = runs_so_far[method_of[curve]]
        runs_so_far[method_of[curve]] += 1
        styles[curve] = (LINE_STYLES[index % len(LINE_STYLES)], MARKERS[index % len(MARKERS)])
    figure, axes = plt.subplots(2, 2, figsize=(9, 5.6), sharex=True, layout="constrained")
    for ax, (metric, title) in zip(axes.ravel(), DYNAMICS_PANELS):
        for curve in curves:
            rows = data[(data["curve"] == curve) & (data["metric"] == metric)].dropna(subset=["value"])
            if not rows.empty:
                linestyle, marker = styles[curve]
                ax.plot(rows["step"], rows["value"], linestyle=linestyle, marker=marker, markersize=3,
                        color=colours[method_of[curve]], label=curve)  # fmt: skip
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("training step")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncol=min(len(handles), 3), fontsize=8,
                      frameon=False)  # fmt: skip
    figure.suptitle(f"Training dynamics ({scope}, validation split, paper protocol)", fontsize=10)
    return _png(figure)

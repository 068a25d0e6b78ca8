"""The leaderboard's figures, drawn with matplotlib's Agg backend (no display needed).

Every function returns PNG bytes: the build writes them under ``plots/`` and embeds the
same bytes in ``index.html`` as data URIs, so the page needs no network and no side files.
Runs are shown per method (a run without a method, e.g. an untrained model, is its own
series): the mean over a method's runs with the 95 % t-interval over seeds; each method keeps
its colour across figures (the order the runs were given in).

Every name drawn (method, run, task, attribute, group) goes through
:func:`clinfair.core.text.plot_text`, so a ``$`` in it is a dollar sign, never mathtext. Intervals
are clipped to their metric's range (a rate in [0, 1], ×100 values in [0, 100]); markers that
coincide are set a few points apart (their values unchanged); tick labels that would overlap are
turned until they do not.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from clinfair.benchmark.metrics import get_metric  # noqa: E402
from clinfair.benchmark.metrics.registry import PAPER  # noqa: E402
from clinfair.benchmark.seedstats import t_interval  # noqa: E402
from clinfair.tasks.attributes import DEMOGRAPHICS  # noqa: E402
from matplotlib.transforms import offset_copy  # noqa: E402

from clinfair.core.text import plot_text  # noqa: E402

DPI = 110
MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def _title(key: str) -> str:
    """A paper key's axis title from the registry, e.g. ``EOD (×100) ↓``."""
    metric = get_metric(PAPER, key)
    return f"{metric.scaled_label} {metric.arrow}"


#: Training-dynamics panels: (metric key, title).
DYNAMICS_PANELS = tuple((key, _title(key)) for key in ("f1", "f1_gap", "eod", "pp"))


def _bounds(key: str, layer: str = PAPER) -> tuple[float, float]:
    """The range of a metric's values: every value these figures plot is a rate or a gap between
    rates (a fraction in [0, 1]), stored ×100 for the percent metrics (PP, EOD)."""
    return (0.0, 100.0 if get_metric(layer, key).percent else 1.0)


def _clip(low: float, high: float, bounds: tuple[float, float]) -> tuple[float, float]:
    return float(np.clip(low, *bounds)), float(np.clip(high, *bounds))


def _overlapping(boxes: Sequence) -> bool:
    """Whether any two of the boxes (display-space Bbox) overlap."""
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def tick_label_boxes(figure, ax) -> list:
    """The display-space boxes of an axis's visible, non-empty x tick labels (the figure drawn)."""
    renderer = figure.canvas.get_renderer()
    return [
        label.get_window_extent(renderer)
        for label in ax.get_xticklabels()
        if label.get_visible() and label.get_text()
    ]


def fit_tick_labels(figure, axes: Sequence) -> None:
    """Turn the x tick labels of ``axes`` (45°, then 90°) until no two of them overlap."""
    for rotation in (0, 45, 90):
        for ax in axes:
            for label in ax.get_xticklabels():
                label.set_rotation(rotation)
                label.set_horizontalalignment("center" if rotation in (0, 90) else "right")
                label.set_rotation_mode("default" if rotation in (0, 90) else "anchor")
        figure.canvas.draw()
        if not any(_overlapping(tick_label_boxes(figure, ax)) for ax in axes):
            return


def _side_by_side(
    points: Sequence[tuple[float, float]], spans: tuple[float, float], step: float = 7.0
) -> list[float]:
    """A horizontal offset in points for each point: those that coincide (within 1 % of the axis
    spans) are spread ``step`` points apart around their value, the others stay where they are."""
    offsets = [0.0] * len(points)
    clusters: list[list[int]] = []
    for i, (x, y) in enumerate(points):
        for cluster in clusters:
            cx, cy = points[cluster[0]]
            if abs(x - cx) <= 0.01 * spans[0] and abs(y - cy) <= 0.01 * spans[1]:
                cluster.append(i)
                break
        else:
            clusters.append([i])
    for cluster in clusters:
        for k, i in enumerate(cluster):
            offsets[i] = (k - (len(cluster) - 1) / 2) * step
    return offsets


def _within(ax, x_bounds: tuple[float, float], y_bounds: tuple[float, float]) -> None:
    """Keep the axis limits (after the margins) within 3 % of the metrics' ranges: no negative gap axis."""
    for get, set_, (low, high) in (
        (ax.get_xlim, ax.set_xlim, x_bounds),
        (ax.get_ylim, ax.set_ylim, y_bounds),
    ):
        pad = 0.03 * (high - low)
        shown_low, shown_high = get()
        set_(max(shown_low, low - pad), min(shown_high, high + pad))


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


def _series(frame: pd.DataFrame, runs: Sequence[str]) -> dict[str, list[str]]:
    """Runs grouped by method (a run without a method is its own series), in the runs' order."""
    method_of = dict(zip(frame["run"], frame["method"])) if len(frame) else {}
    series: dict[str, list[str]] = {}
    for run in runs:
        if run in method_of:
            method = method_of[run]
            no_method = (
                method is None or pd.isna(method) or str(method) in ("", "-")
            )  # "-": the build's blank
            series.setdefault(run if no_method else str(method), []).append(run)
    return series


def _aggregate(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high) over a method's runs: the 95 % t-interval over seeds, or the single
    run's own bootstrap interval when there is one run."""
    present = ~np.isnan(values)
    if not present.any():
        return np.nan, np.nan, np.nan
    if present.sum() == 1:
        i = int(np.flatnonzero(present)[0])
        return float(values[i]), float(low[i]), float(high[i])
    interval = t_interval(values[present])
    return interval.mean, interval.mean - interval.half, interval.mean + interval.half


def _series_label(name: str, runs: Sequence[str]) -> str:
    return f"{name} ({len(runs)} seeds)" if len(runs) > 1 else name


#: The two metrics a group figure shows per layer: (metric key, panel title).
GROUP_PANELS = {
    "paper": (("f1", "F1 ↑"), ("accuracy", "Acc ↑")),
    "standard": (("macro_f1", "macro-F1 ↑"), ("accuracy", "Acc ↑")),
}


def group_bars_figure(
    groups: pd.DataFrame, runs: Sequence[str], task: str, attribute: str, layer: str = "paper"
):
    """The matplotlib figure of :func:`group_bars` (open; the caller closes it)."""
    data = groups[(groups["layer"] == layer) & (groups["task"] == task) & (groups["attribute"] == attribute)]
    counts = data.drop_duplicates("group").set_index("group")["rows"]
    # a group without rows has nothing to show (its values are undefined): left out
    names = [g for g in dict.fromkeys(data["group"]) if not pd.isna(counts.get(g)) and int(counts[g]) > 0]
    data = data[data["group"].isin(names)]
    series = _series(data, runs)
    colours = _colours(list(series))
    many = len(names) > 6  # one panel per row, as wide as the groups need
    width = max(8.0, 0.75 * len(names) * (1 if many else 2) + 1.5)
    figure, axes = plt.subplots(
        2 if many else 1,
        1 if many else 2,
        figsize=(width, 7.2 if many else 3.8),
        sharey=True,
        layout="constrained",
    )
    bar = 0.8 / max(len(series), 1)
    positions = np.arange(len(names))
    for ax, (metric, title) in zip(axes, GROUP_PANELS[layer]):
        bounds = _bounds(metric, layer)
        for i, (name, members) in enumerate(series.items()):
            stats = []
            for group in names:
                rows = data[data["run"].isin(members) & (data["metric"] == metric) & (data["group"] == group)]
                mean, low, high = _aggregate(
                    rows["value"].to_numpy(float),
                    rows["ci_low"].to_numpy(float),
                    rows["ci_high"].to_numpy(float),
                )
                stats.append((mean, *_clip(low, high, bounds)))
            values, low, high = (np.array(column) for column in zip(*stats)) if stats else ([], [], [])
            ax.bar(
                positions + (i - (len(series) - 1) / 2) * bar,
                np.nan_to_num(values),
                bar,
                yerr=_error(np.asarray(values), np.asarray(low), np.asarray(high)),
                capsize=2,
                color=colours[name],
                label=plot_text(_series_label(name, members)),
            )
        ax.set_xticks(positions, [f"{plot_text(g)}\nn={int(counts[g])}" for g in names])
        ax.set_title(title)
        ax.set_ylabel(title)  # the metric, not the attribute
        ax.set_xlabel(plot_text(f"{attribute} group (n: rows)"), fontsize=8)
        ax.set_ylim(bounds[0], bounds[1] * 1.05)
        ax.grid(axis="y", alpha=0.3)
    if not many:
        axes[1].tick_params(labelleft=False)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(
        handles, labels, loc="outside lower center", ncol=min(len(series), 4), fontsize=8, frameon=False
    )
    figure.suptitle(
        plot_text(f"{task} by {attribute}: mean per method, 95% interval over seeds"), fontsize=10
    )
    fit_tick_labels(figure, axes)
    return figure


def group_bars(
    groups: pd.DataFrame, runs: Sequence[str], task: str, attribute: str, layer: str = "paper"
) -> bytes:
    """F1 and accuracy of each group (of the paper layer, or of the standard layer for attributes
    the paper protocol does not have, e.g. fitzpatrick) per method: the mean over its runs with
    the 95 % t-interval over seeds (one run: its bootstrap interval), clipped to [0, 1]. Groups
    without rows are left out; each tick names its group with its rows on a second line."""
    return _png(group_bars_figure(groups, runs, task, attribute, layer))


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (higher x, lower y), by x.

    A low gap at low accuracy is then visibly not a win: it is on the frontier only if no
    method is both more accurate and fairer.
    """
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(
            (ox >= x and oy <= y) and (ox > x or oy < y) for j, (ox, oy) in enumerate(points) if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def accuracy_gap_scatter(
    scores: pd.DataFrame, runs: Sequence[str], scope: str, unranked: Collection[str] = ()
) -> bytes:
    """The PNG of :func:`accuracy_gap_scatter_figure`."""
    return _png(accuracy_gap_scatter_figure(scores, runs, scope, unranked))


def accuracy_gap_scatter_figure(
    scores: pd.DataFrame, runs: Sequence[str], scope: str, unranked: Collection[str] = ()
):
    """Performance against disparity per method: Acc vs EOD and F1 vs ΔF1.

    A method's marker is its mean over runs with the 95 % t-interval over seeds (one run: its
    bootstrap interval), clipped to the metric's range; its single runs are the small faint dots.
    Names are in the legend, not beside the points, so equal values cannot stack their labels, and
    markers at the same place are set a few points apart (values unchanged). The dashed line is the
    Pareto frontier of the methods whose runs are ranked; a method all of whose runs are
    ``unranked`` (too many invalid answers, or at the class prior) is drawn hollow and left off it.
    """
    data = scores[scores["scope"] == scope]
    series = _series(data, runs)
    colours = _colours(list(series))
    figure, axes = plt.subplots(1, 2, figsize=(9.5, 3.8), layout="constrained")
    panels = [(x, y, _title(x), _title(y)) for x, y in (("accuracy", "eod"), ("f1", "f1_gap"))]
    for ax, (x_key, y_key, x_label, y_label) in zip(axes, panels):
        x_bounds, y_bounds = _bounds(x_key), _bounds(y_key)
        points = []  # (index, name, members, runs' xs, runs' ys, (mean, low, high) of x, of y)
        for index, (name, members) in enumerate(series.items()):
            rows = data[data["run"].isin(members)]
            x = rows[rows["metric"] == x_key].set_index("run").reindex(members)
            y = rows[rows["metric"] == y_key].set_index("run").reindex(members)
            xs, ys = x["value"].to_numpy(float), y["value"].to_numpy(float)
            both = ~np.isnan(xs) & ~np.isnan(ys)
            if not both.any():
                continue
            px = _aggregate(xs[both], x["ci_low"].to_numpy(float)[both], x["ci_high"].to_numpy(float)[both])
            py = _aggregate(ys[both], y["ci_low"].to_numpy(float)[both], y["ci_high"].to_numpy(float)[both])
            points.append(
                (
                    index,
                    name,
                    members,
                    xs[both],
                    ys[both],
                    (px[0], *_clip(px[1], px[2], x_bounds)),
                    (py[0], *_clip(py[1], py[2], y_bounds)),
                )
            )
        spans = tuple(max(np.ptp([p[k][0] for p in points]), 1e-9) if points else 1.0 for k in (5, 6))
        offsets = _side_by_side([(p[5][0], p[6][0]) for p in points], spans)
        means: list[tuple[float, float]] = []
        for (index, name, members, xs, ys, px, py), offset in zip(points, offsets):
            shifted = offset_copy(ax.transData, fig=figure, x=offset, y=0, units="points")
            if len(members) > 1:
                ax.scatter(xs, ys, s=12, color=colours[name], alpha=0.3, linewidths=0, transform=shifted)
            hollow = set(members) <= set(unranked)
            ax.errorbar(
                px[0],
                py[0],
                xerr=_error(np.array([px[0]]), np.array([px[1]]), np.array([px[2]])),
                yerr=_error(np.array([py[0]]), np.array([py[1]]), np.array([py[2]])),
                fmt=MARKERS[index % len(MARKERS)],
                markersize=7,
                color=colours[name],
                capsize=3,
                mfc="white" if hollow else colours[name],
                label=plot_text(_series_label(name, members) + (" (not ranked)" if hollow else "")),
                transform=shifted,
            )
            if not hollow:  # runs that do not really answer cannot be a trade-off
                means.append((px[0], py[0]))
            # the limits hold the whole interval (an offset transform keeps it out of autoscaling)
            ax.update_datalim([(np.nanmin(px), np.nanmin(py)), (np.nanmax(px), np.nanmax(py))])
        front = [means[i] for i in pareto_front(means)]
        if len(front) > 1:
            ax.step(
                *zip(*front),
                where="post",
                color="black",
                linestyle="--",
                linewidth=1.6,
                alpha=0.75,
                zorder=4,
                label="Pareto frontier",
            )
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.grid(alpha=0.3)
        ax.margins(0.15)
        ax.autoscale_view()
        _within(ax, x_bounds, y_bounds)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    figure.suptitle(
        plot_text(
            f"{scope}: performance vs group gap (mean per method, 95% interval over seeds; dashed: Pareto frontier)"
        ),
        fontsize=10,
    )
    return figure


def reliability_diagrams(
    scores_block: dict, run: str, task: str, attributes: Sequence[str] = DEMOGRAPHICS
) -> bytes:
    """The PNG of :func:`reliability_figure`."""
    return _png(reliability_figure(scores_block, run, task, attributes))


def reliability_figure(scores_block: dict, run: str, task: str, attributes: Sequence[str] = DEMOGRAPHICS):
    """Per-group reliability diagrams of one run on one task (``results.json``'s score-based section):
    observed frequency against mean predicted probability in 15 equal-width bins, one line per
    group, a panel per attribute; the dotted diagonal is perfect calibration. Both axes span the
    plotted points (the same range on each, so the diagonal stays at 45°), not the whole [0, 1]:
    probabilities that all sit near 0.5 fill the panel. Binary tasks plot the positive label;
    others their first label with a curve."""
    present = [a for a in attributes if a in scores_block.get("attributes", {})]
    figure, axes = plt.subplots(
        1,
        max(len(present), 1),
        figsize=(4.2 * max(len(present), 1), 3.8),
        layout="constrained",
        squeeze=False,
    )
    label = scores_block.get("positive_label")
    for ax, attribute in zip(axes[0], present):
        groups = scores_block["attributes"][attribute]["groups"]
        colours = _colours(list(groups))
        plotted: list[float] = []
        for group, entry in groups.items():
            curves = entry.get("reliability") or {}
            curve = curves.get(label) if label in curves else next(iter(curves.values()), None)
            if not curve or not curve.get("prob_pred"):
                continue
            ece = (entry.get("metrics", {}).get("ece") or {}).get("value")
            name = f"{group} (n={entry.get('rows', 0)}" + (f", ECE {ece:.3f})" if ece is not None else ")")
            ax.plot(
                curve["prob_pred"],
                curve["prob_true"],
                marker="o",
                markersize=4,
                color=colours[group],
                label=plot_text(name),
            )
            plotted += [float(v) for v in (*curve["prob_pred"], *curve["prob_true"]) if v is not None]
        low, high = (min(plotted), max(plotted)) if plotted else (0.0, 1.0)
        pad = max(0.02, 0.08 * (high - low))
        low, high = max(0.0, low - pad), min(1.0, high + pad)
        ax.plot(
            [low, high], [low, high], color="0.6", linestyle=":", linewidth=1, label="perfect calibration"
        )
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_xlabel("mean predicted probability")
        ax.set_ylabel("observed frequency")
        ax.set_title(plot_text(attribute), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False, loc="best")
    figure.suptitle(
        plot_text(f"{task}: reliability per group, {run}" + (f" (label {label})" if label else "")),
        fontsize=10,
    )
    return figure


def dynamics_curves(frame: pd.DataFrame, scope: str = "overall") -> bytes:
    """F1, ΔF1, EOD and PP against the training step: per method, the mean over its runs
    (seeds) as a line with its 95 % t-interval as a band; each run a faint thin line."""
    data = frame[frame["scope"] == scope]
    method_of = dict(zip(data["curve"], data["method"].fillna("")))
    methods: dict[str, list[str]] = {}
    for curve in dict.fromkeys(data["curve"]):
        methods.setdefault(method_of[curve] or curve, []).append(curve)
    colours = _colours(list(methods))
    figure, axes = plt.subplots(2, 2, figsize=(9, 5.6), sharex=True, layout="constrained")
    for ax, (metric, title) in zip(axes.ravel(), DYNAMICS_PANELS):
        for name, curves in methods.items():
            rows = data[data["curve"].isin(curves) & (data["metric"] == metric)].dropna(subset=["value"])
            if rows.empty:
                continue
            table = rows.pivot_table(index="step", columns="curve", values="value", aggfunc="last")
            colour = colours[name]
            if len(curves) > 1:
                for curve in table.columns:
                    ax.plot(table.index, table[curve], color=colour, alpha=0.25, linewidth=0.7)
            mean = table.mean(axis=1)
            ax.plot(mean.index, mean, color=colour, linewidth=2, label=plot_text(_series_label(name, curves)))
            if len(curves) > 1:
                bands = [
                    t_interval(row.dropna()) if row.notna().sum() > 1 else None for _, row in table.iterrows()
                ]
                half = np.array([np.nan if b is None else b.half for b in bands])
                low, high = np.clip(mean - half, *_bounds(metric)), np.clip(mean + half, *_bounds(metric))
                ax.fill_between(mean.index, low, high, color=colour, alpha=0.18, linewidth=0)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("training step")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        figure.legend(
            handles, labels, loc="outside lower center", ncol=min(len(handles), 3), fontsize=8, frameon=False
        )
    figure.suptitle(
        plot_text(f"Training dynamics ({scope}, validation split): mean per method, 95% band over seeds"),
        fontsize=10,
    )
    return _png(figure)

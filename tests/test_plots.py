"""The leaderboard's figures aggregate runs per method: mean and 95 % t-interval over seeds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from clinfair.leaderboard.plots import _aggregate, _series, accuracy_gap_scatter, dynamics_curves, group_bars


def test_runs_are_grouped_by_method_and_a_run_without_method_stands_alone():
    frame = pd.DataFrame(
        {"run": ["base", "warm", "g-0", "f-0", "g-1"], "method": [None, "-", "grpo", "fairgrpo", "grpo"]}
    )
    assert _series(frame, ["base", "warm", "g-0", "f-0", "g-1", "absent"]) == {
        "base": ["base"],
        "warm": ["warm"],
        "grpo": ["g-0", "g-1"],
        "fairgrpo": ["f-0"],
    }


def test_aggregate_is_the_t_interval_over_seeds_or_the_single_runs_own_interval():
    mean, low, high = _aggregate(np.array([0.5, 0.7, np.nan]), np.zeros(3), np.ones(3))
    half = 12.7062 * math.sqrt(0.02) / math.sqrt(2)  # t(0.975, 1) · s / √2, s of (0.5, 0.7)
    assert (mean, low, high) == pytest.approx((0.6, 0.6 - half, 0.6 + half), abs=1e-4)
    assert _aggregate(np.array([np.nan, 0.4]), np.array([0, 0.3]), np.array([1, 0.5])) == (0.4, 0.3, 0.5)


def test_figures_render_for_several_seeds_per_method():
    runs = ["untrained", "grpo-0", "grpo-1", "fairgrpo-0", "fairgrpo-1"]
    method = [None, "grpo", "grpo", "fairgrpo", "fairgrpo"]
    scores = pd.DataFrame(
        [
            {
                "run": r,
                "method": m,
                "scope": "overall",
                "metric": k,
                "value": v,
                "ci_low": v - 0.1,
                "ci_high": v + 0.1,
            }
            for i, (r, m) in enumerate(zip(runs, method))
            for k, v in (("accuracy", 0.5 + i / 10), ("eod", 10.0 - i), ("f1", 0.4 + i / 10), ("f1_gap", 0.2))
        ]
    )
    groups = pd.DataFrame(
        [
            {
                "run": r,
                "method": m,
                "layer": "paper",
                "task": "synthetic",
                "attribute": "age_group",
                "group": g,
                "metric": k,
                "value": 0.6,
                "ci_low": 0.5,
                "ci_high": 0.7,
                "rows": 20,
            }
            for r, m in zip(runs, method)
            for g in ("A1", "A4")
            for k in ("f1", "accuracy")
        ]
    )
    curves = pd.DataFrame(
        [
            {"curve": r, "label": r, "method": m, "step": s, "scope": "overall", "metric": k, "value": s / 10}
            for r, m in zip(runs[1:], method[1:])
            for s in (0, 10, 20)
            for k in ("f1", "f1_gap", "eod", "pp")
        ]
    )
    for png in (
        accuracy_gap_scatter(scores, runs, "overall"),
        group_bars(groups, runs, "synthetic", "age_group"),
        dynamics_curves(curves),
    ):
        assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_pareto_front_by_hand():
    from clinfair.leaderboard.plots import pareto_front

    # (accuracy, gap): C is beaten by B on both; D has the lowest gap at the lowest accuracy: on the front
    points = [(0.90, 0.10), (0.80, 0.05), (0.70, 0.08), (0.50, 0.00), (0.90, 0.12)]
    assert pareto_front(points) == [3, 1, 0]


# --------------------------------------------------------------------------------------
# Readable figures: labels that never overlap, intervals inside the metric's range,
# coincident markers apart, reliability fitted to the points, names never mathtext
# --------------------------------------------------------------------------------------


def _group_rows(names, runs=("run-a", "run-b"), rows=40, layer="standard", metrics=("macro_f1", "accuracy")):
    return pd.DataFrame(
        [
            {
                "run": r,
                "method": None,
                "layer": layer,
                "task": "derm",
                "attribute": "fitzpatrick*age_group",
                "group": g,
                "metric": k,
                "value": np.nan if n == 0 else 0.5,
                "ci_low": np.nan if n == 0 else 0.4,
                "ci_high": np.nan if n == 0 else 0.6,
                "rows": n,
            }
            for r in runs
            for g, n in zip(names, rows if isinstance(rows, list) else [rows] * len(names))
            for k in metrics
        ]
    )


def test_group_tick_labels_never_overlap_and_empty_groups_are_left_out():
    import matplotlib.pyplot as plt
    from clinfair.leaderboard.plots import group_bars_figure, tick_label_boxes

    names = [
        f"type {t} · age {a}" for t in ("I-II", "III-IV", "V-VI") for a in ("18-39", "40-59", "60-79", "80+")
    ]
    names += ["nobody here", "$\\alpha$ group"]
    counts = [42, 103, 105, 7, 64, 88, 12, 230, 19, 5, 61, 33, 0, 17]
    figure = group_bars_figure(
        _group_rows(names, rows=counts), ["run-a", "run-b"], "derm", "fitzpatrick*age_group", "standard"
    )
    try:
        axes = figure.axes[:2]
        for ax in axes:
            boxes = tick_label_boxes(figure, ax)
            assert len(boxes) == 13  # 14 groups, the one without rows left out
            overlaps = [
                (i, j) for i, a in enumerate(boxes) for j, b in enumerate(boxes) if i < j and a.overlaps(b)
            ]
            assert overlaps == []
            labels = [label.get_text() for label in ax.get_xticklabels()]
            assert not any(label.startswith("nobody here") for label in labels)
            assert "type I-II · age 18-39\nn=42" in labels
            assert ax.get_ylabel() in ("macro-F1 ↑", "Acc ↑")  # the metric, not the attribute
        # the case is hard: flat, the same labels do collide (so the check above can fail)
        for ax in axes:
            for label in ax.get_xticklabels():
                label.set_rotation(0)
        figure.canvas.draw()
        boxes = tick_label_boxes(figure, axes[0])
        assert any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    finally:
        plt.close(figure)


def test_two_group_labels_stay_flat_and_apart():
    import matplotlib.pyplot as plt
    from clinfair.leaderboard.plots import group_bars_figure, tick_label_boxes

    figure = group_bars_figure(
        _group_rows(["F", "M"], layer="paper", metrics=("f1", "accuracy")),
        ["run-a"],
        "derm",
        "fitzpatrick*age_group",
    )
    try:
        for ax in figure.axes[:2]:
            boxes = tick_label_boxes(figure, ax)
            assert len(boxes) == 2 and not boxes[0].overlaps(boxes[1])
            assert all(label.get_rotation() == 0 for label in ax.get_xticklabels())
    finally:
        plt.close(figure)


def _scores(rows):
    return pd.DataFrame(
        [
            {"run": r, "method": m, "scope": "overall", "metric": k, "value": v, "ci_low": lo, "ci_high": hi}
            for r, m, k, v, lo, hi in rows
        ]
    )


def test_scatter_intervals_stay_inside_each_metrics_range():
    import matplotlib.pyplot as plt
    from clinfair.leaderboard.plots import accuracy_gap_scatter_figure

    # two seeds far apart: the t-interval over seeds (t(0.975, 1) = 12.7) runs far past 0 and 1
    rows = []
    for run, acc, eod, f1, gap in (("s0", 0.95, 2.0, 0.97, 0.01), ("s1", 0.99, 40.0, 0.99, 0.30)):
        rows += [
            (run, "grpo", "accuracy", acc, acc - 0.01, acc + 0.01),
            (run, "grpo", "eod", eod, eod - 1, eod + 1),
            (run, "grpo", "f1", f1, f1 - 0.01, f1 + 0.01),
            (run, "grpo", "f1_gap", gap, gap - 0.01, gap + 0.01),
        ]
    figure = accuracy_gap_scatter_figure(_scores(rows), ["s0", "s1"], "overall")
    try:
        for ax, (x_high, y_high) in zip(figure.axes[:2], ((1.0, 100.0), (1.0, 1.0))):
            segments = [s for c in ax.collections for s in getattr(c, "get_segments", lambda: [])()]
            assert segments  # the error bars
            points = np.concatenate(segments)
            assert points[:, 0].min() >= 0 and points[:, 0].max() <= x_high + 1e-12
            assert points[:, 1].min() >= 0 and points[:, 1].max() <= y_high + 1e-12
            # unclipped, the y interval would pass a bound (the case is a real one)
            half = 12.7062 * np.std([2.0, 40.0] if y_high == 100 else [0.01, 0.30], ddof=1) / np.sqrt(2)
            mean = 21.0 if y_high == 100 else 0.155
            assert mean - half < 0
    finally:
        plt.close(figure)


def test_coincident_markers_are_set_apart_with_their_values_unchanged():
    import matplotlib.pyplot as plt
    from clinfair.leaderboard.plots import MARKERS, accuracy_gap_scatter_figure

    rows = [
        (run, None, k, v, v, v)
        for run in ("same-a", "same-b", "other")
        for k, v in (
            ("accuracy", 0.6 if run != "other" else 0.8),
            ("eod", 10.0),
            ("f1", 0.5),
            ("f1_gap", 0.1),
        )
    ]
    figure = accuracy_gap_scatter_figure(_scores(rows), ["same-a", "same-b", "other"], "overall")
    try:
        ax = figure.axes[0]
        markers = [
            line
            for line in ax.lines
            if line.get_marker() in MARKERS  # the methods' markers, not the interval caps
        ]
        data = [tuple(line.get_xydata()[0]) for line in markers]
        shown = [tuple(line.get_transform().transform(line.get_xydata())[0]) for line in markers]
        assert data[0] == data[1] == (0.6, 10.0) and data[2] == (0.8, 10.0)
        points = figure.dpi / 72
        assert abs(shown[0][0] - shown[1][0]) >= 5 * points and shown[0][1] == pytest.approx(shown[1][1])
        # a marker that coincides with nothing is drawn at its value
        assert shown[2] == pytest.approx(tuple(ax.transData.transform((0.8, 10.0))))
    finally:
        plt.close(figure)


def test_reliability_axes_fit_the_points_and_keep_the_diagonal():
    import matplotlib.pyplot as plt
    from clinfair.leaderboard.plots import reliability_figure

    curve = {"1": {"prob_pred": [0.52, 0.53, 0.54], "prob_true": [0.50, 0.55, 0.53]}}
    block = {
        "positive_label": "1",
        "attributes": {
            "sex": {"groups": {g: {"rows": 30, "reliability": curve, "metrics": {}} for g in ("F", "M")}}
        },
    }
    figure = reliability_figure(block, "run $x$", "derm", ("sex",))
    try:
        ax = figure.axes[0]
        low, high = ax.get_xlim()
        assert 0.4 < low <= 0.50 and 0.54 <= high < 0.65 and ax.get_ylim() == (low, high)
        diagonal = [line for line in ax.lines if line.get_label() == "perfect calibration"]
        assert diagonal and list(diagonal[0].get_xdata()) == list(diagonal[0].get_ydata()) == [low, high]
        title = figure._suptitle
        assert title._preprocess_math(title.get_text()) == (
            "derm: reliability per group, run $x$ (label 1)",
            False,
        )
    finally:
        plt.close(figure)


def test_names_that_look_like_mathtext_are_drawn_as_written():
    import matplotlib.pyplot as plt
    from clinfair.leaderboard.plots import accuracy_gap_scatter_figure, group_bars_figure

    broken = "m $\\frac{$"  # unescaped, matplotlib refuses to draw it
    rows = [(broken, broken, k, 0.5, 0.4, 0.6) for k in ("accuracy", "eod", "f1", "f1_gap")]
    figure = accuracy_gap_scatter_figure(_scores(rows), [broken], "overall")
    try:
        figure.canvas.draw()
        legend = figure.axes[1].get_legend().get_texts()
        assert [t._preprocess_math(t.get_text()) for t in legend] == [(broken, False)]
    finally:
        plt.close(figure)
    figure = group_bars_figure(
        _group_rows([broken, "$y$"], runs=(broken,)), [broken], "derm", "fitzpatrick*age_group", "standard"
    )
    try:
        labels = [t._preprocess_math(t.get_text()) for t in figure.axes[0].get_xticklabels()]
        assert labels == [(f"{broken}\nn=40", False), ("$y$\nn=40", False)]
    finally:
        plt.close(figure)

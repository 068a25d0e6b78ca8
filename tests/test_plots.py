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

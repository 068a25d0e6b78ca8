"""The metric registry is the single source of metric keys, labels and directions, and
MetricFrame's typed results are the report's dicts.

Each consumer (leaderboard columns, lm-eval aggregations, the training callback's select_by,
``clinfair metrics``'s summary, the demo and study tables, the compare report) must take its
metrics from ``clinfair.benchmark.metrics.registry``; the last test scans the source for a second copy.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from clinfair.benchmark.metrics import (
    PAPER_KEYS,
    STANDARD_METRICS,
    MetricFrame,
    as_json,
    build_report,
    get_metric,
    paired_bootstrap,
    select_metrics,
)
from clinfair.benchmark.metrics.registry import (
    METRICS,
    PAPER,
    RUN,
    SCORE_GROUP,
    SCORE_SUMMARY,
    STANDARD,
    STUDY,
    VALIDATION,
)

ROOT = Path(__file__).resolve().parent.parent


def table(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = ["benign", "malignant"]
    answers = rng.choice(labels, size=n)
    rows = []
    for i, answer in enumerate(answers):
        p = float(rng.random())
        rows.append(
            {
                "dataset": "isic2020",
                "choices": labels,
                "answer": [str(answer)],
                "prediction": [str(answer)] if rng.random() < 0.7 else [str(rng.choice(labels))],
                "other": [str(rng.choice(labels))],
                "scores": [1 - p, p],
                "sex": ["F", "M"][i % 2],
                "age_group": ["A1", "A2", "A3", "A4"][i % 4],
            }
        )
    return pd.DataFrame(rows)


def test_report_keys_follow_the_registry_order():
    report = build_report(table(), n_bootstrap=0)
    assert tuple(report["paper"]["overall"]) == tuple(m.key for m in METRICS if m.layer == PAPER)
    group = report["standard"]["by_dataset"]["isic2020"]["overall"]
    assert tuple(group["metrics"]) == tuple(m.key for m in METRICS if m.layer == STANDARD) == STANDARD_METRICS
    scores = report["scores"]["by_dataset"]["isic2020"]
    score_keys = tuple(m.key for m in METRICS if m.layer == SCORE_GROUP)
    assert tuple(scores["overall"]["metrics"])[: len(score_keys)] == score_keys  # binary adds tpr, fpr
    summary = scores["attributes"]["sex"]["summary"]
    assert {m.key for m in METRICS if m.layer == SCORE_SUMMARY} <= set(summary)


def test_leaderboard_columns_are_registry_metrics():
    from clinfair.leaderboard.tables import COLUMNS, SCORE_METRICS, metric_definitions
    from clinfair.leaderboard.tables import METRICS as PAPER_COLUMNS

    assert all(column is get_metric(PAPER, column.key) for column in PAPER_COLUMNS)
    for column in SCORE_METRICS:  # the leaderboard only says how it reduces them over attributes
        declared = get_metric(column.layer, column.key)
        assert column.layer in (SCORE_GROUP, SCORE_SUMMARY)
        assert (column.label, column.higher_is_better, column.percent, column.fairness) == (
            declared.label,
            declared.higher_is_better,
            declared.percent,
            declared.fairness,
        )
        assert column.description.startswith(declared.description)
    definitions = metric_definitions()
    assert [d["key"] for d in definitions] == [c.key for c in COLUMNS]
    assert set(definitions[0]) == {"key", "label", "higher_is_better", "percent", "description", "fairness"}


def test_plots_and_compare_read_labels_from_the_registry():
    from clinfair.benchmark.compare import COMPARE_PAPER_KEYS, PAPER_KEY_LABELS
    from clinfair.leaderboard.plots import DYNAMICS_PANELS

    assert (
        PAPER_KEY_LABELS["pp"] == "PP (×100)"
        and PAPER_KEY_LABELS["f1_gap"] == get_metric(PAPER, "f1_gap").label
    )
    assert set(PAPER_KEY_LABELS) == set(COMPARE_PAPER_KEYS)
    assert dict(DYNAMICS_PANELS)["eod"] == "EOD (×100) ↓" and dict(DYNAMICS_PANELS)["f1"] == "F1 ↑"


def test_callback_select_by_choices_come_from_the_registry():
    from clinfair.trainers.callbacks import SELECTABLE

    expected = {m.key: m.higher_is_better for m in METRICS if m.layer in (PAPER, VALIDATION)}
    assert {key: higher for key, (higher, _) in SELECTABLE.items()} == expected
    record = {
        "overall": {"f1_gap": 0.25},
        "groups": {
            "d": {"sex": {"F": {"rows": 3, "f1": 0.5}, "M": {"rows": 2, "f1": 0.75}, "X": {"rows": 0}}}
        },
    }
    assert SELECTABLE["f1_gap"][1](record) == 0.25
    assert SELECTABLE["worst_group_f1"][1](record) == 0.5


def test_lmeval_aggregations_come_from_the_registry():
    from clinfair.benchmark.lmeval import harness

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))
    base = yaml.load(harness._base_yaml(512), Loader=Loader)
    declared = {f"paper_{m.key}": m.higher_is_better for m in select_metrics(PAPER)}
    declared |= {m.key: m.higher_is_better for m in select_metrics(RUN)}
    assert {entry["metric"]: entry["higher_is_better"] for entry in base["metric_list"]} == declared
    for key in PAPER_KEYS:
        entry = next(e for e in base["metric_list"] if e["metric"] == f"paper_{key}")
        assert entry["aggregation"] == f"clinfair.benchmark.lmeval.harness.paper_{key}"
        assert callable(getattr(harness, f"paper_{key}"))
    shipped = (ROOT / "benchmark" / "lmeval" / "tasks" / harness.BASE_FILE).read_text()
    assert shipped == harness._base_yaml(512)  # the shipped folder is the generated one


def test_application_tables_read_the_registry():
    from clinfair.commands.metrics import HEADLINE_KEYS, SUMMARY_KEYS, summary_table
    from clinfair.demo import PERCENT_KEYS, TABLE_METRICS
    from clinfair.study import LABELS, PAPER_METRICS

    assert LABELS == {m.key: m.label for m in METRICS if (m.layer == PAPER and m.key in PAPER_METRICS)} | {
        m.key: m.label for m in METRICS if m.layer == STUDY
    }
    labels = dict(TABLE_METRICS)
    assert (
        labels["exact"] == get_metric(RUN, "exact_match").label
        and labels["pp"] == get_metric(PAPER, "pp").label
    )
    assert PERCENT_KEYS == {m.key for m in METRICS if m.layer == PAPER and m.percent} == {"pp", "eod"}
    header = summary_table(build_report(table(), n_bootstrap=0)).splitlines()[0].split("  ")
    header = [cell.strip() for cell in header if cell.strip()]
    # exact accuracy and invalid rate first (issue 23), the rows, the paper keys, then "in overall"
    assert header[1:3] == [get_metric(RUN, key).label for key in HEADLINE_KEYS] == ["Exact acc", "Invalid"]
    assert [get_metric(PAPER, key).label for key in SUMMARY_KEYS] == header[4:-1]


def test_no_second_copy_of_metric_declarations():
    """Distinctive labels and the higher-is-better set appear in the registry only."""
    distinctive = {m.label for m in METRICS if re.search(r"[Δσ]|_ES|worst", m.label)}
    patterns = [re.compile(re.escape(f'"{label}"')) for label in distinctive]
    patterns.append(re.compile(r'"acc_es",\s*"f1_es"|HIGHER_IS_BETTER\s*=\s*frozenset'))
    offenders = []
    for package in ("benchmark", "trainers", "leaderboard", "clinfair"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "registry.py":
                continue
            text = path.read_text(encoding="utf-8")
            offenders += [f"{path.relative_to(ROOT)}: {p.pattern}" for p in patterns if p.search(text)]
    assert not offenders, offenders


def test_metric_frame_typed_results_are_the_report():
    df = table()
    frame = MetricFrame(df)
    report = frame.report(["sex", "sex*age_group"], n_bootstrap=40, seed=1)
    assert report.to_dict() == build_report(df, attributes=["sex", "sex*age_group"], n_bootstrap=40, seed=1)
    standard = report.standard.by_dataset["isic2020"]
    worst = standard.attributes["sex"].summary["accuracy"].worst
    accuracy = {g: r.metrics["accuracy"].value for g, r in standard.attributes["sex"].groups.items()}
    assert worst.group == min(accuracy, key=accuracy.get) and worst.value == min(accuracy.values())
    # exact-match accuracy by hand
    by_hand = (df["prediction"].str[0] == df["answer"].str[0]).groupby(df["sex"]).mean()
    assert accuracy == pytest.approx(by_hand.to_dict())
    paired = frame.paired("other", metric="accuracy", attribute="sex", n_bootstrap=30)
    assert as_json(paired) == paired_bootstrap(df, column_b="other", attribute="sex", n_bootstrap=30)
    assert paired.by_dataset["isic2020"]["overall"].difference == pytest.approx(
        (df["prediction"].str[0] == df["answer"].str[0]).mean()
        - (df["other"].str[0] == df["answer"].str[0]).mean()
    )

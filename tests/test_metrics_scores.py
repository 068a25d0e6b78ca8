"""Score-based layer: per-group AUROC, Brier and reliability curves against scikit-learn on
random data, ECE / ES-AUROC / equalized odds against hand-computed examples and fairlearn,
undefined values, bootstrap CIs, and the wiring into ``build_report`` and ``clinfair metrics``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from clinfair.benchmark.metrics import MetricsInputError, build_report, score_layer
from clinfair.benchmark.metrics.scores import GROUP_METRICS, SUMMARY_METRICS
from fairlearn.metrics import equalized_odds_difference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score

from clinfair.cli import main

ATTRIBUTES = ["sex", "age_group", "site", "sex*age_group"]
BINARY = ("benign", "malignant")  # positive label: malignant (the second, and "benign" is a negative name)
MULTICLASS = ("a", "b", "c", "d")
FINDINGS = ("x", "y", "z")


def random_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Three datasets with random scores; scores are rounded to 2 decimals so ties occur."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        common = {
            "sex": rng.choice(["F", "M", None], p=[0.45, 0.45, 0.1]),
            "age_group": rng.choice(["A1", "A2", "A3"]),  # A4 never occurs: an empty schema group
            "site": rng.choice(["s1", "s2"]),
        }
        p = round(float(rng.random()), 2)
        rows.append(
            {"dataset": "bin", "choices": list(BINARY), "answer": [str(rng.choice(BINARY))]}
            | {"scores": [1 - p, p]}
            | common
        )
        q = np.round(rng.dirichlet(np.ones(len(MULTICLASS))), 2)
        q[-1] = 1 - q[:-1].sum()
        rows.append(
            {"dataset": "mc", "choices": list(MULTICLASS), "answer": [str(rng.choice(MULTICLASS))]}
            | {"scores": q.tolist()}
            | common
        )
        present = [f for f in FINDINGS if rng.random() < 0.35] or ["x"]
        rows.append(
            {"dataset": "ml", "choices": list(FINDINGS), "answer": present}
            | {"scores": np.round(rng.random(len(FINDINGS)), 2).tolist()}
            | common
        )
    return pd.DataFrame(rows)


def group_rows(df: pd.DataFrame, attribute: str, group: str) -> pd.DataFrame:
    """The rows of one group, selected independently of the code under test."""
    mask = pd.Series(True, index=df.index)
    for name, value in zip(attribute.split("*"), group.split("|")):
        mask &= df[name] == value
    return df[mask]


def truth_and_scores(rows: pd.DataFrame, labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    y = np.array([[label in answer for label in labels] for answer in rows["answer"]], dtype=int)
    return y, np.array(rows["scores"].tolist(), dtype=float).reshape(-1, len(labels))


def every_group(report: dict, dataset: str):
    """(attribute, group name, group entry) for every group of the dataset, and the overall entry."""
    d = report["by_dataset"][dataset]
    yield None, None, d["overall"]
    for attribute, a in d["attributes"].items():
        for name, g in a["groups"].items():
            yield attribute, name, g


@pytest.fixture(scope="module")
def random_report() -> tuple[pd.DataFrame, dict]:
    df = random_frame()
    return df, score_layer(df, attributes=ATTRIBUTES, n_bootstrap=0, min_group_size=10)


def rows_of(df: pd.DataFrame, dataset: str, attribute: str | None, group: str | None) -> pd.DataFrame:
    rows = df[df["dataset"] == dataset]
    return rows if attribute is None else group_rows(rows, attribute, group)


def test_binary_auroc_brier_and_reliability_equal_sklearn(random_report):
    df, report = random_report
    assert report["by_dataset"]["bin"]["positive_label"] == "malignant"
    checked = 0
    for attribute, group, entry in every_group(report, "bin"):
        rows = rows_of(df, "bin", attribute, group)
        assert entry["rows"] == len(rows)
        if not len(rows):
            continue
        y, p = truth_and_scores(rows, BINARY)
        y, p = y[:, 1], p[:, 1]
        assert entry["metrics"]["auroc"]["value"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        assert entry["metrics"]["brier"]["value"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
        prob_true, prob_pred = calibration_curve(y, p, n_bins=15, strategy="uniform")
        curve = entry["reliability"]["malignant"]
        np.testing.assert_allclose(curve["prob_true"], prob_true, atol=1e-12)
        np.testing.assert_allclose(curve["prob_pred"], prob_pred, atol=1e-12)
        assert sum(curve["count"]) == len(rows)
        checked += 1
    assert checked == 14  # all rows, 2 sexes, 3 ages, 2 sites, 6 sex|age (A4 is empty)


def test_multiclass_auroc_is_ovr_macro_over_present_labels_and_brier_is_sklearns(random_report):
    df, report = random_report
    checked_full = checked_partial = 0
    for attribute, group, entry in every_group(report, "mc"):
        rows = rows_of(df, "mc", attribute, group)
        if not len(rows):
            continue
        y, p = truth_and_scores(rows, MULTICLASS)
        labels = y.argmax(axis=1)
        present = sorted(set(labels))
        expected = np.mean([roc_auc_score(labels == k, p[:, k]) for k in present])
        if len(present) == len(MULTICLASS):
            assert expected == pytest.approx(roc_auc_score(labels, p, multi_class="ovr"), abs=1e-12)
            checked_full += 1
        else:
            checked_partial += 1
        assert entry["metrics"]["auroc"]["value"] == pytest.approx(expected, abs=1e-12)
        for k in present:
            assert entry["per_label"][MULTICLASS[k]]["auroc"] == pytest.approx(
                roc_auc_score(labels == k, p[:, k]), abs=1e-12
            )
        assert entry["metrics"]["brier"]["value"] == pytest.approx(
            brier_score_loss(labels, p, labels=list(range(len(MULTICLASS)))), abs=1e-12
        )
        correct = labels == p.argmax(axis=1)
        prob_true, prob_pred = calibration_curve(correct, p.max(axis=1), n_bins=15, strategy="uniform")
        np.testing.assert_allclose(entry["reliability"]["top_label"]["prob_true"], prob_true, atol=1e-12)
        np.testing.assert_allclose(entry["reliability"]["top_label"]["prob_pred"], prob_pred, atol=1e-12)
    assert checked_full >= 10


def test_multilabel_auroc_per_finding_and_reliability_equal_sklearn(random_report):
    df, report = random_report
    assert report["by_dataset"]["ml"]["task"] == "multilabel"
    for attribute, group, entry in every_group(report, "ml"):
        rows = rows_of(df, "ml", attribute, group)
        if not len(rows):
            continue
        y, p = truth_and_scores(rows, FINDINGS)
        per_finding = []
        for k, finding in enumerate(FINDINGS):
            if len(set(y[:, k])) == 2:
                per_finding.append(roc_auc_score(y[:, k], p[:, k]))
                assert entry["per_label"][finding]["auroc"] == pytest.approx(per_finding[-1], abs=1e-12)
            else:
                assert entry["per_label"][finding]["auroc"] is None
            assert entry["per_label"][finding]["brier"] == pytest.approx(
                brier_score_loss(y[:, k], p[:, k], labels=[0, 1]), abs=1e-12
            )
            prob_true, prob_pred = calibration_curve(y[:, k], p[:, k], n_bins=15, strategy="uniform")
            np.testing.assert_allclose(entry["reliability"][finding]["prob_true"], prob_true, atol=1e-12)
            np.testing.assert_allclose(entry["reliability"][finding]["prob_pred"], prob_pred, atol=1e-12)
        assert entry["metrics"]["auroc"]["value"] == pytest.approx(np.mean(per_finding), abs=1e-12)


def test_ece_by_hand():
    # 15 bins of width 1/15. p 0.10 and 0.12 share bin 1 (y 0, 1): |1/2 - 0.11| x 2/5 = 0.156;
    # 0.70 (bin 10, y 1): 0.30 / 5 = 0.06; 0.90 (bin 13, y 0): 0.90 / 5 = 0.18;
    # 0.95 (bin 14, y 1): 0.05 / 5 = 0.01.  ECE = 0.406.
    p = [0.10, 0.12, 0.70, 0.90, 0.95]
    y = ["no", "yes", "yes", "no", "yes"]
    df = pd.DataFrame(
        {"dataset": "t", "choices": [["no", "yes"]] * 5, "answer": [[v] for v in y]}
        | {"scores": [[1 - v, v] for v in p], "sex": "F", "age_group": "A1"}
    )
    overall = score_layer(df, attributes=["sex"], n_bootstrap=0)["by_dataset"]["t"]["overall"]
    assert overall["metrics"]["ece"]["value"] == pytest.approx(0.406, abs=1e-12)
    assert overall["reliability"]["yes"]["bin"] == [1, 10, 13, 14]
    assert overall["reliability"]["yes"]["count"] == [2, 1, 1, 1]

    # Multi-class: top-label confidences 0.6 (right), 0.7 (wrong), 0.5 (right), one per bin:
    # ECE = (|1 - 0.6| + |0 - 0.7| + |1 - 0.5|) / 3 = 1.6 / 3.
    mc = pd.DataFrame(
        {"dataset": "m", "choices": [["a", "b", "c"]] * 3, "answer": [["a"], ["c"], ["a"]]}
        | {"scores": [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.25, 0.25]], "sex": "F", "age_group": "A1"}
    )
    overall = score_layer(mc, attributes=["sex"], n_bootstrap=0)["by_dataset"]["m"]["overall"]
    assert overall["metrics"]["ece"]["value"] == pytest.approx(1.6 / 3, abs=1e-12)


def two_group_frame() -> pd.DataFrame:
    # F: y 0 1 0 1, p .1 .9 .2 .8 -> AUROC 1.  M: y 0 1 0 1, p .6 .3 .4 .7 -> positives (.3, .7)
    # beat negatives (.6, .4) in 2 of 4 pairs -> 0.5.  All rows: positives .9 .8 .3 .7 vs negatives
    # .1 .2 .6 .4: 4 + 4 + 2 + 4 = 14 of 16 pairs -> 0.875.
    p = [0.1, 0.9, 0.2, 0.8, 0.6, 0.3, 0.4, 0.7]
    y = [0, 1, 0, 1, 0, 1, 0, 1]
    return pd.DataFrame(
        {
            "dataset": "t",
            "choices": [["no", "yes"]] * 8,
            "answer": [[["no", "yes"][v]] for v in y],
            "scores": [[1 - v, v] for v in p],
            "sex": ["F"] * 4 + ["M"] * 4,
            "age_group": "A1",
        }
    )


def test_es_auroc_gap_worst_group_and_equalized_odds_by_hand():
    report = score_layer(two_group_frame(), attributes=["sex"], n_bootstrap=0, min_group_size=1)
    d = report["by_dataset"]["t"]
    assert d["overall"]["metrics"]["auroc"]["value"] == pytest.approx(0.875)
    summary = d["attributes"]["sex"]["summary"]
    # ES = 0.875 / (1 + |1 - 0.875| + |0.5 - 0.875|) = 0.875 / 1.5
    assert summary["es_auroc"]["value"] == pytest.approx(0.875 / 1.5)
    assert summary["auroc_gap"]["value"] == pytest.approx(0.5)
    assert summary["worst_group_auroc"]["group"] == "M"
    assert summary["worst_group_auroc"]["value"] == pytest.approx(0.5)
    # At 0.5: F predicts 0 1 0 1 (TPR 1, FPR 0); M predicts 1 0 0 1 (TPR 1/2, FPR 1/2) -> EOD 1/2.
    groups = d["attributes"]["sex"]["groups"]
    assert groups["M"]["metrics"]["tpr"]["value"] == pytest.approx(0.5)
    assert groups["M"]["metrics"]["fpr"]["value"] == pytest.approx(0.5)
    assert summary["equalized_odds_difference"]["value"] == pytest.approx(0.5)
    # At 0.65: F unchanged; M predicts 0 0 0 1 (TPR 1/2, FPR 0) -> EOD 1/2 from the TPR gap alone.
    high = score_layer(two_group_frame(), attributes=["sex"], n_bootstrap=0, threshold=0.65)
    assert high["by_dataset"]["t"]["attributes"]["sex"]["groups"]["M"]["metrics"]["fpr"]["value"] == 0
    assert high["by_dataset"]["t"]["attributes"]["sex"]["summary"]["equalized_odds_difference"][
        "value"
    ] == pytest.approx(0.5)


def test_equalized_odds_equals_fairlearn(random_report):
    df, report = random_report
    rows = df[(df["dataset"] == "bin") & df["sex"].notna()]
    y = np.array([answer[0] == "malignant" for answer in rows["answer"]])
    p = np.array([scores[1] for scores in rows["scores"]])
    expected = equalized_odds_difference(y, p >= 0.5, sensitive_features=rows["sex"].to_numpy())
    summary = report["by_dataset"]["bin"]["attributes"]["sex"]["summary"]
    assert summary["equalized_odds_difference"]["value"] == pytest.approx(expected, abs=1e-12)
    assert report["by_dataset"]["mc"]["attributes"]["sex"]["summary"]["equalized_odds_difference"] == {
        "value": None,
        "ci": None,
        "ci_resamples": None,
        "reason": "binary tasks only",
    }


def test_undefined_values_are_null_with_a_reason():
    df = two_group_frame()
    df.loc[df["sex"] == "M", "answer"] = pd.Series([["yes"]] * 4, index=df.index[4:])  # M: one class
    report = score_layer(df, attributes=["sex", "age_group"], n_bootstrap=50)
    attributes = report["by_dataset"]["t"]["attributes"]
    m = attributes["sex"]["groups"]["M"]["metrics"]
    assert m["auroc"]["value"] is None and m["auroc"]["ci"] is None
    assert m["auroc"]["reason"] == "one class in group (every row: yes)"
    assert m["fpr"]["value"] is None and m["fpr"]["reason"] == "no negatives in group"
    assert m["ece"]["value"] is not None and m["brier"]["value"] is not None  # defined with one class
    summary = attributes["sex"]["summary"]
    assert summary["auroc_gap"]["value"] is None and "at least 2" in summary["auroc_gap"]["reason"]
    assert summary["es_auroc"]["value"] is None and summary["es_auroc"]["reason"]
    empty = attributes["age_group"]["groups"]["A4"]  # schema level without rows: listed, null
    assert empty["rows"] == 0 and empty["small"]
    assert all(empty["metrics"][k]["value"] is None for k in GROUP_METRICS)
    assert all(empty["metrics"][k]["reason"] == "no rows in group" for k in GROUP_METRICS)


def test_multiclass_group_with_one_label_and_partial_macro_reason():
    df = pd.DataFrame(
        {
            "dataset": "m",
            "choices": [["a", "b", "c"]] * 5,
            "answer": [["a"], ["a"], ["a"], ["b"], ["a"]],
            "scores": [[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.4, 0.4, 0.2]],
            "sex": ["F", "F", "M", "M", "M"],
            "age_group": "A1",
        }
    )
    groups = score_layer(df, attributes=["sex"], n_bootstrap=0)["by_dataset"]["m"]["attributes"]["sex"][
        "groups"
    ]
    assert groups["F"]["metrics"]["auroc"]["value"] is None
    assert groups["F"]["metrics"]["auroc"]["reason"] == "one class in group for every one of the labels"
    # M: labels a and b present, c absent -> mean of the a and b one-vs-rest AUROCs.
    assert (
        groups["M"]["metrics"]["auroc"]["reason"]
        == "mean over 2 of 3 labels; left out (one class in group): c"
    )


def test_bootstrap_ci_contains_point_and_is_deterministic():
    df = random_frame(n=150, seed=1)
    first = score_layer(df, attributes=["sex", "age_group"], n_bootstrap=200, seed=7)
    again = score_layer(df, attributes=["sex", "age_group"], n_bootstrap=200, seed=7)
    other = score_layer(df, attributes=["sex", "age_group"], n_bootstrap=200, seed=8)
    assert first == again
    assert first != other
    checked = 0
    for dataset in ("bin", "mc", "ml"):
        for _, _, entry in every_group(first, dataset):
            for metric in GROUP_METRICS:
                m = entry["metrics"][metric]
                if m["value"] is None:
                    continue
                low, high = m["ci"]
                assert low <= m["value"] + 1e-12 and m["value"] - 1e-12 <= high, (dataset, metric)
                checked += 1
        for attribute in first["by_dataset"][dataset]["attributes"].values():
            for metric in SUMMARY_METRICS:
                m = attribute["summary"][metric]
                if m["value"] is not None:
                    assert m["ci"][0] <= m["ci"][1]
    assert checked > 50


def test_rows_without_scores_are_left_out_and_counted():
    df = two_group_frame()
    extra = df.iloc[:3].copy()
    extra["scores"] = [None, [], [0.5]]  # null, empty, and one score for two choices
    report = score_layer(pd.concat([df, extra], ignore_index=True), attributes=["sex"], n_bootstrap=0)
    counts = report["by_dataset"]["t"]["counts"]
    assert counts["rows"] == 11 and counts["rows_scored"] == 8
    assert counts["rows_without_scores"] == 2
    assert counts["rows_with_scores_not_matching_choices"] == 1
    assert report["counts"]["rows_scored"] == 8
    assert report["by_dataset"]["t"]["overall"]["metrics"]["auroc"]["value"] == pytest.approx(0.875)


def test_scores_follow_each_rows_choice_order():
    df = two_group_frame()
    swapped = df.copy()
    swapped["choices"] = [["yes", "no"]] * 8
    swapped["scores"] = [list(reversed(s)) for s in df["scores"]]
    kwargs = {"attributes": ["sex"], "n_bootstrap": 0, "label_spaces": {"t": ["no", "yes"]}}
    assert score_layer(swapped, **kwargs) == score_layer(df, **kwargs)


def test_build_report_has_scores_section_only_with_scores():
    df = random_frame(n=60)
    df["prediction"] = [[c[int(np.argmax(s))]] for c, s in zip(df["choices"], df["scores"])]
    with_scores = build_report(df, n_bootstrap=20)
    without = build_report(df.drop(columns="scores"), n_bootstrap=20)
    all_null = build_report(df.assign(scores=None), n_bootstrap=20)
    assert "scores" in with_scores and "scores" not in without and "scores" not in all_null
    assert {k: v for k, v in with_scores.items() if k != "scores"} == without
    json.dumps(with_scores, allow_nan=False)
    assert set(with_scores["scores"]["by_dataset"]) == {"bin", "mc", "ml"}
    assert with_scores["scores"]["by_dataset"]["bin"]["attributes"].keys() == {
        "sex",
        "age_group",
        "sex*age_group",
    }


def test_bad_scores_raise_a_clear_error():
    df = two_group_frame()
    df["scores"] = "high"
    with pytest.raises(MetricsInputError, match="scores"):
        score_layer(df)
    with pytest.raises(MetricsInputError, match="choices"):
        score_layer(two_group_frame().drop(columns="choices"))


def test_cli_prints_the_score_summary(tmp_path, capsys):
    df = random_frame(n=80)
    df["prediction"] = [[c[int(np.argmax(s))]] for c, s in zip(df["choices"], df["scores"])]
    df.to_parquet(tmp_path / "p.parquet")
    assert main(["metrics", str(tmp_path / "p.parquet"), "--out", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "AUROC gap" in out and "ECE gap" in out
    report = json.loads((tmp_path / "r.json").read_text())
    auroc = report["scores"]["by_dataset"]["bin"]["overall"]["metrics"]["auroc"]["value"]
    assert f"{auroc:.3f}" in out
    df.drop(columns="scores").to_parquet(tmp_path / "q.parquet")
    assert main(["metrics", str(tmp_path / "q.parquet"), "--out", str(tmp_path / "s.json")]) == 0
    assert "AUROC" not in capsys.readouterr().out


binary_rows = st.lists(
    st.tuples(st.booleans(), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.8, 1.0]), st.sampled_from("FM")),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(binary_rows)
def test_binary_auroc_and_curve_match_sklearn_with_ties(rows):
    df = pd.DataFrame(
        {
            "dataset": "t",
            "choices": [["no", "yes"]] * len(rows),
            "answer": [["yes" if y else "no"] for y, _, _ in rows],
            "scores": [[1 - p, p] for _, p, _ in rows],
            "sex": [s for _, _, s in rows],
            "age_group": "A1",
        }
    )
    report = score_layer(df, attributes=["sex"], n_bootstrap=0)
    for _, group, entry in every_group(report, "t"):
        part = [r for r in rows if group is None or r[2] == group]
        if not part:
            assert entry["metrics"]["auroc"]["reason"] == "no rows in group"
            continue
        y = np.array([r[0] for r in part])
        p = np.array([r[1] for r in part])
        auroc = entry["metrics"]["auroc"]["value"]
        if len(set(y)) < 2:
            assert auroc is None and entry["metrics"]["auroc"]["reason"].startswith("one class")
        else:
            assert auroc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        prob_true, prob_pred = calibration_curve(y, p, n_bins=15, strategy="uniform")
        curve = entry["reliability"]["yes"]
        np.testing.assert_allclose(curve["prob_true"], prob_true, atol=1e-12)
        np.testing.assert_allclose(curve["prob_pred"], prob_pred, atol=1e-12)
        ece = sum(c * abs(t - q) for c, t, q in zip(curve["count"], prob_true, prob_pred)) / len(part)
        assert entry["metrics"]["ece"]["value"] == pytest.approx(ece, abs=1e-12)
        assert entry["metrics"]["brier"]["value"] == pytest.approx(
            brier_score_loss(y.astype(int), p, labels=[0, 1]), abs=1e-12
        )


def test_bootstrap_weights_give_the_metrics_of_the_resampled_rows():
    """Every CI comes from integer row weights: a weighted AUROC must be scikit-learn's with those sample
    weights, and a weighted ECE the ECE of the rows repeated that many times (binned here by hand)."""
    from clinfair.benchmark.metrics.scores import N_BINS, _ece_matrix, _Ranking

    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 300)
    p = np.round(rng.random(300), 2) * 0.99 + 0.001  # ties (AUROC counts them one half), never on a bin edge
    weights = rng.multinomial(300, np.full(300, 1 / 300), size=5)
    aurocs = _Ranking.of(y, p).auroc(weights.astype(float))
    eces = np.abs(weights @ _ece_matrix(y, p)).sum(axis=1) / weights.sum(axis=1)
    for w, auroc, ece in zip(weights, aurocs, eces):
        assert auroc == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-12)
        ry, rp = np.repeat(y, w), np.repeat(p, w)
        bins = np.minimum((rp * N_BINS).astype(int), N_BINS - 1)  # 15 equal-width bins, 1.0 in the last
        by_hand = sum(abs((ry[bins == b] - rp[bins == b]).sum()) for b in range(N_BINS)) / len(ry)
        assert ece == pytest.approx(by_hand, abs=1e-12)

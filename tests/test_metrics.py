"""Hand-computed checks of every paper-protocol number, of the standard layer, and fairlearn parity.

The expected values below are worked out by hand in the comments (one-vs-rest counts per
label, then the authors' averaging); none is copied from the code's output.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from clinfair.benchmark.metrics import (
    PAPER_KEYS,
    MetricFrame,
    MetricsInputError,
    build_report,
    paired_bootstrap,
    paper_protocol,
    standard_layer,
)

SQRT2, SQRT3 = math.sqrt(2), math.sqrt(3)


def frame(rows: list[tuple], dataset: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"dataset": dataset, "answer": answer, "prediction": prediction, "sex": sex, "age_group": age}
            for answer, prediction, sex, age in rows
        ]
    )


# Multi-class dataset "mc", labels a, b, c; None = invalid answer.
MC_ROWS = [
    (["a"], ["a"], "F", "A1"),  # r1
    (["b"], ["a"], "F", "A1"),  # r2
    (["c"], None, "F", "A2"),  # r3 invalid
    (["a"], ["a"], "M", "A2"),  # r4
    (["b"], ["b"], "M", "A3"),  # r5
    (["c"], ["b"], "M", "A3"),  # r6
    (["a"], ["c"], "F", "A3"),  # r7
    (["b"], ["b"], "M", "A1"),  # r8
]
# Multi-label dataset "ml", labels x, y.
ML_ROWS = [
    (["x", "y"], ["x"], "F", "A1"),  # s1
    (["x"], ["x", "y"], "F", "A2"),  # s2
    (["y"], ["y"], "M", "A1"),  # s3
    (["x"], None, "M", "A2"),  # s4 invalid
    (["y"], ["x", "y"], "M", "A2"),  # s5
]
# Binary dataset "noage": no age at all, so it is left out of the overall values.
NOAGE_ROWS = [
    (["yes"], ["yes"], "F", None),  # t1
    (["no"], ["yes"], "F", None),  # t2
    (["yes"], ["no"], "M", None),  # t3
    (["no"], None, "M", None),  # t4 invalid
]

# --- mc, by hand -------------------------------------------------------------------------
# F = r1 r2 r3 r7 (n=4).  a: TP r1, FP r2, FN r7, TN r3 -> acc 2/4, P 1/2, R 1/2, F1 1/2,
#   FPR 1/2, FDR 1/2.  b: FN r2, TN 3 -> acc 3/4, F1 0, TPR 0, FPR 0/3, FDR 0 (undefined).
#   c: FP r7, FN r3, TN 2 -> acc 2/4, F1 0, TPR 0, FPR 1/3, FDR 1/1.
#   F: acc (1/2+3/4+1/2)/3 = 7/12, f1 1/6, tpr 1/6, fpr (1/2+0+1/3)/3 = 5/18, fdr (1/2+0+1)/3 = 1/2
# M = r4 r5 r6 r8 (n=4).  a: TP r4, TN 3 -> acc 1, F1 1, TPR 1, FPR 0, FDR 0.
#   b: TP r5 r8, FP r6, TN r4 -> acc 3/4, P 2/3, R 1, F1 4/5, FPR 1/2, FDR 1/3.
#   c: FN r6, TN 3 -> acc 3/4, F1 0, TPR 0, FPR 0, FDR 0.
#   M: acc 5/6, f1 (1+4/5)/3 = 3/5, tpr 2/3, fpr 1/6, fdr 1/9
# A1 = r1 r2 r8: a: TP r1, FP r2, TN r8 -> acc 2/3, F1 2/3, TPR 1, FPR 1/2, FDR 1/2;
#   b: TP r8, FN r2, TN r1 -> acc 2/3, F1 2/3, TPR 1/2, FPR 0, FDR 0 (c absent from truth).
#   A1: acc 2/3, f1 2/3, tpr 3/4, fpr 1/4, fdr 1/4
# A2 = r3 r4: a: TP r4, TN r3 -> acc 1, F1 1, TPR 1; c: FN r3, TN r4 -> acc 1/2, all else 0.
#   A2: acc 3/4, f1 1/2, tpr 1/2, fpr 0, fdr 0
# A3 = r5 r6 r7: a: FN r7, TN 2 -> acc 2/3, rest 0; b: TP r5, FP r6, TN r7 -> acc 2/3, F1 2/3,
#   TPR 1, FPR 1/2, FDR 1/2; c: FP r7, FN r6, TN r5 -> acc 1/3, F1 0, TPR 0, FPR 1/2, FDR 1.
#   A3: acc 5/9, f1 2/9, tpr 1/3, fpr 1/3, fdr 1/2.   A4 has no row: 3 age groups count.
MC_SEX = {
    "mean": {"accuracy": 17 / 24, "f1": 23 / 60, "tpr": 5 / 12, "fpr": 2 / 9, "fdr": 11 / 36},
    "gap": {"accuracy": 1 / 4, "f1": 13 / 30, "tpr": 1 / 2, "fpr": 1 / 9, "fdr": 7 / 18},
    # two groups: sample std = |difference| / sqrt(2)
    "std": {"accuracy": 1 / 4 / SQRT2, "f1": 13 / 30 / SQRT2},
}
MC_AGE = {
    # acc 24/36, 27/36, 20/36: mean 71/108; squared deviations (in 1/36) 1/9+100/9+121/9 -> var 37/3
    # f1 12/18, 9/18, 4/18: mean 25/54; squared deviations (in 1/18) 121/9+4/9+169/9 -> var 49/3
    "mean": {"accuracy": 71 / 108, "f1": 25 / 54, "tpr": 19 / 36, "fpr": 7 / 36, "fdr": 1 / 4},
    "gap": {"accuracy": 7 / 36, "f1": 4 / 9, "tpr": 5 / 12, "fpr": 1 / 3, "fdr": 1 / 2},
    "std": {"accuracy": math.sqrt(37 / 3) / 36, "f1": 7 / (18 * SQRT3)},
}
MC = {
    "accuracy": 295 / 432,  # (17/24 + 71/108) / 2
    "f1": 457 / 1080,  # (23/60 + 25/54) / 2
    "tpr": 17 / 36,
    "fpr": 5 / 24,
    "fdr": 5 / 18,
    "acc_gap": 2 / 9,  # (1/4 + 7/36) / 2
    "f1_gap": 79 / 180,
    "tpr_gap": 11 / 24,
    "fpr_gap": 2 / 9,
    "fdr_gap": 4 / 9,
    "acc_std": (1 / 4 / SQRT2 + math.sqrt(37 / 3) / 36) / 2,
    "f1_std": (13 / 30 / SQRT2 + 7 / (18 * SQRT3)) / 2,
}

# --- ml, by hand -------------------------------------------------------------------------
# F = s1 s2: x: TP 2 -> acc 1, F1 1, TPR 1, FPR 0 (no negatives -> 0), FDR 0;
#   y: FP s2, FN s1 -> acc 0, F1 0, TPR 0, FPR 1/1, FDR 1/1.  F: acc 1/2, f1 1/2, tpr 1/2, fpr 1/2, fdr 1/2
# M = s3 s4 s5: x: FP s5, FN s4 (invalid), TN s3 -> acc 1/3, F1 0, TPR 0, FPR 1/2, FDR 1;
#   y: TP s3 s5, TN s4 -> acc 1, F1 1, TPR 1, FPR 0, FDR 0.   M: acc 2/3, f1 1/2, tpr 1/2, fpr 1/4, fdr 1/2
# A1 = s1 s3: x: TP s1, TN s3 -> acc 1, F1 1, TPR 1; y: TP s3, FN s1 -> acc 1/2, F1 2/3, TPR 1/2, FPR 0.
#   A1: acc 3/4, f1 5/6, tpr 3/4, fpr 0, fdr 0
# A2 = s2 s4 s5: x: TP s2, FP s5, FN s4 -> acc 1/3, F1 1/2, TPR 1/2, FPR 1/1, FDR 1/2;
#   y: TP s5, FP s2, TN s4 -> acc 2/3, F1 2/3, TPR 1, FPR 1/2, FDR 1/2.
#   A2: acc 1/2, f1 7/12, tpr 3/4, fpr 3/4, fdr 1/2
ML = {
    "accuracy": 29 / 48,  # sex mean 7/12, age mean 5/8
    "f1": 29 / 48,  # sex 1/2, age 17/24
    "tpr": 5 / 8,  # sex 1/2, age 3/4
    "fpr": 3 / 8,  # sex 3/8, age 3/8
    "fdr": 3 / 8,  # sex 1/2, age 1/4
    "acc_gap": 5 / 24,  # sex 1/6, age 1/4
    "f1_gap": 1 / 8,  # sex 0, age 1/4
    "tpr_gap": 0.0,
    "fpr_gap": 1 / 2,  # sex 1/4, age 3/4
    "fdr_gap": 1 / 4,  # sex 0, age 1/2
    "acc_std": (1 / 6 / SQRT2 + 1 / 4 / SQRT2) / 2,
    "f1_std": (0 + 1 / 4 / SQRT2) / 2,
}

# --- noage, by hand (sex only) -----------------------------------------------------------
# F = t1 t2: yes: TP t1, FP t2 -> acc 1/2, F1 2/3, TPR 1, FPR 1, FDR 1/2; no: FN t2, TN t1 -> acc 1/2, rest 0.
#   F: acc 1/2, f1 1/3, tpr 1/2, fpr 1/2, fdr 1/4
# M = t3 t4: yes: FN t3, TN t4 -> acc 1/2, rest 0; no: FP t3, FN t4 (invalid) -> acc 0, F1 0, TPR 0, FPR 1, FDR 1.
#   M: acc 1/4, f1 0, tpr 0, fpr 1/2, fdr 1/2
NOAGE = {
    "accuracy": 3 / 8,
    "f1": 1 / 6,
    "tpr": 1 / 4,
    "fpr": 1 / 2,
    "fdr": 3 / 8,
    "acc_gap": 1 / 4,
    "f1_gap": 1 / 3,
    "tpr_gap": 1 / 2,
    "fpr_gap": 0.0,
    "fdr_gap": 1 / 4,
    "acc_std": 1 / 4 / SQRT2,
    "f1_std": 1 / 3 / SQRT2,
}


def with_derived(values: dict[str, float]) -> dict[str, float]:
    """ES = value / (1 + std); PP and EOD are the FDR and TPR gaps x 100."""
    return values | {
        "acc_es": values["accuracy"] / (1 + values["acc_std"]),
        "f1_es": values["f1"] / (1 + values["f1_std"]),
        "pp": 100 * values["fdr_gap"],
        "eod": 100 * values["tpr_gap"],
    }


@pytest.fixture
def three_datasets() -> pd.DataFrame:
    return pd.concat(
        [frame(MC_ROWS, "mc"), frame(ML_ROWS, "ml"), frame(NOAGE_ROWS, "noage")], ignore_index=True
    )


def assert_close(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value, abs=1e-12), key


def test_paper_dataset_values_match_hand_computation(three_datasets):
    paper = paper_protocol(three_datasets)
    assert_close(paper["by_dataset"]["mc"], with_derived(MC))
    assert_close(paper["by_dataset"]["ml"], with_derived(ML))
    assert_close(paper["by_dataset"]["noage"], with_derived(NOAGE))


def test_paper_overall_skips_dataset_without_age(three_datasets):
    paper = paper_protocol(three_datasets)
    overall = {key: (MC[key] + ML[key]) / 2 for key in MC}  # noage left out
    # overall ES from the overall value and std, as the authors' code does
    assert_close(paper["overall"], with_derived(overall))
    detail = paper["detail"]
    assert detail["datasets_in_overall"] == ["mc", "ml"]
    assert detail["by_dataset"]["noage"]["included_in_overall"] is False
    assert "age" in detail["by_dataset"]["noage"]["reason"]


def test_paper_on_resampled_rows_equals_the_protocol_on_the_drawn_table(three_datasets):
    # the oracle encodes the drawn rows afresh; the frame reuses its encoding of the whole table
    # (rows drawn within each dataset, as the leaderboard and `clinfair compare` draw them)
    frame = MetricFrame(three_datasets)
    rng = np.random.default_rng(0)
    members = three_datasets.groupby("dataset").indices.values()
    for _ in range(5):
        rows = np.concatenate([rng.choice(positions, size=len(positions)) for positions in members])
        drawn = paper_protocol(three_datasets.take(rows))
        resampled = frame.paper(rows)
        assert (resampled.overall, resampled.by_dataset) == (drawn["overall"], drawn["by_dataset"])


def test_paper_group_and_attribute_detail(three_datasets):
    detail = paper_protocol(three_datasets)["detail"]["by_dataset"]["mc"]["attributes"]
    f_group = detail["sex"]["groups"]["F"]
    assert f_group["rows"] == 4
    for key, value in {"accuracy": 7 / 12, "f1": 1 / 6, "tpr": 1 / 6, "fpr": 5 / 18, "fdr": 1 / 2}.items():
        assert f_group[key] == pytest.approx(value, abs=1e-12)
    assert detail["age_group"]["groups"]["A4"] == {"rows": 0}
    for part in ("mean", "gap"):
        assert_close(detail["sex"][part], MC_SEX[part])
        assert_close(detail["age_group"][part], MC_AGE[part])
    for metric in ("accuracy", "f1"):
        assert detail["sex"]["std"][metric] == pytest.approx(MC_SEX["std"][metric], abs=1e-12)
        assert detail["age_group"]["std"][metric] == pytest.approx(MC_AGE["std"][metric], abs=1e-12)


def test_paper_attribute_with_one_group_does_not_count():
    # Every mc row is F: sex has one group, so the dataset's values are the age attribute's.
    df = frame([(a, p, "F", age) for a, p, _, age in MC_ROWS], "mc")
    paper = paper_protocol(df)
    values = paper["by_dataset"]["mc"]
    for metric, key in [
        ("accuracy", "accuracy"),
        ("f1", "f1"),
        ("tpr", "tpr"),
        ("fpr", "fpr"),
        ("fdr", "fdr"),
    ]:
        assert values[key] == pytest.approx(MC_AGE["mean"][metric], abs=1e-12)
    assert values["acc_gap"] == pytest.approx(MC_AGE["gap"]["accuracy"], abs=1e-12)
    assert values["f1_std"] == pytest.approx(MC_AGE["std"]["f1"], abs=1e-12)
    assert paper["detail"]["by_dataset"]["mc"]["attributes"]["sex"]["counted"] is False
    assert paper["overall"]["accuracy"] == pytest.approx(MC_AGE["mean"]["accuracy"], abs=1e-12)


def test_paper_dataset_where_no_attribute_counts_is_null():
    df = frame([(["a"], ["a"], "F", "A1"), (["b"], ["a"], "F", "A1")], "tiny")
    paper = paper_protocol(df)
    assert paper["by_dataset"]["tiny"] == dict.fromkeys(PAPER_KEYS)
    assert paper["overall"] == dict.fromkeys(PAPER_KEYS)


def test_paper_keys_are_exactly_the_published_names(three_datasets):
    report = build_report(three_datasets, n_bootstrap=0)
    assert list(report["paper"]) == ["overall", "by_dataset"]
    assert set(report["paper"]["overall"]) == set(PAPER_KEYS)
    assert all(set(values) == set(PAPER_KEYS) for values in report["paper"]["by_dataset"].values())
    json.dumps(report, allow_nan=False)


def test_unrecognised_and_null_demographics_are_in_no_group_and_counted(three_datasets):
    extra = frame([(["a"], ["b"], "X", "A9"), (["a"], ["a"], None, None)], "mc")
    report = build_report(pd.concat([three_datasets, extra], ignore_index=True), n_bootstrap=0)
    # the two extra rows join no paper group, so mc's values are unchanged
    assert_close(report["paper"]["by_dataset"]["mc"], with_derived(MC))
    assert report["counts"]["by_dataset"]["mc"]["unrecognised_demographics"] == {"sex": 1, "age_group": 1}
    assert report["counts"]["by_dataset"]["mc"]["null_demographics"]["sex"] == 1
    assert report["counts"]["null_demographics"]["age_group"] == 5  # the four noage rows and one extra


# --- standard layer -----------------------------------------------------------------------


def test_standard_layer_multiclass_by_hand():
    sex = standard_layer(frame(MC_ROWS, "mc"), attributes=["sex"], n_bootstrap=0)["by_dataset"]["mc"]
    groups = sex["attributes"]["sex"]["groups"]
    f = {m: e["value"] for m, e in groups["F"]["metrics"].items()}
    # F: exact matches r1 only -> 1/4. One-vs-rest over the label space {a, b, c}:
    # F1 a 2/(2+1+1) = 1/2, b 0/(0+0+1) = 0, c 0/(0+1+1) = 0 -> 1/6; TPR 1/2, 0, 0 -> 1/6;
    # FPR 1/2, 0, 1/3 -> 5/18; FDR a 1/2, b undefined (never predicted), c 1 -> 3/4;
    # selection a 2/4, b 0, c 1/4 -> 1/4.
    expected = {
        "accuracy": 1 / 4,
        "macro_f1": 1 / 6,
        "tpr": 1 / 6,
        "fpr": 5 / 18,
        "fdr": 3 / 4,
        "selection_rate": 1 / 4,
    }
    assert f == pytest.approx(expected, abs=1e-12)
    assert (
        "b" in groups["F"]["metrics"]["fdr"]["reason"] and "2 of 3" in groups["F"]["metrics"]["fdr"]["reason"]
    )
    assert groups["F"]["per_label"]["b"]["fdr"] is None
    # M: exact matches r4 r5 r8 -> 3/4; FDR a 0/1, b 1/3, c undefined -> 1/6
    assert groups["M"]["metrics"]["accuracy"]["value"] == pytest.approx(3 / 4)
    assert groups["M"]["metrics"]["fdr"]["value"] == pytest.approx(1 / 6)
    summary = sex["attributes"]["sex"]["summary"]
    assert summary["accuracy"]["worst"]["group"] == "F"
    assert summary["accuracy"]["gap"]["value"] == pytest.approx(1 / 2)
    assert summary["accuracy"]["ratio"]["value"] == pytest.approx(1 / 3)
    assert summary["fdr"]["worst"]["group"] == "F"  # higher FDR is worse
    assert summary["selection_rate"]["worst"]["value"] is None
    assert sex["task"] == "multiclass"


def test_standard_layer_undefined_rates_are_null_with_reason():
    # Group F has only negatives, group M only positives (single-class groups).
    rows = [(["no"], ["yes"], "F", "A1"), (["no"], ["no"], "F", "A1"), (["yes"], ["yes"], "M", "A2")]
    result = standard_layer(frame(rows, "bin"), attributes=["sex"], n_bootstrap=50)["by_dataset"]["bin"]
    groups = result["attributes"]["sex"]["groups"]
    assert result["positive_label"] == "yes"
    tpr_f = groups["F"]["metrics"]["tpr"]
    assert tpr_f["value"] is None and tpr_f["ci"] is None and "no positives" in tpr_f["reason"]
    fpr_m = groups["M"]["metrics"]["fpr"]
    assert fpr_m["value"] is None and "no negatives" in fpr_m["reason"]
    assert groups["F"]["metrics"]["fpr"]["value"] == pytest.approx(1 / 2)
    tpr_summary = result["attributes"]["sex"]["summary"]["tpr"]
    assert tpr_summary["gap"]["value"] is None and "at least 2" in tpr_summary["gap"]["reason"]
    assert groups["F"]["small"] and result["attributes"]["sex"]["small_groups"] == ["F", "M"]


def test_standard_layer_lists_empty_schema_groups():
    result = standard_layer(frame(MC_ROWS, "mc"), attributes=["age_group"], n_bootstrap=0)
    a4 = result["by_dataset"]["mc"]["attributes"]["age_group"]["groups"]["A4"]
    assert a4["rows"] == 0
    assert all(e["value"] is None and e["reason"] == "no rows in group" for e in a4["metrics"].values())


def test_invalid_answer_is_wrong_and_predicts_nothing():
    rows = [(["yes"], None, "F", "A1"), (["no"], None, "F", "A1"), (["yes"], ["yes"], "M", "A1")]
    result = standard_layer(frame(rows, "bin"), attributes=["sex"], n_bootstrap=0)["by_dataset"]["bin"]
    f = result["attributes"]["sex"]["groups"]["F"]["metrics"]
    assert f["accuracy"]["value"] == 0  # invalid answers are never right
    assert f["tpr"]["value"] == 0  # the true "yes" was not predicted
    assert f["fpr"]["value"] == 0  # nor was a false "yes"
    assert f["selection_rate"]["value"] == 0


def test_attribute_null_on_every_row_has_no_group_and_no_gap():
    df = frame(MC_ROWS, "mc")
    df["site"] = None
    result = standard_layer(df, attributes=["site"], n_bootstrap=20)["by_dataset"]["mc"]["attributes"]["site"]
    assert result["rows_with_null"] == 8 and result["groups"] == {}
    assert result["summary"]["accuracy"]["gap"]["value"] is None
    assert result["summary"]["accuracy"]["worst"]["reason"] == "no group with a defined value"


def test_intersections_and_attribute_dict_column():
    df = frame(MC_ROWS, "mc")
    df["attributes"] = [{"site": s} for s in ["s1", "s2", "s1", "s2", "s1", "s2", "s1", "s2"]]
    result = standard_layer(df, attributes=["sex*site", "site"], n_bootstrap=0)["by_dataset"]["mc"][
        "attributes"
    ]
    # F rows r1 r2 r3 r7 are at sites s1 s2 s1 s1; M rows r4 r5 r6 r8 at s2 s1 s2 s2
    assert {name: g["rows"] for name, g in result["sex*site"]["groups"].items()} == {
        "F|s1": 3,
        "F|s2": 1,
        "M|s1": 1,
        "M|s2": 3,
    }
    # F|s1 = r1 r3 r7: only r1 exact -> 1/3
    assert result["sex*site"]["groups"]["F|s1"]["metrics"]["accuracy"]["value"] == pytest.approx(1 / 3)
    assert result["site"]["groups"]["s1"]["rows"] == 4


def test_label_space_from_choices_counts_outside_labels():
    df = frame([(["a"], ["a"], "F", "A1"), (["z"], ["q"], "M", "A2"), (["b"], ["b", "q"], "M", "A2")], "mc")
    df["choices"] = [["a", "b", "c"]] * 3
    report = build_report(df, n_bootstrap=0, attributes=["sex"])
    counts = report["counts"]["by_dataset"]["mc"]
    assert counts["label_space"] == ["a", "b", "c"] and counts["label_space_source"] == "choices"
    assert counts["labels_outside_label_space"]["answer"] == {"total": 1, "labels": {"z": 1}}
    assert counts["labels_outside_label_space"]["prediction"] == {"total": 2, "labels": {"q": 2}}
    # the extra predicted label makes the third row wrong
    m = report["standard"]["by_dataset"]["mc"]["attributes"]["sex"]["groups"]["M"]["metrics"]
    assert m["accuracy"]["value"] == 0


def test_missing_answers_and_nan_lists_are_counted_not_scored():
    df = frame(MC_ROWS, "mc")
    extra = pd.DataFrame(
        {
            "dataset": ["mc", "mc", "mc"],
            "answer": [float("nan"), [], ["a"]],
            "prediction": [["a"], ["a"], float("nan")],
            "sex": ["F", "F", "M"],
            "age_group": ["A1", "A1", "A1"],
        }
    )
    report = build_report(pd.concat([df, extra], ignore_index=True), n_bootstrap=0)
    counts = report["counts"]
    assert counts["rows_without_answer"] == 2
    assert counts["invalid_predictions"] == 2  # r3 and the NaN prediction
    assert counts["rows_scored"] == 9


def test_bad_inputs_raise_clear_errors():
    df = frame(MC_ROWS, "mc")
    with pytest.raises(MetricsInputError, match="missing column.*'prediction'.*'sex'"):
        build_report(df.drop(columns=["prediction", "sex"]))
    with pytest.raises(MetricsInputError, match="no rows"):
        build_report(df.iloc[:0])
    bad = df.copy()
    bad.loc[0, "answer"] = "a"
    with pytest.raises(MetricsInputError, match="'answer' must hold lists.*row 0 holds str"):
        build_report(bad)
    with pytest.raises(MetricsInputError, match="not in its label space"):
        build_report(frame(NOAGE_ROWS, "bin"), positive_labels={"bin": "maybe"})
    with pytest.raises(MetricsInputError, match="neither a column"):
        build_report(df, attributes=["site"])


# --- fairlearn parity on binary data -------------------------------------------------------


def test_binary_rates_equal_fairlearn_metricframe():
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    rng = np.random.default_rng(7)
    n = 600
    truth = rng.random(n) < 0.35
    pred = np.where(rng.random(n) < 0.75, truth, ~truth)
    site = rng.choice(["s1", "s2", "s3", "s4"], n)
    sex = rng.choice(["F", "M"], n)
    # site s4 has no positives: its TPR is undefined
    truth[site == "s4"] = False
    df = pd.DataFrame(
        {
            "dataset": "isic",
            "answer": [["malignant"] if t else ["benign"] for t in truth],
            "prediction": [["malignant"] if p else ["benign"] for p in pred],
            "sex": sex,
            "age_group": "A2",
            "site": site,
        }
    )
    result = standard_layer(df, attributes=["site", "sex*site"], n_bootstrap=0)["by_dataset"]["isic"]
    assert result["positive_label"] == "malignant"
    metrics = {"tpr": true_positive_rate, "fpr": false_positive_rate, "selection_rate": selection_rate}
    for spec, features in [("site", site), ("sex*site", pd.DataFrame({"sex": sex, "site": site}))]:
        frame_ = MetricFrame(metrics=metrics, y_true=truth, y_pred=pred, sensitive_features=features)
        ours = result["attributes"][spec]["groups"]
        assert len(ours) == len(frame_.by_group)
        for key, row in frame_.by_group.iterrows():
            name = key if isinstance(key, str) else "|".join(key)
            for metric in metrics:
                value = ours[name]["metrics"][metric]["value"]
                if name.endswith("s4") and metric == "tpr":
                    assert value is None and row[metric] == 0  # fairlearn silently reports 0
                else:
                    assert value == pytest.approx(row[metric], abs=1e-12), (name, metric)


# --- bootstrap -----------------------------------------------------------------------------


def binary_frame(n: int, accuracy: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < 0.5
    right = np.arange(n) < round(accuracy * n)
    pred = np.where(right, truth, ~truth)
    return pd.DataFrame(
        {
            "dataset": "bin",
            "answer": [["yes"] if t else ["no"] for t in truth],
            "prediction": [["yes"] if p else ["no"] for p in pred],
            "sex": rng.choice(["F", "M"], n),
            "age_group": "A1",
        }
    )


def test_bootstrap_ci_contains_point_and_is_reproducible():
    df = binary_frame(400, 0.7)
    first = standard_layer(df, attributes=["sex"], n_bootstrap=300, seed=3)
    again = standard_layer(df, attributes=["sex"], n_bootstrap=300, seed=3)
    other = standard_layer(df, attributes=["sex"], n_bootstrap=300, seed=4)
    assert first == again
    assert first != other
    for group in first["by_dataset"]["bin"]["attributes"]["sex"]["groups"].values():
        for entry in group["metrics"].values():
            low, high = entry["ci"]
            assert low <= entry["value"] <= high
            assert entry["ci_resamples"] == 300


def test_bootstrap_width_matches_binomial_and_shrinks_with_more_data():
    # The bootstrap SD of a proportion p over n rows is sqrt(p(1-p)/n); a 95% percentile
    # interval is about 2 x 1.96 SD wide.
    widths = {}
    for n in (100, 2500):
        df = binary_frame(n, 0.8)
        overall = standard_layer(df, attributes=["sex"], n_bootstrap=4000, seed=1)["by_dataset"]["bin"][
            "overall"
        ]
        low, high = overall["metrics"]["accuracy"]["ci"]
        widths[n] = high - low
        assert widths[n] == pytest.approx(2 * 1.96 * math.sqrt(0.8 * 0.2 / n), rel=0.15)
    assert widths[2500] < widths[100] / 3


def test_gap_ci_is_reported():
    df = binary_frame(600, 0.75)
    summary = standard_layer(df, attributes=["sex"], n_bootstrap=200)["by_dataset"]["bin"]["attributes"][
        "sex"
    ]["summary"]
    gap = summary["accuracy"]["gap"]
    assert gap["ci"][0] <= gap["ci"][1] and gap["ci_resamples"] == 200


# --- paired bootstrap ----------------------------------------------------------------------


def test_paired_bootstrap_identical_predictions_differ_by_zero():
    df = binary_frame(200, 0.7)
    df["other"] = df["prediction"]
    result = paired_bootstrap(df, column_b="other", attribute="sex", n_bootstrap=200)["by_dataset"]["bin"]
    assert result["overall"]["difference"] == 0
    assert result["overall"]["ci"] == [0.0, 0.0]
    assert result["overall"]["p_value"] == 1.0
    assert result["gap"]["difference"] == 0


def test_paired_bootstrap_detects_a_better_model():
    df = binary_frame(300, 0.9)
    # model b is the same except wrong on 60 more rows
    flipped = df["prediction"].copy()
    flipped[:60] = [["no"] if p == ["yes"] else ["yes"] for p in flipped[:60]]
    df["worse"] = flipped
    result = paired_bootstrap(df, column_b="worse", n_bootstrap=500, seed=0)["by_dataset"]["bin"]["overall"]
    # a: 270/300 right; b loses the 60 rows a gets right among the first 60 -> 210/300
    assert result["a"] == pytest.approx(0.9) and result["b"] == pytest.approx(0.7)
    assert result["difference"] == pytest.approx(0.2)
    assert result["ci"][0] > 0 and result["p_value"] < 0.01


def test_paired_bootstrap_with_no_group_rows_reports_undefined_gap():
    df = binary_frame(50, 0.7)
    df["sex"] = None
    df["other"] = df["prediction"]
    result = paired_bootstrap(df, column_b="other", attribute="sex", n_bootstrap=20)["by_dataset"]["bin"]
    assert result["groups"] == {}
    assert result["gap"]["difference"] is None and result["gap"]["reason"]


def test_arrow_backed_columns_give_the_same_report(tmp_path):
    df = pd.concat([frame(MC_ROWS, "mc"), frame(ML_ROWS, "ml")], ignore_index=True)
    df.to_parquet(tmp_path / "p.parquet")
    arrow = pd.read_parquet(tmp_path / "p.parquet", dtype_backend="pyarrow")
    assert build_report(arrow, n_bootstrap=30) == build_report(df, n_bootstrap=30)

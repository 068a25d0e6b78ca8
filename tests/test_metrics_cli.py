"""``clinfair metrics`` end to end (through clinfair.cli.main), good files and bad ones."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from clinfair.benchmark.metrics import PAPER_KEYS

from clinfair.cli import main


def predictions(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Two datasets: a binary one with every demographic and a 3-class one without sex."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        if i % 2:
            truth = str(rng.choice(["benign", "malignant"]))
            labels = ["benign", "malignant"]
            dataset, sex = "isic2020", str(rng.choice(["F", "M"]))
        else:
            labels = ["BI-RADS 1", "BI-RADS 2", "BI-RADS 3"]
            truth = str(rng.choice(labels))
            dataset, sex = "vindr_mammo", None
        guess = truth if rng.random() < 0.7 else str(rng.choice(labels))
        rows.append(
            {
                "id": f"{dataset}-{i}",
                "dataset": dataset,
                "answer": [truth],
                "prediction": None if rng.random() < 0.05 else [guess],
                "sex": sex,
                "age_group": str(rng.choice(["A1", "A2", "A3", "A4"])),
                "attributes": {"site": str(rng.choice(["north", "south"]))},
            }
        )
    return pd.DataFrame(rows)


def write(df: pd.DataFrame, path) -> None:
    if path.suffix == ".parquet":
        df.to_parquet(path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in df.to_dict(orient="records")))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["metrics", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def reject_nan(value: str):
    raise AssertionError(f"report holds {value}")


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_metrics_end_to_end(tmp_path, capsys, suffix):
    source = tmp_path / f"predictions{suffix}"
    write(predictions(), source)
    out = tmp_path / "reports" / "report.json"
    code, stdout, stderr = run(capsys, source, "--out", out, "--n-bootstrap", "50", "--seed", "1")
    assert code == 0, stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.json"]  # no temporary file left
    report = json.loads(out.read_text(), parse_constant=reject_nan)
    assert set(report["paper"]["overall"]) == set(PAPER_KEYS)
    assert set(report["paper"]["by_dataset"]) == {"isic2020", "vindr_mammo"}
    assert report["counts"]["rows"] == 240
    assert report["counts"]["null_demographics"]["sex"] == 120  # vindr has no sex
    assert report["standard"]["by_dataset"]["isic2020"]["positive_label"] == "malignant"
    assert "site" in report["standard"]["by_dataset"]["isic2020"]["attributes"]  # from the attributes column
    overall = report["paper"]["overall"]
    assert overall["pp"] == pytest.approx(100 * overall["fdr_gap"])
    assert overall["eod"] == pytest.approx(100 * overall["tpr_gap"])
    # the summary table names every dataset and the overall row
    for word in ("isic2020", "vindr_mammo", "overall", "EOD", "PP"):
        assert word in stdout


def test_parquet_and_jsonl_give_the_same_report(tmp_path, capsys):
    df = predictions(seed=3)
    reports = []
    for suffix in (".parquet", ".jsonl"):
        write(df, tmp_path / f"p{suffix}")
        assert (
            run(
                capsys, tmp_path / f"p{suffix}", "--out", tmp_path / f"r{suffix}.json", "--n-bootstrap", "20"
            )[0]
            == 0
        )
        report = json.loads((tmp_path / f"r{suffix}.json").read_text())
        del report["source"]
        reports.append(report)
    assert reports[0] == reports[1]


def test_options_attributes_and_positive_label(tmp_path, capsys):
    source = tmp_path / "p.parquet"
    write(predictions(), source)
    out = tmp_path / "r.json"
    code, _, stderr = run(
        capsys,
        source,
        "--out",
        out,
        "--attributes",
        "sex*site,age_group",
        "--positive-label",
        "isic2020=benign",
        "--min-group-size",
        "1000",
        "--n-bootstrap",
        "0",
    )
    assert code == 0, stderr
    report = json.loads(out.read_text())
    assert report["settings"]["attributes"] == ["sex*site", "age_group"]
    isic = report["standard"]["by_dataset"]["isic2020"]
    assert isic["positive_label"] == "benign" and isic["positive_label_rule"] == "given"
    assert set(isic["attributes"]["sex*site"]["groups"]) == {"F|north", "F|south", "M|north", "M|south"}
    assert all(g["small"] for g in isic["attributes"]["age_group"]["groups"].values())
    assert isic["overall"]["metrics"]["accuracy"]["ci"] is None


def assert_one_line_error(code: int, stderr: str, *fragments: str) -> None:
    assert code == 2
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    for fragment in fragments:
        assert fragment in stderr, stderr


def test_missing_columns_are_named(tmp_path, capsys):
    source = tmp_path / "p.parquet"
    write(predictions().drop(columns=["prediction", "age_group"]), source)
    code, _, stderr = run(capsys, source, "--out", tmp_path / "r.json")
    assert_one_line_error(code, stderr, "missing column", "'prediction'", "'age_group'")
    assert not (tmp_path / "r.json").exists()


def test_empty_and_unreadable_files(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert_one_line_error(*run(capsys, empty, "--out", tmp_path / "r.json")[::2], "empty")

    no_rows = tmp_path / "no_rows.parquet"
    predictions().iloc[:0].to_parquet(no_rows)
    assert_one_line_error(*run(capsys, no_rows, "--out", tmp_path / "r.json")[::2], "no rows")

    assert_one_line_error(
        *run(capsys, tmp_path / "missing.parquet", "--out", tmp_path / "r.json")[::2], "no such file"
    )
    assert_one_line_error(*run(capsys, tmp_path, "--out", tmp_path / "r.json")[::2], "not a file")

    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"this is not parquet at all")
    assert_one_line_error(*run(capsys, garbage, "--out", tmp_path / "r.json")[::2], "cannot read as parquet")

    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"dataset": "x"}\n{"dataset": \n')
    assert_one_line_error(
        *run(capsys, bad_json, "--out", tmp_path / "r.json")[::2], "bad.jsonl:2", "not valid JSON"
    )

    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert_one_line_error(*run(capsys, binary, "--out", tmp_path / "r.json")[::2], "not a UTF-8")
    assert not (tmp_path / "r.json").exists()


def test_answers_that_are_not_lists(tmp_path, capsys):
    df = predictions()
    df["answer"] = df["answer"].map(lambda labels: labels[0])  # a bare string per row
    source = tmp_path / "p.jsonl"
    write(df, source)
    code, _, stderr = run(capsys, source, "--out", tmp_path / "r.json")
    assert_one_line_error(code, stderr, "'answer' must hold lists")


def test_bad_options(tmp_path, capsys):
    source = tmp_path / "p.jsonl"
    write(predictions(), source)
    assert_one_line_error(
        *run(capsys, source, "--out", tmp_path / "r.json", "--n-bootstrap", "-1")[::2], "--n-bootstrap"
    )
    assert_one_line_error(
        *run(capsys, source, "--out", tmp_path / "r.json", "--positive-label", "oops")[::2], "DATASET=LABEL"
    )
    assert_one_line_error(
        *run(capsys, source, "--out", tmp_path / "r.json", "--positive-label", "isic2020=maybe")[::2],
        "label space",
    )
    assert_one_line_error(
        *run(capsys, source, "--out", tmp_path / "r.json", "--attributes", "sex**age")[::2],
        "invalid attribute",
    )
    assert_one_line_error(*run(capsys, source, "--out", tmp_path, "--n-bootstrap", "0")[::2], "is a folder")
    (tmp_path / "a-file").write_text("")
    assert_one_line_error(
        *run(capsys, source, "--out", tmp_path / "a-file" / "r.json", "--n-bootstrap", "0")[::2],
        "cannot write",
    )


def test_outside_labels_nan_and_empty_groups_are_counted(tmp_path, capsys):
    df = predictions(n=120)
    df.loc[1, "prediction"] = ["melanoma"]  # outside isic2020's label space
    df.loc[3, "prediction"] = ["benign", "maybe"]
    df.loc[5, "answer"] = float("nan")  # no ground truth: not scored
    df.loc[7, "prediction"] = float("nan")  # NaN prediction: an invalid answer
    df.loc[df["dataset"] == "isic2020", "age_group"] = df.loc[
        df["dataset"] == "isic2020", "age_group"
    ].replace("A4", "A3")  # isic2020 has no A4 row: an empty group
    source = tmp_path / "p.parquet"
    write(df, source)
    out = tmp_path / "r.json"
    code, stdout, stderr = run(capsys, source, "--out", out, "--n-bootstrap", "20")
    assert code == 0, stderr
    report = json.loads(out.read_text(), parse_constant=reject_nan)
    isic = report["counts"]["by_dataset"]["isic2020"]
    assert isic["labels_outside_label_space"]["prediction"] == {
        "total": 2,
        "labels": {"melanoma": 1, "maybe": 1},
    }
    assert isic["rows_without_answer"] == 1
    expected_invalid = int(
        df.loc[df["dataset"] == "isic2020", "prediction"].map(lambda p: p is None or p != p).sum()
    )
    assert isic["invalid_predictions"] == expected_invalid
    a4 = report["standard"]["by_dataset"]["isic2020"]["attributes"]["age_group"]["groups"]["A4"]
    assert a4["rows"] == 0 and a4["metrics"]["accuracy"]["reason"] == "no rows in group"
    assert report["paper_detail"]["by_dataset"]["isic2020"]["attributes"]["age_group"]["groups"]["A4"] == {
        "rows": 0
    }
    assert "outside the label space" in stdout and "not scored" in stdout


def test_single_class_group_gives_null_with_reason(tmp_path, capsys):
    df = predictions(n=200)
    isic_f = (df["dataset"] == "isic2020") & (df["sex"] == "F")
    df.loc[isic_f, "answer"] = pd.Series([["benign"]] * int(isic_f.sum()), index=df.index[isic_f])
    source = tmp_path / "p.jsonl"
    write(df, source)
    out = tmp_path / "r.json"
    assert run(capsys, source, "--out", out, "--n-bootstrap", "20")[0] == 0
    report = json.loads(out.read_text())
    tpr = report["standard"]["by_dataset"]["isic2020"]["attributes"]["sex"]["groups"]["F"]["metrics"]["tpr"]
    assert tpr["value"] is None and "no positives" in tpr["reason"]
    # the paper protocol counts the undefined TPR as 0, like the authors' code
    paper_f = report["paper_detail"]["by_dataset"]["isic2020"]["attributes"]["sex"]["groups"]["F"]
    assert math.isfinite(paper_f["tpr"])


def test_dataset_without_age_is_reported_and_left_out(tmp_path, capsys):
    df = predictions()
    df.loc[df["dataset"] == "vindr_mammo", "age_group"] = None
    source = tmp_path / "p.parquet"
    write(df, source)
    out = tmp_path / "r.json"
    code, stdout, _ = run(capsys, source, "--out", out, "--n-bootstrap", "0")
    assert code == 0
    report = json.loads(out.read_text())
    assert report["paper_detail"]["datasets_in_overall"] == ["isic2020"]
    assert report["paper"]["by_dataset"]["vindr_mammo"] == dict.fromkeys(PAPER_KEYS)  # no sex either
    assert report["paper"]["overall"]["accuracy"] == report["paper"]["by_dataset"]["isic2020"]["accuracy"]
    assert "vindr_mammo: age attribute does not count" in stdout

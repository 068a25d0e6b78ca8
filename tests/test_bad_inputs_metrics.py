"""Bad-input corpus of ``clinfair metrics``: an example twice is an error, never counted twice;
the wrong file or an unwritable --out is one clear line (see tests/bad_inputs.py)."""

from __future__ import annotations

import json

import pandas as pd
from bad_inputs import assert_one_line_error, cases, read_only_folder, run_cli


def predictions(n: int = 40) -> pd.DataFrame:
    rows = []
    for i in range(n):
        truth = "malignant" if i % 3 == 0 else "benign"
        rows.append(
            {
                "id": f"case-{i:03d}",
                "dataset": "isic2020",
                "answer": [truth],
                "prediction": [truth if i % 4 else "benign"],
                "sex": "FM"[i % 2],
                "age_group": f"A{1 + i % 4}",
            }
        )
    return pd.DataFrame(rows)


def jsonl(frame: pd.DataFrame) -> str:
    return "".join(json.dumps(record) + "\n" for record in frame.to_dict(orient="records"))


def duplicate_example_in_parquet(tmp_path, capsys):
    frame = predictions()
    frame.loc[7, "id"] = "case-002"  # two rows claim to be the same example
    frame.to_parquet(tmp_path / "p.parquet")
    code, _, err = run_cli(capsys, "metrics", tmp_path / "p.parquet", "--out", tmp_path / "r.json")
    assert_one_line_error(
        code,
        err,
        "metrics",
        "1 row(s) repeat an example",
        "id 'case-002' of isic2020",
        "rows 3, 8",
        "counted twice",
    )
    assert not (tmp_path / "r.json").exists()


def predictions_file_concatenated_twice(tmp_path, capsys):
    (tmp_path / "p.jsonl").write_text(jsonl(predictions()) * 2)
    code, _, err = run_cli(capsys, "metrics", tmp_path / "p.jsonl", "--out", tmp_path / "r.json")
    assert_one_line_error(code, err, "metrics", "40 row(s) repeat an example", "id 'case-000'", "rows 1, 41")


def same_id_in_two_datasets_is_two_examples(tmp_path, capsys):
    other = predictions().assign(dataset="ham10000")
    pd.concat([predictions(), other]).to_parquet(tmp_path / "p.parquet")
    code, _, err = run_cli(
        capsys, "metrics", tmp_path / "p.parquet", "--out", tmp_path / "r.json", "--n-bootstrap", 0
    )
    assert code == 0, err
    assert json.loads((tmp_path / "r.json").read_text())["counts"]["rows"] == 80


def results_json_instead_of_predictions(tmp_path, capsys):
    (tmp_path / "results.json").write_text(
        json.dumps({"schema_version": 1, "metrics": {"paper": {}}}, indent=2)
    )
    code, _, err = run_cli(capsys, "metrics", tmp_path / "results.json", "--out", tmp_path / "r.json")
    assert_one_line_error(
        code, err, "metrics", "is the results.json of `clinfair eval`", "predictions.parquet"
    )


def read_only_out(tmp_path, capsys):
    predictions().to_parquet(tmp_path / "p.parquet")
    with read_only_folder(tmp_path / "locked") as locked:
        code, _, err = run_cli(capsys, "metrics", tmp_path / "p.parquet", "--out", locked / "r.json")
        assert_one_line_error(code, err, "metrics", f"cannot write {locked / 'r.json'}")


@cases(
    duplicate_example_in_parquet,
    predictions_file_concatenated_twice,
    same_id_in_two_datasets_is_two_examples,
    results_json_instead_of_predictions,
    read_only_out,
)
def test_metrics_bad_input(case, tmp_path, capsys):
    case(tmp_path, capsys)

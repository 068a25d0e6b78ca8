"""A model that never answers is never shown as 50 % accurate (issue 23): exact accuracy and invalid
rate are the first two value columns of ``clinfair metrics`` and ``clinfair compare``, and the paper
protocol's accuracy (0.5 on a binary task when nothing parses) is labelled as the paper protocol's."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from clinfair.benchmark.runner import RESULTS_SCHEMA_VERSION

from clinfair.cli import main

LABELS = ["benign", "malignant"]


def predictions(n: int = 48, answered: bool = False) -> pd.DataFrame:
    """A binary task, the answer independent of sex and age group; every prediction null (invalid)
    unless ``answered`` (then every prediction is the true label)."""
    rows = []
    for i in range(n):
        answer = [LABELS[(i // 8) % 2]]
        rows.append(
            {
                "id": f"row{i}",
                "dataset": "synthetic",
                "answer": answer,
                "prediction": list(answer) if answered else None,
                "valid": answered,
                "correct": answered,
                "choices": LABELS,
                "sex": "FM"[i % 2],
                "age_group": f"A{i % 4 + 1}",
            }
        )
    return pd.DataFrame(rows)


def cells(line: str, separator: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split(separator) if cell.strip()]


def test_metrics_shows_exact_accuracy_and_invalid_rate_first(tmp_path, capsys):
    source = tmp_path / "predictions.jsonl"
    predictions().to_json(source, orient="records", lines=True)
    assert main(["metrics", str(source), "--out", str(tmp_path / "r.json"), "--n-bootstrap", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = cells(lines[0], "  ")
    assert header[:4] == ["dataset", "Exact acc", "Invalid", "rows"]
    assert "paper protocol" in lines[1]  # the header's rule names the paper protocol's columns
    assert lines[1].index("paper protocol") > lines[0].index("rows")
    for name in ("synthetic", "overall"):
        row = cells(next(line for line in lines if line.startswith(name)), "  ")
        assert row[1:4] == ["0.000", "1.000", "48"]
        # the paper protocol's accuracy of a model that never answers: every one-vs-rest row right
        # for the label it is not, 0.5 averaged over the two labels; shown, but after and labelled
        assert row[header.index("Acc")] == "0.500"


def write_run(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    folder.mkdir()
    frame.to_parquet(folder / "predictions.parquet", index=False)
    results = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "run": {"name": name, "method": None},
        "attributes": ["sex", "age_group"],
        "tasks": {"synthetic": {"label_space": LABELS}},
    }
    (folder / "results.json").write_text(json.dumps(results))
    return folder


def test_compare_shows_exact_accuracy_and_invalid_rate_first(tmp_path, capsys):
    silent = write_run(tmp_path / "silent", "silent", predictions())
    oracle = write_run(tmp_path / "oracle", "oracle", predictions(answered=True))
    out = tmp_path / "comparison"
    assert main(["compare", str(silent), str(oracle), "--n-bootstrap", "20", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    summary = next(i for i, line in enumerate(lines) if line.startswith("| run |"))
    header = cells(lines[summary], "|")
    assert header[:3] == ["run", "Exact acc", "Invalid"]
    assert header[3:] == ["Acc (paper protocol)", "F1 (paper protocol)"]
    assert cells(lines[summary + 2], "|") == ["silent", "0.000", "1.000", "0.500", "0.000"]
    assert cells(lines[summary + 3], "|") == ["oracle", "1.000", "0.000", "1.000", "1.000"]

    # against the baseline, the first rows are exact accuracy and invalid rate, before the paper keys
    first = next(i for i, line in enumerate(lines) if line.startswith("**"))
    assert lines[first] == "**Exact accuracy and invalid rate, overall**"
    exact, invalid = (cells(lines[first + 4 + k], "|") for k in (0, 1))
    assert exact[:4] == ["Exact acc", "0.000", "1.000", "+1.000 *"]
    assert invalid[:4] == ["Invalid", "1.000", "0.000", "-1.000 *"]
    assert lines.index("**Paper protocol, overall**") > first

    report = json.loads((out / "comparison.json").read_text())
    headline = report["comparisons"][0]["headline"]
    assert set(headline) == {"overall", "synthetic"}
    assert headline["overall"]["exact_match"]["baseline"] == 0.0
    assert headline["overall"]["invalid"]["baseline"] == 1.0
    # the default attributes: every command's (sex, age_group, sex*age_group), as eval's
    assert report["settings"]["attributes"] == ["sex", "age_group", "sex*age_group"]

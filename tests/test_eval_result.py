"""clinfair.benchmark.eval_result: the one reader of a ``clinfair eval`` result folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from clinfair.benchmark.eval_result import EvalResult, ResultFolderError

ROWS = pd.DataFrame(
    {
        "id": ["a", "b", "c"],
        "dataset": ["synthetic"] * 3,
        "answer": [["benign"], ["malignant"], ["benign"]],
        "prediction": [["benign"], ["benign"], None],
        "sex": ["F", "M", None],
        "age_group": ["A1", "A2", "A3"],
        "correct": [True, False, False],
    }
)
RESULTS = {
    "schema_version": 1,
    "run": {"name": "tiny-grpo", "method": "grpo"},
    "tasks": {"synthetic": {"rows": 3, "label_space": ["benign", "malignant"]}},
}


def result_folder(tmp_path: Path, results=RESULTS, rows: pd.DataFrame | None = ROWS) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "results.json").write_text(results if isinstance(results, str) else json.dumps(results))
    if rows is not None:
        rows.to_parquet(folder / "predictions.parquet", index=False)
    return folder


def test_load_reads_results_and_the_predictions_when_asked(tmp_path):
    folder = result_folder(tmp_path)
    result = EvalResult.load(folder)
    assert result.results == RESULTS and result.folder == folder
    assert (result.name, result.method, result.tasks) == ("tiny-grpo", "grpo", ["synthetic"])
    assert result.label_spaces == {"synthetic": ["benign", "malignant"]}
    assert result._predictions is None  # not read until asked
    pd.testing.assert_frame_equal(result.predictions, pd.read_parquet(folder / "predictions.parquet"))
    assert result.predictions is result.predictions  # read once
    assert list(result.read_predictions(columns=["prediction"]).columns) == ["prediction"]


def test_a_run_without_a_name_is_named_after_its_folder(tmp_path):
    result = EvalResult.load(result_folder(tmp_path, {**RESULTS, "run": {}}))
    assert (result.name, result.method) == ("run", None)


def _unfinished(folder: Path) -> None:
    (folder / "results.json").unlink()
    (folder / "predictions.partial.jsonl").write_text("{}\n")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda f: (f / "results.json").unlink(),
            "{f}: no results.json (is it a `clinfair eval` output folder?)",
        ),
        (_unfinished, "{f}: the evaluation has not finished (predictions.partial.jsonl but no results.json)"),
        (lambda f: (f / "results.json").write_text("{"), "{f}/results.json is not valid JSON"),
        (
            lambda f: (f / "results.json").write_text("[1]"),
            "{f}/results.json is not a clinfair results file (no integer schema_version)",
        ),
        (
            lambda f: (f / "results.json").write_text(json.dumps({**RESULTS, "schema_version": 2})),
            "{f}/results.json has results schema version 2, newer than this clinfair reads (1)",
        ),
        (
            lambda f: (f / "results.json").write_text(json.dumps({**RESULTS, "tasks": {"x": {}}})),
            "{f}/results.json has no 'tasks' with a 'label_space' each",
        ),
        (lambda f: (f / "predictions.parquet").unlink(), "{f}: no predictions.parquet"),
    ],
)
def test_an_unusable_folder_is_one_line_naming_it(tmp_path, damage, message):
    folder = result_folder(tmp_path)
    damage(folder)
    with pytest.raises(ResultFolderError) as raised:
        EvalResult.load(folder)
    assert str(raised.value).startswith(message.format(f=folder)) and "\n" not in str(raised.value)


def test_no_such_folder(tmp_path):
    with pytest.raises(ResultFolderError, match="no such folder"):
        EvalResult.load(tmp_path / "missing")


def test_bad_predictions_fail_when_read_naming_the_file(tmp_path):
    folder = result_folder(tmp_path)
    path = folder / "predictions.parquet"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    result = EvalResult.load(folder)  # the predictions are not read yet
    with pytest.raises(ResultFolderError, match=f"^{path} is truncated or unreadable"):
        result.predictions  # noqa: B018
    ROWS.drop(columns=["sex"]).to_parquet(path, index=False)
    with pytest.raises(ResultFolderError, match=f"^{path} lacks the column\\(s\\) sex$"):
        EvalResult.load(folder).predictions  # noqa: B018
    with pytest.raises(ResultFolderError, match=f"^{path} lacks the column\\(s\\) sex$"):
        EvalResult.load(folder).read_predictions(columns=["dataset", "sex"])
    pd.concat([ROWS, ROWS.iloc[:1]]).to_parquet(path, index=False)
    with pytest.raises(ResultFolderError, match="repeat an example"):
        EvalResult.load(folder).predictions  # noqa: B018

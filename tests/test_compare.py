"""``clinfair compare`` on two real ``clinfair eval`` outputs of the tiny model (fixture ``eval_results``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clinfair.benchmark.compare import COMPARE_PAPER_KEYS, compare_runs, load_run
from clinfair.benchmark.metrics import STANDARD_METRICS

from clinfair.cli import main


def copy_run(source: str, target: Path, edit=None) -> Path:
    """A copy of an eval folder, its predictions optionally edited (a stand-in for another run)."""
    shutil.copytree(source, target)
    if edit is not None:
        path = target / "predictions.parquet"
        edit(pd.read_parquet(path)).to_parquet(path, index=False)
    return target


@pytest.fixture(scope="module")
def compared(eval_results, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("compare")
    grpo, fair = eval_results
    code = main(["compare", grpo, fair, "--baseline", grpo, "--out", str(out), "--n-bootstrap", "30"])
    assert code == 0
    return out, grpo


def test_compare_writes_json_and_markdown(compared, eval_results):
    out, _ = compared
    report = json.loads((out / "comparison.json").read_text())
    assert report["baseline"]["name"] == "tiny-grpo" and report["tasks"] == ["synthetic"]
    (comparison,) = report["comparisons"]
    rows = len(pd.read_parquet(Path(eval_results[0]) / "predictions.parquet"))
    assert comparison["run"]["name"] == "tiny-fairgrpo" and comparison["rows"] == rows > 0
    assert set(comparison["paper"]) == {"overall", "synthetic"}
    for entry in comparison["paper"]["overall"].values():
        assert set(entry) >= {"run", "baseline", "difference", "ci", "p_value", "significant"}
    standard = comparison["standard"]["synthetic"]
    # the default attributes, as every command's: sex, age_group and their intersection (synthetic has no own)
    assert set(standard) == {"sex", "age_group", "sex*age_group"} and set(standard["sex"]) == set(
        STANDARD_METRICS
    )
    assert set(standard["sex"]["accuracy"]["groups"]) <= {"F", "M"} and "gap" in standard["sex"]["accuracy"]
    markdown = (out / "comparison.md").read_text()
    assert "# Paired comparison against tiny-grpo" in markdown and "| PP (×100) |" in markdown
    assert "## tiny-fairgrpo (fairgrpo) vs tiny-grpo" in markdown


def test_point_differences_are_the_runs_own_paper_values(compared, eval_results):
    """The differences must be those of the paper values each eval wrote into its results.json."""
    out, _ = compared
    (comparison,) = json.loads((out / "comparison.json").read_text())["comparisons"]
    own = [json.loads((Path(f) / "results.json").read_text())["metrics"]["paper"] for f in eval_results]
    for key in COMPARE_PAPER_KEYS:
        entry = comparison["paper"]["overall"][key]
        base, run = own[0]["overall"][key], own[1]["overall"][key]
        assert (entry["baseline"], entry["run"]) == (pytest.approx(base), pytest.approx(run))
        if base is not None and run is not None:
            assert entry["difference"] == pytest.approx(run - base)
            assert entry["ci"] is None or entry["ci"][0] <= entry["ci"][1]


def test_a_run_against_itself_differs_by_zero(eval_results):
    run = load_run(eval_results[0])
    twin = load_run(eval_results[0])
    report = compare_runs([run, twin], run, n_bootstrap=20)
    for entry in report["comparisons"][0]["paper"]["overall"].values():
        if entry["difference"] is not None:
            assert entry["difference"] == 0 and entry["ci"] in (None, [0.0, 0.0])
            assert not entry["significant"]


def test_a_clearly_better_run_is_significant(eval_results, tmp_path):
    """Every answer made correct: accuracy rises by exactly 1 - baseline accuracy, and significantly."""

    def all_correct(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(prediction=frame["answer"], valid=True, correct=True)

    better = copy_run(eval_results[0], tmp_path / "oracle", all_correct)
    base = load_run(eval_results[0])
    report = compare_runs([base, load_run(better)], base, n_bootstrap=200, seed=1)
    accuracy = report["comparisons"][0]["standard"]["synthetic"]["sex"]["accuracy"]["overall"]
    truth = base.predictions
    exact = np.mean(
        [
            sorted(a) == sorted(p) if p is not None else False
            for a, p in zip(truth["answer"], truth["prediction"])
        ]
    )
    assert exact < 0.5  # the tiny model answers nonsense: there is a difference to detect
    assert accuracy["difference"] == pytest.approx(1 - exact)
    assert accuracy["significant"] and accuracy["p_value"] < 0.05


def test_runs_on_different_rows_or_tasks_are_refused(eval_results, tmp_path, capsys):
    fewer = copy_run(eval_results[1], tmp_path / "fewer", lambda f: f.iloc[1:])
    assert main(["compare", eval_results[0], str(fewer), "--n-bootstrap", "0"]) == 2
    error = capsys.readouterr().err
    assert "tiny-fairgrpo and the baseline tiny-grpo are on different rows" in error and "lacks 1" in error

    other_task = copy_run(eval_results[1], tmp_path / "other-task")
    results = json.loads((other_task / "results.json").read_text())
    results["tasks"]["ham10000"] = {"label_space": ["melanoma"]}
    (other_task / "results.json").write_text(json.dumps(results))
    assert main(["compare", eval_results[0], str(other_task), "--n-bootstrap", "0"]) == 2
    assert (
        "evaluated tasks ['ham10000', 'synthetic'] but the baseline tiny-grpo ['synthetic']"
        in capsys.readouterr().err
    )

    assert main(["compare", eval_results[0], str(tmp_path / "missing")]) == 2
    assert f"{tmp_path / 'missing'}: no such folder" in capsys.readouterr().err
    assert main(["compare", eval_results[0]]) == 2
    assert "at least two runs" in capsys.readouterr().err


def test_duplicate_rows_and_other_ground_truth_are_refused(eval_results, tmp_path, capsys):
    doubled = copy_run(eval_results[1], tmp_path / "doubled", lambda f: pd.concat([f, f.iloc[:1]]))
    assert main(["compare", eval_results[0], str(doubled), "--n-bootstrap", "0"]) == 2
    error = capsys.readouterr().err
    assert (
        "predictions.parquet: 1 row(s) repeat an example" in error and "of synthetic is at rows 1, " in error
    )

    def flip(frame):
        frame = frame.copy()
        first = list(frame.at[0, "answer"])
        frame.at[0, "answer"] = ["malignant"] if first == ["benign"] else ["benign"]
        return frame

    relabelled = copy_run(eval_results[1], tmp_path / "relabelled", flip)
    assert main(["compare", eval_results[0], str(relabelled), "--n-bootstrap", "0"]) == 2
    assert "ground truth" in capsys.readouterr().err

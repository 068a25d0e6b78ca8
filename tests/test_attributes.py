"""Every attribute end to end (issue 15): PAD-UFES-20's Fitzpatrick skin type from the raw
folder through ``clinfair prepare`` and ``clinfair eval`` to ``results.json``, ``clinfair
metrics``, the leaderboard page and the trainers' group key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import pad_ufes20_eval_args, train_args
from pad_ufes20_raw import SKIN_TYPES

from clinfair.cli import main

DEFAULT = ["sex", "age_group", "sex*age_group", "fitzpatrick"]


def _expected_skin_type(patient: int) -> str | None:
    """The skin type the raw folder holds for ``PAT_<i>``, read by hand: "3.0" -> "3", blank -> null."""
    raw = SKIN_TYPES[patient % len(SKIN_TYPES)]
    return str(int(float(raw))) if raw else None


def _plant_answers(run: Path) -> pd.DataFrame:
    """Rewrite the run's predictions with known answers: about 60 % right, 10 % invalid, the rest
    another label (the tiny model's own answers are all invalid, which would test nothing)."""
    frame = pd.read_parquet(run / "predictions.parquet")
    rng = np.random.default_rng(7)
    predictions = []
    for answer, choices in zip(frame["answer"], frame["choices"]):
        draw = rng.random()
        if draw < 0.6:
            predictions.append(list(answer))
        elif draw < 0.7:
            predictions.append(None)
        else:
            predictions.append([next(c for c in choices if c not in answer)])
    frame["prediction"] = pd.Series(predictions, dtype=object)
    frame["valid"] = frame["prediction"].notna()
    frame["correct"] = [
        p is not None and sorted(p) == sorted(a) for p, a in zip(predictions, frame["answer"])
    ]
    frame.to_parquet(run / "predictions.parquet", index=False)
    return frame


def _fairlearn_accuracy(frame: pd.DataFrame):
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import accuracy_score

    known = frame[frame["fitzpatrick"].notna()]
    truth = [a[0] for a in known["answer"]]  # multiclass: one true label per row
    predicted = ["<invalid>" if p is None else p[0] for p in known["prediction"]]
    return MetricFrame(
        metrics=accuracy_score, y_true=truth, y_pred=predicted, sensitive_features=known["fitzpatrick"]
    )


def test_fitzpatrick_reaches_predictions_and_results(pad_ufes20_run):
    results = json.loads((pad_ufes20_run / "results.json").read_text())
    assert results["attributes"] == DEFAULT
    assert results["metrics"]["settings"]["attributes"] == DEFAULT
    frame = pd.read_parquet(pad_ufes20_run / "predictions.parquet")
    assert len(frame) == 45
    patients = frame["id"].str.split("_").str[1].astype(int)
    assert frame["fitzpatrick"].tolist() == [_expected_skin_type(p) for p in patients]
    block = results["metrics"]["standard"]["by_dataset"]["pad_ufes20"]["attributes"]
    assert set(block) == set(DEFAULT)
    assert sorted(block["fitzpatrick"]["groups"]) == ["1", "2", "3", "4", "5", "6"]
    assert results["tasks"]["pad_ufes20"]["null_demographics"]["fitzpatrick"] == 5


def test_fitzpatrick_per_group_values_match_pandas_and_fairlearn(pad_ufes20_run, tiny_vlm, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(pad_ufes20_run, run)
    frame = _plant_answers(run)
    data = pad_ufes20_run.parent / "data"
    assert main(pad_ufes20_eval_args(tiny_vlm, data, run)) == 0  # a finished run: re-scored, no model load
    results = json.loads((run / "results.json").read_text())
    fitzpatrick = results["metrics"]["standard"]["by_dataset"]["pad_ufes20"]["attributes"]["fitzpatrick"]

    # independent oracle: exact match of label sets by pandas, an invalid answer being wrong
    right = pd.Series(
        [p is not None and set(p) == set(a) for p, a in zip(frame["prediction"], frame["answer"])]
    )
    expected = right.groupby(frame["fitzpatrick"]).agg(["mean", "size"])
    assert fitzpatrick["rows_with_null"] == int(frame["fitzpatrick"].isna().sum()) == 5
    assert sorted(fitzpatrick["groups"]) == sorted(expected.index)
    accuracies = {}
    for group, (mean, size) in expected.iterrows():
        entry = fitzpatrick["groups"][group]
        cell = entry["metrics"]["accuracy"]
        assert entry["rows"] == size
        assert cell["value"] == pytest.approx(mean, abs=1e-12)
        low, high = cell["ci"]
        assert low <= cell["value"] <= high
        accuracies[group] = cell["value"]
    assert len(set(accuracies.values())) > 1  # the groups differ: the check can tell them apart

    by_fairlearn = _fairlearn_accuracy(frame)
    for group, value in by_fairlearn.by_group.items():
        assert accuracies[str(group)] == pytest.approx(value, abs=1e-12)
    gap = fitzpatrick["summary"]["accuracy"]["gap"]
    assert gap["value"] == pytest.approx(by_fairlearn.difference(), abs=1e-12)
    assert gap["ci"] is not None and gap["ci"][0] <= gap["ci"][1]
    worst = fitzpatrick["summary"]["accuracy"]["worst"]
    assert worst["value"] == pytest.approx(by_fairlearn.group_min(), abs=1e-12)

    # clinfair metrics on the same file reports the same attributes and values by default
    report_path = tmp_path / "report.json"
    assert (
        main(["metrics", str(run / "predictions.parquet"), "--out", str(report_path), "--n-bootstrap", "0"])
        == 0
    )
    report = json.loads(report_path.read_text())
    assert report["settings"]["attributes"] == DEFAULT
    again = report["standard"]["by_dataset"]["pad_ufes20"]["attributes"]["fitzpatrick"]["groups"]
    assert {g: e["metrics"]["accuracy"]["value"] for g, e in again.items()} == pytest.approx(accuracies)


def test_metrics_default_reads_the_task_without_a_results_file(pad_ufes20_run, tmp_path):
    """A predictions file alone (no results.json beside it): the task's attributes by default."""
    alone = tmp_path / "predictions.parquet"
    shutil.copy(pad_ufes20_run / "predictions.parquet", alone)
    report_path = tmp_path / "report.json"
    assert main(["metrics", str(alone), "--out", str(report_path), "--n-bootstrap", "0"]) == 0
    assert json.loads(report_path.read_text())["settings"]["attributes"] == DEFAULT


def test_metrics_unknown_attribute_is_one_line_naming_the_available_ones(pad_ufes20_run, tmp_path, capsys):
    code = main(
        [
            "metrics",
            str(pad_ufes20_run / "predictions.parquet"),
            "--out",
            str(tmp_path / "r.json"),
            "--attributes",
            "sex*fitzpatric",
        ]
    )
    assert code == 2 and not (tmp_path / "r.json").exists()
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "unknown attribute 'fitzpatric' in --attributes; the file has sex, age_group, fitzpatrick" in error


def test_eval_attributes_chooses_and_records_them(pad_ufes20_run, tiny_vlm, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(pad_ufes20_run, run)
    data = pad_ufes20_run.parent / "data"
    chosen = "fitzpatrick, sex*fitzpatrick"
    assert main(pad_ufes20_eval_args(tiny_vlm, data, run, "--attributes", chosen)) == 0
    results = json.loads((run / "results.json").read_text())
    assert results["attributes"] == ["fitzpatrick", "sex*fitzpatrick"]
    block = results["metrics"]["standard"]["by_dataset"]["pad_ufes20"]["attributes"]
    assert list(block) == ["fitzpatrick", "sex*fitzpatrick"]
    frame = pd.read_parquet(run / "predictions.parquet")
    both = frame.dropna(subset=["sex", "fitzpatrick"])
    sizes = (both["sex"] + "|" + both["fitzpatrick"]).value_counts()
    groups = block["sex*fitzpatrick"]["groups"]
    assert {g: e["rows"] for g, e in groups.items() if e["rows"]} == sizes.to_dict()


def test_eval_unknown_attribute_names_it_and_the_tasks_attributes(pad_ufes20_run, tiny_vlm, tmp_path, capsys):
    out = tmp_path / "run"
    data = pad_ufes20_run.parent / "data"
    assert main(pad_ufes20_eval_args(tiny_vlm, data, out, "--attributes", "sex,skin_type")) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert (
        "unknown attribute 'skin_type' in --attributes: pad_ufes20 has sex, age_group, fitzpatrick" in error
    )
    assert not out.exists()  # nothing written, nothing to block the corrected command


def test_leaderboard_page_shows_fitzpatrick(pad_ufes20_run, tmp_path):
    board = tmp_path / "board"
    assert (
        main(["leaderboard", "build", str(pad_ufes20_run), "--out", str(board), "--n-bootstrap", "10"]) == 0
    )
    groups = pd.read_parquet(board / "groups.parquet")
    fitz = groups[(groups["attribute"] == "fitzpatrick") & (groups["metric"] == "accuracy")]
    assert sorted(fitz["group"]) == ["1", "2", "3", "4", "5", "6"]
    page = (board / "index.html").read_text(encoding="utf-8")
    assert '<option value="fitzpatrick">fitzpatrick</option>' in page
    assert 'data-attribute="fitzpatrick"' in page
    manifest = json.loads((board / "manifest.json").read_text())
    assert any("fitzpatrick" in figure["file"] for figure in manifest["figures"])


# --------------------------------------------------------------------------------------
# The trainers' group key
# --------------------------------------------------------------------------------------


def test_group_attributes_fitzpatrick_builds_groups_from_it(pad_ufes20_run):
    from clinfair.trainers.data import build_grpo_dataset

    data = pad_ufes20_run.parent / "data"
    dataset = build_grpo_dataset(["pad_ufes20"], data, "test", group_attributes=["fitzpatrick"])
    frame = pd.read_parquet(pad_ufes20_run / "predictions.parquet")  # the same rows, with ids
    expected = dict(zip(frame["id"], frame["fitzpatrick"].fillna("UNK")))
    assert dict(zip(dataset["id"], dataset["group"])) == expected
    both = build_grpo_dataset(["pad_ufes20"], data, "test", group_attributes=["sex", "fitzpatrick"])
    patients = {row_id: int(row_id.split("_")[1]) for row_id in both["id"]}
    for row_id, group in zip(both["id"], both["group"]):
        skin = _expected_skin_type(patients[row_id])
        sex = "F" if patients[row_id] % 2 else "M"
        assert group == (f"{sex}|{skin}" if skin else "UNK")


def test_group_attributes_unknown_is_a_clear_error(pad_ufes20_run):
    from clinfair.tasks.attributes import UnknownAttributeError
    from clinfair.trainers.data import build_grpo_dataset

    data = pad_ufes20_run.parent / "data"
    with pytest.raises(UnknownAttributeError) as caught:
        build_grpo_dataset(["pad_ufes20"], data, "test", group_attributes=["sex", "fitzpatric"])
    assert str(caught.value) == (
        "unknown attribute 'fitzpatric' in group_attributes: pad_ufes20 has sex, age_group, fitzpatrick"
    )
    with pytest.raises(UnknownAttributeError, match="synthetic has sex, age_group$"):
        build_grpo_dataset(["synthetic"], data, "test", group_attributes=["fitzpatrick"])


def test_train_unknown_group_attribute_is_one_line(pad_ufes20_run, tiny_vlm, tmp_path, capsys):
    data = pad_ufes20_run.parent / "data"
    overrides = ("tasks=[pad_ufes20]", "train_split=test", "group_attributes=[sex, skin]")
    code = main(train_args(tiny_vlm, data, tmp_path / "run", *overrides))
    assert code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert (
        "unknown attribute 'skin' in group_attributes: pad_ufes20 has sex, age_group, fitzpatrick" in error[0]
    )

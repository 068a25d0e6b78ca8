"""`clinfair leaderboard build` on result folders written by the real `clinfair eval` (fixture
`eval_results`): tables, intervals, Markdown, page, plots, training dynamics, and every kind of
bad input refused with one line and nothing written."""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from clinfair.leaderboard import statistics as statistics_module
from clinfair.leaderboard.runs import load_runs
from clinfair.leaderboard.statistics import METRIC_KEYS, paper_bootstrap
from conftest import eval_args
from PIL import Image

from clinfair.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def build(capsys, *args) -> tuple[int, str, str]:
    code = main(["leaderboard", "build", *map(str, args), "--n-bootstrap", "30"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def copy_run(source: str, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def rows_of(folder: str | Path) -> int:
    """Rows the run evaluated (the synthetic fixture's test split, at most --limit 16)."""
    return json.loads((Path(folder) / "results.json").read_text())["tasks"]["synthetic"]["rows"]


def edit_results(folder: Path, change) -> None:
    path = folder / "results.json"
    results = json.loads(path.read_text())
    change(results)
    path.write_text(json.dumps(results))


@pytest.fixture(scope="module")
def built(eval_results, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("board") / "board"
    assert main(["leaderboard", "build", *eval_results, "--out", str(out), "--n-bootstrap", "40"]) == 0
    return out


def test_build_writes_every_file(built, eval_results):
    files = {p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file()}
    expected = {
        "index.html",
        "leaderboard.parquet",
        "leaderboard.md",
        "paper_table.md",
        "scores.parquet",
        "groups.parquet",
        "predictions.parquet",
        "manifest.json",
        "plots/scatter_overall.png",
        "plots/scatter_synthetic.png",
        "plots/groups_synthetic_sex.png",
        "plots/groups_synthetic_age_group.png",
        "plots/groups_synthetic_sex-age_group.png",  # standard layer: the attributes the paper has not
        "runs/tiny-grpo/results.json",
        "runs/tiny-grpo/predictions.parquet",
        "runs/tiny-fairgrpo/results.json",
        "runs/tiny-fairgrpo/predictions.parquet",
    }
    assert files == expected
    for source, run_id in zip(eval_results, ("tiny-grpo", "tiny-fairgrpo")):
        name = "predictions.parquet"
        assert (built / "runs" / run_id / name).read_bytes() == (Path(source) / name).read_bytes()
        # results.json as eval wrote it, but the model's local path is its folder's name
        original = json.loads((Path(source) / "results.json").read_text())
        model = original["model"]["model"]
        assert Path(model).is_absolute()
        text = (Path(source) / "results.json").read_text().replace(model, Path(model).name)
        assert (built / "runs" / run_id / "results.json").read_text() == text
    assert not [p for p in built.parent.iterdir() if p.name.startswith(".")], "temporary folders left behind"


def test_table_has_a_row_per_run_with_values_and_intervals(built, eval_results):
    board = pd.read_parquet(built / "leaderboard.parquet")
    assert board["run"].tolist() == ["tiny-grpo", "tiny-fairgrpo"]
    assert board["method"].tolist() == ["grpo", "fairgrpo"]
    assert board["rows"].tolist() == [rows_of(eval_results[0]), rows_of(eval_results[1])]
    for scope in ("overall", "synthetic"):
        for key in ("accuracy", "f1", "pp", "eod", "fpr_gap", "f1_std", "f1_gap", "f1_es"):
            for suffix in ("", ".ci_low", ".ci_high"):
                assert f"{scope}.{key}{suffix}" in board.columns
    for row, source in zip(board.to_dict("records"), eval_results):
        paper = json.loads((Path(source) / "results.json").read_text())["metrics"]["paper"]
        for key in METRIC_KEYS:
            assert math.isclose(row[f"overall.{key}"], paper["overall"][key], abs_tol=1e-12)
            assert math.isclose(row[f"synthetic.{key}"], paper["by_dataset"]["synthetic"][key], abs_tol=1e-12)
            assert row[f"overall.{key}.ci_low"] <= row[f"overall.{key}.ci_high"]
    # accuracy varies with the label mix of a resample, so its interval has width
    assert (board["overall.accuracy.ci_high"] > board["overall.accuracy.ci_low"]).all()
    scores = pd.read_parquet(built / "scores.parquet")
    paper_scores = scores[scores["metric"].isin(METRIC_KEYS)]
    assert len(paper_scores) == 2 * 2 * len(METRIC_KEYS) and set(scores["scope"]) == {"overall", "synthetic"}
    assert (paper_scores["ci_resamples"] == 40).all()
    # the score-based columns come from each run's results.json (clinfair eval --scores direct, the default)
    from clinfair.leaderboard.statistics import SCORE_METRICS, VALIDITY_KEYS

    assert len(scores) == 2 * 2 * (len(VALIDITY_KEYS) + len(METRIC_KEYS) + len(SCORE_METRICS))
    for folder, row in zip(eval_results, board.to_dict("records")):
        block = json.loads((Path(folder) / "results.json").read_text())["metrics"]["scores"]["by_dataset"]
        auroc = block["synthetic"]["overall"]["metrics"]["auroc"]["value"]
        assert row["synthetic.auroc"] == pytest.approx(auroc) and row["overall.auroc"] == pytest.approx(auroc)
        gaps = [
            block["synthetic"]["attributes"][a]["summary"]["auroc_gap"]["value"] for a in ("sex", "age_group")
        ]
        if None not in gaps:
            assert row["synthetic.auroc_gap"] == pytest.approx(sum(gaps) / 2)


def test_markdown_tables_follow_the_paper_layout(built, eval_results):
    paper = (built / "paper_table.md").read_text()
    header = (
        "| Run | Method | Exact acc ↑ | Invalid ↓ | Acc (paper) ↑ | F1 (paper) ↑ | PP (paper) ↓ | EOD (paper) ↓ "
        "| ΔFPR (paper) ↓ | σF1 (paper) ↓ | ΔF1 (paper) ↓ | F1_ES (paper) ↑ |"
    )
    assert paper.count(header) == 2  # overall and synthetic
    results = json.loads((Path(eval_results[0]) / "results.json").read_text())
    values = results["metrics"]["paper"]["overall"]
    task = results["tasks"]["synthetic"]
    row = next(line for line in paper.splitlines() if line.startswith("| tiny-grpo |"))
    cells = [cell.strip().strip("*").removesuffix(" †") for cell in row.strip("|").split("|")]
    assert cells[2] == f"{task['accuracy_exact']:.3f}" and cells[3] == f"{task['invalid_rate']:.3f}"
    assert cells[4] == f"{values['accuracy']:.3f}" and cells[6] == f"{values['pp']:.1f}"
    assert cells[7] == f"{values['eod']:.1f}" and cells[11] == f"{values['f1_es']:.3f}"
    with_ci = (built / "leaderboard.md").read_text()
    assert f"{values['accuracy']:.3f} [" in with_ci and "percentile bootstrap over 40 resamples" in with_ci


def test_groups_table_holds_both_layers(built, eval_results):
    groups = pd.read_parquet(built / "groups.parquet")
    paper = groups[groups["layer"] == "paper"]
    assert set(paper["attribute"]) == {"sex", "age_group"}
    assert set(paper["metric"]) == {"accuracy", "f1", "tpr", "fpr", "fdr"}
    standard = groups[groups["layer"] == "standard"]
    assert {"sex", "age_group", "sex*age_group"} <= set(standard["attribute"])
    assert {"accuracy", "macro_f1"} <= set(standard["metric"])
    sex = paper[(paper["run"] == "tiny-grpo") & (paper["attribute"] == "sex") & (paper["metric"] == "f1")]
    assert sex["rows"].sum() == rows_of(eval_results[0])


def test_combined_predictions_have_one_schema(built, eval_results):
    table = pq.read_table(built / "predictions.parquet")
    for column in ("prediction", "answer", "choices"):
        field = table.schema.field(column).type
        assert pa.types.is_list(field) and pa.types.is_string(field.value_type)
    frame = table.to_pandas()
    n = rows_of(eval_results[0])
    assert frame["run"].value_counts().to_dict() == {"tiny-grpo": n, "tiny-fairgrpo": n}


def test_plots_are_valid_pngs_and_embedded_in_a_self_contained_page(built):
    manifest = json.loads((built / "manifest.json").read_text())
    html = (built / "index.html").read_text()
    assert len(manifest["figures"]) == 5
    for figure in manifest["figures"]:
        png = (built / figure["file"]).read_bytes()
        assert png.startswith(PNG_MAGIC)
        assert Image.open(io.BytesIO(png)).size[0] > 300
    assert html.count('src="data:image/png;base64,') == 5
    assert "http://" not in html and "https://" not in html  # no network request, no external link
    assert "<script src" not in html and "<link" not in html
    assert html.count("<tr data-run=") == 2


def test_bootstrap_keeps_every_stratum_size(eval_results, monkeypatch):
    (run,) = load_runs(eval_results[:1])
    frame = run.predictions
    original = frame.groupby(["sex", "age_group"], dropna=False).size()
    seen = []
    real = statistics_module.MetricFrame.paper

    def spy(self, rows=None):
        drawn = self.df if rows is None else self.df.take(rows)
        seen.append(drawn.groupby(["sex", "age_group"], dropna=False).size())
        return real(self, rows)

    monkeypatch.setattr(statistics_module.MetricFrame, "paper", spy)
    result = paper_bootstrap(frame, run.label_spaces, n_bootstrap=25, seed=3, name=run.name)
    assert len(seen) == 26  # the real rows, then 25 resamples
    for sizes in seen:
        pd.testing.assert_series_equal(sizes, original)
    assert result.resamples[("overall", "accuracy")] == 25


def test_bootstrap_is_reproducible_and_independent_of_other_runs(eval_results):
    (run,) = load_runs(eval_results[:1])
    first = paper_bootstrap(run.predictions, run.label_spaces, n_bootstrap=20, seed=0, name="a")
    again = paper_bootstrap(run.predictions, run.label_spaces, n_bootstrap=20, seed=0, name="a")
    assert first.ci == again.ci
    none = paper_bootstrap(run.predictions, run.label_spaces, n_bootstrap=0, name="a")
    assert none.point == first.point and all(ci is None for ci in none.ci.values())


# --------------------------------------------------------------------------------------
# Mixing policy
# --------------------------------------------------------------------------------------


def test_runs_from_another_clinfair_version_are_refused(eval_results, tmp_path, capsys):
    other = copy_run(eval_results[1], tmp_path / "other")
    edit_results(other, lambda r: r.update(clinfair_version="9.9.9"))
    code, _, err = build(capsys, eval_results[0], other, "--out", tmp_path / "board")
    assert code == 2
    assert err.count("\n") == 1 and "clinfair version: 0.1.0 (tiny-grpo); 9.9.9 (tiny-fairgrpo)" in err
    assert "--allow-mixed" in err
    assert not (tmp_path / "board").exists()


def test_allow_mixed_builds_and_flags_the_odd_run(eval_results, tmp_path, capsys):
    other = copy_run(eval_results[1], tmp_path / "other")
    edit_results(other, lambda r: r.update(protocol="paper-v2"))
    code, _, err = build(capsys, eval_results[0], other, "--out", tmp_path / "board", "--allow-mixed")
    assert code == 0 and "mixed evaluation setups" in err
    board = pd.read_parquet(tmp_path / "board" / "leaderboard.parquet")
    assert board["flags"].tolist() == ["", "protocol differs (paper-v2)"]
    html = (tmp_path / "board" / "index.html").read_text()
    assert (
        'id="mixed-warning"' in html
        and "protocol: paper+standard (tiny-grpo); paper-v2 (tiny-fairgrpo)" in html
    )
    assert "⚠" in (tmp_path / "board" / "paper_table.md").read_text()


def test_different_evaluation_rows_are_refused(eval_results, tmp_path, capsys):
    other = copy_run(eval_results[1], tmp_path / "other")
    frame = pd.read_parquet(other / "predictions.parquet")
    frame.loc[0, "id"] = "another-example"
    frame.to_parquet(other / "predictions.parquet", index=False)
    code, _, err = build(capsys, eval_results[0], other, "--out", tmp_path / "board")
    assert code == 2 and "evaluation rows" in err


# --------------------------------------------------------------------------------------
# Bad input: one line, exit 2, nothing written
# --------------------------------------------------------------------------------------


def _missing_results(folder: Path) -> None:
    (folder / "results.json").unlink()


def _unfinished(folder: Path) -> None:
    (folder / "results.json").unlink()
    (folder / "predictions.partial.jsonl").write_text("{}\n")


def _newer_schema(folder: Path) -> None:
    edit_results(folder, lambda r: r.update(schema_version=2))


def _not_json(folder: Path) -> None:
    (folder / "results.json").write_text('{"schema_version": 1,')


def _truncated_predictions(folder: Path) -> None:
    data = (folder / "predictions.parquet").read_bytes()
    (folder / "predictions.parquet").write_bytes(data[: len(data) // 2])


def _fewer_predictions(folder: Path) -> None:
    frame = pd.read_parquet(folder / "predictions.parquet")
    frame.iloc[:-1].to_parquet(folder / "predictions.parquet", index=False)


def _edited_values(folder: Path) -> None:
    edit_results(folder, lambda r: r["metrics"]["paper"]["overall"].update(accuracy=0.99))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_unfinished, "the evaluation has not finished"),
        (_newer_schema, "results schema version 2, newer than this clinfair reads (1); upgrade clinfair"),
        (_not_json, "results.json is not valid JSON"),
        (_truncated_predictions, "predictions.parquet is truncated or unreadable"),
        (_fewer_predictions, "rows of synthetic but results.json counts"),
        (_edited_values, "gives overall accuracy"),
    ],
)
def test_bad_result_folder_is_one_clear_line(eval_results, tmp_path, capsys, damage, message):
    bad = copy_run(eval_results[1], tmp_path / "bad")
    damage(bad)
    code, _, err = build(capsys, eval_results[0], bad, "--out", tmp_path / "board")
    assert code == 2
    assert err.count("\n") == 1 and message in err and str(bad) in err
    assert not (tmp_path / "board").exists()
    assert list(tmp_path.iterdir()) == [bad], "nothing else may be written"


def test_empty_list_of_folders(tmp_path, capsys):
    code, _, err = build(capsys, "--out", tmp_path / "board")
    assert code == 2 and "no result folders given" in err and err.count("\n") == 1


def test_duplicate_runs_are_refused(eval_results, tmp_path, capsys):
    copy = copy_run(eval_results[0], tmp_path / "copy")
    code, _, err = build(capsys, eval_results[0], copy, "--out", tmp_path / "board")
    assert (
        code == 2 and "hold the same run ('tiny-grpo': same model and request); pass only one of them" in err
    )


def test_two_runs_sharing_a_name_are_refused(eval_results, tmp_path, capsys):
    renamed = copy_run(eval_results[1], tmp_path / "renamed")
    edit_results(renamed, lambda r: r["run"].update(name="tiny-grpo"))
    code, _, err = build(capsys, eval_results[0], renamed, "--out", tmp_path / "board")
    assert code == 2 and "different runs both named 'tiny-grpo'" in err and "--run-name" in err


def test_failed_build_leaves_the_previous_build_untouched(eval_results, tmp_path, capsys):
    out = tmp_path / "board"
    assert build(capsys, *eval_results, "--out", out)[0] == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = copy_run(eval_results[1], tmp_path / "bad")
    _truncated_predictions(bad)
    assert build(capsys, eval_results[0], bad, "--out", out)[0] == 2
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "board"]
    # a good build replaces it in one piece
    assert build(capsys, eval_results[0], "--out", out)[0] == 0
    assert pd.read_parquet(out / "leaderboard.parquet")["run"].tolist() == ["tiny-grpo"]
    assert not (out / "runs" / "tiny-fairgrpo").exists()


def test_an_unrelated_existing_folder_is_never_replaced(eval_results, tmp_path, capsys):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, _, err = build(capsys, *eval_results, "--out", out)
    assert code == 2 and "is not an earlier output of this command" in err
    assert (out / "notes.txt").read_text() == "keep me"


# --------------------------------------------------------------------------------------
# Training dynamics (records made by the trainers' own FairnessCallback._record)
# --------------------------------------------------------------------------------------


def _dynamics_lines(eval_folder: str, method: str, steps=(0, 5, 10)) -> list[str]:
    """JSONL lines exactly as FairnessCallback writes them, from a real eval's predictions."""
    from clinfair.benchmark.metrics import build_report
    from clinfair.trainers.callbacks import FairnessCallback

    frame = pd.read_parquet(Path(eval_folder) / "predictions.parquet")
    records = frame.to_dict("records")
    lines = []
    for step in steps:
        trainer = SimpleNamespace(
            state=SimpleNamespace(global_step=step, epoch=step / 10),
            args=SimpleNamespace(output_dir="unused"),
        )
        callback = FairnessCallback(trainer, {}, method=method, output_file="unused.jsonl")
        sample = frame.sample(frac=1.0, replace=True, random_state=step) if step else frame
        report = build_report(sample, n_bootstrap=0)
        lines.append(json.dumps(callback._record(report, records)))
    return lines


def test_training_dynamics_are_plotted(eval_results, tmp_path, capsys):
    grpo = tmp_path / "grpo-train" / "fairness.jsonl"
    grpo.parent.mkdir()
    grpo.write_text("\n".join(_dynamics_lines(eval_results[0], "grpo")) + "\n")
    run_with_file = copy_run(eval_results[1], tmp_path / "fair-run")
    lines = _dynamics_lines(eval_results[1], "fairgrpo")
    (run_with_file / "fairness.jsonl").write_text(
        "\n".join(lines) + "\n" + lines[0][:40]
    )  # unfinished last line
    out = tmp_path / "board"
    code, _, err = build(capsys, eval_results[0], run_with_file, "--out", out, "--dynamics", grpo)
    assert code == 0, err
    curves = pd.read_parquet(out / "dynamics.parquet")
    assert set(curves["curve"]) == {"grpo-train (grpo)", "tiny-fairgrpo (fairgrpo)"}
    f1 = curves[(curves["scope"] == "overall") & (curves["metric"] == "f1")]
    assert f1.groupby("curve")["step"].apply(list).to_dict() == {
        "grpo-train (grpo)": [0, 5, 10],
        "tiny-fairgrpo (fairgrpo)": [0, 5, 10],
    }
    assert (out / "plots" / "dynamics_overall.png").read_bytes().startswith(PNG_MAGIC)
    assert (out / "dynamics" / "grpo-train.jsonl").read_bytes() == grpo.read_bytes()
    assert "Training dynamics" in (out / "index.html").read_text()


def test_bad_dynamics_line_names_file_and_line(eval_results, tmp_path, capsys):
    path = tmp_path / "dyn.jsonl"
    path.write_text(_dynamics_lines(eval_results[0], "grpo", steps=(0,))[0] + "\n" + '{"step": -1}\n')
    code, _, err = build(capsys, *eval_results, "--out", tmp_path / "board", "--dynamics", f"mine={path}")
    assert code == 2 and f"{path}:2: 'step' must be a non-negative integer" in err


def test_serve_refuses_a_folder_that_is_not_a_build(tmp_path, capsys):
    code = main(["leaderboard", "serve", str(tmp_path / "missing")])
    assert (
        code == 2 and "no such leaderboard folder (nor a Hub dataset id ORG/NAME)" in capsys.readouterr().err
    )
    code = main(["leaderboard", "serve", str(tmp_path)])
    assert code == 2 and "is not a clinfair leaderboard build (no manifest.json)" in capsys.readouterr().err


def test_runs_that_do_not_answer_are_never_best_on_a_gap(built):
    """The fixture's tiny models answer nothing valid: their gaps are 0 for free, so they are not ranked."""
    board = pd.read_parquet(built / "leaderboard.parquet")
    assert (board["invalid_rate"] == 1.0).all()
    assert board["unranked"].str.startswith("100% invalid answers (more than 10%)").all()
    paper = (built / "paper_table.md").read_text()
    rows = [line for line in paper.splitlines() if line.startswith(("| tiny-grpo |", "| tiny-fairgrpo |"))]
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")][2:]
        assert all(cell.endswith("†") for cell in cells[2:]) and not any("**" in cell for cell in cells[2:])
    assert "† tiny-grpo is not ranked on any column: 100% invalid answers" in paper
    page = (built / "index.html").read_text()
    assert 'class="unranked"' in page and 'data-unranked="1"' in page


def test_best_on_a_gap_is_chosen_among_ranked_runs_only():
    from clinfair.leaderboard.markdown import markdown_table
    from clinfair.leaderboard.ranking import ranking_exclusion
    from clinfair.leaderboard.statistics import METRICS

    assert ranking_exclusion(0.5, 0.4, 0.6, 0.1) == "50% invalid answers (more than 10%)"
    assert ranking_exclusion(0.0, 0.6, 0.6, 0.1) == (
        "exact accuracy 60.0% is not above the majority-class baseline 60.0%"
    )
    assert ranking_exclusion(0.05, 0.7, 0.6, 0.1) is None
    rows = []
    for name, pp, unranked in (("silent", 0.0, "100% invalid answers"), ("a", 5.0, None), ("b", 7.0, None)):
        row = {"run": name, "method": "-", "flags": "", "unranked": unranked}
        row |= {f"overall.{m.key}": 0.5 for m in METRICS} | {"overall.pp": pp}
        rows.append(row)
    table = markdown_table(pd.DataFrame(rows), "overall", with_ci=False, bold_best=True)
    lines = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert (
        "**5.0**" in lines["a"] and "0.0 †" in lines["silent"] and "**" not in lines["silent"].split("|")[5]
    )


def test_baseline_marks_values_that_differ_significantly(eval_results, tmp_path, capsys):
    """A run that answers every row right, beside the tiny model that answers none: its accuracy and F1
    differ from the baseline's beyond chance (marked *); a run equal to the baseline gets no mark."""
    import shutil

    from clinfair.benchmark.metrics import build_report

    perfect = tmp_path / "perfect"
    shutil.copytree(eval_results[0], perfect)
    frame = pd.read_parquet(perfect / "predictions.parquet")
    frame["prediction"] = frame["answer"]
    frame["completion"] = ["\\boxed{" + ", ".join(answer) + "}" for answer in frame["answer"]]
    frame["valid"], frame["correct"] = True, True
    frame.to_parquet(perfect / "predictions.parquet")
    results = json.loads((perfect / "results.json").read_text())
    results["run"]["name"] = "perfect"
    spaces = {task: info["label_space"] for task, info in results["tasks"].items()}
    results["metrics"] = build_report(frame, label_spaces=spaces, n_bootstrap=0)
    for info in results["tasks"].values():  # what eval would have counted for these predictions
        info.update(invalid_answers=0, invalid_rate=0.0, accuracy_exact=1.0)
    (perfect / "results.json").write_text(json.dumps(results))
    out = tmp_path / "board"
    assert (
        main(
            [
                "leaderboard",
                "build",
                *eval_results,
                str(perfect),
                "--out",
                str(out),
                "--n-bootstrap",
                "60",
                "--baseline",
                "tiny-grpo",
            ]
        )
        == 0
    )
    paper = (out / "paper_table.md").read_text()
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
        for line in paper.split("## synthetic")[0].splitlines()
        if line.startswith("| tiny") or line.startswith("| perfect")
    }
    assert rows["perfect"][4].endswith("*") and rows["perfect"][5].endswith("*")  # Acc (paper), F1 (paper)
    assert not any(cell.endswith("*") for cell in rows["tiny-grpo"][2:])  # the baseline itself
    assert "* differs from tiny-grpo on the same rows" in paper
    page = (out / "index.html").read_text()
    assert 'title="significantly higher than the baseline run (paired bootstrap)">*</sup>' in page
    assert (
        main(["leaderboard", "build", *eval_results, "--out", str(tmp_path / "b2"), "--baseline", "nope"])
        == 2
    )
    assert "--baseline 'nope' is not one of the runs" in capsys.readouterr().err


def test_reference_split_is_the_one_most_runs_share_ties_to_the_smallest_hash():
    from clinfair.leaderboard.ranking import split_exclusion, split_references
    from clinfair.leaderboard.runs import Run

    def run(**hashes):
        tasks = {task: {"split_sha256": digest} for task, digest in hashes.items()}
        return Run(folder=Path("."), results={"tasks": tasks}, predictions=pd.DataFrame())

    runs = [run(a="c" * 64, b="e" * 64), run(a="d" * 64, b="f" * 64), run(a="d" * 64), run(a=None)]
    assert split_references(runs) == {"a": "d" * 64, "b": "e" * 64}  # a: 2 runs to 1; b: a tie
    assert split_references(runs[::-1]) == split_references(runs)  # not the order of the runs
    reason = split_exclusion(runs[0], split_references(runs))
    assert reason.startswith("evaluated on other rows than the split most runs share")
    assert f"a (split SHA-256 {'c' * 12}…, reference {'d' * 12}…)" in reason and "b (" not in reason
    assert "a (" not in split_exclusion(runs[1], split_references(runs))  # only b differs there
    assert split_exclusion(runs[2], split_references(runs)) is None
    assert split_exclusion(runs[3], split_references(runs)) is None  # no hash (older results): not judged


def test_a_run_on_other_rows_is_flagged_and_not_ranked(eval_results, tiny_vlm, tmp_path, capsys):
    """Same ids, other content: a run evaluated on a synthetic task prepared with a weaker cue has
    another split hash; it is built beside the others but ranked on no column."""
    from clinfair.tasks import get_task
    from clinfair.tasks.prepare import prepare

    data = tmp_path / "data"
    prepare(get_task("synthetic"), data / "synthetic", options={"n": 60, "cue_strength": 0.5}, progress=False)
    other = tmp_path / "tiny-other"
    settings = ("--limit", 16, "--max-new-tokens", 4, "--n-bootstrap", 20, "--no-progress")
    named = ("--run-name", "tiny-other", "--method", "grpo")
    assert main(eval_args(tiny_vlm, data, other, *settings, *named)) == 0
    hashes = [
        json.loads((Path(f) / "results.json").read_text())["tasks"]["synthetic"]["split_sha256"]
        for f in (*eval_results, other)
    ]
    assert hashes[0] == hashes[1] != hashes[2]
    code, _, err = build(capsys, *eval_results, other, "--out", tmp_path / "board")
    assert code == 0, err  # the same ids: not refused, flagged
    board = pd.read_parquet(tmp_path / "board" / "leaderboard.parquet").set_index("run")
    assert board["other_split"].isna().tolist() == [True, True, False]
    assert (
        f"synthetic (split SHA-256 {hashes[2][:12]}…, reference {hashes[0][:12]}…)"
        in (board.loc["tiny-other", "other_split"])
    )
    assert board.loc["tiny-other", "unranked"].startswith("evaluated on other rows")
    paper = (tmp_path / "board" / "paper_table.md").read_text()
    (row,) = [line for line in paper.splitlines() if line.startswith("| tiny-other |")][:1]
    cells = [cell.strip() for cell in row.strip("|").split("|")][2:]
    assert cells and all(cell.endswith("†") for cell in cells)  # accuracy too
    assert "† tiny-other is not ranked on any column: evaluated on other rows" in paper
    page = (tmp_path / "board" / "index.html").read_text()
    assert 'data-run="tiny-other" data-method="grpo" data-unranked="2"' in page
    assert "the split SHA-256 most runs share" in page and "a tie goes to the smallest hash" in page
    # the manifest keeps the scope, so a model's Hub results note does not say "on fairness" only
    manifest = json.loads((tmp_path / "board" / "manifest.json").read_text())
    scopes = {run["run"]: run["other_split"] for run in manifest["runs"]}
    assert scopes["tiny-other"] is True and not any(v for k, v in scopes.items() if k != "tiny-other")
    from clinfair.leaderboard.hub import HEADLINE_METRIC, model_results_yaml

    run = next(r for r in manifest["runs"] if r["run"] == "tiny-other")
    scores = pd.DataFrame(
        {"run": [run["run"]], "metric": [HEADLINE_METRIC], "scope": ["synthetic"], "value": [0.5]}
    )
    note = model_results_yaml("org/board", run, scores)
    assert "; not ranked: evaluated on other rows" in note and "not ranked on fairness" not in note

"""Bad-input corpus: an output path is never one of the command's inputs, nor a file another
clinfair command wrote (``clinfair.core.io.check_output_file`` / ``check_output_folder``).

Each case points a command's output at something it reads (or at another command's file),
asserts one error line naming the flag and the input, and that every byte of the input
folder is unchanged (see tests/bad_inputs.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import conftest
import pandas as pd
from bad_inputs import assert_one_line_error, cases, run_cli, snapshot


def predictions_file(folder: Path) -> Path:
    """A small predictions.parquet in ``folder``, as ``clinfair eval`` writes one."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "id": f"case-{i:02d}",
            "dataset": "isic2020",
            "answer": ["benign"],
            "prediction": ["benign" if i % 3 else "malignant"],
            "sex": "FM"[i % 2],
            "age_group": f"A{1 + i % 4}",
        }
        for i in range(24)
    ]
    path = folder / "predictions.parquet"
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path


def copied_runs(eval_results, tmp_path: Path) -> list[Path]:
    runs = []
    for folder in map(Path, eval_results):
        shutil.copytree(folder, tmp_path / folder.name)
        runs.append(tmp_path / folder.name)
    return runs


# -- clinfair metrics: --out is a file --------------------------------------------------------------


def metrics_out_is_its_predictions_input(tmp_path, capsys, eval_results):
    path = predictions_file(tmp_path / "run")
    before = snapshot(tmp_path / "run")
    code, _, err = run_cli(capsys, "metrics", path, "--out", path, "--n-bootstrap", 0)
    assert_one_line_error(code, err, "metrics", "--out", "PREDICTIONS file")
    assert snapshot(tmp_path / "run") == before


def metrics_out_is_the_input_by_another_spelling(tmp_path, capsys, eval_results):
    path = predictions_file(tmp_path / "run")
    (tmp_path / "run" / "sub").mkdir()
    before = snapshot(tmp_path / "run")
    other = tmp_path / "run" / "sub" / ".." / "predictions.parquet"
    code, _, err = run_cli(capsys, "metrics", path, "--out", other, "--n-bootstrap", 0)
    assert_one_line_error(code, err, "metrics", "PREDICTIONS file")
    assert snapshot(tmp_path / "run") == before


def metrics_out_is_a_hard_link_to_the_input(tmp_path, capsys, eval_results):
    path = predictions_file(tmp_path / "run")
    os.link(path, tmp_path / "report.json")  # the same file under another name
    before = path.read_bytes()
    code, _, err = run_cli(capsys, "metrics", path, "--out", tmp_path / "report.json", "--n-bootstrap", 0)
    assert_one_line_error(code, err, "metrics", "PREDICTIONS file")
    assert path.read_bytes() == before


def metrics_out_is_the_runs_results_json(tmp_path, capsys, eval_results):
    run = copied_runs(eval_results, tmp_path)[0]
    before = snapshot(run)
    code, _, err = run_cli(capsys, "metrics", run / "predictions.parquet", "--out", run / "results.json")
    assert_one_line_error(code, err, "metrics", "results.json", "clinfair eval")
    assert snapshot(run) == before


def metrics_out_is_a_prepared_datasets_manifest(tmp_path, capsys, eval_results):
    path = predictions_file(tmp_path / "run")
    data = tmp_path / "data"
    data.mkdir()
    (data / "split_manifest.json").write_text('{"kept": true}\n')
    code, _, err = run_cli(capsys, "metrics", path, "--out", data / "split_manifest.json", "--n-bootstrap", 0)
    assert_one_line_error(code, err, "metrics", "split_manifest.json", "clinfair prepare")
    assert (data / "split_manifest.json").read_text() == '{"kept": true}\n'


def metrics_out_is_a_training_recipe(tmp_path, capsys, eval_results):
    path = predictions_file(tmp_path / "run")
    trained = tmp_path / "trained"
    trained.mkdir()
    (trained / "recipe.yaml").write_text("max_steps: 2\n")
    code, _, err = run_cli(capsys, "metrics", path, "--out", trained / "recipe.yaml", "--n-bootstrap", 0)
    assert_one_line_error(code, err, "metrics", "recipe.yaml", "clinfair train")
    assert (trained / "recipe.yaml").read_text() == "max_steps: 2\n"


# -- commands writing into a folder -----------------------------------------------------------------


def compare_out_is_one_of_its_runs(tmp_path, capsys, eval_results):
    first, second = copied_runs(eval_results, tmp_path)
    before = snapshot(second)
    code, _, err = run_cli(capsys, "compare", first, second, "--out", second, "--n-bootstrap", 0)
    assert_one_line_error(code, err, "compare", "--out", "RUN folder")
    assert snapshot(second) == before


def compare_out_inside_a_run(tmp_path, capsys, eval_results):
    first, second = copied_runs(eval_results, tmp_path)
    code, _, err = run_cli(
        capsys, "compare", first, second, "--out", first / "comparison", "--n-bootstrap", 0
    )
    assert_one_line_error(code, err, "compare", "is inside", "RUN folder")
    assert not (first / "comparison").exists()


def eval_out_is_the_prepared_data(tmp_path, capsys, eval_results):
    data = Path(eval_results[0]).parent / "data"  # the fixture's prepared synthetic task
    before = snapshot(data / "synthetic")
    code, _, err = run_cli(capsys, *conftest.eval_args("no-model", data, data / "synthetic", "--limit", 2))
    assert_one_line_error(code, err, "eval", "--out", "prepared synthetic data")
    assert snapshot(data / "synthetic") == before


def eval_out_is_the_model_folder(tmp_path, capsys, eval_results):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}\n")
    data = Path(eval_results[0]).parent / "data"
    code, _, err = run_cli(capsys, *conftest.eval_args(model, data, model, "--limit", 2))
    assert_one_line_error(code, err, "eval", "--out", "--model folder")
    assert sorted(p.name for p in model.iterdir()) == ["config.json"]


def probe_out_is_the_prepared_data(tmp_path, capsys, eval_results):
    data = Path(eval_results[0]).parent / "data"
    before = snapshot(data / "synthetic")
    argv = conftest.eval_args("no-model", data, data / "synthetic", "--limit", 2, command="probe")
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, "probe", "--out", "prepared synthetic data")
    assert snapshot(data / "synthetic") == before


def lm_eval_tasks_out_is_an_include_path(tmp_path, capsys, eval_results):
    mine = tmp_path / "mytasks"
    mine.mkdir()
    code, _, err = run_cli(capsys, "lm-eval-tasks", "--include-path", mine, "--out", mine)
    assert_one_line_error(code, err, "lm-eval-tasks", "--include-path folder")
    assert list(mine.iterdir()) == []


def simulate_out_over_a_studys_report(tmp_path, capsys, eval_results):
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.json").write_text("{}\n")
    (study / "report.md").write_text("# the study's report\n")
    before = snapshot(study)
    code, _, err = run_cli(
        capsys, "simulate", "--seeds", 2, "--nd-seeds", 2, "--steps", 1, "--questions", "a", "--out", study
    )
    assert_one_line_error(code, err, "simulate", "study.json", "report.md")
    assert snapshot(study) == before


def train_output_dir_holds_its_recipe(tmp_path, capsys, eval_results):
    from clinfair.trainers.recipes import resolve_recipe_path

    out = tmp_path / "runs" / "mine"
    out.mkdir(parents=True)
    recipe = out / "recipe.yaml"
    recipe.write_text(resolve_recipe_path("tiny-cpu").read_text())
    before = snapshot(out)
    code, _, err = run_cli(
        capsys, "train", "--method", "grpo", "--recipe", recipe, f"output_dir={out}", "max_steps=1"
    )
    assert_one_line_error(code, err, "train", "output_dir", "recipe.yaml would replace the --recipe file")
    assert snapshot(out) == before


def train_output_dir_is_its_model(tmp_path, capsys, eval_results):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}\n")
    code, _, err = run_cli(
        capsys, *conftest.train_args(model, tmp_path / "data", model, "max_steps=1", method="grpo")
    )
    assert_one_line_error(code, err, "train", "output_dir", "model folder")
    assert sorted(p.name for p in model.iterdir()) == ["config.json"]


@cases(
    metrics_out_is_its_predictions_input,
    metrics_out_is_the_input_by_another_spelling,
    metrics_out_is_a_hard_link_to_the_input,
    metrics_out_is_the_runs_results_json,
    metrics_out_is_a_prepared_datasets_manifest,
    metrics_out_is_a_training_recipe,
    compare_out_is_one_of_its_runs,
    compare_out_inside_a_run,
    eval_out_is_the_prepared_data,
    eval_out_is_the_model_folder,
    probe_out_is_the_prepared_data,
    lm_eval_tasks_out_is_an_include_path,
    simulate_out_over_a_studys_report,
    train_output_dir_holds_its_recipe,
    train_output_dir_is_its_model,
)
def test_output_is_never_an_input(case, tmp_path, capsys, eval_results):
    case(tmp_path, capsys, eval_results)


def test_metrics_still_writes_its_own_report_beside_the_predictions(tmp_path, capsys):
    """The check refuses only inputs and other commands' files: a new report beside them is written."""
    path = predictions_file(tmp_path / "run")
    code, _, err = run_cli(
        capsys, "metrics", path, "--out", tmp_path / "run" / "report.json", "--n-bootstrap", 0
    )
    assert code == 0, err
    assert (tmp_path / "run" / "report.json").is_file()
    pd.testing.assert_frame_equal(pd.read_parquet(path), pd.read_parquet(predictions_file(tmp_path / "copy")))

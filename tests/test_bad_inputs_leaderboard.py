"""Bad-input corpus of ``clinfair leaderboard build`` (and the ``push --dry-run`` of what it built):
an example twice is an error, a training step twice is drawn once, no local path is published,
an incomplete results.json or an unwritable --out is one line (see tests/bad_inputs.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from bad_inputs import assert_one_line_error, cases, read_only_folder, run_cli
from conftest import eval_args


def build(capsys, *args):
    return run_cli(capsys, "leaderboard", "build", *args, "--n-bootstrap", 20)


def copy_run(source, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def all_text(folder: Path) -> str:
    """Every byte of every file under ``folder`` as text, and every string value of its parquet files."""
    parts = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", errors="ignore"))
            if path.suffix == ".parquet":
                table = pq.read_table(path)
                parts += [str(value) for column in table.columns for value in column.to_pylist()]
    return "\n".join(parts)


def dynamics_lines(steps) -> list[str]:
    return [
        json.dumps({"step": step, "method": "fairgrpo", "overall": {"f1": 0.1 * (i + 1), "f1_gap": 0.05}})
        for i, step in enumerate(steps)
    ]


def duplicate_example_in_predictions(eval_results, tmp_path, capsys, tiny_vlm):
    run = copy_run(eval_results[1], tmp_path / "run")
    frame = pq.read_table(run / "predictions.parquet")
    ids = frame.column("id").to_pylist()
    ids[5] = ids[2]  # same rows, same values: only the identity repeats
    pq.write_table(
        frame.set_column(frame.column_names.index("id"), "id", pa.array(ids)), run / "predictions.parquet"
    )
    code, _, err = build(capsys, run, "--out", tmp_path / "board")
    assert_one_line_error(
        code,
        err,
        "leaderboard",
        str(run / "predictions.parquet"),
        f"id {ids[2]!r} of synthetic",
        "rows 3, 6",
        "counted twice",
    )
    assert not (tmp_path / "board").exists()


def results_without_by_dataset(eval_results, tmp_path, capsys, tiny_vlm):
    run = copy_run(eval_results[1], tmp_path / "run")
    results = json.loads((run / "results.json").read_text())
    del results["metrics"]["paper"]["by_dataset"]
    (run / "results.json").write_text(json.dumps(results))
    code, _, err = build(capsys, eval_results[0], run, "--out", tmp_path / "board")
    assert_one_line_error(code, err, "leaderboard", "lacks metrics.paper.by_dataset")


def read_only_out(eval_results, tmp_path, capsys, tiny_vlm):
    with read_only_folder(tmp_path / "locked") as locked:
        code, _, err = build(capsys, *eval_results, "--out", locked / "board")
        assert_one_line_error(code, err, "leaderboard", "cannot write", str(locked / "board"))


def out_is_a_result_folder(eval_results, tmp_path, capsys, tiny_vlm):
    run = copy_run(eval_results[0], tmp_path / "run")
    (run / "manifest.json").write_text("{}")  # even looking like a build, an input is never replaced
    before = sorted(p.name for p in run.iterdir())
    code, _, err = build(capsys, run, "--out", run)
    assert_one_line_error(code, err, "leaderboard", "is the result folder", "reads")
    assert sorted(p.name for p in run.iterdir()) == before


def training_step_logged_twice_is_drawn_once(eval_results, tmp_path, capsys, tiny_vlm):
    # a training resumed from checkpoint-1 by clinfair <= 0.1.0 appended steps 1 and 2 again
    log = tmp_path / "fairgrpo-train" / "fairness.jsonl"
    log.parent.mkdir()
    log.write_text("\n".join(dynamics_lines([0, 1, 2, 1, 2])) + "\n")
    code, _, err = build(capsys, *eval_results, "--out", tmp_path / "board", "--dynamics", log)
    assert code == 0, err
    assert f"warning: {log}: 2 record(s) of a step logged again were dropped" in err
    curves = pd.read_parquet(tmp_path / "board" / "dynamics.parquet")
    f1 = curves[(curves["scope"] == "overall") & (curves["metric"] == "f1")]
    assert f1["step"].tolist() == [0, 1, 2]
    assert f1["value"].round(6).tolist() == [0.1, 0.4, 0.5]  # the last record of each step
    published = (tmp_path / "board" / "dynamics" / "fairgrpo-train.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in published] == [0, 1, 2]


def dry_run_publishes_no_local_path(eval_results, tmp_path, capsys, tiny_vlm):
    # a run evaluated from a local folder without --run-name (eval_results name theirs; this one does not)
    data = Path(eval_results[0]).parent / "data"
    unnamed = tmp_path / "unnamed"
    settings = ("--limit", 16, "--max-new-tokens", 4, "--n-bootstrap", 20, "--no-progress")
    code, _, err = run_cli(capsys, *eval_args(tiny_vlm, data, unnamed, *settings))
    assert code == 0, err
    assert json.loads((unnamed / "results.json").read_text())["run"]["name"] == Path(tiny_vlm).name
    assert build(capsys, *eval_results, unnamed, "--out", tmp_path / "board")[0] == 0
    code, _, err = run_cli(
        capsys,
        "leaderboard",
        "push",
        tmp_path / "board",
        "--repo",
        "org/board",
        "--dry-run",
        tmp_path / "dry",
    )
    assert code == 0 and "warning" not in err, err
    session_tmp = str(Path(tiny_vlm).parent)  # every test folder of this session lies in it
    assert str(tmp_path).startswith(session_tmp) and eval_results[0].startswith(session_tmp)
    text = all_text(tmp_path / "dry")
    assert Path(tiny_vlm).name in text and session_tmp not in text
    board = pd.read_parquet(tmp_path / "dry" / "dataset" / "leaderboard.parquet")
    assert set(board["model"]) == {Path(tiny_vlm).name, "tiny-vlm-seed1"}


def dry_run_warns_of_a_local_path_left(eval_results, tmp_path, capsys, tiny_vlm):
    log = tmp_path / "grpo-train" / "fairness.jsonl"  # a user's file, published as it is, names a folder
    log.parent.mkdir()
    record = {"step": 0, "method": "grpo", "overall": {"f1": 0.5}, "note": f"from {tmp_path}/ckpt-7"}
    log.write_text(json.dumps(record) + "\n")
    assert build(capsys, *eval_results, "--out", tmp_path / "board", "--dynamics", log)[0] == 0
    code, out, err = run_cli(
        capsys,
        "leaderboard",
        "push",
        tmp_path / "board",
        "--repo",
        "org/board",
        "--dry-run",
        tmp_path / "dry",
    )
    assert code == 0 and "nothing was pushed" in out
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "1 absolute local path(s) would leave this machine" in warning[0]
    assert f"{tmp_path}/ckpt-7 (in org/board/dynamics/grpo-train.jsonl)" in warning[0]


@cases(
    duplicate_example_in_predictions,
    results_without_by_dataset,
    read_only_out,
    out_is_a_result_folder,
    training_step_logged_twice_is_drawn_once,
    dry_run_publishes_no_local_path,
    dry_run_warns_of_a_local_path_left,
)
def test_leaderboard_build_bad_input(case, eval_results, tmp_path, capsys, tiny_vlm):
    case(eval_results, tmp_path, capsys, tiny_vlm)

"""`clinfair eval` end to end on the tiny VLM: files, resume after a real kill, clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from clinfair.benchmark.runner import PARTIAL_FILE
from conftest import eval_args

from clinfair.cli import main

REPO = Path(__file__).resolve().parents[1]


def _eval_args(model, data, out, *extra):
    settings = ("--max-new-tokens", 12, "--batch-size", 4, "--n-bootstrap", 50, "--no-progress")
    return eval_args(model, data, out, *settings, *extra)


def test_eval_writes_results_and_predictions(tiny_vlm, eval_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_eval_args(tiny_vlm, eval_data, out, "--limit", "16")) == 0
    printed = capsys.readouterr().out
    header, *lines = printed.splitlines()
    assert header.split()[:4] == ["dataset", "Exact", "acc", "Invalid"]
    # every answer of the tiny model is invalid (below): exact accuracy 0 and invalid rate 1 come
    # first, never the paper protocol's 0.5 (issue 23)
    row = next(line for line in lines if line.startswith("synthetic")).split()
    assert row[1:4] == ["0.000", "1.000", "16"]
    assert sorted(p.name for p in out.iterdir()) == ["predictions.parquet", "results.json", "run.json"]
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert len(predictions) == 16 and predictions["index"].tolist() == list(range(16))
    required = {
        "id",
        "dataset",
        "split",
        "sex",
        "age",
        "age_group",
        "group",
        "answer",
        "choices",
        "completion",
        "prediction",
        "valid",
        "correct",
    }
    assert required <= set(predictions.columns)
    # the random tiny model answers nonsense: every answer is invalid, scored wrong, and counted
    assert (~predictions["valid"]).sum() == (~predictions["correct"]).sum() == 16
    results = json.loads((out / "results.json").read_text())
    assert results["schema_version"] == 1 and results["model"]["backend"] == "hf"
    assert results["model"]["model"] == str(tiny_vlm) and results["model"]["dtype"] == "float32"
    assert results["request"]["generation"]["greedy"] is True
    assert results["tasks"]["synthetic"]["rows"] == 16
    assert results["tasks"]["synthetic"]["invalid_answers"] == 16
    nulls = results["tasks"]["synthetic"]["null_demographics"]
    assert nulls["sex"] == predictions["sex"].isna().sum()
    paper = results["metrics"]["paper"]
    assert {"accuracy", "f1", "pp", "eod", "f1_es"} <= set(paper["by_dataset"]["synthetic"])


def test_rerun_of_a_finished_run_rescores_without_changing_files(tiny_vlm, eval_data, tmp_path):
    out = tmp_path / "run"
    assert main(_eval_args(tiny_vlm, eval_data, out, "--limit", "8")) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(_eval_args(tiny_vlm, eval_data, out, "--limit", "8")) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_kill_and_resume_ends_with_the_same_files(tiny_vlm, eval_data, tmp_path):
    args = _eval_args(
        tiny_vlm, eval_data, tmp_path / "killed", "--split", "train", "--limit", "60", "--batch-size", "2"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "clinfair.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    partial = tmp_path / "killed" / PARTIAL_FILE
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if partial.exists() and len(partial.read_text().splitlines()) >= 6:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    written = len(partial.read_text().splitlines())
    assert 6 <= written < 60
    assert not (tmp_path / "killed" / "results.json").exists()

    assert main(args) == 0  # resumes
    assert not partial.exists()
    assert (
        main(
            _eval_args(
                tiny_vlm,
                eval_data,
                tmp_path / "straight",
                "--split",
                "train",
                "--limit",
                "60",
                "--batch-size",
                "2",
            )
        )
        == 0
    )
    for name in ("predictions.parquet", "results.json", "run.json"):
        killed, straight = tmp_path / "killed" / name, tmp_path / "straight" / name
        if name.endswith(".parquet"):
            pd.testing.assert_frame_equal(pd.read_parquet(killed), pd.read_parquet(straight))
        else:
            assert killed.read_text() == straight.read_text(), name


def test_resume_refuses_other_settings(tiny_vlm, eval_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_eval_args(tiny_vlm, eval_data, out, "--limit", "4")) == 0
    assert main(_eval_args(tiny_vlm, eval_data, out, "--limit", "5")) == 2
    assert "different settings (limit)" in capsys.readouterr().err
    assert main(_eval_args(tiny_vlm, eval_data, out, "--limit", "5", "--overwrite")) == 0


@pytest.mark.parametrize("model", ["/does/not/exist", "./nope"])
def test_missing_model_is_one_clear_line(model, eval_data, tmp_path, capsys):
    assert main(_eval_args(model, eval_data, tmp_path / "o")) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not exist" in err and "Traceback" not in err


def test_missing_prepared_dataset_says_how_to_prepare(tiny_vlm, tmp_path, capsys):
    assert (
        main(_eval_args(tiny_vlm, tmp_path / "empty", tmp_path / "o").__add__(["--tasks", "ham10000"])) == 2
    )
    assert "clinfair prepare ham10000" in capsys.readouterr().err


def test_synthetic_is_prepared_on_the_fly(tiny_vlm, tmp_path):
    assert main(_eval_args(tiny_vlm, tmp_path / "data", tmp_path / "o", "--limit", "2")) == 0
    assert (tmp_path / "data" / "synthetic" / "dataset_dict.json").exists()


def test_results_record_the_split_hash(tiny_vlm, eval_data, tmp_path, capsys):
    """results.json holds the content hash of the rows evaluated: the manifest's for a whole split,
    the first rows' with --limit (recomputed here from the stored rows with hashlib alone)."""
    from clinfair.tasks import get_task
    from clinfair.tasks.prepare import prepare
    from split_hash import split_sha256, stored_rows

    out = tmp_path / "limited"
    assert main(_eval_args(tiny_vlm, eval_data, out, "--limit", "4")) == 0
    results = json.loads((out / "results.json").read_text())
    first = stored_rows(eval_data / "synthetic", "test")[:4]
    assert results["tasks"]["synthetic"]["split_sha256"] == split_sha256(first)

    data = tmp_path / "data"
    prepare(get_task("synthetic"), data / "synthetic", options={"n": 24}, progress=False)
    assert main(_eval_args(tiny_vlm, data, tmp_path / "whole")) == 0
    results = json.loads((tmp_path / "whole" / "results.json").read_text())
    manifest = json.loads((data / "synthetic" / "split_manifest.json").read_text())
    whole = split_sha256(stored_rows(data / "synthetic", "test"))
    assert results["tasks"]["synthetic"]["split_sha256"] == manifest["splits"]["test"]["sha256"] == whole

    # a prepared folder changed after prepare pinned it is refused in one line
    manifest["splits"]["test"]["sha256"] = "0" * 64
    (data / "synthetic" / "split_manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(_eval_args(tiny_vlm, data, tmp_path / "changed")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the test rows hash to" in err and "split_manifest.json" in err
    assert not (tmp_path / "changed").exists()

"""``clinfair eval`` under ``accelerate launch`` with 2 CPU processes writes the files of 1 process."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import eval_args, run_on_two_cpu_processes

from clinfair.cli import main


@pytest.mark.slow
def test_two_processes_write_the_one_process_files(tiny_vlm, eval_data, tmp_path):
    settings = ("--limit", 12, "--batch-size", 4, "--max-new-tokens", 6, "--n-bootstrap", 20, "--no-progress")
    assert main(eval_args(tiny_vlm, eval_data, tmp_path / "one", *settings)) == 0
    done = run_on_two_cpu_processes(
        "-m", "clinfair.cli", *eval_args(tiny_vlm, eval_data, tmp_path / "two", *settings)
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("wrote ") == 1  # the main process reports once
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        "predictions.parquet",
        "results.json",
        "run.json",
    ]
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "one" / "predictions.parquet"),
        pd.read_parquet(tmp_path / "two" / "predictions.parquet"),
    )
    one, two = (json.loads((tmp_path / name / "results.json").read_text()) for name in ("one", "two"))
    assert one == two
    assert len(set(pd.read_parquet(tmp_path / "two" / "predictions.parquet")["completion"])) > 1

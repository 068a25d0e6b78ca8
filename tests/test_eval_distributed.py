"""``clinfair eval`` under ``accelerate launch`` with 2 CPU processes writes the files of 1 process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pandas as pd
import pytest
from conftest import eval_args

from clinfair.cli import main


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_write_the_one_process_files(tiny_vlm, eval_data, tmp_path):
    settings = ("--limit", 12, "--batch-size", 4, "--max-new-tokens", 6, "--n-bootstrap", 20, "--no-progress")
    assert main(eval_args(tiny_vlm, eval_data, tmp_path / "one", *settings)) == 0
    # --multi_gpu starts torchrun workers, which use gloo on CPU (ACCELERATE_USE_CPU)
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        "-m",
        "clinfair.cli",
        *eval_args(tiny_vlm, eval_data, tmp_path / "two", *settings),
    ]
    env = os.environ | {"ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=480)
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

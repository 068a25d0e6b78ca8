"""Checks that need CUDA (``pytest -m gpu`` on a GPU host; skipped elsewhere, see conftest.py).

The CPU suite tests everything up to vLLM with a stand-in module (test_vllm_backend.py); these
run the real engine: vLLM greedy eval gives the HF backend's answers, and TRL's colocate mode
trains FairGRPO for 2 steps with the fairness callback generating through TRL's vLLM engine.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import eval_args, same_completion, train_args

from clinfair.cli import main

pytestmark = [pytest.mark.gpu, pytest.mark.slow]


def test_vllm_greedy_eval_equals_hf_greedy_eval(tiny_vlm, eval_data, tmp_path):
    pytest.importorskip("vllm", reason="pip install 'clinfair[vllm]'")
    common = ("--limit", 16, "--batch-size", 8, "--max-new-tokens", 8, "--dtype", "float32")
    common += ("--n-bootstrap", 0, "--no-progress")
    assert main(eval_args(tiny_vlm, eval_data, tmp_path / "hf", *common, "--device", "cuda")) == 0
    assert main(eval_args(tiny_vlm, eval_data, tmp_path / "vllm", *common, "--backend", "vllm")) == 0
    hf, vllm = (pd.read_parquet(tmp_path / name / "predictions.parquet") for name in ("hf", "vllm"))
    # equal up to a trailing U+FFFD (HF decodes an incomplete final UTF-8 sequence as U+FFFD, vLLM drops it)
    same = np.mean([same_completion(a, b) for a, b in zip(hf["completion"], vllm["completion"])])
    assert same >= 0.9, f"only {same:.0%} of greedy completions agree"  # fp32 kernels differ in rare ties


def test_colocate_training_two_steps(tiny_vlm, data_dir, tmp_path):
    pytest.importorskip("vllm", reason="pip install 'clinfair[vllm]'")
    out = tmp_path / "run"
    vllm = ("use_cpu=false", "use_vllm=true", "vllm_mode=colocate", "vllm_gpu_memory_utilization=0.2")
    code = main(train_args(tiny_vlm, data_dir, out, "max_steps=2", *vllm, "fairness_eval_steps=1"))
    assert code == 0
    steps = [json.loads(line)["step"] for line in (out / "fairness.jsonl").read_text().splitlines()]
    assert steps == [0, 1, 2]

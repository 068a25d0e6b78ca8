"""Shared fixtures. Everything is built locally: no test downloads a model or a dataset."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory) -> str:
    """A tiny random Qwen2.5-VL checkpoint folder, built once per test session."""
    from clinfair.benchmark.models import build_tiny_vlm

    return str(build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm")))


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory) -> str:
    """A prepared synthetic task (60 rows) folder."""
    from clinfair.tasks import get_task
    from clinfair.tasks.prepare import prepare

    out = tmp_path_factory.mktemp("synthetic") / "data"
    prepare(get_task("synthetic"), out, options={"n": 60}, progress=False)
    return str(out)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, synthetic_data) -> str:
    """A data folder holding ``synthetic`` (:func:`synthetic_data`, 60 rows), as a recipe's
    ``data_dir`` or ``--data`` reads it (``DATA/<task>``)."""
    root = tmp_path_factory.mktemp("data-dir")
    (root / "synthetic").symlink_to(synthetic_data, target_is_directory=True)
    return str(root)


@pytest.fixture(scope="session")
def eval_data(tmp_path_factory):
    """A data folder (``DATA/synthetic``, as ``clinfair eval --data`` reads) with a 200-row
    synthetic task: enough rows to kill an evaluation mid-run, and over 16 test rows."""
    from clinfair.tasks import get_task
    from clinfair.tasks.prepare import prepare

    data = tmp_path_factory.mktemp("data")
    prepare(get_task("synthetic"), data / "synthetic", options={"n": 200}, progress=False)
    return data


@pytest.fixture(scope="session")
def eval_results(tmp_path_factory, tiny_vlm, synthetic_data) -> list[str]:
    """Two result folders written by the real ``clinfair eval`` on the synthetic task.

    ``tiny-grpo`` (method grpo) evaluates the tiny VLM, ``tiny-fairgrpo`` (method fairgrpo)
    a second tiny VLM built with another seed; at most 16 rows each, so both take seconds. The
    leaderboard tests build from these and never from hand-written results.
    """
    from clinfair.benchmark.models import TinyVLMConfig, build_tiny_vlm

    from clinfair.cli import main

    root = tmp_path_factory.mktemp("eval-results")
    data = root / "data"  # eval reads DATA/<task>
    data.mkdir()
    (data / "synthetic").symlink_to(synthetic_data, target_is_directory=True)
    second = build_tiny_vlm(root / "tiny-vlm-seed1", TinyVLMConfig(seed=1))
    folders = []
    for model, name, method in ((tiny_vlm, "tiny-grpo", "grpo"), (second, "tiny-fairgrpo", "fairgrpo")):
        out = root / name
        settings = ("--limit", 16, "--max-new-tokens", 4, "--n-bootstrap", 20, "--no-progress")
        code = main(eval_args(model, data, out, *settings, "--run-name", name, "--method", method))
        assert code == 0, f"clinfair eval failed for {name}"
        folders.append(str(out))
    return folders


@pytest.fixture(scope="session")
def pad_ufes20_run(tmp_path_factory, tiny_vlm) -> Path:
    """A PAD-UFES-20 raw folder (45 lesions, every Fitzpatrick type), prepared with every row
    in the test split by the real ``clinfair prepare``, then evaluated by ``clinfair eval`` on
    the tiny VLM with the default attributes; the run folder (``DATA`` is its parent's ``data``)."""
    from pad_ufes20_raw import write_pad_ufes20_raw

    from clinfair.cli import main

    root = tmp_path_factory.mktemp("pad-ufes20")
    raw = write_pad_ufes20_raw(root / "raw")
    prepare = [
        "prepare",
        "pad_ufes20",
        "--raw",
        str(raw),
        "--out",
        str(root / "data" / "pad_ufes20"),
        "-o",
        "split_fractions={train: 0.0, validation: 0.0, test: 1.0}",
        "--no-progress",
    ]
    assert main(prepare) == 0
    out = root / "run"
    assert main([*pad_ufes20_eval_args(tiny_vlm, root / "data", out)]) == 0
    return out


def eval_args(model, data, out, *extra, tasks: str = "synthetic", command: str = "eval") -> list[str]:
    """``clinfair eval`` arguments: MODEL on TASKS read from DATA (``DATA/<task>``), written to OUT,
    then EXTRA; every item as text. ``command="probe"``: ``clinfair probe``, which takes the same four."""
    return [
        str(a) for a in (command, "--model", model, "--tasks", tasks, "--data", data, "--out", out, *extra)
    ]


def train_args(
    model, data_dir, output_dir, *overrides, method: str = "fairgrpo", recipe: str = "tiny-cpu"
) -> list[str]:
    """``clinfair train`` arguments: METHOD with RECIPE on MODEL, DATA_DIR and OUTPUT_DIR, then
    the recipe OVERRIDES (``key=value``)."""
    folders = (f"model={model}", f"data_dir={data_dir}", f"output_dir={output_dir}")
    return ["train", "--method", method, "--recipe", recipe, *folders, *overrides]


def pad_ufes20_eval_args(model, data, out, *extra) -> list[str]:
    """The ``clinfair eval`` arguments of :func:`pad_ufes20_run` (a test re-runs them to re-score)."""
    settings = ("--max-new-tokens", 4, "--batch-size", 16, "--n-bootstrap", 50, "--no-progress")
    return eval_args(
        model, data, out, *settings, "--run-name", "tiny-pad", "--method", "grpo", *extra, tasks="pad_ufes20"
    )


def free_port() -> int:
    """A TCP port free on localhost now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_on_two_cpu_processes(*target: str, cwd=None, timeout: int = 480) -> subprocess.CompletedProcess:
    """``accelerate launch`` of TARGET (a script and its arguments, or ``-m`` and a module's) on two
    CPU processes. ``--cpu`` alone starts one process unless MPI is set up; ``--multi_gpu`` starts
    torchrun workers, which use gloo on CPU (ACCELERATE_USE_CPU)."""
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    launch += ["--main_process_port", str(free_port())]
    env = os.environ | {"ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*launch, *target], env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def pytest_collection_modifyitems(config, items):
    """``gpu`` tests need CUDA: skipped, saying so, on machines without it (CI has none)."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(
        reason="needs CUDA: run `pytest -m gpu` on a GPU host (vLLM: pip install 'clinfair[vllm]')"
    )
    for item in gpu_items:
        item.add_marker(skip)


def same_completion(hf: str, vllm: str) -> bool:
    """Whether two greedy completions agree up to trailing U+FFFD characters: transformers decodes an
    incomplete final UTF-8 sequence as U+FFFD (one per byte it cannot place) where vLLM drops it,
    the only difference measured between them."""
    return hf == vllm or hf.rstrip("\ufffd") == vllm.rstrip("\ufffd")

"""lm-eval tasks: a real lm-eval run on the tiny VLM agrees with `clinfair eval` on the same rows.

Agreement is checked row by row (the prompt the model sees, the raw completion, the parsed
answer) and metric by metric (exact-match accuracy, invalid answers, every paper key). A
random model answers nonsense, so a second comparison replaces the model's ``generate``
with a reader of the synthetic task's visual cue that answers in format: then parsing,
scoring and the gaps are compared on answers that are valid, invalid, right and wrong.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import clinfair.benchmark.lmeval.model  # noqa: F401  (registers clinfair-hf-multimodal)
import pandas as pd
import pytest
from clinfair.benchmark.generation import conversation
from clinfair.benchmark.lmeval import TASK_FOLDER
from clinfair.benchmark.lmeval.harness import write_task_folder
from clinfair.benchmark.metrics import PAPER_KEYS
from conftest import eval_args
from lm_eval import simple_evaluate
from lm_eval.tasks import TaskManager

from clinfair.cli import main

ROWS, MAX_NEW_TOKENS, BATCH_SIZE = 16, 8, 4
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def task_manager(tmp_path_factory, eval_data) -> TaskManager:
    """lm-eval's task index over a task folder written for ``eval_data`` (built-in tasks left out: faster)."""
    folder = tmp_path_factory.mktemp("lmeval-tasks")
    write_task_folder(folder, eval_data)
    return TaskManager(include_path=str(folder), include_defaults=False)


def clinfair_eval(model: str, data: Path, out: Path) -> tuple[dict, pd.DataFrame]:
    settings = ("--limit", ROWS, "--max-new-tokens", MAX_NEW_TOKENS, "--batch-size", BATCH_SIZE)
    assert main(eval_args(model, data, out, *settings, "--n-bootstrap", 0, "--no-progress")) == 0
    return json.loads((out / "results.json").read_text()), pd.read_parquet(out / "predictions.parquet")


def lm_eval_run(model: str, task_manager: TaskManager) -> tuple[dict, list[dict]]:
    """lm-eval's per-task results and its logged samples, in row order."""
    output = simple_evaluate(
        model="clinfair-hf-multimodal",
        model_args={"pretrained": model},
        device="cpu",
        tasks=["clinfair_synthetic"],
        task_manager=task_manager,
        limit=ROWS,
        batch_size=BATCH_SIZE,
        apply_chat_template=True,
        log_samples=True,
        gen_kwargs={"max_gen_toks": MAX_NEW_TOKENS},
    )
    samples = sorted(output["samples"]["clinfair_synthetic"], key=lambda sample: sample["doc_id"])
    return output["results"]["clinfair_synthetic"], samples


def same_value(clinfair_value: float | None, lm_eval_value: float) -> bool:
    """clinfair writes an undefined value as null, the lm-eval aggregation as NaN."""
    if clinfair_value is None:
        return math.isnan(lm_eval_value)
    return math.isclose(clinfair_value, lm_eval_value, rel_tol=1e-12, abs_tol=1e-12)


def assert_agree(results: dict, predictions: pd.DataFrame, lm_results: dict, samples: list[dict]) -> None:
    assert len(samples) == len(predictions) == ROWS
    assert [s["doc"]["id"] for s in samples] == predictions["id"].tolist()
    assert [s["resps"][0][0] for s in samples] == predictions["completion"].tolist()
    lm_predictions = [s["paper_accuracy"]["prediction"] for s in samples]
    assert lm_predictions == [None if p is None else list(p) for p in predictions["prediction"]]
    task = results["tasks"]["synthetic"]
    assert lm_results["exact_match,none"] == pytest.approx(task["accuracy_exact"])
    assert round(lm_results["invalid,none"] * ROWS) == task["invalid_answers"]
    paper = results["metrics"]["paper"]["by_dataset"]["synthetic"]
    differing = {
        key: (paper[key], lm_results[f"paper_{key},none"])
        for key in PAPER_KEYS
        if not same_value(paper[key], lm_results[f"paper_{key},none"])
    }
    assert not differing, f"paper keys differ (clinfair, lm-eval): {differing}"


@pytest.fixture(scope="module")
def random_model_eval(tiny_vlm, eval_data, tmp_path_factory) -> tuple[dict, pd.DataFrame]:
    return clinfair_eval(tiny_vlm, eval_data, tmp_path_factory.mktemp("clinfair-random") / "run")


def test_lm_eval_sees_the_same_prompts_and_completes_the_same_on_the_random_model(
    tiny_vlm, eval_data, task_manager, random_model_eval
):
    from clinfair.benchmark.models import load_processor
    from clinfair.tasks.prepare import load_prepared

    results, predictions = random_model_eval
    lm_results, samples = lm_eval_run(tiny_vlm, task_manager)
    processor = load_processor(tiny_vlm)
    rows = load_prepared(eval_data / "synthetic")["test"]
    clinfair_prompts = [
        processor.apply_chat_template(conversation(rows[i], False), add_generation_prompt=True)
        for i in range(ROWS)
    ]
    assert [s["arguments"][0][0] for s in samples] == clinfair_prompts
    assert len(set(predictions["completion"])) > 1  # different rows, different nonsense: a real comparison
    assert_agree(results, predictions, lm_results, samples)


def _cue_reading_generate(tokenizer):
    """A stand-in for ``generate`` that reads the synthetic cue and answers in format.

    The lesion is dark red (malignant) or light tan (benign) on a background that darkens
    with age, so the image's mean green level tells the labels apart, imperfectly and
    unequally across age groups. The threshold is set too dark (lighter malignant lesions
    are called benign), and in a middle band it answers outside the label space (invalid).
    """
    import torch

    def generate(self, input_ids=None, pixel_values=None, image_grid_thw=None, **_settings):
        assert len(image_grid_thw) == len(input_ids), "one image per row"
        patches = torch.split(pixel_values, image_grid_thw.prod(-1).tolist())
        answers = []
        for image in patches:
            green = image.reshape(len(image), 3, -1)[:, 1].mean().item()
            label = "malignant" if green < 0.34 else "unsure" if 0.45 < green < 0.65 else "benign"
            text = f"<think>green {green:.2f}</think>\\boxed{{{label}}}"
            answers.append(tokenizer.encode(text, add_special_tokens=False) + [tokenizer.eos_token_id])
        width = max(map(len, answers))
        new = [answer + [tokenizer.pad_token_id] * (width - len(answer)) for answer in answers]
        return torch.cat([input_ids, torch.tensor(new, dtype=input_ids.dtype)], dim=1)

    return generate


def test_lm_eval_parses_and_scores_like_clinfair_on_answers_in_format(
    tiny_vlm, eval_data, task_manager, tmp_path, monkeypatch
):
    from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration

    generate = _cue_reading_generate(AutoTokenizer.from_pretrained(tiny_vlm))
    monkeypatch.setattr(Qwen2_5_VLForConditionalGeneration, "generate", generate)
    results, predictions = clinfair_eval(tiny_vlm, eval_data, tmp_path / "clinfair-cue")
    lm_results, samples = lm_eval_run(tiny_vlm, task_manager)

    assert 0 < predictions["valid"].sum() < ROWS  # valid and invalid answers
    assert 0 < predictions["correct"].sum() < predictions["valid"].sum()  # right and wrong ones
    paper = results["metrics"]["paper"]["by_dataset"]["synthetic"]
    assert paper["acc_gap"] > 0 and paper["f1_gap"] > 0
    assert_agree(results, predictions, lm_results, samples)


@pytest.mark.slow
def test_documented_command_line_with_the_shipped_task_folder(
    tiny_vlm, eval_data, random_model_eval, tmp_path
):
    """`python -m clinfair.benchmark.lmeval` (lm-eval's CLI + clinfair-hf-multimodal) on the shipped YAMLs."""
    out = tmp_path / "lm-eval-out"
    command = [
        sys.executable,
        "-m",
        "clinfair.benchmark.lmeval",
        "--model",
        "clinfair-hf-multimodal",
        "--model_args",
        f"pretrained={tiny_vlm}",
        "--device",
        "cpu",
        "--include_path",
        str(TASK_FOLDER),
        "--tasks",
        "clinfair_synthetic",
        "--apply_chat_template",
        "--limit",
        str(ROWS),
        "--batch_size",
        str(BATCH_SIZE),
        "--gen_kwargs",
        f"max_gen_toks={MAX_NEW_TOKENS}",
        "--output_path",
        str(out),
    ]
    env = {**os.environ, "CLINFAIR_DATA": str(eval_data), "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [results_file] = out.rglob("results_*.json")
    lm_results = json.loads(results_file.read_text())["results"]["clinfair_synthetic"]
    results, _ = random_model_eval
    paper = results["metrics"]["paper"]["by_dataset"]["synthetic"]
    lm_values = {key: lm_results[f"paper_{key},none"] for key in PAPER_KEYS}
    assert all(same_value(paper[key], float(lm_values[key])) for key in PAPER_KEYS), (paper, lm_values)
    assert lm_results["sample_len"] == ROWS


def test_shipped_task_folder_is_what_the_writer_writes(tmp_path):
    written = write_task_folder(tmp_path)
    shipped = sorted(path.name for path in TASK_FOLDER.glob("*.yaml"))
    assert shipped == sorted(path.name for path in written)
    for path in written:
        stale = f"{path.name} is stale: regenerate with `clinfair lm-eval-tasks --out benchmark/lmeval/tasks`"
        assert (TASK_FOLDER / path.name).read_text() == path.read_text(), stale


def test_a_task_without_prepared_data_says_how_to_prepare_it(tmp_path):
    (tmp_path / "data").mkdir()
    write_task_folder(tmp_path / "tasks", tmp_path / "data")
    manager = TaskManager(include_path=str(tmp_path / "tasks"), include_defaults=False)
    with pytest.raises(FileNotFoundError) as error:
        manager.load(["clinfair_chexpert"])
    message = str(error.value)
    assert "clinfair_chexpert: no prepared data for chexpert at" in message
    assert (
        "clinfair prepare chexpert" in message and "clinfair lm-eval-tasks --out DIR --data DATA" in message
    )


def test_lm_eval_tasks_command(tmp_path, capsys):
    assert main(["lm-eval-tasks", "--out", str(tmp_path / "tasks"), "--data", str(tmp_path / "missing")]) == 2
    assert "--data" in capsys.readouterr().err and not (tmp_path / "tasks").exists()

    (tmp_path / "data").mkdir()
    out = tmp_path / "tasks"
    assert (
        main(["lm-eval-tasks", "--out", str(out), "--data", str(tmp_path / "data"), "--max-gen-toks", "64"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "no prepared data yet" in printed and "chexpert" in printed and "synthetic," not in printed
    assert "max_gen_toks: 64" in (out / "_clinfair_base.yaml").read_text()
    assert json.dumps(str((tmp_path / "data").resolve())) in (out / "clinfair_isic2020.yaml").read_text()


def test_a_model_without_image_support_is_refused_clearly(tmp_path):
    from clinfair.benchmark.lmeval.model import ClinfairHFMultimodalLM
    from clinfair.benchmark.models import ModelLoadError, build_tiny_tokenizer
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = build_tiny_tokenizer()
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=16, n_layer=1, n_head=2)
    GPT2LMHeadModel(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="needs an image-text-to-text checkpoint.*model type 'gpt2'"):
        ClinfairHFMultimodalLM(pretrained=str(tmp_path), device="cpu")

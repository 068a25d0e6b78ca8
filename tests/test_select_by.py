"""Fairness-aware checkpoint selection: ``select_by`` keeps ``best/`` at the step fairness.jsonl says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import train_args

from clinfair.cli import main


@pytest.fixture(scope="module")
def answering_model(tmp_path_factory, synthetic_data) -> Path:
    """The tiny VLM after a short supervised warm start: it writes answers, so validation metrics move."""
    from clinfair.benchmark.models import build_tiny_vlm, load_model_and_processor
    from clinfair.tasks.prepare import load_prepared
    from clinfair.trainers.warmstart import format_warm_start

    folder = build_tiny_vlm(tmp_path_factory.mktemp("answering"))
    model, processor = load_model_and_processor(folder, dtype="float32")
    train = load_prepared(synthetic_data)["train"]
    format_warm_start(model, processor, [train[i] for i in range(len(train))], steps=60, true_labels=True)
    model.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_best_checkpoint_is_kept_at_the_step_predicted_from_fairness_jsonl(
    answering_model, data_dir, tmp_path
):
    out = tmp_path / "run"
    steps = ("max_steps=10", "learning_rate=3e-3", "fairness_eval_steps=2", "eval_limit=12")
    selection = ("select_by=f1", "fairness_max_new_tokens=24")
    code = main(train_args(answering_model, data_dir, out, *steps, *selection, method="grpo"))
    assert code == 0
    lines = [json.loads(line) for line in (out / "fairness.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [0, 2, 4, 6, 8, 10]

    values = [(line["overall"]["f1"], line["step"]) for line in lines]
    assert len({v for v, _ in values}) > 1, "the validation F1 should move during training"
    best_value = max(v for v, _ in values if v is not None)
    predicted = next(step for v, step in values if v == best_value)  # the earliest of ties
    selection = json.loads((out / "best" / "selection.json").read_text())
    assert selection["step"] == predicted and selection["value"] == pytest.approx(best_value)
    assert (out / "best" / "model.safetensors").is_file()
    assert [line["selection"]["best_step"] for line in lines][-1] == predicted
    assert sum(line["selection"]["selected"] for line in lines) >= 1


def test_select_by_an_unknown_metric_is_one_line(tiny_vlm, tmp_path, capsys):
    code = main(
        [
            "train",
            "--method",
            "grpo",
            "--recipe",
            "tiny-cpu",
            f"model={tiny_vlm}",
            f"output_dir={tmp_path}/run",
            "select_by=prettiness",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "select_by 'prettiness' is not a validation metric" in err and "worst_group_f1" in err


def test_worst_group_metric_reads_every_group_with_rows():
    from clinfair.trainers.callbacks import SELECTABLE

    record = {
        "groups": {
            "a": {
                "sex": {"F": {"rows": 3, "f1": 0.5}, "M": {"rows": 4, "f1": 0.9}},
                "age_group": {"A1": {"rows": 0}, "A2": {"rows": 7, "f1": 0.7}},
            },
            "b": {"sex": {"F": {"rows": 2, "f1": 0.4}, "M": {"rows": 0, "f1": 0.0}}},
        }
    }
    higher, read = SELECTABLE["worst_group_f1"]
    assert higher and read(record) == 0.4  # b/M has no rows: not a group to be worst in
    assert SELECTABLE["pp"][0] is False and SELECTABLE["f1_es"][0] is True

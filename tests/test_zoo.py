"""Every family of the tiny-model zoo through the real user paths: eval, train, check-model.

"Any VLM" is a tested contract: each family is built offline (``clinfair.benchmark.zoo``), loaded by
``clinfair.benchmark.models.load_model_and_processor`` as a user's checkpoint would be, evaluated at
batch size 4 on a one-image and a two-image task, and trained for 2 FairGRPO steps with
the fairness callback on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from clinfair.benchmark.zoo import ZOO, build_tiny_family
from clinfair.tasks import get_task
from clinfair.tasks.prepare import load_prepared, prepare
from conftest import eval_args, train_args
from rawdata import write_csv, write_jpeg
from test_builder_ct_hemorrhage import DEMOGRAPHICS_HEADER, DIAGNOSIS_HEADER

from clinfair.cli import main

FAMILIES = sorted(ZOO)
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("zoo")
    return {name: build_tiny_family(name, root / name) for name in FAMILIES}


@pytest.fixture(scope="session")
def zoo_data(tmp_path_factory, synthetic_data) -> tuple[Path, str]:
    """DATA/synthetic (one image per row) and DATA/ct_hemorrhage (two images per row, built from a
    generated raw folder in the official layout); returns the folder and the CT split with most rows."""
    data = tmp_path_factory.mktemp("zoo-data")
    (data / "synthetic").symlink_to(synthetic_data, target_is_directory=True)
    raw = tmp_path_factory.mktemp("ct-raw")
    rows = [[patient, 1, 0, patient % 2, 0, 0, 0, 1 - patient % 2, 0] for patient in range(49, 73)]
    for shade, (patient, *_rest) in enumerate(rows):
        for offset, window in enumerate(("brain", "bone")):
            write_jpeg(
                raw / "Patients_CT" / f"{patient:03d}/{window}/1.jpg", shade=8 * shade + offset, size=(24, 24)
            )
    write_csv(raw / "hemorrhage_diagnosis.csv", DIAGNOSIS_HEADER, rows)
    write_csv(
        raw / "patient_demographics.csv",
        DEMOGRAPHICS_HEADER,
        [[p, 30 + p % 40, "Male" if p % 2 else "Female", ""] for p, *_ in rows],
    )
    prepare(get_task("ct_hemorrhage"), data / "ct_hemorrhage", raw, progress=False)
    splits = load_prepared(data / "ct_hemorrhage")
    assert {len(row["images"]) for row in splits["train"]} == {2}
    return data, max(splits, key=lambda name: len(splits[name]))


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_eval_every_family_at_batch_size_4(family, zoo, zoo_data, tmp_path):
    data, ct_split = zoo_data
    for task, split, limit in (("synthetic", "test", 8), ("ct_hemorrhage", ct_split, 6)):
        out = tmp_path / task
        settings = ("--batch-size", 4, "--max-new-tokens", 4, "--n-bootstrap", 5, "--no-progress")
        code = main(
            eval_args(zoo[family], data, out, "--split", split, "--limit", limit, *settings, tasks=task)
        )
        assert code == 0, f"{family} on {task}"
        predictions = pd.read_parquet(out / "predictions.parquet")
        assert len(predictions) == limit and predictions["completion"].map(type).eq(str).all()
        sums = predictions["scores"].map(sum)  # --scores direct (the default): label probabilities
        assert sums.between(1 - 1e-6, 1 + 1e-6).all() and predictions["scores"].map(len).eq(2).all()
        results = json.loads((out / "results.json").read_text())
        assert results["model"]["model"] == str(zoo[family]) and results["tasks"][task]["rows"] == limit


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_two_fairgrpo_steps_with_the_fairness_callback_on_every_family(family, zoo, zoo_data, tmp_path):
    data, _ = zoo_data
    out = tmp_path / "run"
    steps = ("max_steps=2", "train_limit=8", "eval_limit=4", "max_completion_length=6")
    fairness = ("fairness_eval_steps=1", "fairness_batch_size=4", "fairness_max_new_tokens=4")
    assert main(train_args(zoo[family], data, out, *steps, *fairness)) == 0
    steps = [json.loads(line)["step"] for line in (out / "fairness.jsonl").read_text().splitlines()]
    assert steps == [0, 1, 2]
    import torch
    from safetensors.torch import load_file

    trained, initial = load_file(out / "model.safetensors"), load_file(zoo[family] / "model.safetensors")
    assert trained.keys() == initial.keys()
    assert all(torch.isfinite(weights).all() for weights in trained.values())
    if ZOO[family].model_type == "mllama":
        # the loss reached the policy through its cross-attention (TRL 1.16 alone fails in the loss's forward).
        # Only here: most families' random completions all run to the 6 tokens and earn equal rewards, so
        # their advantages, and the update, are 0; Mllama's second step has unequal rewards.
        moved = {name for name, weights in trained.items() if not torch.equal(weights, initial[name])}
        assert any(".cross_attn." in name for name in moved), sorted(moved)


@pytest.mark.parametrize("family", FAMILIES)
def test_check_model_says_every_family_works(family, zoo, capsys):
    assert main(["check-model", str(zoo[family])]) == 0
    out = capsys.readouterr().out
    assert f"model type {ZOO[family].model_type}" in out and "2 rows x 2 image(s) -> 2 completions" in out
    assert out.rstrip().endswith("verdict: OK: works with clinfair eval and train")


def test_gemma3_needs_one_image_list_per_row(zoo):
    """The failure this suite guards against: Gemma3's processor refuses one flat image list per batch."""
    from clinfair.benchmark.checks import probe_rows
    from clinfair.benchmark.generation import render_prompt
    from clinfair.benchmark.models import load_model_and_processor
    from PIL import Image

    _, processor = load_model_and_processor(zoo["gemma3"])
    rows = probe_rows(2, 1)
    texts = [render_prompt(processor, row, False) for row in rows]
    flat = [Image.new("RGB", (32, 32)) for _ in rows]
    with pytest.raises(ValueError, match="inconsistently sized batches"):
        processor(text=texts, images=flat, return_tensors="pt", padding=True)
    nested = processor(text=texts, images=[[image] for image in flat], return_tensors="pt", padding=True)
    assert nested["pixel_values"].shape[0] == 2


def test_paligemma_gets_the_plain_prompt(zoo):
    """No chat template: the image token once per image, the user text, a newline (hand-written here)."""
    from clinfair.benchmark.checks import probe_rows
    from clinfair.benchmark.generation import HFBackend, render_prompt
    from clinfair.benchmark.models import load_model_and_processor
    from clinfair.tasks.prompts import INSTRUCTION

    model, processor = load_model_and_processor(zoo["paligemma"])
    assert HFBackend(model, processor).plain_prompt
    row = probe_rows(1, 2)[0]
    question = get_task("synthetic").question
    expected = (
        f"<image><image>{question}\nOptions: benign, malignant.\nSelect exactly one option.\n{INSTRUCTION}\n"
    )
    assert render_prompt(processor, row, False) == expected


def test_gemma3_prompt_is_its_chat_template(zoo):
    from clinfair.benchmark.checks import probe_rows
    from clinfair.benchmark.generation import render_prompt
    from clinfair.benchmark.models import load_model_and_processor

    _, processor = load_model_and_processor(zoo["gemma3"])
    text = render_prompt(processor, probe_rows(1, 2)[0], False)
    assert text.startswith("<bos><start_of_turn>user\n<start_of_image><start_of_image>")
    assert text.endswith("<end_of_turn>\n<start_of_turn>model\n")


@pytest.mark.parametrize(
    "completion",
    [
        "<think>\nThe lesion is dark.\n</think>\n\n\\boxed{malignant}",  # a thinking template's full turn
        "The lesion is dark.\n</think>\n\n\\boxed{malignant}",  # the template opened <think> in the prompt
        "The lesion is dark.\n\n\\boxed{malignant}",  # <think> tags decoded away as special tokens
    ],
)
def test_thinking_mode_completions_parse(completion):
    from clinfair.tasks.prompts import parse_answer

    assert parse_answer(completion, ["benign", "malignant"]) == ["malignant"]


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gemma3", "paligemma"])
def test_lm_eval_sees_the_prompts_and_completions_of_clinfair_eval(family, zoo, eval_data, tmp_path):
    """lm-eval's hf-multimodal (with clinfair's processor loading) at batch size 4, on MedGemma's family and on
    a checkpoint without a chat template: the same prompts, completions and parsed answers as clinfair eval."""
    from clinfair.benchmark.generation import render_prompt
    from clinfair.benchmark.lmeval.harness import write_task_folder
    from clinfair.benchmark.models import load_processor
    from lm_eval.tasks import TaskManager
    from test_lmeval import ROWS, assert_agree, clinfair_eval, lm_eval_run

    write_task_folder(tmp_path / "tasks", eval_data)
    task_manager = TaskManager(include_path=str(tmp_path / "tasks"), include_defaults=False)
    results, predictions = clinfair_eval(str(zoo[family]), eval_data, tmp_path / "clinfair")
    lm_results, samples = lm_eval_run(str(zoo[family]), task_manager)
    processor = load_processor(zoo[family])
    rows = load_prepared(eval_data / "synthetic")["test"]
    assert [s["arguments"][0][0] for s in samples] == [
        render_prompt(processor, rows[i], False) for i in range(ROWS)
    ]
    assert_agree(results, predictions, lm_results, samples)


# -- bad input: one clear line, exit 2, nothing in the results folder ------------------------------------------


def test_a_text_only_model_is_refused_in_one_line(tmp_path, zoo_data, capsys):
    import torch
    from clinfair.benchmark.models import build_tiny_tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path / "text-lm"
    torch.manual_seed(0)
    LlamaForCausalLM(
        LlamaConfig(
            vocab_size=600,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
    ).save_pretrained(folder)
    build_tiny_tokenizer().save_pretrained(folder)
    out = tmp_path / "out"
    data, _ = zoo_data
    capsys.readouterr()
    code = main(eval_args(folder, data, out, "--limit", 2, "--no-progress"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "is not a vision-language model" in err
    assert not (out / "results.json").exists() and not (out / "predictions.parquet").exists()
    assert main(["check-model", str(folder)]) == 2
    assert "verdict: FAIL" in capsys.readouterr().out


def test_a_processor_that_cannot_be_built_is_one_clear_line(tmp_path, zoo, capsys):
    import shutil

    broken = tmp_path / "no-image-processor"
    shutil.copytree(zoo["qwen2_vl"], broken)
    (broken / "processor_config.json").unlink()
    (broken / "preprocessor_config.json").unlink(missing_ok=True)
    assert main(["check-model", str(broken)]) == 2
    out = capsys.readouterr().out
    assert "no image processor could be built for model type 'qwen2_vl'" in out


def test_a_family_with_only_a_torchvision_image_processor_names_the_missing_piece():
    from clinfair.benchmark.models import ModelLoadError, _pil_image_processor_class

    with pytest.raises(ModelLoadError, match=r"Lfm2VlImageProcessor exists only in a torchvision version"):
        _pil_image_processor_class("lfm2_vl")


def test_a_missing_chat_template_file_is_one_clear_line(zoo, tmp_path, capsys):
    assert main(["check-model", str(zoo["paligemma"]), "--chat-template", str(tmp_path / "none.jinja")]) == 2
    assert "--chat-template" in capsys.readouterr().err


def test_a_given_chat_template_replaces_the_plain_prompt(zoo, tmp_path, capsys):
    template = tmp_path / "pali.jinja"
    template.write_text(
        "{% for m in messages %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>"
        "{% else %}question: {{ c['text'] }}{% endif %}{% endfor %}{% endfor %}\nanswer:"
    )
    assert main(["check-model", str(zoo["paligemma"]), "--chat-template", str(template)]) == 0
    assert "prompt: --chat-template" in capsys.readouterr().out


# -- the README's support table is the zoo ---------------------------------------------------------------------


def test_readme_support_table_lists_every_zoo_family():
    text = README.read_text()
    section = text[text.index("## Supported model families") :]
    rows = [
        line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| family")
    ]
    rows = [row for row in rows if not re.match(r"^\|\s*-", row)]
    labels = [row.split("|")[1].strip() for row in rows[: len(ZOO)]]
    assert labels == [family.label for family in ZOO.values()]
    for row in rows[: len(ZOO)]:
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        assert cells[2:4] == ["yes", "yes"], row  # eval and train are tested above


@pytest.mark.parametrize("family", FAMILIES)
def test_label_scores_of_a_batch_equal_each_rows_alone(family, zoo, synthetic_data):
    """Scoring left-pads contexts of different lengths into one forward pass: every family must give
    each row the probabilities it gets scored alone (no padding)."""
    import numpy as np
    from clinfair.benchmark.generation import GenerationSettings, HFBackend
    from clinfair.benchmark.models import load_model_and_processor

    test = load_prepared(synthetic_data)["test"]
    rows = [test[i] for i in range(3)]
    rows[1] = {
        **rows[1],
        "question": rows[1]["question"] + " Look at the border and the colour of the lesion.",
    }
    model, processor = load_model_and_processor(zoo[family], dtype="float32")
    backend = HFBackend(model, processor, GenerationSettings(max_new_tokens=4))
    batched = np.array(backend.score(rows))
    alone = np.array([backend.score([row])[0] for row in rows])
    np.testing.assert_allclose(batched, alone, atol=1e-5)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-9)

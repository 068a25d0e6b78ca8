"""The offline tiny-VLM factory and the project's loading code."""

from __future__ import annotations

from pathlib import Path

import pytest
from clinfair.benchmark.models import ModelLoadError, load_model_and_processor


def test_tiny_vlm_saves_reloads_and_generates_from_an_image(tiny_vlm):
    import torch
    from clinfair.tasks.prompts import build_prompt
    from PIL import Image

    files = {p.name for p in Path(tiny_vlm).iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"} <= files
    model, processor = load_model_and_processor(tiny_vlm)
    assert model.config.model_type == "qwen2_5_vl"
    assert processor.image_processor is not None and processor.tokenizer.padding_side == "left"
    messages = [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": build_prompt("q?", ["a", "b"])}],
        }
    ]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    assert text.count("<|image_pad|>") == 1 and text.endswith("<|im_start|>assistant\n")
    images = [Image.new("RGB", (56, 56), (200, 30, 30)), Image.new("RGB", (80, 40), (20, 30, 200))]
    inputs = processor(text=[text, text], images=images, return_tensors="pt", padding=True)
    # resized to 112x112 -> 8x8 patches of 14 -> 4x4 merged = 16 tokens; each image gets grid/4 placeholders
    assert inputs["image_grid_thw"][0].tolist() == [1, 8, 8]
    expected_tokens = int(inputs["image_grid_thw"].prod(-1).sum()) // 4
    assert (inputs["input_ids"] == model.config.image_token_id).sum().item() == expected_tokens
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    assert out.shape[0] == 2 and 1 <= out.shape[1] - inputs["input_ids"].shape[1] <= 6
    decoded = processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert all(isinstance(d, str) for d in decoded)


def test_tiny_vlm_is_deterministic(tmp_path, tiny_vlm):
    from clinfair.benchmark.models import build_tiny_vlm
    from safetensors.numpy import load_file

    again = build_tiny_vlm(tmp_path / "again")
    first, second = load_file(Path(tiny_vlm) / "model.safetensors"), load_file(again / "model.safetensors")
    assert first.keys() == second.keys()
    assert all((first[k] == second[k]).all() for k in first)


def test_tokenizer_round_trips_prompt_text(tiny_vlm):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_vlm)
    text = "<think>dark lesion</think>\\boxed{malignant}"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


@pytest.mark.parametrize("path", ["/nonexistent/model", "./missing-model"])
def test_missing_model_path_is_one_clear_error(path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model_and_processor(path)


def test_folder_that_is_not_a_model_is_one_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_model_and_processor(tmp_path)

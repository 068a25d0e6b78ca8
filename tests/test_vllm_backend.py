"""The vLLM backend up to vLLM itself: a stand-in ``vllm`` module (vLLM needs CUDA, which cannot exist
here) is injected at the import boundary, and the tests assert exactly what crosses it: the engine's
settings, the sampling parameters and one request per row (prompt + that row's images)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clinfair.benchmark.generation import conversation
from clinfair.tasks.prepare import load_prepared
from conftest import eval_args

from clinfair.cli import main

STAND_IN_LOGPROB = {"benign": -0.5, "malignant": -1.0}  # per prompt token, by the label the prompt ends with


class StandInVLLM:
    """Records what clinfair hands to ``vllm.LLM`` and answers each request with a fixed text."""

    def __init__(self, tokenizer_path: str):
        self.tokenizer_path = tokenizer_path
        self.engines: list[dict] = []
        self.calls: list[tuple[list[dict], dict]] = []
        module = types.ModuleType("vllm")
        recorder = self

        class LLM:
            def __init__(self, **kwargs):
                from transformers import AutoTokenizer

                recorder.engines.append(kwargs)
                self.tokenizer = AutoTokenizer.from_pretrained(recorder.tokenizer_path)

            def get_tokenizer(self):
                return self.tokenizer

            def generate(self, requests, sampling, use_tqdm=True):
                recorder.calls.append((requests, sampling))
                if "prompt_logprobs" in sampling:  # label scoring: every prompt token gets a log-probability
                    return [self._scored(request["prompt"]) for request in requests]
                answer = types.SimpleNamespace(text="<think>stand-in</think>\\boxed{benign}")
                return [types.SimpleNamespace(outputs=[answer]) for _ in requests]

            def _scored(self, prompt):
                ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
                per_token = STAND_IN_LOGPROB["benign" if prompt.endswith("{benign}") else "malignant"]
                logprobs = [None] + [{token: types.SimpleNamespace(logprob=per_token)} for token in ids[1:]]
                return types.SimpleNamespace(prompt_token_ids=ids, prompt_logprobs=logprobs)

        def SamplingParams(**kwargs):  # noqa: N802  (vLLM's name)
            return dict(kwargs)

        class ModelRegistry:
            @staticmethod
            def get_supported_archs():
                return ["Qwen2_5_VLForConditionalGeneration"]

        module.LLM, module.SamplingParams, module.ModelRegistry = LLM, SamplingParams, ModelRegistry
        platforms = types.ModuleType("vllm.platforms")
        platforms.current_platform = types.SimpleNamespace(
            device_type="cuda"
        )  # the stand-in stands for a GPU
        self.module, self.platforms = module, platforms


@pytest.fixture
def stand_in(monkeypatch, tiny_vlm) -> StandInVLLM:
    fake = StandInVLLM(tiny_vlm)
    monkeypatch.setitem(sys.modules, "vllm", fake.module)
    monkeypatch.setitem(sys.modules, "vllm.platforms", fake.platforms)
    return fake


def test_eval_with_vllm_sends_one_request_per_row(stand_in, tiny_vlm, eval_data, tmp_path):
    from transformers import AutoTokenizer

    out = tmp_path / "run"
    settings = ("--limit", 6, "--batch-size", 4, "--max-new-tokens", 32, "--n-bootstrap", 0, "--no-progress")
    engine = ("--tensor-parallel-size", 2, "--max-images-per-prompt", 3, "--seed", 7)
    code = main(eval_args(tiny_vlm, eval_data, out, "--backend", "vllm", *engine, *settings))
    assert code == 0
    (engine,) = stand_in.engines
    assert engine["model"] == tiny_vlm and engine["tensor_parallel_size"] == 2
    assert (
        engine["limit_mm_per_prompt"] == {"image": 3, "video": 0}
        and engine["seed"] == 7
        and engine["dtype"] == "auto"
    )
    assert engine.get("trust_remote_code") is False
    generation = [
        (requests, sampling) for requests, sampling in stand_in.calls if "prompt_logprobs" not in sampling
    ]
    scoring = [(requests, sampling) for requests, sampling in stand_in.calls if "prompt_logprobs" in sampling]
    # the preflight batch (2 rows), then the run's batches of 4 and 2, each followed by its label scoring
    assert [len(requests) for requests, _ in generation] == [2, 4, 2]
    assert [len(requests) for requests, _ in scoring] == [8, 4]  # 2 labels per row
    assert generation[0][1] == {"max_tokens": 32, "temperature": 0.0, "top_p": 1.0, "seed": 7}
    assert scoring[0][1] == {"max_tokens": 1, "temperature": 0.0, "prompt_logprobs": 0, "detokenize": False}
    tokenizer = AutoTokenizer.from_pretrained(tiny_vlm)
    rows = load_prepared(eval_data / "synthetic")["test"]
    sent = [request for requests, _ in generation[1:] for request in requests]
    for i, request in enumerate(sent):
        assert set(request) == {"prompt", "multi_modal_data"}
        expected = tokenizer.apply_chat_template(
            conversation(rows[i], False), add_generation_prompt=True, tokenize=False
        )
        assert request["prompt"] == expected and request["prompt"].count("<|image_pad|>") == 1
        (image,) = request["multi_modal_data"]["image"]
        assert image.mode == "RGB" and image.size == rows[i]["images"][0].size
        scored = [request for requests, _ in scoring for request in requests][2 * i : 2 * i + 2]
        assert [r["prompt"] for r in scored] == [
            expected + "\\boxed{benign}",
            expected + "\\boxed{malignant}",
        ]
    # the saved probabilities: a softmax over the labels' summed log-probabilities (tokens x per-token value)
    tokens = {
        label: len(tokenizer("\\boxed{" + label + "}", add_special_tokens=False)["input_ids"])
        for label in ("benign", "malignant")
    }
    totals = np.array([tokens[label] * STAND_IN_LOGPROB[label] for label in ("benign", "malignant")])
    expected_scores = np.exp(totals) / np.exp(totals).sum()
    predictions = pd.read_parquet(out / "predictions.parquet")
    for row_scores in predictions["scores"]:
        np.testing.assert_allclose(list(row_scores), expected_scores, rtol=1e-12)
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["backend"] == "vllm" and results["model"]["tensor_parallel_size"] == 2
    assert results["model"]["device"] == "cuda"  # the platform vLLM selected (the stand-in's), not a constant
    assert results["tasks"]["synthetic"]["accuracy_exact"] is not None


def test_a_row_over_the_image_limit_is_refused_naming_the_flag_and_check_model_follows_images(
    stand_in, tiny_vlm, eval_data, tmp_path, capsys
):
    out = tmp_path / "run"
    limits = ("--limit", 4, "--max-images-per-prompt", 1, "--no-progress")
    code = main(eval_args(tiny_vlm, eval_data, out, "--backend", "vllm", *limits))
    assert code == 0  # one image per row: within the limit
    from clinfair.benchmark.checks import probe_rows
    from clinfair.benchmark.generation import GenerationInputError, GenerationSettings, VLLMBackend

    backend = VLLMBackend(tiny_vlm, GenerationSettings(), max_images=1)
    with pytest.raises(GenerationInputError, match="a row has 2 images but --max-images-per-prompt is 1"):
        backend.generate(probe_rows(2, 2))
    capsys.readouterr()
    assert (
        main(["check-model", tiny_vlm, "--backend", "vllm", "--images", "5"]) == 0
    )  # the limit follows --images
    assert "2 rows x 5 image(s)" in capsys.readouterr().out


def test_without_vllm_installed_the_backend_says_how_to_get_it(
    monkeypatch, tiny_vlm, eval_data, tmp_path, capsys
):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm raises ImportError
    code = main(
        eval_args(tiny_vlm, eval_data, tmp_path / "run", "--backend", "vllm", "--limit", 2, "--no-progress")
    )
    assert code == 2
    assert "pip install 'clinfair[vllm]'" in capsys.readouterr().err
    assert not Path(tmp_path / "run" / "results.json").exists()

"""The fairness callback generates with the trainer's own vLLM engine when the run uses vLLM.

vLLM needs CUDA, so TRL's ``VLLMGeneration`` is replaced by a stand-in on a real trainer; the test
asserts what crosses that boundary: weights synced once per step, the processor's prompt token ids
(image tokens expanded, as TRL tokenizes rollouts), one image list per row, greedy settings for the
call and the run's own sampling settings restored after it.
"""

from __future__ import annotations

import numpy as np
import pytest
from clinfair.benchmark.generation import conversation
from clinfair.tasks.prepare import load_prepared


class StandInEngine:
    """Records each call; answers every prompt with ``\\boxed{benign}``."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.temperature, self.top_p, self.top_k, self.min_p = 1.0, 0.9, 50, 0.1
        self.repetition_penalty, self.max_completion_length = 1.1, 12
        self.calls, self.syncs = [], 0

    def sync_weights(self):
        self.syncs += 1

    def generate(self, prompts, images, num_generations, profiler=None):
        settings = {
            name: getattr(self, name)
            for name in (
                "temperature",
                "top_p",
                "top_k",
                "min_p",
                "repetition_penalty",
                "max_completion_length",
            )
        }
        self.calls.append({"prompts": prompts, "images": images, "n": num_generations, "settings": settings})
        answer = self.tokenizer.encode("<think>x</think>\\boxed{benign}", add_special_tokens=False)
        return prompts, [answer for _ in prompts], None, None


@pytest.fixture
def trainer(tiny_vlm, data_dir, tmp_path):
    from clinfair.trainers.build import build_trainer
    from clinfair.trainers.recipes import load_recipe

    recipe = load_recipe(
        "tiny-cpu",
        "fairgrpo",
        [
            f"model={tiny_vlm}",
            f"data_dir={data_dir}",
            f"output_dir={tmp_path}/run",
            "eval_limit=5",
            "fairness_batch_size=4",
            "fairness_max_new_tokens=7",
        ],
    )
    return build_trainer(recipe)


def test_fairness_callback_generates_greedily_with_the_trainers_vllm_engine(trainer, synthetic_data):
    from clinfair.trainers.callbacks import FairnessCallback

    callback = next(c for c in trainer.callback_handler.callbacks if isinstance(c, FairnessCallback))
    engine = StandInEngine(trainer.processing_class.tokenizer)
    trainer.use_vllm, trainer.vllm_generation, trainer._last_loaded_step = True, engine, -1
    record = callback.evaluate()

    assert engine.syncs == 1 and [len(call["prompts"]) for call in engine.calls] == [4, 1]
    for call in engine.calls:
        assert call["n"] == 1
        assert call["settings"] == {
            "temperature": 0.0,
            "top_p": 1.0,
            "top_k": 0,
            "min_p": 0.0,
            "repetition_penalty": 1.0,
            "max_completion_length": 7,
        }
    assert (engine.temperature, engine.top_p, engine.max_completion_length) == (1.0, 0.9, 12)  # restored
    processor = trainer.processing_class
    rows = load_prepared(synthetic_data)["validation"]
    sent = [(ids, images) for call in engine.calls for ids, images in zip(call["prompts"], call["images"])]
    for i, (ids, images) in enumerate(sent):
        text = processor.apply_chat_template(
            conversation(rows[i], False), add_generation_prompt=True, tokenize=False
        )
        expected = processor(text=[text], images=[[rows[i]["images"][0].convert("RGB")]])["input_ids"][0]
        assert list(ids) == list(expected)
        assert len(images) == 1 and images[0].size == rows[i]["images"][0].size
    assert record["rows"] == 5 and record["invalid"] == 0
    # The engine answered "benign" for every row, so each group's one-vs-rest accuracy (over the labels in
    # its ground truth) is the share of benign rows in that group, counted here from the rows themselves.
    for sex in ("F", "M"):
        members = [rows[i] for i in range(5) if rows[i]["sex"] == sex]
        group = record["groups"]["synthetic"]["sex"][sex]
        assert group["rows"] == len(members)
        if members:
            assert group["accuracy"] == pytest.approx(np.mean([r["answer"] == ["benign"] for r in members]))
    callback.evaluate()  # same step: no second weight sync
    assert engine.syncs == 1

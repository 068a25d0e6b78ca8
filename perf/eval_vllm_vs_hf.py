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
(to 1e-4) agree. The machine is shared and noisy: the ratio of two timings taken in the same
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
    header = "| family | start-up s | gen HF rows/s | gen vLLM rows/s | ratio | score HF rows/s | score vLLM rows/s | ratio | completions equal | scores max abs diff |"
    lines = [header, "|" + "---|" * 10]
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            path = str(build_tiny_family(family, Path(tmp) / family))
            hf = HFBackend.from_pretrained(path, settings, dtype="float32")
            start = time.perf_counter()
            served = VLLMBackend(path, settings, dtype="float32", max_images=1)
            startup = time.perf_counter() - start
            gen = {
                name: _timed(lambda b=b: b.generate(rows), args.repeats)
                for name, b in (("hf", hf), ("vllm", served))
            }
            score = {
                name: _timed(lambda b=b: b.score(rows), args.repeats)
                for name, b in (("hf", hf), ("vllm", served))
            }
            same = [
                a == b or a.removesuffix("\ufffd") == b.removesuffix("\ufffd")
                for a, b in zip(hf.generate(rows), served.generate(rows))
            ]
            diff = float(np.abs(np.array(hf.score(rows)) - np.array(served.score(rows))).max())
            n = len(rows)
            lines.append(
                f"| {family} | {startup:.0f} | {n / gen['hf']:.1f} | {n / gen['vllm']:.1f} | "
                f"{gen['hf'] / gen['vllm']:.2f} | {n / score['hf']:.1f} | {n / score['vllm']:.1f} | "
                f"{score['hf'] / score['vllm']:.2f} | {sum(same)}/{n} | {diff:.1e} |"
            )
            print(lines[-1], flush=True)
            del served
    print("\n".join(lines))


if __name__ == "__main__":  # vLLM's engine core runs in a subprocess that imports this file
    main()

"""The cost of label scoring, as a ratio to one greedy generation pass over the same rows and model.

``clinfair eval --scores direct`` runs, per batch, the greedy generation and then one forward
pass per row over its labels (``HFBackend.score``). This times both on the synthetic task's
test rows with a tiny random model of each ``--families`` entry (built offline), alternating
them ``--repeats`` times after a warm-up, and prints the median ratio score / generate
(goal for ``direct``: <= 1.5). ``after_reasoning`` is timed too: its scoring only (the
completions it scores after are generated once, untimed; their contexts are longer).

    python perf/scoring_cost.py [--rows 32] [--max-new-tokens 32] [--batch-size 8] [--repeats 3]
                                [--families qwen2_5_vl,gemma3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--families", default="qwen2_5_vl,gemma3")
    args = parser.parse_args()

    from clinfair.benchmark.generation import GenerationSettings, HFBackend
    from clinfair.benchmark.models import load_model_and_processor
    from clinfair.benchmark.zoo import build_tiny_family
    from clinfair.tasks.prepare import load_prepared, prepare
    from clinfair.tasks.registry import get_task

    with tempfile.TemporaryDirectory(prefix="scoring-cost-") as tmp:
        root = Path(tmp)
        prepare(get_task("synthetic"), root / "data", options={"n": 10 * args.rows}, progress=False)
        test = load_prepared(root / "data")["test"]
        rows = [test[i] for i in range(min(args.rows, len(test)))]
        batches = [rows[i : i + args.batch_size] for i in range(0, len(rows), args.batch_size)]
        print(
            f"{len(rows)} rows, batch size {args.batch_size}, greedy generation of {args.max_new_tokens} new "
            f"tokens; median of {args.repeats} after one warm-up"
        )
        for family in args.families.split(","):
            model, processor = load_model_and_processor(
                build_tiny_family(family, root / family), dtype="float32"
            )
            backend = HFBackend(model, processor, GenerationSettings(max_new_tokens=args.max_new_tokens))
            completions = [backend.generate(batch) for batch in batches]  # what after_reasoning scores after
            times: dict[str, list[float]] = {"generate": [], "direct": [], "after_reasoning": []}
            for repeat in range(args.repeats + 1):
                for name in times:
                    start = time.perf_counter()
                    for batch, batch_completions in zip(batches, completions):
                        if name == "generate":
                            backend.generate(batch)
                        else:
                            backend.score(batch, mode=name, completions=batch_completions)
                    if repeat:  # repeat 0 is the warm-up
                        times[name].append(time.perf_counter() - start)
            generate = statistics.median(times["generate"])
            for name in ("direct", "after_reasoning"):
                seconds = statistics.median(times[name])
                print(
                    f"{family:<11} {name:<16} score {seconds:6.2f} s / generate {generate:6.2f} s = "
                    f"{seconds / generate:.2f}" + ("  (goal <= 1.5)" if name == "direct" else "")
                )


if __name__ == "__main__":
    main()

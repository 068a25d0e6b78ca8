"""``clinfair eval`` against lm-eval's ``hf-multimodal`` on the same model, rows and settings.

Both evaluate the same loaded tiny random model (``--family``, default Qwen2.5-VL; ``gemma3``
is MedGemma's architecture; built offline), or ``--model PATH``, on
the first ``--rows`` rows of the synthetic task's test split, greedy, with the same
``--max-new-tokens`` and ``--batch-size``; the model is loaded once, outside the timings.

* clinfair: ``clinfair.benchmark.runner.run_eval`` with ``HFBackend`` (what ``clinfair eval`` runs),
  including its per-batch resume log, the parquet/JSON results files and the metrics
  report with 1,000 bootstrap resamples (``clinfair eval``'s default);
* lm-eval: ``lm_eval.simple_evaluate`` with ``--apply_chat_template`` on clinfair's task
  folder (``clinfair lm-eval-tasks``) and ``clinfair-hf-multimodal`` — ``hf-multimodal``
  with clinfair's processor loading (stock ``hf-multimodal`` cannot load a Qwen-VL
  processor without torchvision), samples logged to compare them. Its task index is
  built from clinfair's folder only (``include_defaults=False``); the ``lm_eval`` command
  line also indexes all of lm-eval's own tasks at start (10-20 s here), not counted.

A random model answers nonsense (every answer invalid), which would make the comparison of
parsed answers and accuracy empty; so by default the tiny model first gets clinfair's
supervised warm start (``--warm-start-steps``, on the training split, untimed), after which
it answers in format and reads the cue. ``--warm-start-steps 0`` keeps it random.

Each tool runs once to warm up, then ``--repeats`` times, alternating; the median time is
reported as rows/s, with the part spent inside ``model.generate`` (the same model object
for both) and the rest, each tool's own overhead. Then the raw completions, the parsed
answers, the exact-match accuracy and every paper-protocol key are compared.

    python perf/eval_vs_lmeval.py [--rows 64] [--max-new-tokens 32] [--batch-size 8] [--repeats 3]
                                  [--warm-start-steps 60] [--family qwen2_5_vl|gemma3|...] [--model PATH]

On the tiny model both spend about the same time inside ``model.generate``; lm-eval's
extra time is its own overhead (a ``gc.collect()`` after every batch, and torch's
environment report, which runs ``pip``). With a large model on a GPU generation
dominates both, and the ratio should approach 1.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def run_clinfair(
    model, processor, data: Path, out: Path, rows: int, settings
) -> tuple[float, dict, list[dict]]:
    """Seconds, results.json and the prediction rows of one ``clinfair eval`` run."""
    import pandas as pd
    from clinfair.benchmark.generation import HFBackend
    from clinfair.benchmark.runner import EvalRequest, run_eval

    request = EvalRequest(
        model="tiny",
        tasks=("synthetic",),
        split="test",
        limit=rows,
        generation=settings,
        backend="hf",
        dtype="float32",
    )
    start = time.perf_counter()
    results = run_eval(
        request, lambda: HFBackend(model, processor, settings), data, out, overwrite=True, progress=False
    )
    seconds = time.perf_counter() - start
    predictions = pd.read_parquet(out / "predictions.parquet").to_dict("records")
    return seconds, results, predictions


def run_lm_eval(lm, task_folder: Path, rows: int, max_new_tokens: int) -> tuple[float, dict, list[dict]]:
    """Seconds, per-task results and the logged samples (in row order) of one lm-eval run."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    start = time.perf_counter()
    task_manager = TaskManager(include_path=str(task_folder), include_defaults=False)
    output = lm_eval.simple_evaluate(
        model=lm,
        tasks=["clinfair_synthetic"],
        task_manager=task_manager,
        limit=rows,
        apply_chat_template=True,
        log_samples=True,
        gen_kwargs={"max_gen_toks": max_new_tokens},
        verbosity="WARNING",
    )
    seconds = time.perf_counter() - start
    samples = sorted(output["samples"]["clinfair_synthetic"], key=lambda sample: sample["doc_id"])
    return seconds, output["results"]["clinfair_synthetic"], samples


def _same(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", help="a local image-text checkpoint (default: the tiny model of --family)")
    parser.add_argument(
        "--family",
        default="qwen2_5_vl",
        help="tiny-model zoo family to build when no --model is given (e.g. gemma3 = MedGemma's)",
    )
    parser.add_argument(
        "--warm-start-steps",
        type=int,
        default=60,
        help="supervised warm-start steps on the tiny model before timing (0: keep it random; "
        "ignored with --model)",
    )
    args = parser.parse_args()

    import torch
    from clinfair.benchmark.generation import GenerationSettings
    from clinfair.benchmark.lmeval.harness import write_task_folder
    from clinfair.benchmark.lmeval.model import ClinfairHFMultimodalLM
    from clinfair.benchmark.metrics import PAPER_KEYS
    from clinfair.benchmark.models import load_model_and_processor
    from clinfair.benchmark.zoo import build_tiny_family
    from clinfair.tasks.prepare import prepare
    from clinfair.tasks.registry import get_task

    with tempfile.TemporaryDirectory(prefix="eval-vs-lmeval-") as tmp:
        root = Path(tmp)
        model_path = args.model or str(build_tiny_family(args.family, root / "tiny-vlm"))
        data = root / "data"
        prepare(get_task("synthetic"), data / "synthetic", options={"n": 10 * args.rows}, progress=False)
        task_folder = root / "lm-eval-tasks"
        write_task_folder(task_folder, data)
        model, processor = load_model_and_processor(model_path, dtype="float32", device="cpu")
        if args.warm_start_steps > 0 and not args.model:
            from clinfair.tasks.prepare import load_prepared
            from clinfair.trainers.warmstart import format_warm_start

            train = load_prepared(data / "synthetic")["train"]
            format_warm_start(
                model,
                processor,
                [train[i] for i in range(len(train))],
                steps=args.warm_start_steps,
                true_labels=True,
            )
            model.eval()
        generate_seconds = _time_generate(model)
        settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
        lm = ClinfairHFMultimodalLM(pretrained=model, tokenizer=processor, batch_size=args.batch_size)

        print(
            f"model: {args.model or 'tiny ' + args.family}; torch threads: {torch.get_num_threads()}; rows {args.rows}, max new tokens {args.max_new_tokens}, "
            f"batch size {args.batch_size}, greedy, {args.repeats} repeats after one warm-up"
        )
        times: dict[str, list[float]] = {"clinfair": [], "lm-eval": []}
        in_generate: dict[str, list[float]] = {"clinfair": [], "lm-eval": []}
        for repeat in range(args.repeats + 1):
            order = ("clinfair", "lm-eval") if repeat % 2 == 0 else ("lm-eval", "clinfair")
            for tool in order:
                generate_seconds.clear()
                if tool == "clinfair":
                    seconds, results, predictions = run_clinfair(
                        model, processor, data, root / "clinfair", args.rows, settings
                    )
                else:
                    seconds, lm_results, samples = run_lm_eval(
                        lm, task_folder, args.rows, args.max_new_tokens
                    )
                if repeat:  # repeat 0 is the warm-up
                    times[tool].append(seconds)
                    in_generate[tool].append(sum(generate_seconds))

        rates = {tool: args.rows / statistics.median(values) for tool, values in times.items()}
        for tool, values in times.items():
            total, generating = statistics.median(values), statistics.median(in_generate[tool])
            print(
                f"{tool:<9} {rates[tool]:8.2f} rows/s   (median of {', '.join(f'{v:.2f}' for v in values)} s; "
                f"{generating:.2f} s in model.generate, {total - generating:.2f} s the tool's own)"
            )
        print(f"ratio clinfair / lm-eval: {rates['clinfair'] / rates['lm-eval']:.2f}  (goal >= 1.0)")

        assert len(samples) == len(predictions) == args.rows
        completions = sum(s["resps"][0][0] == p["completion"] for s, p in zip(samples, predictions))
        parsed = sum(
            s["paper_accuracy"]["prediction"] == _as_list(p["prediction"])
            for s, p in zip(samples, predictions)
        )
        valid = sum(p["valid"] for p in predictions)
        print(f"equal raw completions: {completions}/{args.rows}")
        print(f"equal parsed answers:  {parsed}/{args.rows}  ({valid} valid answers)")
        accuracy = results["tasks"]["synthetic"]["accuracy_exact"]
        print(
            f"exact-match accuracy: clinfair {accuracy:.4f}, lm-eval {lm_results['exact_match,none']:.4f}"
            f" -> {'equal' if _same(accuracy, lm_results['exact_match,none']) else 'DIFFERENT'}"
        )
        paper = results["metrics"]["paper"]["by_dataset"]["synthetic"]
        differing = [key for key in PAPER_KEYS if not _same(paper[key], lm_results[f"paper_{key},none"])]
        print(
            f"paper-protocol keys equal: {len(PAPER_KEYS) - len(differing)}/{len(PAPER_KEYS)}"
            + (f" (different: {', '.join(differing)})" if differing else "")
        )


def _time_generate(model) -> list[float]:
    """Wrap ``model.generate`` (this instance only) to record the seconds of every call."""
    calls: list[float] = []
    generate = model.generate

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return generate(*args, **kwargs)
        finally:
            calls.append(time.perf_counter() - start)

    model.generate = timed
    return calls


def _as_list(value):
    return None if value is None else list(value)


if __name__ == "__main__":
    main()

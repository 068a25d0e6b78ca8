"""``clinfair eval``: evaluate a checkpoint on prepared tasks (see ``benchmark.runner``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from benchmark.generation import SCORE_MODES
from clinfair.commands.tasks import add_include_path_argument, apply_include_paths
from tasks.errors import ClinfairError

DEFAULT_DATA_DIR = os.environ.get("CLINFAIR_DATA", "data")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a VLM checkpoint; writes results.json and predictions.parquet",
        description="Generate answers for the chosen tasks' split, parse them, compute the paper protocol and the "
        "standard fairness layer, and write results.json + predictions.parquet to --out. Re-running the same "
        "command resumes an interrupted run.",
    )
    parser.add_argument(
        "--model", required=True, help="local folder or Hub id of an image-text-to-text model"
    )
    parser.add_argument(
        "--tasks",
        default="synthetic",
        help="comma-separated task keys, or 'all' = the seven clinical tasks (synthetic only when named; "
        "default: synthetic)",
    )
    parser.add_argument(
        "--data",
        default=DEFAULT_DATA_DIR,
        help="folder holding one prepared dataset per task, DATA/<task> (default: $CLINFAIR_DATA or ./data); "
        "synthetic is generated there when missing",
    )
    parser.add_argument("--out", required=True, help="output folder of this run")
    add_include_path_argument(parser)
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"])
    parser.add_argument("--backend", default="hf", choices=["hf", "vllm"])
    parser.add_argument(
        "--scores",
        choices=SCORE_MODES,
        default="direct",
        help="also save each row's label probabilities (the log-likelihood of \\boxed{label}, "
        "normalised over the labels) for AUROC and calibration: right after the prompt (direct, "
        "default), after the model's own reasoning (after_reasoning), or not at all (none)",
    )
    parser.add_argument(
        "--chat-template",
        type=Path,
        help="a Jinja chat template file, for a checkpoint without one or to replace its own "
        "(default: the checkpoint's; without one, the plain prompt: image tokens, then the question)",
    )
    parser.add_argument(
        "--tensor-parallel-size", type=int, default=1, help="vLLM: GPUs per model (default: 1)"
    )
    parser.add_argument(
        "--max-images-per-prompt",
        type=int,
        default=4,
        help="vLLM: the most images one row may have (default: 4)",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default, as the paper)")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--limit", type=int, help="evaluate only the first N rows of each task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="auto", help="auto, float32, bfloat16, float16")
    parser.add_argument("--device", help="e.g. cpu, cuda, cuda:1 (default: transformers' choice)")
    parser.add_argument("--revision", help="model revision (branch, tag or commit) on the Hub")
    parser.add_argument(
        "--trust-remote-code", action="store_true", help="allow the checkpoint's own code (off by default)"
    )
    parser.add_argument(
        "--n-bootstrap", type=int, default=1000, help="bootstrap resamples for confidence intervals"
    )
    parser.add_argument(
        "--run-name",
        help="name of this run on the leaderboard (default: the model's Hub id, or its folder's name)",
    )
    parser.add_argument(
        "--method", help="training method of the checkpoint (e.g. grpo, fairgrpo), for the leaderboard"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="discard a previous run in --out instead of resuming"
    )
    parser.add_argument("--no-progress", action="store_true")
    # -- per-group attributes (issue 15): scoring only, so not part of the run's request --
    parser.add_argument(
        "--attributes",
        help="comma list of attributes for the per-group metrics, '*' making an intersection, e.g. "
        "sex,age_group,fitzpatrick,sex*age_group (default: sex, age_group, sex*age_group and every "
        "attribute of the tasks, e.g. fitzpatrick for pad_ufes20)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchmark.evaluate import ModelLoading, evaluate
    from benchmark.generation import GenerationSettings
    from benchmark.runner import EvalRequest
    from clinfair.commands.check_model import read_chat_template
    from tasks.registry import resolve_tasks

    if args.batch_size < 1 or args.max_new_tokens < 1 or (args.limit is not None and args.limit < 1):
        raise ClinfairError("--batch-size, --max-new-tokens and --limit must be positive")
    if args.tensor_parallel_size < 1 or args.max_images_per_prompt < 1:
        raise ClinfairError("--tensor-parallel-size and --max-images-per-prompt must be positive")
    chat_template = read_chat_template(args.chat_template)
    apply_include_paths(args)
    specs = resolve_tasks(args.tasks)
    request = EvalRequest(
        model=str(args.model),
        tasks=tuple(s.key for s in specs),
        split=args.split,
        limit=args.limit,
        generation=GenerationSettings(
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_p=args.top_p,
            batch_size=args.batch_size,
            seed=args.seed,
        ),
        backend=args.backend,
        dtype=args.dtype,
        revision=args.revision,
        run_name=args.run_name,
        method=args.method,
        scores=args.scores,
    )
    loading = ModelLoading(
        chat_template=chat_template,
        device=args.device,
        trust_remote_code=args.trust_remote_code,
        max_images_per_prompt=args.max_images_per_prompt,
        tensor_parallel_size=args.tensor_parallel_size,
    )
    try:
        results = evaluate(
            request,
            args.data,
            args.out,
            loading=loading,
            n_bootstrap=args.n_bootstrap,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            attributes=args.attributes,
        )
    except (FileNotFoundError, ImportError) as error:  # a model path or an optional package missing
        raise ClinfairError(str(error)) from None
    if int(os.environ.get("RANK", "0")) != 0:  # under accelerate launch the main process reports
        return 0
    print(summary_table(results))
    print(f"wrote {Path(args.out) / 'results.json'} and {Path(args.out) / 'predictions.parquet'}")
    return 0


def summary_table(results: dict[str, Any]) -> str:
    """The metrics summary (as ``clinfair metrics`` prints it) and the null demographics per task."""
    from clinfair.commands.metrics import score_summary_table
    from clinfair.commands.metrics import summary_table as metrics_summary

    nulls = "; ".join(
        f"{task}: " + ", ".join(f"{field}={n}" for field, n in info["null_demographics"].items())
        for task, info in results["tasks"].items()
    )
    scores = results["metrics"].get("scores")
    return (
        metrics_summary(results["metrics"])
        + (f"\n{score_summary_table(scores)}" if scores else "")
        + f"\nnull demographics — {nulls}"
    )

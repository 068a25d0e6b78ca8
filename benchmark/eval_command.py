"""``clinfair eval``: evaluate a checkpoint on prepared tasks (see ``benchmark.runner``)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from benchmark.cli import UserError

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
        "--tasks", default="synthetic", help="comma-separated task keys, or 'all' (default: synthetic)"
    )
    parser.add_argument("--data", default=DEFAULT_DATA_DIR,
                        help="folder holding one prepared dataset per task, DATA/<task> (default: $CLINFAIR_DATA or ./data); "
                        "synthetic is generated there when missing")  # fmt: skip
    parser.add_argument("--out", required=True, help="output folder of this run")
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"])
    parser.add_argument("--backend", default="hf", choices=["hf", "vllm"])
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
    parser.add_argument("--run-name",
                        help="name of this run on the leaderboard (default: the model's Hub id, or its folder's name)")  # fmt: skip
    parser.add_argument(
        "--method", help="training method of the checkpoint (e.g. grpo, fairgrpo), for the leaderboard"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="discard a previous run in --out instead of resuming"
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from benchmark.generation import GenerationSettings, make_backend
    from benchmark.io import OutputFolderError
    from benchmark.models import ModelLoadError
    from benchmark.runner import EvalError, EvalRequest, run_eval
    from tasks.registry import resolve_tasks

    if args.batch_size < 1 or args.max_new_tokens < 1 or (args.limit is not None and args.limit < 1):
        raise UserError("--batch-size, --max-new-tokens and --limit must be positive")
    try:
        specs = resolve_tasks(args.tasks)
    except KeyError as error:
        raise UserError(error.args[0]) from None
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                                  batch_size=args.batch_size, seed=args.seed)  # fmt: skip
    request = EvalRequest(model=str(args.model), tasks=tuple(s.key for s in specs), split=args.split, limit=args.limit,
                          generation=settings, backend=args.backend, dtype=args.dtype, revision=args.revision,
                          run_name=args.run_name, method=args.method)  # fmt: skip

    def backend_factory():
        return make_backend(args.backend, args.model, settings, dtype=args.dtype, device=args.device,
                            revision=args.revision, trust_remote_code=args.trust_remote_code)  # fmt: skip

    try:
        results = run_eval(request, backend_factory, Path(args.data), Path(args.out), n_bootstrap=args.n_bootstrap,
                           overwrite=args.overwrite, progress=not args.no_progress)  # fmt: skip
    except (ModelLoadError, EvalError, OutputFolderError, FileNotFoundError, ImportError) as error:
        raise UserError(str(error)) from None
    print(summary_table(results))
    print(f"wrote {Path(args.out) / 'results.json'} and {Path(args.out) / 'predictions.parquet'}")
    return 0


def summary_table(results: dict[str, Any]) -> str:
    """The metrics summary (as ``clinfair metrics`` prints it) and the null demographics per task."""
    from benchmark.metrics_command import summary_table as metrics_summary

    nulls = "; ".join(
        f"{task}: " + ", ".join(f"{field}={n}" for field, n in info["null_demographics"].items())
        for task, info in results["tasks"].items()
    )
    return metrics_summary(results["metrics"]) + f"\nnull demographics — {nulls}"

"""``clinfair eval``: evaluate a checkpoint on prepared tasks (see ``clinfair.benchmark.runner``)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinfair.benchmark.bootstrap import N_BOOTSTRAP
from clinfair.benchmark.generation import (
    DEFAULT_MAX_NEW_TOKENS,
    SCORE_MODES,
    GenerationSettings,
    default_max_new_tokens,
)
from clinfair.commands.check_model import read_chat_template
from clinfair.commands.metrics import score_summary_table
from clinfair.commands.metrics import summary_table as metrics_summary
from clinfair.commands.tasks import include_path_field
from clinfair.core.arguments import add_dataclass_arguments, from_namespace
from clinfair.core.errors import ClinfairError
from clinfair.core.io import check_output_folder
from clinfair.tasks.attributes import DEFAULT_HELP
from clinfair.tasks.prepare import MissingDataError, default_data_dir
from clinfair.tasks.registry import include_paths, resolve_tasks


@dataclass
class EvalArguments:
    """The flags of ``clinfair eval`` beside the sampling ones (``GenerationSettings``).

    Parameters:
        model (`str`):
            Local folder or Hub id of an image-text-to-text model.
        out (`str`):
            Output folder of this run (results.json, predictions.parquet).
        tasks (`str`, *optional*, defaults to `"synthetic"`):
            Comma-separated task keys, or ``all`` (the seven clinical tasks).
        data (`str`, *optional*, defaults to `$CLINFAIR_DATA` or `"data"`):
            Folder holding one prepared dataset per task, ``DATA/<task>``.
        split (`str`, *optional*, defaults to `"test"`):
            Split evaluated.
        backend (`str`, *optional*, defaults to `"hf"`):
            ``hf`` (transformers) or ``vllm``.
        scores (`str`, *optional*, defaults to `"direct"`):
            When to save each row's label probabilities (``clinfair.benchmark.generation.SCORE_MODES``).
        chat_template (`Path`, *optional*):
            A Jinja chat template file replacing the checkpoint's.
        tensor_parallel_size (`int`, *optional*, defaults to `1`):
            vLLM: GPUs per model.
        max_images_per_prompt (`int`, *optional*, defaults to `4`):
            vLLM: the most images one row may have.
        limit (`int`, *optional*):
            Evaluate only the first N rows of each task.
        dtype (`str`, *optional*, defaults to `"auto"`):
            Weights dtype.
        device (`str`, *optional*):
            Device of the model (default: transformers' choice).
        revision (`str`, *optional*):
            Model revision on the Hub.
        trust_remote_code (`bool`, *optional*, defaults to `False`):
            Allow the checkpoint's own code.
        n_bootstrap (`int`, *optional*, defaults to `clinfair.benchmark.bootstrap.N_BOOTSTRAP`):
            Bootstrap resamples for the confidence intervals.
        run_name (`str`, *optional*):
            Name of the run on the leaderboard.
        method (`str`, *optional*):
            Training method of the checkpoint, for the leaderboard.
        overwrite (`bool`, *optional*, defaults to `False`):
            Discard a previous run in ``out`` instead of resuming it.
        progress (`bool`, *optional*, defaults to `True`):
            Show a progress bar (``--no-progress`` hides it).
        include_path (`list[str]`, *optional*):
            Folders of your own task YAMLs to register (``clinfair.tasks.registry.include_path``).
        attributes (`str`, *optional*):
            The per-group attributes, ``*`` making an intersection (default:
            ``clinfair.tasks.attributes.default_attributes``). Scoring only: not part of the run's request.
    """

    model: str = field(metadata={"help": "local folder or Hub id of an image-text-to-text model"})
    out: str = field(metadata={"help": "output folder of this run"})
    tasks: str = field(
        default="synthetic",
        metadata={
            "help": "comma-separated task keys, or 'all' = the seven clinical tasks (synthetic only when named)"
        },
    )
    data: str = field(
        default_factory=default_data_dir,
        metadata={
            "help": "folder holding one prepared dataset per task, DATA/<task> ($CLINFAIR_DATA or ./data); "
            "synthetic is generated there when missing"
        },
    )
    split: str = field(
        default="test", metadata={"help": "split evaluated", "choices": ("train", "validation", "test")}
    )
    backend: str = field(default="hf", metadata={"help": "generation backend", "choices": ("hf", "vllm")})
    scores: str = field(
        default="direct",
        metadata={
            "help": "also save each row's label probabilities (the log-likelihood of \\boxed{label}, "
            "normalised over the labels) for AUROC and calibration: right after the prompt (direct), "
            "after the model's own reasoning (after_reasoning), or not at all (none)",
            "choices": SCORE_MODES,
        },
    )
    chat_template: Path | None = field(
        default=None,
        metadata={
            "help": "a Jinja chat template file, for a checkpoint without one or to replace its own "
            "(default: the checkpoint's; without one, the plain prompt: image tokens, then the question)"
        },
    )
    tensor_parallel_size: int = field(default=1, metadata={"help": "vLLM: GPUs per model"})
    max_images_per_prompt: int = field(default=4, metadata={"help": "vLLM: the most images one row may have"})
    limit: int | None = field(default=None, metadata={"help": "evaluate only the first N rows of each task"})
    dtype: str = field(default="auto", metadata={"help": "auto, float32, bfloat16, float16"})
    device: str | None = field(
        default=None, metadata={"help": "e.g. cpu, cuda, cuda:1 (default: transformers' choice)"}
    )
    revision: str | None = field(
        default=None, metadata={"help": "model revision (branch, tag or commit) on the Hub"}
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "allow the checkpoint's own code"})
    n_bootstrap: int = field(
        default=N_BOOTSTRAP, metadata={"help": "bootstrap resamples for confidence intervals"}
    )
    run_name: str | None = field(
        default=None,
        metadata={
            "help": "name of this run on the leaderboard (default: the model's Hub id, or its folder's name)"
        },
    )
    method: str | None = field(
        default=None,
        metadata={"help": "training method of the checkpoint (e.g. grpo, fairgrpo), for the leaderboard"},
    )
    overwrite: bool = field(
        default=False, metadata={"help": "discard a previous run in --out instead of resuming"}
    )
    progress: bool = field(default=True, metadata={"help": "hide the progress bar"})
    include_path: list[str] = include_path_field()
    attributes: str | None = field(
        default=None,
        metadata={
            "help": "comma list of attributes for the per-group metrics, '*' making an intersection, e.g. "
            f"sex,age_group,fitzpatrick,sex*age_group (default: {DEFAULT_HELP}, e.g. fitzpatrick for pad_ufes20)"
        },
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a VLM checkpoint; writes results.json and predictions.parquet",
        description="Generate answers for the chosen tasks' split, parse them, compute the paper protocol and the "
        "standard fairness layer, and write results.json + predictions.parquet to --out. Re-running the same "
        "command resumes an interrupted run.",
    )
    add_dataclass_arguments(parser, EvalArguments)
    add_dataclass_arguments(parser.add_argument_group("generation"), GenerationSettings)
    use_task_kind_default(parser)
    parser.set_defaults(func=run)


def use_task_kind_default(parser: argparse.ArgumentParser) -> None:
    """``--max-new-tokens`` defaults to the tasks' kind (``DEFAULT_MAX_NEW_TOKENS``), resolved in ``run``:
    not given, the flag leaves the namespace without the attribute (the Python API keeps the
    dataclass's own default)."""
    for action in parser._actions:
        if action.dest == "max_new_tokens":
            action.default = argparse.SUPPRESS
            kinds = ", ".join(f"{kind} {tokens}" for kind, tokens in DEFAULT_MAX_NEW_TOKENS.items())
            action.help = f"new tokens per answer (default by task kind: {kinds}; give a reasoning model more, e.g. 1024)"


def run(namespace: argparse.Namespace) -> int:
    from clinfair.benchmark.evaluate import ModelLoading, evaluate, missing_prepared_data
    from clinfair.benchmark.locate import locate_model
    from clinfair.benchmark.runner import PREDICTIONS_FILE, RESULTS_FILE, RUN_FILE, EvalRequest

    args = from_namespace(EvalArguments, namespace)
    chat_template = read_chat_template(args.chat_template)
    include_paths(args.include_path)
    specs = resolve_tasks(args.tasks)
    check_output_folder(
        args.out,
        inputs=[
            ("--model folder", args.model if Path(args.model).exists() else None),
            ("--chat-template file", args.chat_template),
            *((f"prepared {spec.key} data", Path(args.data) / spec.key) for spec in specs),
            *(("--include-path folder", path) for path in args.include_path),
        ],
        writes=(RESULTS_FILE, PREDICTIONS_FILE, RUN_FILE),
        command="clinfair eval",
    )
    # the flags and the data are checked first; then the model's cause in one line, before torch is imported
    missing = missing_prepared_data([spec.key for spec in specs], args.data)
    if missing:
        raise MissingDataError(missing)
    if args.overwrite or not (Path(args.out) / "results.json").is_file():  # a finished run re-scores alone
        locate_model(args.model, revision=args.revision)
    if not hasattr(namespace, "max_new_tokens"):
        namespace.max_new_tokens = default_max_new_tokens(spec.task_type for spec in specs)
    settings = from_namespace(GenerationSettings, namespace)
    request = EvalRequest(
        model=str(args.model),
        tasks=tuple(s.key for s in specs),
        split=args.split,
        limit=args.limit,
        generation=settings,
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
            progress=args.progress,
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

    nulls = "; ".join(
        f"{task}: " + ", ".join(f"{name}={n}" for name, n in info["null_demographics"].items())
        for task, info in results["tasks"].items()
    )
    scores = results["metrics"].get("scores")
    return (
        metrics_summary(results["metrics"])
        + (f"\n{score_summary_table(scores)}" if scores else "")
        + f"\nnull demographics — {nulls}"
    )

"""``clinfair lm-eval-tasks --out DIR [--data DATA]``: write lm-eval task YAMLs for prepared data."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from clinfair.commands.tasks import apply_include_paths, include_path_field
from clinfair.core.arguments import add_dataclass_arguments
from clinfair.core.errors import ClinfairError
from clinfair.core.io import check_output_folder
from clinfair.tasks.registry import list_tasks


@dataclass(kw_only=True)
class LmEvalTasksArguments:
    """The flags of ``clinfair lm-eval-tasks``.

    Parameters:
        out (`str`):
            Folder to write the task YAMLs into.
        data (`str`, *optional*):
            Folder of prepared datasets, ``DATA/<task>`` (default: ``$CLINFAIR_DATA`` or ``./data``,
            resolved when lm-eval runs).
        include_path (`list[str]`, *optional*):
            Folders of your own task YAMLs to register.
        split (`str`, *optional*, defaults to `"test"`):
            Split the tasks evaluate.
        max_gen_toks (`int`, *optional*, defaults to `512`):
            New tokens per answer (as ``clinfair eval``).
    """

    out: str = field(metadata={"help": "folder to write the task YAMLs into"})
    data: str | None = field(
        default=None,
        metadata={
            "help": "folder of prepared datasets, DATA/<task> (default: $CLINFAIR_DATA or "
            "./data, resolved when lm-eval runs)"
        },
    )
    include_path: list[str] = include_path_field()
    split: str = field(
        default="test",
        metadata={"help": "split the tasks evaluate", "choices": ["train", "validation", "test"]},
    )
    max_gen_toks: int = field(
        default=512, metadata={"help": "new tokens per answer (default 512, as clinfair eval)"}
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lm-eval-tasks",
        help="write lm-evaluation-harness task YAMLs (clinfair_<task>) for your prepared data",
        description="Write one lm-eval task per clinfair task (clinfair_synthetic, clinfair_chexpert, ...) into "
        "--out, reading the prepared datasets DATA/<task>. Run them with `lm_eval --include_path OUT ...` "
        "(see docs/lm-eval.md).",
    )
    add_dataclass_arguments(parser, LmEvalTasksArguments)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    from clinfair.benchmark.lmeval.harness import TASK_PREFIX, write_task_folder

    out = Path(args.out)
    data = Path(args.data) if args.data else None
    check_output_folder(
        out,
        inputs=[("--data folder", data)] + [("--include-path folder", path) for path in args.include_path],
        command="clinfair lm-eval-tasks",
    )
    apply_include_paths(args)
    if args.max_gen_toks < 1:
        raise ClinfairError("--max-gen-toks must be positive")
    if data is not None and not data.is_dir():
        raise ClinfairError(f"--data {data}: no such folder (prepare datasets there with `clinfair prepare`)")
    written = write_task_folder(out, data, split=args.split, max_gen_toks=args.max_gen_toks)
    print(f"wrote {len(written)} files to {out}")
    if data is not None:
        missing = [spec.key for spec in list_tasks() if spec.needs_raw and not (data / spec.key).is_dir()]
        if missing:
            print(
                f"note: no prepared data yet in {data} for: {', '.join(missing)} "
                f"(`clinfair prepare TASK --raw DOWNLOAD --out {data}/TASK`)"
            )
    print(
        "run: lm_eval --model hf-multimodal --model_args pretrained=MODEL --include_path "
        f"{out} --tasks {TASK_PREFIX}synthetic --apply_chat_template --batch_size 8\n"
        "(on a host without torchvision: python -m clinfair.benchmark.lmeval --model clinfair-hf-multimodal ...; "
        "see docs/lm-eval.md)"
    )
    return 0

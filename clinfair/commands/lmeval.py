"""``clinfair lm-eval-tasks --out DIR [--data DATA]``: write lm-eval task YAMLs for prepared data."""

from __future__ import annotations

import argparse

from clinfair.commands.tasks import add_include_path_argument, apply_include_paths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lm-eval-tasks",
        help="write lm-evaluation-harness task YAMLs (clinfair_<task>) for your prepared data",
        description="Write one lm-eval task per clinfair task (clinfair_synthetic, clinfair_chexpert, ...) into "
        "--out, reading the prepared datasets DATA/<task>. Run them with `lm_eval --include_path OUT ...` "
        "(see docs/lm-eval.md).",
    )
    parser.add_argument("--out", required=True, help="folder to write the task YAMLs into")
    parser.add_argument(
        "--data",
        help="folder of prepared datasets, DATA/<task> (default: $CLINFAIR_DATA or "
        "./data, resolved when lm-eval runs)",
    )
    add_include_path_argument(parser)
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"])
    parser.add_argument(
        "--max-gen-toks", type=int, default=512, help="new tokens per answer (default 512, as clinfair eval)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from clinfair.benchmark.lmeval.harness import TASK_PREFIX, write_task_folder
    from clinfair.core.errors import ClinfairError
    from clinfair.core.io import check_output_folder
    from clinfair.tasks.registry import list_tasks

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

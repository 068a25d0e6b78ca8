"""``clinfair tasks list`` and ``clinfair prepare``."""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

from clinfair.core.errors import ClinfairError


def register(subparsers: argparse._SubParsersAction) -> None:
    tasks = subparsers.add_parser("tasks", help="list the registered tasks")
    tasks_sub = tasks.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)
    listing = tasks_sub.add_parser(
        "list", help="key, label space, demographics and access note of every task"
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_include_path_argument(listing)
    listing.set_defaults(func=run_list)

    prepare = subparsers.add_parser(
        "prepare",
        help="build a task from its raw download into a DatasetDict",
        description="Read a dataset's official raw download from --raw and write an Arrow DatasetDict "
        "(train/validation/test) with the unified schema to --out.",
    )
    prepare.add_argument("task", help="task key (see `clinfair tasks list`)")
    prepare.add_argument(
        "--raw",
        help="folder of the official download (not needed for synthetic); or a table: a CSV/parquet/JSONL "
        "file, a datasets folder or hf:ORG/NAME, read with the task's column map (and --columns)",
    )
    prepare.add_argument(
        "--columns",
        metavar="FILE",
        help="a YAML column map (columns:, value_maps:... as a task's table:) to read --raw as a table",
    )
    add_include_path_argument(prepare)
    prepare.add_argument("--out", required=True, help="output folder (a datasets.DatasetDict)")
    prepare.add_argument(
        "--skip-bad", action="store_true", help="skip bad rows (counted in the summary) instead of stopping"
    )
    prepare.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out if it is an earlier output of clinfair prepare (never another folder)",
    )
    prepare.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="builder option, e.g. -o n=1000 -o uncertain_policy=ones (YAML values)",
    )
    prepare.add_argument(
        "--num-proc",
        type=int,
        default=1,
        metavar="N",
        help="worker processes that read, decode and check the images (default 1); the output is the same",
    )
    prepare.add_argument(
        "--push-to-hub",
        metavar="REPO_ID",
        help="also publish the splits to this Hub dataset repo (Parquet, split manifest, dataset card with "
        "source, licence, demographic binning and each split's hash), in one commit; a folder --out that "
        "clinfair prepare already wrote is published as it is (no --raw needed; --overwrite rebuilds it)",
    )
    prepare.add_argument("--private", action="store_true", help="with --push-to-hub: create a private repo")
    prepare.add_argument(
        "--dry-run",
        metavar="DIR",
        help="with --push-to-hub: write the files and operations.json to DIR instead of pushing",
    )
    prepare.add_argument("--no-progress", action="store_true", help="no progress bar")
    prepare.set_defaults(func=run_prepare)


def add_include_path_argument(parser: argparse.ArgumentParser) -> None:
    """``--include-path DIR`` (repeatable): register the task YAMLs of DIR, as lm-eval's flag does."""
    parser.add_argument(
        "--include-path",
        action="append",
        default=[],
        metavar="DIR",
        help="also register the task YAMLs (*.yaml) of this folder, e.g. your own table tasks (repeatable)",
    )


def apply_include_paths(args: argparse.Namespace) -> None:
    from clinfair.tasks.registry import include_paths

    include_paths(getattr(args, "include_path", None))


def run_list(args: argparse.Namespace) -> int:
    from clinfair.tasks.registry import list_tasks

    apply_include_paths(args)
    specs = list_tasks()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "key": s.key,
                        "name": s.name,
                        "task_type": s.task_type,
                        "choices": list(s.choices),
                        "demographics": list(s.demographics),
                        "access": s.access,
                        "source": s.source,
                    }
                    for s in specs
                ],
                indent=2,
            )
        )
        return 0
    header = f"{'key':<14} {'type':<11} {'demographics':<22} {'labels':<44} access"
    print(header)
    print("-" * len(header))
    for spec in specs:
        labels = textwrap.shorten(", ".join(spec.choices), 44, placeholder="…")
        access = textwrap.shorten(spec.access, 60, placeholder="…")
        print(f"{spec.key:<14} {spec.task_type:<11} {', '.join(spec.demographics):<22} {labels:<44} {access}")
    return 0


def parse_options(pairs: list[str]) -> dict:
    from clinfair.core.yamlio import load_yaml_value

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ClinfairError(f"option {pair!r} is not KEY=VALUE")
        options[key.strip()] = load_yaml_value(value, f"-o/--option {key.strip()!r}")
    return options


def run_prepare(args: argparse.Namespace) -> int:
    from clinfair.core.io import OutputFolderError, check_replaceable
    from clinfair.tasks.builders.base import BuildError, RowError
    from clinfair.tasks.builders.table import with_table_source
    from clinfair.tasks.prepare import SUMMARY_FILE, prepare
    from clinfair.tasks.registry import get_task

    apply_include_paths(args)
    spec = with_table_source(get_task(args.task), args.raw, args.columns)
    if args.dry_run and not args.push_to_hub:
        raise ClinfairError("--dry-run writes what --push-to-hub would send: give --push-to-hub REPO_ID too")
    if args.push_to_hub:  # before the long part: a mistyped id or dry-run folder fails at once
        from clinfair.leaderboard.hub import OPERATIONS_FILE
        from clinfair.publish import check_dataset_repo

        check_dataset_repo(args.push_to_hub)
        if args.dry_run:
            check_replaceable(
                args.dry_run, OPERATIONS_FILE, protected=[("--out", args.out), ("--raw", args.raw)]
            )
    if args.push_to_hub and not args.overwrite and (Path(args.out) / SUMMARY_FILE).is_file():
        # an earlier prepare of this folder: publish it as it is (push_splits checks every split
        # against its manifest first); --overwrite rebuilds it before publishing
        from clinfair.publish import push_splits

        build_inputs = [
            flag
            for flag, given in (
                ("--raw", args.raw),
                ("--columns", args.columns),
                ("-o", args.option),
                ("--skip-bad", args.skip_bad),
                ("--num-proc", args.num_proc != 1),
            )
            if given
        ]
        if build_inputs:  # they would be ignored: say so rather than publish the old rows
            raise ClinfairError(
                f"{args.out} already holds a prepared folder, which --push-to-hub publishes as it is: drop "
                f"{', '.join(build_inputs)} to publish it, or pass --overwrite to rebuild it first"
            )
        print(f"publishing the prepared folder {args.out} as it is (--overwrite rebuilds it first)")
        print(push_splits(args.out, args.push_to_hub, spec, private=args.private, dry_run=args.dry_run))
        return 0
    try:
        summary = prepare(
            spec,
            args.out,
            args.raw,
            skip_bad=args.skip_bad,
            options=parse_options(args.option),
            progress=not args.no_progress,
            overwrite=args.overwrite,
            num_proc=args.num_proc,
        )
    except RowError as error:
        raise ClinfairError(f"{error} (pass --skip-bad to skip and count such rows)") from None
    except (BuildError, OutputFolderError, FileExistsError, ValueError) as error:
        raise ClinfairError(str(error)) from None
    print(summary.to_text())
    print(f"wrote {args.out}")
    if args.push_to_hub:
        from clinfair.publish import push_splits

        # the folder was hashed as it was written: no second hashing pass before publishing it
        print(
            push_splits(
                args.out, args.push_to_hub, spec, private=args.private, dry_run=args.dry_run, verify=False
            )
        )
    return 0

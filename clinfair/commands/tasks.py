"""``clinfair tasks list`` and ``clinfair prepare``."""

from __future__ import annotations

import argparse
import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinfair.core.arguments import add_dataclass_arguments
from clinfair.core.errors import ClinfairError
from clinfair.core.hub import OPERATIONS_FILE
from clinfair.core.io import OutputFolderError, check_replaceable
from clinfair.core.yamlio import load_yaml_value
from clinfair.tasks.builders.base import BuildError, RowError
from clinfair.tasks.prepare import SUMMARY_FILE, prepare
from clinfair.tasks.registry import get_task, include_paths, list_tasks


def include_path_field() -> Any:
    """The ``--include-path DIR`` field of every command that reads tasks: one folder per flag,
    repeatable, as lm-eval's flag (a command with a positional argument could not tell them apart)."""
    return field(
        default_factory=list,
        metadata={
            "help": "also register the task YAMLs (*.yaml) of this folder, e.g. your own table tasks (repeatable)",
            "action": "append",
            "nargs": None,
            "metavar": "DIR",
        },
    )


@dataclass(kw_only=True)
class TasksListArguments:
    """The flags of ``clinfair tasks list``.

    Parameters:
        json (`bool`, *optional*, defaults to `False`):
            Print the tasks as JSON instead of a table.
        include_path (`list[str]`, *optional*):
            Folders of your own task YAMLs to register (``clinfair.tasks.registry.include_path``).
    """

    json: bool = field(default=False, metadata={"help": "print JSON instead of a table"})
    include_path: list[str] = include_path_field()


@dataclass(kw_only=True)
class PrepareArguments:
    """The arguments of ``clinfair prepare``.

    Parameters:
        task (`str`):
            Task key (``clinfair tasks list``); positional.
        raw (`str`, *optional*):
            Folder of the official download (not needed for ``synthetic``), or a table: a CSV, parquet
            or JSONL file, a ``datasets`` folder or ``hf:ORG/NAME``, read with the task's column map.
        columns (`str`, *optional*):
            A YAML column map (``columns:``, ``value_maps:``... as a task's ``table:``) to read ``raw`` as a table.
        include_path (`list[str]`, *optional*):
            Folders of your own task YAMLs to register.
        out (`str`):
            Output folder (a ``datasets.DatasetDict``).
        skip_bad (`bool`, *optional*, defaults to `False`):
            Skip bad rows (counted in the summary) instead of stopping.
        overwrite (`bool`, *optional*, defaults to `False`):
            Replace ``out`` if it is an earlier output of ``clinfair prepare`` (never another folder).
        option (`list[str]`, *optional*):
            Builder options as ``KEY=VALUE`` (YAML values), one per ``--option``/``-o``.
        num_proc (`int`, *optional*, defaults to `1`):
            Worker processes that read, decode and check the images; the output is the same.
        push_to_hub (`str`, *optional*):
            Also publish the splits to this Hub dataset repository, in one commit (``clinfair.publish``).
        private (`bool`, *optional*, defaults to `False`):
            With ``push_to_hub``: create a private repository.
        dry_run (`str`, *optional*):
            With ``push_to_hub``: write the files and ``operations.json`` to this folder instead of pushing.
        no_progress (`bool`, *optional*, defaults to `False`):
            Hide the progress bar.
    """

    task: str = field(metadata={"help": "task key (see `clinfair tasks list`)", "positional": True})
    raw: str | None = field(
        default=None,
        metadata={
            "help": "folder of the official download (not needed for synthetic); or a table: a CSV/parquet/JSONL "
            "file, a datasets folder or hf:ORG/NAME, read with the task's column map (and --columns)"
        },
    )
    columns: str | None = field(
        default=None,
        metadata={
            "help": "a YAML column map (columns:, value_maps:... as a task's table:) to read --raw as a table",
            "metavar": "FILE",
        },
    )
    include_path: list[str] = include_path_field()
    out: str = field(metadata={"help": "output folder (a datasets.DatasetDict)"})
    skip_bad: bool = field(
        default=False, metadata={"help": "skip bad rows (counted in the summary) instead of stopping"}
    )
    overwrite: bool = field(
        default=False,
        metadata={
            "help": "replace --out if it is an earlier output of clinfair prepare (never another folder)"
        },
    )
    option: list[str] = field(
        default_factory=list,
        metadata={
            "help": "builder option, e.g. -o n=1000 -o uncertain_policy=ones (YAML values)",
            "action": "append",
            "nargs": None,
            "metavar": "KEY=VALUE",
            "aliases": ("-o",),
        },
    )
    num_proc: int = field(
        default=1,
        metadata={
            "help": "worker processes that read, decode and check the images (default 1); the output is the same",
            "metavar": "N",
        },
    )
    push_to_hub: str | None = field(
        default=None,
        metadata={
            "help": "also publish the splits to this Hub dataset repo (Parquet, split manifest, dataset card with "
            "source, licence, demographic binning and each split's hash), in one commit; a folder --out that "
            "clinfair prepare already wrote is published as it is (no --raw needed; --overwrite rebuilds it)",
            "metavar": "REPO_ID",
        },
    )
    private: bool = field(default=False, metadata={"help": "with --push-to-hub: create a private repo"})
    dry_run: str | None = field(
        default=None,
        metadata={
            "help": "with --push-to-hub: write the files and operations.json to DIR instead of pushing",
            "metavar": "DIR",
        },
    )
    no_progress: bool = field(default=False, metadata={"help": "no progress bar"})


def register(subparsers: argparse._SubParsersAction) -> None:
    tasks = subparsers.add_parser("tasks", help="list the registered tasks")
    tasks_sub = tasks.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)
    listing = tasks_sub.add_parser(
        "list", help="key, label space, demographics and access note of every task"
    )
    add_dataclass_arguments(listing, TasksListArguments)
    listing.set_defaults(func=run_list)

    prepare = subparsers.add_parser(
        "prepare",
        help="build a task from its raw download into a DatasetDict",
        description="Read a dataset's official raw download from --raw and write an Arrow DatasetDict "
        "(train/validation/test) with the unified schema to --out.",
    )
    add_dataclass_arguments(prepare, PrepareArguments)
    prepare.set_defaults(func=run_prepare)


def apply_include_paths(args: argparse.Namespace) -> None:

    include_paths(getattr(args, "include_path", None))


def run_list(args: argparse.Namespace) -> int:

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

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ClinfairError(f"option {pair!r} is not KEY=VALUE")
        options[key.strip()] = load_yaml_value(value, f"-o/--option {key.strip()!r}")
    return options


def run_prepare(args: argparse.Namespace) -> int:
    from clinfair.tasks.builders.table import with_table_source

    apply_include_paths(args)
    spec = with_table_source(get_task(args.task), args.raw, args.columns)
    if args.dry_run and not args.push_to_hub:
        raise ClinfairError("--dry-run writes what --push-to-hub would send: give --push-to-hub REPO_ID too")
    if args.push_to_hub:  # before the long part: a mistyped id or dry-run folder fails at once
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

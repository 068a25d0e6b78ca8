"""``clinfair compare RUN_A RUN_B [RUN_C ...] --baseline RUN_A``: paired differences between runs.

Each RUN is a ``clinfair eval`` output folder. Every run other than the baseline is compared
with it on the same rows (matched by dataset and id; runs on different rows or task sets are
refused): exact accuracy and invalid rate first, then the paper keys (PP, EOD, FPR gap, F1, ΔF1,
σF1, accuracy) and the standard per-group metrics, each with the difference, its paired-bootstrap
interval and a p-value (see :mod:`clinfair.benchmark.compare`). Prints the Markdown report; ``--out DIR`` also writes
``comparison.json`` and ``comparison.md`` there.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from clinfair.benchmark.bootstrap import N_BOOTSTRAP
from clinfair.core.arguments import add_dataclass_arguments
from clinfair.core.io import atomic_write_json, atomic_write_text, check_output_folder
from clinfair.tasks.attributes import DEFAULT_HELP

JSON_FILE, MARKDOWN_FILE = "comparison.json", "comparison.md"


@dataclass(kw_only=True)
class CompareArguments:
    """The arguments of ``clinfair compare``.

    Parameters:
        runs (`list[Path]`):
            ``clinfair eval`` output folders; positional, one or more.
        baseline (`Path`, *optional*):
            The run the others are compared with (default: the first of ``runs``).
        out (`Path`, *optional*):
            Folder for ``comparison.json`` and ``comparison.md`` (default: print the report only).
        n_bootstrap (`int`, *optional*, defaults to `clinfair.benchmark.bootstrap.N_BOOTSTRAP`):
            Paired bootstrap resamples (0: none).
        seed (`int`, *optional*, defaults to `0`):
            Seed of the bootstrap.
        ci_level (`float`, *optional*, defaults to `0.95`):
            Level of the intervals.
        attributes (`str`, *optional*):
            Comma list of attributes for the per-group metrics, ``*`` making an intersection (default:
            every command's default, as the baseline's eval reported them, where its predictions have them).
    """

    runs: list[Path] = field(
        metadata={"help": "`clinfair eval` output folders", "positional": True, "metavar": "RUN"}
    )
    baseline: Path | None = field(
        default=None, metadata={"help": "the run the others are compared with (default: the first RUN)"}
    )
    out: Path | None = field(default=None, metadata={"help": f"folder for {JSON_FILE} and {MARKDOWN_FILE}"})
    n_bootstrap: int = field(default=N_BOOTSTRAP, metadata={"help": "paired bootstrap resamples (0: none)"})
    seed: int = field(default=0, metadata={"help": "seed of the bootstrap"})
    ci_level: float = field(default=0.95, metadata={"help": "interval level (default 0.95)"})
    attributes: str | None = field(
        default=None,
        metadata={
            "help": "comma list of attributes for the per-group metrics, '*' making an intersection "
            f"(default: {DEFAULT_HELP}, as the baseline's eval reported them, where its predictions have them)"
        },
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="paired bootstrap comparison of eval runs on the same rows (paper keys and per-group metrics)",
        description="Compare `clinfair eval` result folders with a baseline on the same rows: difference, "
        "paired-bootstrap interval and p-value of every paper key and standard per-group metric.",
    )
    add_dataclass_arguments(parser, CompareArguments)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from clinfair.benchmark.compare import compare_runs, load_run, markdown_report

    if args.out:
        check_output_folder(
            args.out,
            inputs=[("RUN folder", run) for run in [*args.runs, args.baseline] if run is not None],
            writes=(JSON_FILE, MARKDOWN_FILE),
            command="clinfair compare",
        )
    folders = list(dict.fromkeys(path.resolve() for path in args.runs))
    baseline_folder = (args.baseline or args.runs[0]).resolve()
    if baseline_folder not in folders:
        folders.insert(0, baseline_folder)
    runs = [load_run(folder) for folder in folders]
    baseline = runs[folders.index(baseline_folder)]
    report = compare_runs(
        runs,
        baseline,
        n_bootstrap=args.n_bootstrap,
        seed=args.seed,
        ci_level=args.ci_level,
        attributes=args.attributes,
    )
    text = markdown_report(report)
    print(text, end="")
    if args.out:
        atomic_write_json(args.out / JSON_FILE, report)
        atomic_write_text(args.out / MARKDOWN_FILE, text)
        print(f"wrote {args.out / JSON_FILE} and {args.out / MARKDOWN_FILE}")
    return 0

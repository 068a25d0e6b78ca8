"""``clinfair compare RUN_A RUN_B [RUN_C ...] --baseline RUN_A``: paired differences between runs.

Each RUN is a ``clinfair eval`` output folder. Every run other than the baseline is compared
with it on the same rows (matched by dataset and id; runs on different rows or task sets are
refused): the paper keys (PP, EOD, FPR gap, F1, ΔF1, σF1, accuracy) and the standard
per-group metrics, each with the difference, its paired-bootstrap interval and a p-value
(see :mod:`clinfair.benchmark.compare`). Prints the Markdown report; ``--out DIR`` also writes
``comparison.json`` and ``comparison.md`` there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from clinfair.benchmark.bootstrap import N_BOOTSTRAP

JSON_FILE, MARKDOWN_FILE = "comparison.json", "comparison.md"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="paired bootstrap comparison of eval runs on the same rows (paper keys and per-group metrics)",
        description="Compare `clinfair eval` result folders with a baseline on the same rows: difference, "
        "paired-bootstrap interval and p-value of every paper key and standard per-group metric.",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", type=Path, help="`clinfair eval` output folders")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="the run the others are compared with (default: the first RUN)",
    )
    parser.add_argument("--out", type=Path, default=None, help=f"folder for {JSON_FILE} and {MARKDOWN_FILE}")
    parser.add_argument(
        "--n-bootstrap", type=int, default=N_BOOTSTRAP, help="paired bootstrap resamples (0: none)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument("--ci-level", type=float, default=0.95, help="interval level (default 0.95)")
    parser.add_argument(
        "--attributes", default="sex,age_group", help="comma list of attributes for the per-group metrics"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from clinfair.benchmark.compare import compare_runs, load_run, markdown_report
    from clinfair.core.io import atomic_write_json, atomic_write_text, check_output_folder

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
    attributes = [a.strip() for a in args.attributes.split(",") if a.strip()]
    runs = [load_run(folder) for folder in folders]
    baseline = runs[folders.index(baseline_folder)]
    report = compare_runs(
        runs,
        baseline,
        n_bootstrap=args.n_bootstrap,
        seed=args.seed,
        ci_level=args.ci_level,
        attributes=attributes,
    )
    text = markdown_report(report)
    print(text, end="")
    if args.out:
        atomic_write_json(args.out / JSON_FILE, report)
        atomic_write_text(args.out / MARKDOWN_FILE, text)
        print(f"wrote {args.out / JSON_FILE} and {args.out / MARKDOWN_FILE}")
    return 0

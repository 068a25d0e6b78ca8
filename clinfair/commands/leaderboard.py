"""``clinfair leaderboard build | push | serve`` (see clinfair.leaderboard.build, clinfair.leaderboard.hub, clinfair.leaderboard.space)."""

from __future__ import annotations

import argparse
import sys

from clinfair.core.errors import ClinfairError
from clinfair.leaderboard.defaults import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_CI_LEVEL,
    DEFAULT_MAX_INVALID,
    DEFAULT_TITLE,
)

DEFAULT_PORT = 7860


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="build, publish and serve fairness leaderboards from eval results",
        description="Aggregate `clinfair eval` result folders into a leaderboard (tables, static page, plots), "
        "publish it to the Hugging Face Hub, or serve it locally with the Gradio app.",
    )
    parser.set_defaults(func=lambda args: _help(parser))
    commands = parser.add_subparsers(dest="leaderboard_command", metavar="{build,push,serve}")

    build = commands.add_parser(
        "build",
        help="result folders -> tables, index.html, plots",
        description="Check the result folders, compute the paper-protocol values with bootstrap intervals and write "
        "the leaderboard folder (atomically): leaderboard.parquet/.md, paper_table.md, index.html, plots/*.png, "
        "and the runs' files. Runs evaluated differently (clinfair version, protocol, schema, tasks, split, rows) "
        "are refused unless --allow-mixed.",
    )
    build.add_argument("results", nargs="*", metavar="RESULT_DIR", help="output folders of `clinfair eval`")
    build.add_argument(
        "--out", required=True, help="leaderboard folder to write (replaced if it is an earlier build)"
    )
    build.add_argument(
        "--dynamics",
        nargs="+",
        action="extend",
        default=[],
        metavar="[LABEL=]FILE",
        help="training-dynamics JSONL files of `clinfair train` (fairness.jsonl); a result folder's "
        "own fairness.jsonl is read too",
    )
    build.add_argument(
        "--allow-mixed",
        action="store_true",
        help="build even when the runs were evaluated differently; such rows are flagged ⚠",
    )
    build.add_argument(
        "--n-bootstrap",
        type=int,
        default=DEFAULT_BOOTSTRAP,
        help=f"bootstrap resamples for the intervals (default {DEFAULT_BOOTSTRAP}; 0: no intervals)",
    )
    build.add_argument(
        "--ci-level",
        type=float,
        default=DEFAULT_CI_LEVEL,
        help=f"interval coverage (default {DEFAULT_CI_LEVEL})",
    )
    build.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    build.add_argument("--title", default=DEFAULT_TITLE, help=f"the page's title (default: {DEFAULT_TITLE})")
    build.add_argument(
        "--baseline",
        metavar="RUN",
        help="mark with * every paper value that differs significantly from this run's on the same "
        "rows (paired bootstrap, as `clinfair compare`)",
    )
    build.add_argument(
        "--max-invalid",
        type=float,
        default=DEFAULT_MAX_INVALID,
        help="a run with more invalid answers than this share (or exact accuracy not above the "
        f"majority-class baseline) is shown but not ranked on gap and fairness metrics (default {DEFAULT_MAX_INVALID})",
    )
    build.set_defaults(func=run_build)

    push = commands.add_parser(
        "push",
        help="publish a leaderboard folder as a Hub dataset (one commit)",
        description="Upload a leaderboard folder, a dataset card and eval.yaml to a Hub dataset repository in one "
        "commit. The token comes from HF_TOKEN or `hf auth login` and is never printed.",
    )
    push.add_argument("build_dir", metavar="DIR", help="a folder written by `clinfair leaderboard build`")
    push.add_argument(
        "--repo", required=True, metavar="ORG/NAME", help="dataset repository to create or update"
    )
    push.add_argument(
        "--private", action="store_true", help="create the repository private (if it does not exist)"
    )
    push.add_argument(
        "--dry-run", metavar="OUT", help="write the files and operations.json to OUT instead of pushing"
    )
    push.add_argument(
        "--no-predictions",
        action="store_true",
        help="leave out the per-example predictions (they hold demographics of the source datasets)",
    )
    push.add_argument(
        "--model-pr",
        nargs="*",
        metavar="RUN[=ORG/MODEL]",
        help="also open a PR adding .eval_results/ to each run's model repository (no value: every run "
        "whose model is a Hub id)",
    )
    push.set_defaults(func=run_push)

    serve = commands.add_parser(
        "serve",
        help="start the Gradio leaderboard app locally",
        description="Serve a leaderboard folder (or a Hub dataset id) with the Space app.",
    )
    serve.add_argument("source", metavar="DIR", help="a leaderboard folder, or a Hub dataset id ORG/NAME")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    serve.add_argument(
        "--host", default="127.0.0.1", help="default 127.0.0.1 (0.0.0.0 to share on the network)"
    )
    serve.set_defaults(func=run_serve)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 1


def run_build(args: argparse.Namespace) -> int:
    from clinfair.core.progress import heartbeat
    from clinfair.leaderboard.build import build_leaderboard

    with heartbeat("clinfair leaderboard build"):  # tables, bootstrap and figures: no unit to count
        result = build_leaderboard(
            args.results,
            args.out,
            dynamics=args.dynamics,
            allow_mixed=args.allow_mixed,
            n_bootstrap=args.n_bootstrap,
            seed=args.seed,
            ci_level=args.ci_level,
            title=args.title,
            max_invalid=args.max_invalid,
            baseline=args.baseline,
        )
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    if result.comparison["mixed"]:
        print(
            "warning: mixed evaluation setups, flagged rows: " + "; ".join(result.comparison["differences"]),
            file=sys.stderr,
        )
    print(
        f"wrote {result.out}: {len(result.runs)} run(s), {len(result.files)} files "
        f"(index.html, leaderboard.parquet/.md, paper_table.md, plots/)"
    )
    return 0


def run_push(args: argparse.Namespace) -> int:
    from clinfair.leaderboard.hub import execute, plan_push, write_dry_run

    plan = plan_push(
        args.build_dir,
        args.repo,
        private=args.private,
        include_predictions=not args.no_predictions,
        model_prs=args.model_pr,
    )
    for line in plan.skipped:
        print(f"no model PR for {line}", file=sys.stderr)
    if plan.local_paths:
        listed = "; ".join(f"{path} (in {', '.join(files)})" for path, files in plan.local_paths.items())
        print(
            f"warning: {len(plan.local_paths)} absolute local path(s) would leave this machine: {listed}",
            file=sys.stderr,
        )
    if args.dry_run:
        write_dry_run(plan, args.dry_run)
        print(
            f"dry run: wrote {len(plan.dataset.files)} file(s) for {args.repo} and "
            f"{len(plan.model_prs)} model PR(s) to {args.dry_run} (see operations.json); nothing was pushed"
        )
        return 0
    report = execute(plan)
    print(
        f"pushed {len(plan.dataset.files)} file(s) to {args.repo} in one commit: {report['dataset_commit']}"
    )
    for url in report["model_prs"]:
        print(f"opened {url}")
    for line in report["failed_prs"]:
        print(f"error: {line}", file=sys.stderr)
    return 1 if report["failed_prs"] else 0


def run_serve(args: argparse.Namespace) -> int:
    from clinfair.leaderboard.space.app import create_app

    try:
        app = create_app(args.source)
    except (OSError, ValueError) as error:
        raise ClinfairError(str(error).strip().splitlines()[0]) from None
    app.launch(server_name=args.host, server_port=args.port)
    return 0

"""``clinfair leaderboard build | push | serve`` (see clinfair.leaderboard.build, clinfair.leaderboard.hub, clinfair.leaderboard.space)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

from clinfair.core.arguments import add_dataclass_arguments
from clinfair.core.errors import ClinfairError
from clinfair.leaderboard.defaults import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_CI_LEVEL,
    DEFAULT_MAX_INVALID,
    DEFAULT_TITLE,
)

DEFAULT_PORT = 7860


@dataclass(kw_only=True)
class LeaderboardBuildArguments:
    """The arguments of ``clinfair leaderboard build``.

    Parameters:
        results (`list[str]`, *optional*):
            Output folders of ``clinfair eval``; positional, any number.
        out (`str`):
            Leaderboard folder to write (replaced if it is an earlier build).
        dynamics (`list[str]`, *optional*):
            Training-dynamics JSONL files of ``clinfair train`` (``fairness.jsonl``), each ``[LABEL=]FILE``;
            a result folder's own ``fairness.jsonl`` is read too.
        allow_mixed (`bool`, *optional*, defaults to `False`):
            Build even when the runs were evaluated differently; such rows are flagged.
        n_bootstrap (`int`, *optional*, defaults to `clinfair.leaderboard.defaults.DEFAULT_BOOTSTRAP`):
            Bootstrap resamples for the intervals (0: no intervals).
        ci_level (`float`, *optional*, defaults to `clinfair.leaderboard.defaults.DEFAULT_CI_LEVEL`):
            Interval coverage.
        seed (`int`, *optional*, defaults to `0`):
            Bootstrap seed.
        title (`str`, *optional*, defaults to `clinfair.leaderboard.defaults.DEFAULT_TITLE`):
            The page's title.
        baseline (`str`, *optional*):
            A run: every paper value that differs significantly from this run's on the same rows is
            marked (paired bootstrap, as ``clinfair compare``).
        max_invalid (`float`, *optional*, defaults to `clinfair.leaderboard.defaults.DEFAULT_MAX_INVALID`):
            A run with a larger share of invalid answers (or exact accuracy not above the majority-class
            baseline) is shown but not ranked on gap and fairness metrics.
    """

    results: list[str] = field(
        default_factory=list,
        metadata={"help": "output folders of `clinfair eval`", "positional": True, "metavar": "RESULT_DIR"},
    )
    out: str = field(metadata={"help": "leaderboard folder to write (replaced if it is an earlier build)"})
    dynamics: list[str] = field(
        default_factory=list,
        metadata={
            "help": "training-dynamics JSONL files of `clinfair train` (fairness.jsonl); a result folder's "
            "own fairness.jsonl is read too",
            "metavar": "[LABEL=]FILE",
        },
    )
    allow_mixed: bool = field(
        default=False,
        metadata={"help": "build even when the runs were evaluated differently; such rows are flagged ⚠"},
    )
    n_bootstrap: int = field(
        default=DEFAULT_BOOTSTRAP,
        metadata={
            "help": f"bootstrap resamples for the intervals (default {DEFAULT_BOOTSTRAP}; 0: no intervals)"
        },
    )
    ci_level: float = field(
        default=DEFAULT_CI_LEVEL, metadata={"help": f"interval coverage (default {DEFAULT_CI_LEVEL})"}
    )
    seed: int = field(default=0, metadata={"help": "bootstrap seed (default 0)"})
    title: str = field(
        default=DEFAULT_TITLE, metadata={"help": f"the page's title (default: {DEFAULT_TITLE})"}
    )
    baseline: str | None = field(
        default=None,
        metadata={
            "help": "mark with * every paper value that differs significantly from this run's on the same "
            "rows (paired bootstrap, as `clinfair compare`)",
            "metavar": "RUN",
        },
    )
    max_invalid: float = field(
        default=DEFAULT_MAX_INVALID,
        metadata={
            "help": "a run with more invalid answers than this share (or exact accuracy not above the "
            "majority-class baseline) is shown but not ranked on gap and fairness metrics "
            f"(default {DEFAULT_MAX_INVALID})"
        },
    )


@dataclass(kw_only=True)
class LeaderboardPushArguments:
    """The arguments of ``clinfair leaderboard push``.

    Parameters:
        build_dir (`str`):
            A folder written by ``clinfair leaderboard build``; positional.
        repo (`str`):
            The dataset repository ``ORG/NAME`` to create or update.
        private (`bool`, *optional*, defaults to `False`):
            Create the repository private (if it does not exist).
        dry_run (`str`, *optional*):
            Write the files and ``operations.json`` to this folder instead of pushing.
        no_predictions (`bool`, *optional*, defaults to `False`):
            Leave out the per-example predictions (they hold demographics of the source datasets).
        model_pr (`list[str]`, *optional*):
            Also open a pull request adding ``.eval_results/`` to each run's model repository, each
            ``RUN[=ORG/MODEL]``; the flag without a value: every run whose model is a Hub id; absent: none.
    """

    build_dir: str = field(
        metadata={
            "help": "a folder written by `clinfair leaderboard build`",
            "positional": True,
            "metavar": "DIR",
        }
    )
    repo: str = field(metadata={"help": "dataset repository to create or update", "metavar": "ORG/NAME"})
    private: bool = field(
        default=False, metadata={"help": "create the repository private (if it does not exist)"}
    )
    dry_run: str | None = field(
        default=None,
        metadata={"help": "write the files and operations.json to OUT instead of pushing", "metavar": "OUT"},
    )
    no_predictions: bool = field(
        default=False,
        metadata={
            "help": "leave out the per-example predictions (they hold demographics of the source datasets)"
        },
    )
    model_pr: list[str] | None = field(
        default=None,
        metadata={
            "help": "also open a PR adding .eval_results/ to each run's model repository (no value: every run "
            "whose model is a Hub id)",
            "nargs": "*",
            "action": "store",
            "metavar": "RUN[=ORG/MODEL]",
        },
    )


@dataclass(kw_only=True)
class LeaderboardServeArguments:
    """The arguments of ``clinfair leaderboard serve``.

    Parameters:
        source (`str`):
            A leaderboard folder, or a Hub dataset id ``ORG/NAME``; positional.
        port (`int`, *optional*, defaults to `7860`):
            Port of the app.
        host (`str`, *optional*, defaults to `"127.0.0.1"`):
            Address the app listens on (``0.0.0.0`` to share it on the network).
    """

    source: str = field(
        metadata={
            "help": "a leaderboard folder, or a Hub dataset id ORG/NAME",
            "positional": True,
            "metavar": "DIR",
        }
    )
    port: int = field(default=DEFAULT_PORT, metadata={"help": "port of the app"})
    host: str = field(
        default="127.0.0.1",
        metadata={"help": "address the app listens on (0.0.0.0 to share it on the network)"},
    )


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
    add_dataclass_arguments(build, LeaderboardBuildArguments)
    build.set_defaults(func=run_build)

    push = commands.add_parser(
        "push",
        help="publish a leaderboard folder as a Hub dataset (one commit)",
        description="Upload a leaderboard folder, a dataset card and eval.yaml to a Hub dataset repository in one "
        "commit. The token comes from HF_TOKEN or `hf auth login` and is never printed.",
    )
    add_dataclass_arguments(push, LeaderboardPushArguments)
    push.set_defaults(func=run_push)

    serve = commands.add_parser(
        "serve",
        help="start the Gradio leaderboard app locally",
        description="Serve a leaderboard folder (or a Hub dataset id) with the Space app.",
    )
    add_dataclass_arguments(serve, LeaderboardServeArguments)
    serve.set_defaults(func=run_serve)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 1


def run_build(args: argparse.Namespace) -> int:
    from clinfair.leaderboard.build import build_leaderboard

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

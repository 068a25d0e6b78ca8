"""``clinfair study CONFIG``: the command line (flags from :class:`StudyFlags`)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from clinfair.core.arguments import add_dataclass_arguments, from_namespace
from clinfair.core.errors import ClinfairError
from clinfair.study.config import CommandOverrides, apply_overrides, load_config


@dataclass(kw_only=True)
class StudyArguments:
    """The arguments of ``clinfair study``; the size flags override the config.

    Parameters:
        config (`str`):
            The study YAML (e.g. ``configs/studies/group_shift.yaml``); positional.
        out (`Path`, *optional*):
            Output folder (default: ``study_out/<config name>``).
        seeds (`int`, *optional*):
            Number of seeds (0..N-1) instead of the config's.
        methods (`str`, *optional*):
            Comma-separated methods instead of the config's.
        steps (`int`, *optional*):
            Training steps per run (the recipe's ``max_steps``).
        rows (`int`, *optional*):
            The task's rows over all splits (its ``n`` option).
        warm_start_steps (`int`, *optional*):
            Supervised warm-start steps of the tiny model.
        workers (`int`, *optional*):
            Runs trained at once, one process each (0: one per CPU core, at most 4), instead of
            the config's ``workers``.
        plan (`bool`, *optional*, defaults to `False`):
            Print the seeds needed for the config's target effect; run nothing.
        pilot (`Path`, *optional*):
            With ``--plan``: a finished study folder to take the SD and the time from.
        sd (`float`, *optional*):
            With ``--plan``: the SD of the per-seed differences (a fraction).
        seconds_per_run (`float`, *optional*):
            With ``--plan``: seconds per run (train + eval).
    """

    config: str = field(
        metadata={"help": "study YAML (e.g. configs/studies/group_shift.yaml)", "positional": True}
    )
    out: Path | None = field(
        default=None, metadata={"help": "output folder (default: study_out/<config name>)"}
    )
    seeds: int | None = field(default=None, metadata={"help": "override the config's number of seeds"})
    methods: str | None = field(
        default=None, metadata={"help": "override the config's methods (comma-separated)"}
    )
    steps: int | None = field(
        default=None, metadata={"help": "override the training steps per run (max_steps)"}
    )
    rows: int | None = field(default=None, metadata={"help": "override the task's rows over all splits (n)"})
    warm_start_steps: int | None = field(default=None, metadata={"help": "override the warm-start steps"})
    workers: int | None = field(
        default=None,
        metadata={"help": "runs trained at once, one process each (0: one per CPU core, at most 4)"},
    )
    plan: bool = field(
        default=False,
        metadata={"help": "print the seeds the config's target effect needs (80 %% power); run nothing"},
    )
    pilot: Path | None = field(
        default=None, metadata={"help": "with --plan: a finished study folder (SD, time)"}
    )
    sd: float | None = field(
        default=None,
        metadata={"help": "with --plan: SD of the per-seed differences (fraction, 0.05 = 5 points)"},
    )
    seconds_per_run: float | None = field(default=None, metadata={"help": "with --plan: seconds per run"})


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "study",
        help="methods x seeds on one task and budget, paired by seed: a declared primary endpoint, seed-level tests",
        description="Train and evaluate every method for every seed (paired by seed), then report the verdict on "
        "the config's primary endpoint with seed-level tests and its power; --plan: the seeds needed.",
    )
    add_dataclass_arguments(parser, StudyArguments)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    flags = from_namespace(StudyArguments, args)
    stray = [
        f"--{name.replace('_', '-')}"
        for name in ("pilot", "sd", "seconds_per_run")
        if getattr(flags, name) is not None
    ]
    if stray and not flags.plan:
        raise ClinfairError(f"{', '.join(stray)} only go with --plan")
    config = load_config(flags.config)
    methods = [m.strip() for m in flags.methods.split(",") if m.strip()] if flags.methods else None
    config = apply_overrides(
        config,
        CommandOverrides(
            flags.steps, flags.rows, flags.warm_start_steps, flags.seeds, methods, flags.workers
        ),
    )
    config.check("command line")
    if flags.plan:
        from clinfair.study.plan import plan

        print(plan(config, flags.pilot, flags.sd, flags.seconds_per_run))
        return 0
    from clinfair.study.report import render
    from clinfair.study.runner import run_study

    out = flags.out or Path("study_out") / Path(flags.config).stem
    summary = run_study(config, out)
    print(render(summary))
    print(f"[study] report: {out / 'report.md'}; leaderboard: {out / 'leaderboard' / 'index.html'}")
    return 0

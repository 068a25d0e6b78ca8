"""``clinfair simulate``: the command of the advantage-level simulator (``clinfair.trainers.simulate``).

Kept apart from the simulator so that ``clinfair --help`` imports neither scikit-learn nor scipy.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from clinfair.core.arguments import add_dataclass_arguments
from clinfair.core.errors import ClinfairError
from clinfair.core.io import atomic_write_json, atomic_write_text, check_output_folder
from clinfair.core.provenance import machine, source_commit


@dataclass(kw_only=True)
class SimulateArguments:
    """The flags of ``clinfair simulate``.

    Parameters:
        seeds (`int`, *optional*, defaults to `100`):
            Seeds per method and setting.
        nd_seeds (`int`, *optional*, defaults to `20`):
            Seeds of question (c), whose K-means every step is slow.
        questions (`str`, *optional*, defaults to `"abcd"`):
            Which of the questions a, b, c, d to run.
        steps (`int`, *optional*, defaults to `100`):
            Policy-gradient steps.
        optimizer (`str`, *optional*, defaults to `"adam"`):
            Update rule: ``adam`` (as the trainers' AdamW: lr 0.02, betas 0.9/0.999, eps 1e-8) or ``sgd``
            (plain steps at lr 1, whose size grows with the advantages' scale).
        workers (`int`, *optional*, defaults to `min(2, os.cpu_count())`):
            Processes.
        out (`Path`, *optional*):
            Also write ``report.md`` and ``summary.json`` (every seed's values, the settings, commit,
            machine, wall time) to this folder.
        progress (`bool`, *optional*, defaults to `True`):
            Show a progress bar over the runs (``--no-progress`` hides it).
    """

    seeds: int = field(default=100, metadata={"help": "seeds per method and setting (default: 100)"})
    nd_seeds: int = field(
        default=20, metadata={"help": "seeds of question (c), whose K-means every step is slow (default: 20)"}
    )
    questions: str = field(
        default="abcd", metadata={"help": "which of the questions a, b, c, d to run (default: abcd)"}
    )
    steps: int = field(default=100, metadata={"help": "policy-gradient steps (default: 100)"})
    optimizer: str = field(
        default="adam",
        metadata={
            "help": "update rule: adam (as the trainers' AdamW: lr 0.02, betas 0.9/0.999, eps 1e-8) or sgd "
            "(plain steps at lr 1, whose size grows with the advantages' scale) (default: adam)",
            "choices": ("adam", "sgd"),
        },
    )
    workers: int = field(
        default_factory=lambda: min(2, os.cpu_count() or 1),
        metadata={"help": "processes (default: 2 or the CPU count if smaller)"},
    )
    out: Path | None = field(
        default=None,
        metadata={
            "help": "also write report.md and summary.json (every seed's values, the settings, commit, machine, "
            "wall time) here"
        },
    )
    progress: bool = field(default=True, metadata={"help": "hide the progress bar"})


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="advantage-level simulator: every method's estimator on a small softmax policy (seconds)",
        description="The advantage estimators of every method on a small softmax policy, isolated from the VLM: "
        "(a) minority share, (b) temperature/window ablations, (c) groups vs clusters, (d) noise stress test.",
    )
    add_dataclass_arguments(parser, SimulateArguments)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from clinfair.trainers.simulate import default_study, report, run_study

    if args.out:
        check_output_folder(args.out, writes=("report.md", "summary.json"), command="clinfair simulate")

    if min(args.seeds, args.nd_seeds) < 2 or args.steps < 1 or args.workers < 1:
        raise ClinfairError("--seeds and --nd-seeds must be at least 2, --steps and --workers at least 1")
    bad = sorted(set(args.questions) - set("abcd"))
    if bad or not args.questions:
        raise ClinfairError(f"--questions takes letters from 'abcd', got {args.questions!r}")
    study = default_study(args.seeds, args.questions, args.nd_seeds)
    study.training = replace(study.training, steps=args.steps, optimizer=args.optimizer)
    commit = source_commit()  # before the run: the code that ran
    start = time.perf_counter()
    results = run_study(study, args.workers, progress=args.progress)
    seconds = time.perf_counter() - start
    text, summary = report(study, results)
    runs = len({(s.world, m, k) for s in study.settings for m in s.methods for k in range(study.seeds_of(s))})
    families = ", ".join(f"({q}) {n}" for q, n in summary["holm_family_sizes"].items())
    text += f"\nHolm family sizes (tests per question): {families}.\n"
    text += f"\n{runs} runs in {seconds:.1f} s with {args.workers} worker(s).\n"
    summary["wall_s"] = seconds
    summary["runs"] = runs
    summary["workers"] = args.workers
    summary["command"] = "clinfair simulate " + " ".join(
        [f"--seeds {args.seeds}", f"--nd-seeds {args.nd_seeds}", f"--questions {args.questions}"]
        + [f"--steps {args.steps}", f"--optimizer {args.optimizer}", f"--workers {args.workers}"]
    )
    summary["machine"] = machine()
    summary["commit"] = commit
    print(text)
    if args.out:
        atomic_write_text(args.out / "report.md", text)
        atomic_write_json(args.out / "summary.json", summary)
    return 0

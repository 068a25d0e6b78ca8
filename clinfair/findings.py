"""``clinfair findings regenerate [NAME ...]``: re-run the studies behind the README's Findings.

Each finding writes ``docs/findings/<name>/``: what was run (``config.json``), the per-seed
results (``per_seed.json`` or the study's ``report.json`` and each run's ``results.json``), the
text the README quotes (``report.md``) and ``manifest.json`` (command, commit, machine, wall
time, date). ``tests/test_findings.py`` checks every interval the README's Findings quote
against these files. A finding too slow for CI time (``in_ci = False``) is regenerated only
when named, and the README marks it with its command and its last artifact.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from clinfair.cli import main
from clinfair.core.arguments import add_dataclass_arguments, from_namespace
from clinfair.core.errors import ClinfairError
from clinfair.core.io import atomic_write_json, atomic_write_text
from clinfair.core.provenance import machine, source_commit
from clinfair.demo import primary_report, simulated_group_shift
from clinfair.study.config import CommandOverrides, apply_overrides, load_config

FINDINGS_DIR = Path("docs/findings")


@dataclass(frozen=True)
class Finding:
    name: str
    title: str
    command: str  # what a person runs to reproduce it
    in_ci: bool  # regenerable in CI time (minutes); otherwise only when named
    produce: Callable[[Path, Path], dict[str, Any]]  # (artifact folder, work folder) -> config


def _demo_simulation(folder: Path, work: Path) -> dict[str, Any]:

    seeds = 30
    result = simulated_group_shift(seeds)
    atomic_write_json(folder / "per_seed.json", result)
    atomic_write_text(folder / "report.md", primary_report(result))
    return {"seeds": seeds, "methods": [result["baseline"], result["method"]], "world": result["world"]}


def _vlm_study(folder: Path, work: Path) -> dict[str, Any]:
    from clinfair.study.report import render
    from clinfair.study.runner import run_study

    config = apply_overrides(
        load_config("configs/studies/group_shift.yaml"),
        CommandOverrides(seeds=5, methods=["grpo", "resampling", "fairgrpo"]),
    )
    config.check("findings vlm_study")
    study = work / "vlm_study"  # resumable: finished runs are kept
    summary = run_study(config, study, leaderboard=False)
    atomic_write_json(folder / "report.json", summary)
    atomic_write_text(folder / "report.md", render(summary))
    # report.json holds every run's values (per method, per seed) and timings; each run's full
    # results.json (about 110 kB) stays in the work folder
    shutil.rmtree(folder / "runs", ignore_errors=True)
    return config.to_dict()


def _vlm_power(folder: Path, work: Path) -> dict[str, Any]:
    """The power of the 5-seed tiny-VLM study, planned from its own measured spread."""
    from clinfair.study.plan import plan

    pilot = FINDINGS_DIR / "vlm_study"
    if not (pilot / "report.json").is_file():
        raise ClinfairError(f"vlm_power plans from {pilot}/report.json: regenerate vlm_study first")
    config = load_config("configs/studies/group_shift.yaml")
    config.methods, config.seeds = ["grpo", "resampling", "fairgrpo"], 5
    text = plan(config, pilot=pilot)
    atomic_write_text(folder / "report.md", text + "\n")
    return {"config": "configs/studies/group_shift.yaml", "pilot": str(pilot), "methods": config.methods}


def _simulator(folder: Path, work: Path) -> dict[str, Any]:
    """The simulator's default study under Adam (``folder``) and SGD (``folder/sgd``): report.md and
    summary.json each (``clinfair simulate --out``); ``readme_section.py`` there then writes the README
    section and its ``quoted.json`` (``tests/test_findings_simulator.py`` checks them)."""

    for optimizer, target in (("adam", folder), ("sgd", folder / "sgd")):
        if main(["simulate", "--optimizer", optimizer, "--out", str(target)]) != 0:
            raise ClinfairError(f"clinfair simulate --optimizer {optimizer} failed")
    return {"command": "clinfair simulate --out DIR", "optimizers": ["adam", "sgd"]}


FINDINGS = {
    f.name: f
    for f in (
        Finding(
            "simulator",
            "Advantage estimators in isolation: the simulator's default study, Adam and SGD",
            "clinfair findings regenerate simulator; python docs/findings/simulator/readme_section.py "
            "docs/findings/simulator",
            False,
            _simulator,
        ),
        Finding(
            "demo_simulation",
            "The demo's primary result: group shift in the simulator's world (8 sex x age groups, 30 seeds)",
            "clinfair findings regenerate demo_simulation",
            True,
            _demo_simulation,
        ),
        Finding(
            "vlm_study",
            "The tiny VLM on the group-shift task (3 methods x 5 seeds)",
            "clinfair findings regenerate vlm_study  # = clinfair study configs/studies/group_shift.yaml "
            "--seeds 5 --methods grpo,resampling,fairgrpo",
            False,
            _vlm_study,
        ),
        Finding(
            "vlm_power",
            "The power of the tiny-VLM study, from its own spread",
            "clinfair findings regenerate vlm_power",
            True,
            _vlm_power,
        ),
    )
}


def regenerate(name: str, out: Path = FINDINGS_DIR, work: Path = Path("findings_work")) -> Path:
    """Re-run one finding into ``out/<name>/`` (its files replaced) and write its manifest."""
    finding = FINDINGS[name]
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    config = finding.produce(folder, work)
    atomic_write_json(folder / "config.json", config)
    atomic_write_json(
        folder / "manifest.json",
        {
            "finding": name,
            "title": finding.title,
            "command": finding.command,
            "commit": source_commit(),
            "machine": machine(),
            "wall_s": round(time.perf_counter() - start, 1),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    )
    return folder


@dataclass(kw_only=True)
class FindingsListArguments:
    """The arguments of ``clinfair findings list`` (none).

    Parameters:
    """


@dataclass(kw_only=True)
class FindingsRegenerateArguments:
    """The arguments of ``clinfair findings regenerate``.

    Parameters:
        names (`list[str]`, *optional*):
            Findings to re-run; positional (default: every one CI time allows).
        out (`Path`, *optional*, defaults to `docs/findings`):
            Artifact folder.
        work (`Path`, *optional*, defaults to `findings_work`):
            Scratch folder for the runs (a study resumes from it).
    """

    names: list[str] = field(
        default_factory=list,
        metadata={"help": f"findings to re-run (any of: {', '.join(FINDINGS)})", "positional": True},
    )
    out: Path = field(default=FINDINGS_DIR, metadata={"help": "artifact folder"})
    work: Path = field(default=Path("findings_work"), metadata={"help": "scratch folder for runs"})


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "findings",
        help="re-run the studies behind the README's Findings into docs/findings/<name>/",
        description=__doc__.split("\n\n")[0],
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the findings, their commands and whether CI time allows them")
    add_dataclass_arguments(listing, FindingsListArguments)
    listing.set_defaults(func=_list)
    again = actions.add_parser("regenerate", help="re-run findings (default: every one CI time allows)")
    add_dataclass_arguments(again, FindingsRegenerateArguments)
    again.set_defaults(func=_regenerate)


def _list(args: argparse.Namespace) -> int:
    for finding in FINDINGS.values():
        where = "CI time" if finding.in_ci else "too slow for CI: only when named"
        print(f"{finding.name}: {finding.title} ({where})\n  {finding.command}")
    return 0


def _regenerate(namespace: argparse.Namespace) -> int:
    args = from_namespace(FindingsRegenerateArguments, namespace)
    unknown = sorted(set(args.names) - set(FINDINGS))
    if unknown:
        raise ClinfairError(f"unknown finding(s) {unknown}; choose from {', '.join(FINDINGS)}")
    names = args.names or [name for name, f in FINDINGS.items() if f.in_ci]
    for name in names:
        folder = regenerate(name, args.out, args.work)
        manifest = json.loads((folder / "manifest.json").read_text())
        print(f"[findings] {name}: {folder} ({manifest['wall_s']} s)")
    return 0

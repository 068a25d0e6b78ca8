"""``clinfair zoo list`` and ``clinfair zoo build FAMILY --out DIR``: tiny random test models, offline.

The zoo (``clinfair.benchmark.zoo``) builds a tiny random checkpoint of every supported family,
saved like a Hub checkpoint, in seconds and without a download: a model to try ``eval``,
``probe``, ``train`` and the leaderboard on before pointing them at a real one. A random model
never writes ``\\boxed{label}``, so every answer is invalid; ``--warm-start`` first trains it for a
few supervised steps on the synthetic task's answer format (random labels: it learns the format,
not the task, and answers at chance), so its answers parse.

    clinfair zoo list
    clinfair zoo build gemma3 --out models/tiny-gemma3
    clinfair zoo build qwen2_5_vl --out models/tiny-qwen --warm-start
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from clinfair.benchmark.generation import GenerationSettings, HFBackend
from clinfair.benchmark.models import load_model_and_processor
from clinfair.core.arguments import add_dataclass_arguments
from clinfair.core.errors import ClinfairError
from clinfair.tasks.prepare import default_data_dir, task_rows
from clinfair.tasks.prompts import parse_answer
from clinfair.tasks.registry import get_task

#: Supervised steps of ``--warm-start`` given without a number.
WARM_START_STEPS = 100
#: Validation rows the warm-started model answers, to report how many answers parse.
FORMAT_CHECK_ROWS = 16


@dataclass(kw_only=True)
class ZooListArguments:
    """``clinfair zoo list`` takes no flags."""


@dataclass(kw_only=True)
class ZooBuildArguments:
    """The flags of ``clinfair zoo build``.

    Parameters:
        family (`str`):
            A key of ``clinfair.benchmark.zoo.ZOO`` (``clinfair zoo list``); positional.
        out (`str`):
            Output folder, a checkpoint folder.
        seed (`int`, *optional*, defaults to `0`):
            Seed of the random weights.
        warm_start (`int`, *optional*, defaults to `0`):
            Supervised steps teaching the answer format on the synthetic task; ``--warm-start``
            alone means :data:`WARM_START_STEPS`, 0 none.
        data (`str`, *optional*, defaults to `$CLINFAIR_DATA` or `"data"`):
            Folder of prepared tasks for the warm start; ``DATA/synthetic`` is generated when missing.
        overwrite (`bool`, *optional*, defaults to `False`):
            Replace ``out`` if it holds a checkpoint.
    """

    family: str = field(
        metadata={
            "help": "zoo key, e.g. gemma3 (see `clinfair zoo list`)",
            "positional": True,
            "metavar": "FAMILY",
        }
    )
    out: str = field(metadata={"help": "output folder (a checkpoint folder)"})
    seed: int = field(default=0, metadata={"help": "seed of the random weights"})
    warm_start: int = field(
        default=0,
        metadata={
            "help": "teach the answer format on the synthetic task for STEPS supervised steps "
            f"(--warm-start alone: {WARM_START_STEPS}; about 3 CPU-minutes)",
            "nargs": "?",
            "const": WARM_START_STEPS,
            "metavar": "STEPS",
        },
    )
    data: str = field(
        default_factory=default_data_dir,
        metadata={
            "help": "folder of prepared tasks for --warm-start; DATA/synthetic is generated when missing "
            "($CLINFAIR_DATA or ./data)"
        },
    )
    overwrite: bool = field(default=False, metadata={"help": "replace --out if it holds a checkpoint"})


def register(subparsers: argparse._SubParsersAction) -> None:
    zoo = subparsers.add_parser(
        "zoo",
        help="tiny random test models of every supported family, built offline",
        description="List the supported model families, or build a tiny random checkpoint of one (offline, "
        "seconds), e.g. to try eval, probe, train and the leaderboard before using a real model.",
    )
    actions = zoo.add_subparsers(dest="zoo_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the families: zoo key, name, notes")
    add_dataclass_arguments(listing, ZooListArguments)
    listing.set_defaults(func=run_list)
    build = actions.add_parser(
        "build",
        help="build a tiny random model of FAMILY into --out",
        description="Build a tiny random checkpoint of FAMILY (a key of `clinfair zoo list`) into --out. "
        "A random model never answers in the \\boxed{} format; --warm-start teaches it the format on the "
        "synthetic task (random labels: it answers at chance, but its answers parse).",
    )
    add_dataclass_arguments(build, ZooBuildArguments)
    build.set_defaults(func=run_build)


def run_list(args: argparse.Namespace) -> int:
    from clinfair.benchmark.zoo import ZOO

    width = max(len(key) for key in ZOO) + 2
    label_width = max(len(family.label) for family in ZOO.values()) + 2
    print(f"{'key':<{width}}{'family':<{label_width}}notes")
    for key, family in ZOO.items():
        print(f"{key:<{width}}{family.label:<{label_width}}{family.notes}")
    print("\nclinfair zoo build KEY --out DIR [--warm-start] builds one (offline, seconds)")
    return 0


def _check_out(out: Path, overwrite: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise ClinfairError(f"--out {out} is a file")
    if not any(out.iterdir()):
        return
    if not (out / "config.json").is_file():
        raise ClinfairError(f"--out {out} is not empty and holds no checkpoint; choose another folder")
    if not overwrite:
        raise ClinfairError(f"--out {out} already holds a checkpoint; pass --overwrite to replace it")
    shutil.rmtree(out)


def run_build(args: argparse.Namespace) -> int:
    from clinfair.benchmark.zoo import ZOO

    if args.family not in ZOO:
        raise ClinfairError(f"unknown zoo family {args.family!r}; choose one of {', '.join(ZOO)}")
    if args.warm_start < 0:
        raise ClinfairError("--warm-start STEPS must be at least 0")
    out = Path(args.out)
    _check_out(out, args.overwrite)
    from clinfair.benchmark.zoo import build_tiny_family

    build_tiny_family(args.family, out, seed=args.seed)
    print(f"clinfair zoo: built a tiny random {ZOO[args.family].label} model in {out}")
    if args.warm_start:
        warm_start(out, Path(args.data), args.warm_start, args.seed)
    print(f"try it: clinfair check-model {out}")
    return 0


def warm_start(folder: Path, data_dir: Path, steps: int, seed: int) -> None:
    """Teach the model in FOLDER the answer format on the synthetic task, save it back, and say how
    many of a few validation answers now parse."""
    from clinfair.core.progress import heartbeat
    from clinfair.trainers.warmstart import format_warm_start

    spec = get_task("synthetic")
    train = task_rows(spec, data_dir, "train", None)
    check = task_rows(spec, data_dir, "validation", FORMAT_CHECK_ROWS)
    print(f"clinfair zoo: teaching the answer format on {len(train)} synthetic rows ({steps} steps)")
    model, processor = load_model_and_processor(folder, dtype="float32")
    with heartbeat("clinfair zoo: warm start"):
        losses = format_warm_start(
            model, processor, [train[i] for i in range(len(train))], steps=steps, seed=seed
        )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    rows = [check[i] for i in range(len(check))]
    backend = HFBackend(model, processor, GenerationSettings(max_new_tokens=64, batch_size=8))
    completions = backend.generate(rows, spec.multi_label)
    valid = sum(
        parse_answer(text, row["choices"], spec.multi_label) is not None
        for row, text in zip(rows, completions)
    )
    print(
        f"clinfair zoo: warm start done (loss {losses[0]:.2f} -> {losses[-1]:.2f}); {valid}/{len(rows)} "
        "validation answers parse (labels are at chance: the format was taught, not the task)"
    )

"""The ``clinfair`` command line.

Each sub-command lives in a module of :mod:`clinfair.commands` (or the demo and study modules) exposing
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the
parsed ``argparse.Namespace`` and returning an exit code). Those modules keep heavy
imports (torch, transformers, TRL) inside the handlers, so ``clinfair --help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from clinfair.core.errors import ClinfairError

#: Modules that contribute sub-commands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "clinfair.commands.tasks",  # tasks list, prepare
    "clinfair.commands.metrics",  # metrics
    "clinfair.commands.eval",  # eval
    "clinfair.commands.check_model",  # check-model
    "clinfair.commands.compare",  # compare
    "clinfair.commands.probe",  # probe
    "clinfair.commands.zoo",  # zoo list, zoo build
    "clinfair.commands.train",  # train
    "clinfair.commands.leaderboard",  # leaderboard build, push, serve
    "clinfair.demo",  # demo
    "clinfair.commands.simulate",  # simulate
    "clinfair.study",  # study
    "clinfair.findings",  # findings list, regenerate
    "clinfair.commands.lmeval",  # lm-eval-tasks
)


def build_parser() -> argparse.ArgumentParser:
    from clinfair.core.version import __version__

    parser = argparse.ArgumentParser(
        prog="clinfair",
        description="Group-fairness benchmark and fairness-aware RL trainers for clinical VLMs.",
    )
    parser.add_argument("--version", action="version", version=f"clinfair {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except ClinfairError as error:
        print(f"clinfair {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

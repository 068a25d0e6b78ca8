"""The ``clinfair`` command line.

Each sub-command lives in a module of :mod:`clinfair.commands` (or the demo and study modules) exposing
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the
parsed ``argparse.Namespace`` and returning an exit code). Those modules keep heavy
imports (torch, transformers, TRL) inside the handlers, so ``clinfair --help`` is fast.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import traceback
from pathlib import Path

from clinfair.core.errors import ClinfairError, one_line
from clinfair.core.version import __version__

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

    parser = argparse.ArgumentParser(
        prog="clinfair",
        description="Group-fairness benchmark and fairness-aware RL trainers for clinical VLMs.",
    )
    parser.add_argument("--version", action="version", version=f"clinfair {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


#: Exit status after the reader of our output went away (a closed pipe): 128 + SIGPIPE, as a shell reports it.
EXIT_CLOSED_PIPE = 141


def os_error_message(error: OSError) -> str:
    """An operating-system error as one line for a person: what happened, to which file, what to do."""
    where = f" {error.filename}" if error.filename else ""
    if error.filename2:
        where += f" -> {error.filename2}"
    hint = os_error_hint(error)
    return f"cannot use{where}: {hint}" if where else hint


def os_error_hint(error: OSError) -> str:
    """What an operating-system error means and what to do, without the file (e.g. for a full disk)."""
    hints = {
        errno.ENOSPC: "no space left on the device; free some space or choose another output folder",
        errno.EDQUOT: "disk quota exceeded; free some space or choose another output folder",
        errno.EROFS: "the file system is read-only; choose another output folder",
        errno.EACCES: "permission denied; choose a folder you can write to (or read)",
        errno.EPERM: "operation not permitted; choose a folder you can write to (or read)",
        errno.EMFILE: "too many open files; raise the limit (ulimit -n)",
    }
    return hints.get(error.errno) or error.strerror or one_line(error)


def mathtext_message(error: ValueError) -> str | None:
    """One line for matplotlib's refusal of a text it reads as math (a name holding ``$...$``),
    or None when ``error`` did not come from matplotlib's math-text parser."""

    frames = traceback.extract_tb(error.__traceback__)
    if not frames or "mathtext" not in Path(frames[-1].filename).name:
        return None
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else "?"
    return (
        f"matplotlib cannot draw the text {text!r} in a plot: it reads what lies between $ signs as math, "
        "and this is not valid math; rename it (e.g. the run, method or group name) without $"
    )


def _quiet_closed_pipe() -> int:
    """The reader closed our stdout (``clinfair tasks list | head -0``): stop without a word.

    Later writes (the interpreter flushing stdout at exit) go to /dev/null, so Python prints no
    "Exception ignored" message either.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured in tests)
        pass
    return EXIT_CLOSED_PIPE


def main(argv: list[str] | None = None) -> int:
    """Run ``clinfair ARGV``; every user error ends as one line on stderr and exit code 2.

    A :class:`ClinfairError` prints its message; an operating-system error (a full disk, a
    read-only or forbidden folder, ...) prints :func:`os_error_message`; a closed stdout pipe
    ends quietly (:data:`EXIT_CLOSED_PIPE`); Ctrl-C prints "interrupted" (130).
    """
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 1
        command = args.command
    except BrokenPipeError:  # --help into a closed pipe
        return _quiet_closed_pipe()
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        return _quiet_closed_pipe()
    except ClinfairError as error:
        return _error(command, str(error))
    except OSError as error:
        return _error(command, os_error_message(error))
    except ValueError as error:
        message = mathtext_message(error)
        if message is None:
            raise  # a bug: keep its traceback
        return _error(command, message)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _error(command: str, message: str) -> int:
    try:
        print(f"clinfair {command}: error: {message}", file=sys.stderr)
    except OSError:  # stderr itself is gone
        pass
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""Error helpers shared by every layer (``tasks`` is the lowest one)."""

from __future__ import annotations


def one_line(error: BaseException) -> str:
    """An exception as one line for a person: its first non-empty line, whitespace folded
    (library messages run on for lines of detail); its type's name when it says nothing."""
    for line in str(error).splitlines():
        if line.strip():
            return " ".join(line.split())
    return type(error).__name__


class ClinfairError(Exception):
    """The base of every error a user can cause (a bad file, flag, recipe, model or folder).

    ``clinfair`` catches it once and prints its message as one line, exit code 2, no traceback;
    anything else is a bug and keeps its traceback.
    """

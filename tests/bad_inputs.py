"""Helpers of the bad-input corpus (``tests/test_bad_inputs_*.py``).

Each of those files holds one parametrized test per command: every case is a function that
sets up one bad input as a new user would meet it, runs the real command through
``clinfair.cli.main`` and asserts the exact outcome (a one-line error naming the problem,
a counted skip, or identical files). A bad input found later joins the corpus as one more
case function.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from clinfair.cli import main


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """``clinfair ARGV`` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, command: str, *fragments: str) -> None:
    """Exit code 2 and exactly one stderr line, ``clinfair COMMAND: error: ...`` holding every fragment."""
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"clinfair {command}: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) by relative path, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _writable(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.mkdir()
    except OSError:
        return False
    probe.rmdir()
    return True


@contextmanager
def read_only_folder(folder: Path) -> Iterator[Path]:
    """A folder nothing can be written into: mode 0555, and for root (who ignores modes) the
    immutable attribute (``chattr +i``). Skips the case where neither is possible."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    immutable = False
    if _writable(folder) and shutil.which("chattr"):
        immutable = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    try:
        if _writable(folder):
            pytest.skip("cannot make a read-only folder here (root, and no chattr +i)")
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        folder.chmod(0o755)


def hidden_siblings(path: Path) -> list[str]:
    """Names of the hidden entries beside ``path`` that belong to it (``.<name>.*``)."""
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}."))


def cases(*functions: Callable) -> pytest.MarkDecorator:
    """``@pytest.mark.parametrize("case", functions)`` with each function's name as the test id."""
    return pytest.mark.parametrize("case", functions, ids=[f.__name__ for f in functions])


def env_with_repo(repo: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(repo)}

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


def _mount_tmpfs(folder: Path, options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if not shutil.which("mount"):
        return False
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
        ).returncode
        == 0
    )
    return mounted


def _unmount(folder: Path) -> None:
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _refuse_under(folder: Path, monkeypatch, code: int) -> None:
    """The in-process stand-in for a disk: ``os.open`` (files, ``mkstemp``) and ``os.mkdir`` under
    ``folder`` raise ``OSError(code)``, as the kernel would."""
    import errno as errno_module

    root = str(folder.resolve())

    def refusing(real):
        def call(path, *args, **kwargs):
            if os.path.abspath(os.fspath(path)).startswith(root):
                raise OSError(code, os.strerror(code), os.fspath(path))
            return real(path, *args, **kwargs)

        return call

    assert code in (errno_module.ENOSPC, errno_module.EROFS)
    monkeypatch.setattr(os, "open", refusing(os.open))
    monkeypatch.setattr(os, "mkdir", refusing(os.mkdir))


@contextmanager
def full_disk(folder: Path, monkeypatch) -> Iterator[Path]:
    """A folder on a full file system (ENOSPC on the first write).

    Where a tmpfs can be mounted (root), a real 16 KiB one, filled up; elsewhere a stand-in for
    the disk only: ``os.open``/``os.mkdir`` under the folder raise ``ENOSPC`` in this process.
    """
    import errno as errno_module

    if _mount_tmpfs(folder, "size=16k"):
        try:
            try:
                with open(folder / ".filler", "wb") as filler:
                    while True:
                        filler.write(b"\0" * 4096)
                        filler.flush()
            except OSError as error:
                assert error.errno == errno_module.ENOSPC
            yield folder
        finally:
            _unmount(folder)
        return
    _refuse_under(folder, monkeypatch, errno_module.ENOSPC)
    yield folder


@contextmanager
def read_only_file_system(folder: Path, monkeypatch) -> Iterator[Path]:
    """A folder on a read-only file system (EROFS): a read-only tmpfs where one can be mounted
    (root), else the in-process stand-in of :func:`full_disk` raising ``EROFS``."""
    import errno as errno_module

    if _mount_tmpfs(folder, "ro,size=16k"):
        try:
            yield folder
        finally:
            _unmount(folder)
        return
    _refuse_under(folder, monkeypatch, errno_module.EROFS)
    yield folder


def run_cli_process(
    *argv, stdin_closed_pipe: bool = False, timeout: int = 300
) -> subprocess.CompletedProcess:
    """``clinfair ARGV`` in a new Python process (``python -m clinfair.cli``), output captured as text."""
    import sys

    command = [sys.executable, "-m", "clinfair.cli", *map(str, argv)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def closed_pipe_run(*argv, timeout: int = 300) -> tuple[int, str]:
    """``clinfair ARGV | head -0``: stdout is a pipe whose reader has gone; (exit code, stderr)."""
    import sys

    read, write = os.pipe()
    os.close(read)  # the reader is gone before clinfair writes a byte
    try:
        process = subprocess.run(
            [sys.executable, "-m", "clinfair.cli", *map(str, argv)],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
        )
    finally:
        os.close(write)
    return process.returncode, process.stderr


def without_loading_bar(err: str) -> str:
    """stderr without transformers' "Loading weights" progress bar (a command that loaded a model)."""
    return "\n".join(line for line in err.splitlines() if "Loading weights" not in line)

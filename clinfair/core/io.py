"""Atomic writes: a results file or an output folder is either absent, the old version, or complete.

Each file writer writes a temporary file in the destination folder (same file system),
flushes it to disk, then renames it over the destination with ``os.replace``.

:func:`atomic_folder` does the same for a whole folder (``clinfair prepare``, ``clinfair
leaderboard build``, ``leaderboard push --dry-run``): it is built in a hidden sibling and
renamed into place. It replaces an existing folder only when that folder holds the
command's marker file (it is an earlier output of the same command), never the current
folder or a folder holding one the command reads; and it removes the hidden siblings
that a killed run (``kill -9``) of any command left behind.

This is the project's one module for writing outputs atomically.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from clinfair.core.errors import ClinfairError, one_line


def _atomic(path: str | Path, write: Callable[[str], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    return _atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> Path:
    """JSON with sorted keys and NaN refused (``allow_nan=False``): results must be valid JSON."""
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return _atomic(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_parquet(path: str | Path, frame) -> Path:
    """A pandas DataFrame as parquet (pyarrow), written atomically."""
    return _atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


# -- whole folders -------------------------------------------------------------------------------


class OutputFolderError(ClinfairError):
    """An output folder that may not be replaced or created; the message is one line."""


def _owner_tag() -> str:
    """host-pid of this process, as it appears in the names of its hidden working folders."""
    host = re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname()).strip("-") or "host"
    return f"{host}-{os.getpid()}"


def _is_within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


Protected = Iterable[tuple[str, "str | Path | None"]]


def check_replaceable(
    out: str | Path, marker: str, *, protected: Protected = (), error: type[Exception] = OutputFolderError
) -> None:
    """Raise ``error`` (one line) unless ``out`` may be written (and replaced) as a whole.

    Refused: the current folder or a folder containing it; any folder of ``protected``
    (``(label, path)`` pairs: the command's inputs, e.g. ``("--raw", raw_dir)``) or a folder
    containing one; an existing path that is not a folder holding ``marker`` (an earlier
    output of the same command).
    """
    out = Path(out)
    resolved = out.resolve()
    if _is_within(Path.cwd().resolve(), resolved):
        raise error(f"{out} is the current folder or contains it; choose a new folder for the output")
    for label, path in protected:
        if path is not None and _is_within(Path(path).resolve(), resolved):
            what = "is" if Path(path).resolve() == resolved else "contains"
            raise error(
                f"{out} {what} the {label} folder {path}, which this command reads; choose another output folder"
            )
    if out.exists() and not (out.is_dir() and (out / marker).is_file()):
        raise error(
            f"{out} exists and is not an earlier output of this command (no {marker}); "
            "clinfair replaces only folders it wrote: choose another folder or remove it yourself"
        )


def remove_stale_siblings(out: str | Path) -> list[Path]:
    """Remove the hidden working folders of ``out`` left by killed runs; return what was removed.

    A working folder is named ``.<name>.<host>-<pid>.<random>.tmp`` (or ``.old``); it is stale
    when its host is this one and no process ``pid`` runs. Folders of a live process, of
    another host, or not named that way are left alone.
    """
    import psutil

    out = Path(out)
    host = _owner_tag().rsplit("-", 1)[0]
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.{re.escape(host)}-(\d+)\.[^.]+\.(tmp|old)$")
    removed = []
    if not out.parent.is_dir():
        return removed
    for entry in out.parent.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_dir() and not psutil.pid_exists(int(match.group(1))):
            _remove(entry)
            removed.append(entry)
    return removed


@contextmanager
def atomic_folder(
    out: str | Path, marker: str, *, protected: Protected = (), error: type[Exception] = OutputFolderError
) -> Iterator[Path]:
    """Yield a hidden temporary folder beside ``out``; on success it replaces ``out`` in one rename.

    ``out`` is checked with :func:`check_replaceable` (the caller writes ``marker`` into the
    yielded folder). On any error the temporary folder is removed and ``out`` is left as it
    was. Hidden folders that killed runs left beside ``out`` are removed first. A refused
    ``out``, or one that cannot be created (read-only parent), raises ``error`` before the
    block runs.
    """
    out = Path(out)
    check_replaceable(out, marker, protected=protected, error=error)
    tag = _owner_tag()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_siblings(out)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.{tag}.", suffix=".tmp"))
    except OSError as cause:
        raise error(f"cannot write {out}: {one_line(cause)}") from None
    # where a previous output waits, between the two renames, to be deleted
    old = out.parent / f".{out.name}.{tag}.{uuid.uuid4().hex[:8]}.old"
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700; the output is an ordinary folder
        yield tmp
        if out.exists():
            os.rename(out, old)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out.exists():  # the final rename failed: put the previous output back
            os.rename(old, out)
        raise
    _remove(old)


def _remove(path: Path) -> None:
    """Delete a folder, or only the link when ``path`` is a symbolic link to one."""
    if path.is_symlink():
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


# -- what leaves the machine -------------------------------------------------------------------

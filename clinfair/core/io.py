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
    """Write ``path`` through ``write(temporary path)``; an operating-system error (a full disk, a
    read-only folder) names ``path``, not the hidden temporary file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OSError(error.errno, error.strerror or one_line(error), str(path)) from None
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; results are ordinary files
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror or one_line(error), str(path)) from None
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


# -- inputs are never outputs ------------------------------------------------------------------

#: Files that clinfair commands write into a folder, and the command that writes each: a later
#: command reads them (the leaderboard reads results.json, a resume reads run.json, ...), so no
#: other command may write over one. The names live here, in the bottom layer, so that every
#: command checks its outputs against the same list.
WRITTEN_BY: dict[str, str] = {
    "results.json": "clinfair eval",
    "predictions.parquet": "clinfair eval",
    "run.json": "clinfair eval",
    "model.json": "clinfair eval",
    "predictions.partial.jsonl": "clinfair eval",
    "split_manifest.json": "clinfair prepare",
    "prepare_summary.json": "clinfair prepare",
    "dataset_dict.json": "clinfair prepare",
    "manifest.json": "clinfair leaderboard build",
    "operations.json": "clinfair leaderboard push --dry-run",
    "recipe.yaml": "clinfair train",
    "fairness.jsonl": "clinfair train",
    "config.json": "clinfair train",
    "model.safetensors": "clinfair train",
    "trainer_state.json": "clinfair train",
    "probe.json": "clinfair probe",
    "probe_rows.parquet": "clinfair probe",
    "comparison.json": "clinfair compare",
    "comparison.md": "clinfair compare",
    "study.json": "clinfair study",
}


class OutputPathError(ClinfairError):
    """An output path that is one of the command's inputs or another command's file; one line."""


Inputs = Iterable[tuple[str, "str | Path | None"]]


def _same_path(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output_file(out: str | Path, *, inputs: Inputs = (), command: str, flag: str = "--out") -> None:
    """Raise :class:`OutputPathError` (one line) unless the file ``out`` may be written by ``command``.

    Refused: one of ``inputs`` (``(label, path)`` pairs, e.g. ``("PREDICTIONS", path)``; the
    same file through another spelling, a link or a hard link included), a folder, and a file
    named as another command's output (:data:`WRITTEN_BY`, e.g. ``results.json``).
    """
    out = Path(out)
    for label, path in inputs:
        if path is not None and _same_path(out, Path(path)):
            raise OutputPathError(
                f"{flag} {out} is the {label} {path}, which this command reads; choose another path"
            )
    if out.is_dir():
        raise OutputPathError(f"{flag} {out} is a folder; give a file name")
    owner = WRITTEN_BY.get(out.name)
    if owner and owner != command:
        raise OutputPathError(
            f"{flag} {out}: {out.name} is the file {owner} writes, which other commands read; choose another name"
        )


def check_output_folder(
    out: str | Path, *, inputs: Inputs = (), writes: Iterable[str] = (), command: str, flag: str = "--out"
) -> None:
    """Raise :class:`OutputPathError` (one line) unless ``command`` may write files ``writes`` into folder ``out``.

    Refused: a folder that is one of ``inputs`` (files or folders the command reads) or lies
    inside one; a folder where one of ``writes`` would land on an input; an existing file at
    ``out``; and writing over a file of ``writes`` in a folder that holds another command's
    files (:data:`WRITTEN_BY`: e.g. ``clinfair simulate``'s report.md into a study's folder).
    """
    out = Path(out)
    resolved = out.resolve()
    for label, path in inputs:
        if path is None:
            continue
        source = Path(path).resolve()
        if _is_within(resolved, source):
            what = "is" if source == resolved else "is inside"
            raise OutputPathError(
                f"{flag} {out} {what} the {label} {path}, which this command reads; choose another output folder"
            )
        for name in writes:
            if _same_path(out / name, Path(path)):
                raise OutputPathError(
                    f"{flag} {out}: {name} would replace the {label} {path}, which this command reads; "
                    "choose another output folder"
                )
    if out.exists() and not out.is_dir():
        raise OutputPathError(f"{flag} {out} is a file, not a folder; choose a folder")
    if not out.is_dir():
        return
    foreign = sorted(
        name for name, owner in WRITTEN_BY.items() if owner != command and (out / name).is_file()
    )
    clashes = [name for name in writes if (out / name).exists()]
    if foreign and clashes:
        raise OutputPathError(
            f"{flag} {out} holds {foreign[0]} of {WRITTEN_BY[foreign[0]]}: writing {clashes[0]} there would "
            f"replace that output's {clashes[0]}; choose another output folder"
        )


# -- one writer per output folder ----------------------------------------------------------------

LOCK_FILE = ".clinfair.lock"


class OutputLockedError(ClinfairError):
    """Another live process is writing the same output folder."""


def _pid_alive(pid: int) -> bool:
    import psutil

    return pid > 0 and psutil.pid_exists(pid)


@contextmanager
def output_lock(folder: str | Path, flag: str = "--out") -> Iterator[Path]:
    """Hold ``folder/.clinfair.lock`` (this process's pid) while the block writes the folder.

    A lock held by another live process refuses the run (one line naming its pid); a lock
    whose process no longer runs (a killed run) is stale and taken over. The lock is removed
    when the block ends, whatever the outcome.
    """
    folder = Path(folder)
    lock = folder / LOCK_FILE
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = int(lock.read_text(encoding="utf-8").split()[0])
            except (OSError, ValueError, IndexError):
                owner = -1  # a lock cut off while written: its writer died before it began
            if owner == os.getpid() or not _pid_alive(owner):
                lock.unlink(missing_ok=True)  # stale: its process is gone
                continue
            raise OutputLockedError(
                f"{flag} {folder} is being written by another clinfair process (pid {owner}); wait for it to "
                f"finish or choose another {flag} (a lock left by a dead process is ignored)"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        break
    else:
        raise OutputLockedError(f"{flag} {folder}: cannot take the lock {lock}")
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)


# -- what leaves the machine -------------------------------------------------------------------

"""The task registry: a task is data (a YAML file in ``tasks/configs/``), not code.

Each YAML names the builder that reads the dataset's official raw layout, the question,
the label space, the demographics the source provides and its licence/access note, as
lm-eval's task registry does. ``list_tasks()`` and ``get_task(key)`` are the API.

Users add their own tasks the same way: :func:`include_path` registers every ``*.yaml`` of a
folder (``--include-path DIR`` on the command line, ``include_path`` in a recipe), most often
a ``table:`` task read by ``clinfair.tasks.builders.table`` from a CSV / parquet / JSONL file, a
``datasets`` folder or a Hub dataset. A user task is then used exactly like a built-in one,
except that ``--tasks all`` keeps meaning the built-in clinical tasks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import yaml
from clinfair.tasks.attributes import (  # noqa: F401  (the attribute check and its error, re-exported)
    UnknownAttributeError,
    check_attributes,
)
from clinfair.tasks.spec import (
    CONFIG_DIR,
    LOADER_FIELDS,
    TASK_KEY,
    TASK_TYPES,
    TaskConfigError,
    TaskSpec,
    UnknownTaskError,
)
from clinfair.tasks.table_config import TableConfig, table_defaults

from clinfair.core.errors import ClinfairError, one_line
from clinfair.core.yamlio import check_keys, load_yaml


def _load_spec(path: Path, user: bool = False) -> TaskSpec:
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise TaskConfigError(f"{path}: not a readable YAML file ({one_line(error)})") from None
    if not isinstance(raw, dict):
        raise TaskConfigError(f"{path}: a task YAML is a mapping of field: value")
    known = [f.name for f in dataclasses.fields(TaskSpec) if f.name not in LOADER_FIELDS]
    check_keys(raw, known, str(path), TaskConfigError)
    if raw.get("table") is not None:
        raw = {**table_defaults(raw, path, user), **raw}  # what a table task need not spell out
    for name in ("choices", "demographics", "attributes"):
        if name in raw:
            if not isinstance(raw[name], list | tuple):
                raise TaskConfigError(f"{path}: {name} must be a list, got {raw[name]!r}")
            raw[name] = tuple(str(item) for item in raw[name])
    try:
        spec = TaskSpec(**raw, origin=str(path))
    except TypeError as error:  # a required field is missing
        raise TaskConfigError(f"{path}: {one_line(error).replace('TaskSpec.__init__() ', '')}") from None
    if spec.key != path.stem:
        raise TaskConfigError(f"{path}: key {spec.key!r} must match the file name")
    if not TASK_KEY.fullmatch(str(spec.key)):
        raise TaskConfigError(f"{path}: key {spec.key!r} may hold only letters, digits, '_', '.' and '-'")
    if spec.task_type not in TASK_TYPES:
        raise TaskConfigError(f"{path}: task_type {spec.task_type!r} is not one of {TASK_TYPES}")
    if spec.table is not None:
        TableConfig.from_spec(spec)  # a bad column map fails here, naming the file, not at prepare
    return spec


@cache
def _builtin() -> dict[str, TaskSpec]:
    return {path.stem: _load_spec(path) for path in sorted(CONFIG_DIR.glob("*.yaml"))}


#: Tasks registered by :func:`include_path`, for this process.
_INCLUDED: dict[str, TaskSpec] = {}


def _registry() -> dict[str, TaskSpec]:
    return {**_builtin(), **_INCLUDED}


def include_path(folder: str | Path) -> list[TaskSpec]:
    """Register every task YAML (``*.yaml`` / ``*.yml``) of ``folder`` for this process, as
    lm-eval's ``--include_path`` does; returns them. A key already taken (by a built-in task or a
    YAML of another file) is an error; including the same folder twice is harmless."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise TaskConfigError(f"--include-path {folder}: not a folder")
    paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if not paths:
        raise TaskConfigError(f"--include-path {folder}: no task YAML (*.yaml) in it")
    specs = [_load_spec(path, user=True) for path in paths]
    for spec in specs:
        if spec.key in _builtin():
            raise TaskConfigError(f"{spec.origin}: key {spec.key!r} is a built-in task; choose another key")
        earlier = _INCLUDED.get(spec.key)
        if earlier is not None and Path(str(earlier.origin)).resolve() != Path(str(spec.origin)).resolve():
            raise TaskConfigError(
                f"{spec.origin}: key {spec.key!r} is already registered by {earlier.origin}"
            )
    _INCLUDED.update({spec.key: spec for spec in specs})
    return specs


def include_paths(folders: str | Path | list[str | Path] | None) -> list[TaskSpec]:
    """:func:`include_path` for each of several folders (``None`` or ``[]``: nothing)."""
    if folders is None:
        return []
    if isinstance(folders, str | Path):
        folders = [folders]
    return [spec for folder in folders for spec in include_path(folder)]


def list_tasks() -> list[TaskSpec]:
    """All registered tasks, sorted by key (built-in and included)."""
    registry = _registry()
    return [registry[key] for key in sorted(registry)]


def task_keys() -> list[str]:
    return sorted(_registry())


def get_task(key: str) -> TaskSpec:
    """The task registered under ``key``; an :class:`UnknownTaskError` listing the known keys otherwise."""
    try:
        return _registry()[key]
    except KeyError:
        raise UnknownTaskError(f"unknown task {key!r}; known tasks: {', '.join(_registry())}") from None


def resolve_tasks(names: str | list[str], option: str = "--tasks") -> list[TaskSpec]:
    """Parse ``"all"`` or a comma-separated list of task keys; an empty list is an error naming ``option``.

    ``"all"`` means the built-in clinical tasks (those read from a raw download): the built-in
    ``synthetic`` task is a test bed and joins only when named, so it never enters the
    overall values beside real datasets; so do tasks added with :func:`include_path`.
    """
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    if not names:
        raise ClinfairError(f"{option} names no task; give task keys (e.g. synthetic) or all")
    if names == ["all"]:
        return [spec for spec in _builtin().values() if spec.needs_raw]
    return [get_task(name) for name in names]


def registered_tasks(keys: Iterable[str]) -> list[TaskSpec]:
    """The registered tasks among ``keys`` (a table may hold rows of a task not registered here)."""
    specs = []
    for key in dict.fromkeys(keys):
        try:
            specs.append(get_task(key))
        except UnknownTaskError:
            continue
    return specs

"""The task registry: a task is data (a YAML file in ``tasks/configs/``), not code.

Each YAML names the builder that reads the dataset's official raw layout, the question,
the label space, the demographics the source provides and its licence/access note, as
lm-eval's task registry does. ``list_tasks()`` and ``get_task(key)`` are the API.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tasks.errors import ClinfairError
from tasks.yamlio import load_yaml

CONFIG_DIR = Path(__file__).parent / "configs"
TASK_TYPES = ("binary", "multiclass", "multilabel")
#: Top-level demographics every task's rows can be grouped by (``age`` is a number, not a group).
GROUPABLE_DEMOGRAPHICS = ("sex", "age_group")


@dataclass(frozen=True)
class TaskSpec:
    """Everything clinfair knows about one task, read from ``tasks/configs/<key>.yaml``."""

    key: str
    name: str
    builder: str  # "module:Class" of a tasks.builders.base.Builder subclass
    task_type: str
    question: str
    choices: tuple[str, ...]
    demographics: tuple[str, ...]  # which of sex / age / extra attributes the source has
    access: str  # licence and how to obtain the raw data
    source: str  # where the official layout is documented
    attributes: tuple[str, ...] = ()  # extra attributes stored in the row's `attributes`
    images_per_example: int = 1
    options: dict[str, Any] = field(default_factory=dict)  # builder defaults
    needs_raw: bool = True
    extra: str | None = None  # pip extra a builder's decoder needs (dicom, video)

    @property
    def multi_label(self) -> bool:
        return self.task_type == "multilabel"

    @property
    def groupable_attributes(self) -> tuple[str, ...]:
        """Every attribute its rows can be grouped by: sex, age_group, then the task's own."""
        return (*GROUPABLE_DEMOGRAPHICS, *self.attributes)

    def builder_class(self) -> type:
        module_name, _, class_name = self.builder.partition(":")
        return getattr(importlib.import_module(module_name), class_name)

    def features(self):
        from tasks.schema import features

        return features(self.attributes)


def _load_spec(path: Path) -> TaskSpec:
    raw = load_yaml(path.read_text())
    known = {f.name for f in dataclasses.fields(TaskSpec)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{path}: unknown task field(s) {unknown}")
    for name in ("choices", "demographics", "attributes"):
        if name in raw:
            raw[name] = tuple(raw[name])
    spec = TaskSpec(**raw)
    if spec.key != path.stem:
        raise ValueError(f"{path}: key {spec.key!r} must match the file name")
    if spec.task_type not in TASK_TYPES:
        raise ValueError(f"{path}: task_type {spec.task_type!r} is not one of {TASK_TYPES}")
    return spec


@cache
def _registry() -> dict[str, TaskSpec]:
    return {path.stem: _load_spec(path) for path in sorted(CONFIG_DIR.glob("*.yaml"))}


def list_tasks() -> list[TaskSpec]:
    """All registered tasks, sorted by key."""
    return list(_registry().values())


def task_keys() -> list[str]:
    return list(_registry())


class UnknownTaskError(ClinfairError):
    """A task key that no registered task has."""


def get_task(key: str) -> TaskSpec:
    """The task registered under ``key``; an :class:`UnknownTaskError` listing the known keys otherwise."""
    try:
        return _registry()[key]
    except KeyError:
        raise UnknownTaskError(f"unknown task {key!r}; known tasks: {', '.join(_registry())}") from None


def resolve_tasks(names: str | list[str]) -> list[TaskSpec]:
    """Parse ``"all"`` or a comma-separated list of task keys.

    ``"all"`` means the clinical tasks (those read from a raw download): the built-in
    ``synthetic`` task is a test bed and joins only when named, so it never enters the
    overall values beside real datasets.
    """
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    if names == ["all"]:
        return [spec for spec in list_tasks() if spec.needs_raw]
    return [get_task(name) for name in names]


class UnknownAttributeError(ClinfairError):
    """A demographic attribute that none of the chosen tasks has."""


def check_attributes(names: Iterable[str], specs: Sequence[TaskSpec], option: str) -> None:
    """Raise :class:`UnknownAttributeError` for the first name no task in ``specs`` can group by.

    An attribute one task has and another lacks is accepted: the other task's rows hold null
    there (in no group; ``UNK`` in a trainer's group key). The message names the attribute,
    the option it came from and each task's attributes.
    """
    known = {name for spec in specs for name in spec.groupable_attributes}
    for name in names:
        if name not in known:
            available = "; ".join(f"{spec.key} has {', '.join(spec.groupable_attributes)}" for spec in specs)
            raise UnknownAttributeError(f"unknown attribute {name!r} in {option}: {available}")

"""What a task is: :class:`TaskSpec` (one task YAML, read) and the errors of the task registry.

This module imports nothing else of ``clinfair.tasks`` but the attribute spec
(``clinfair.tasks.attributes``, which imports only the schema): the registry (``clinfair.tasks.registry``)
reads YAML files into specs, the builders (``clinfair.tasks.builders``) read a spec, and both
import it from here, so ``registry -> builders -> spec`` runs one way.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinfair.tasks.attributes import DEMOGRAPHICS

from clinfair.core.errors import ClinfairError

CONFIG_DIR = Path(__file__).parent / "configs"
TASK_TYPES = ("binary", "multiclass", "multilabel")
TABLE_BUILDER = "clinfair.tasks.builders.table:TableBuilder"
#: A task key names a folder (DATA/<key>) and a leaderboard column: letters, digits, _ . -
TASK_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
#: Fields set by the loader, never by the YAML.
LOADER_FIELDS = ("origin",)


class TaskConfigError(ClinfairError, ValueError):
    """A task YAML that cannot be used (unknown field, bad value, clashing key, bad table map)."""


@dataclass(frozen=True)
class TaskSpec:
    """Everything clinfair knows about one task, read from ``tasks/configs/<key>.yaml``."""

    key: str
    name: str
    builder: str  # "module:Class" of a clinfair.tasks.builders.base.Builder subclass
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
    # how to read the task from a table, a `datasets` folder or a Hub dataset (clinfair.tasks.builders.table):
    # the whole source of a user task; for a built-in one, the column map of its table-shaped mirrors
    table: dict[str, Any] | None = None
    origin: str | None = None  # the YAML file this spec was read from (set by the loader)

    @property
    def multi_label(self) -> bool:
        return self.task_type == "multilabel"

    @property
    def groupable_attributes(self) -> tuple[str, ...]:
        """Every attribute its rows can be grouped by: sex, age_group, then the task's own."""
        return (*DEMOGRAPHICS, *self.attributes)

    def builder_class(self) -> type:
        module_name, _, class_name = self.builder.partition(":")
        return getattr(importlib.import_module(module_name), class_name)

    @property
    def reads_table(self) -> bool:
        """Whether the task is built by the table builder (a user task, or a built-in read from a mirror)."""
        return self.builder == TABLE_BUILDER

    def prepare_hint(self, out: str | Path) -> str:
        """The ``clinfair prepare`` command that writes this task's data to ``out``."""
        if self.reads_table and self.origin and Path(self.origin).parent != CONFIG_DIR:
            return f"clinfair prepare {self.key} --include-path {Path(self.origin).parent} --out {out}"
        return f"clinfair prepare {self.key} --raw <download> --out {out}"


class UnknownTaskError(ClinfairError):
    """A task key that no registered task has."""

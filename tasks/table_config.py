"""The ``table:`` mapping of a task YAML, checked: where a table task's rows are and which column
holds what (the format is described in ``clinfair.tasks.builders.table``, which reads the rows).

Beside ``clinfair.tasks.spec`` and, like it, free of the builders: the registry checks a task's
column map when it reads the YAML (a bad map fails naming the file, not at prepare) without
importing the builder that reads the table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinfair.tasks.spec import TABLE_BUILDER, TaskConfigError, TaskSpec

from clinfair.core.hub import HUB_ID
from clinfair.core.yamlio import check_keys

HUB_PREFIX = "hf:"
TABLE_KEYS = (
    "path",
    "name",
    "revision",
    "image_root",
    "allow_outside_root",
    "columns",
    "label_delimiter",
    "value_maps",
)
COLUMN_KEYS = ("id", "image", "images", "label", "sex", "age", "split", "split_key", "attributes")
#: value_maps keys besides the attribute names
MAPPED_FIELDS = ("label", "sex", "age", "split")


def _column(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
        raise TaskConfigError(f"{where}: a column name, got {value!r}")
    return str(value)


def cell_text(value: Any) -> str | None:
    """A raw value as the text a value map is keyed by (``45.0`` -> ``"45"``); ``None`` when blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


@dataclass(frozen=True)
class TableConfig:
    """The ``table:`` mapping of a task YAML, checked (see the module docstring)."""

    where: str  # "<yaml file>: table", for messages
    base: Path  # relative paths of the mapping resolve against this folder (the YAML's)
    path: str | None
    id: str
    images: tuple[str, ...]
    label: str
    name: str | None = None
    revision: str | None = None
    image_root: str | None = None
    allow_outside_root: bool = False  # image paths may point outside image_root
    sex: str | None = None
    age: str | None = None
    split: str | None = None
    split_key: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    label_delimiter: str | None = None
    value_maps: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, raw: Any, where: str, base: Path, attribute_names=None) -> TableConfig:
        if not isinstance(raw, Mapping):
            raise TaskConfigError(f"{where}: a mapping with path, columns and value_maps, got {raw!r}")
        check_keys(raw, TABLE_KEYS, where, TaskConfigError)
        columns = raw.get("columns")
        if not isinstance(columns, Mapping):
            raise TaskConfigError(f"{where}.columns: a mapping of field: column is needed, got {columns!r}")
        check_keys(columns, COLUMN_KEYS, f"{where}.columns", TaskConfigError)
        for required in ("id", "label"):
            if columns.get(required) is None:
                raise TaskConfigError(f"{where}.columns: '{required}' names no column")
        if (columns.get("image") is None) == (columns.get("images") is None):
            raise TaskConfigError(
                f"{where}.columns: give 'image' (one column) or 'images' (a list of columns)"
            )
        images = columns["images"] if columns.get("images") is not None else [columns["image"]]
        if not isinstance(images, list | tuple) or not images:
            raise TaskConfigError(f"{where}.columns.images: a list of columns, got {images!r}")
        attributes = columns.get("attributes") or {}
        if not isinstance(attributes, Mapping):
            raise TaskConfigError(f"{where}.columns.attributes: a mapping of attribute: column")
        if attribute_names is not None:
            undeclared = sorted(set(attributes) - set(attribute_names))
            if undeclared:
                raise TaskConfigError(
                    f"{where}.columns.attributes: {undeclared} are not among the task's attributes "
                    f"{list(attribute_names)}"
                )
        value_maps = raw.get("value_maps") or {}
        if not isinstance(value_maps, Mapping):
            raise TaskConfigError(f"{where}.value_maps: a mapping of field: {{raw value: value}}")
        check_keys(
            value_maps, [*MAPPED_FIELDS, *map(str, attributes)], f"{where}.value_maps", TaskConfigError
        )
        maps = {}
        for name, mapping in value_maps.items():
            if not isinstance(mapping, Mapping):
                raise TaskConfigError(
                    f"{where}.value_maps.{name}: a mapping of raw value: value, got {mapping!r}"
                )
            maps[str(name)] = {cell_text(k) or "": v for k, v in mapping.items()}  # a blank key maps blanks
        delimiter = raw.get("label_delimiter")
        if delimiter is not None and (not isinstance(delimiter, str) or not delimiter):
            raise TaskConfigError(f"{where}.label_delimiter: a non-empty string, got {delimiter!r}")
        allow_outside_root = raw.get("allow_outside_root", False)
        if not isinstance(allow_outside_root, bool):
            raise TaskConfigError(f"{where}.allow_outside_root: true or false, got {allow_outside_root!r}")
        path = raw.get("path")
        if path is not None and (not isinstance(path, str) or not path.strip()):
            raise TaskConfigError(f"{where}.path: a file, a folder or hf:ORG/NAME, got {path!r}")
        if (
            isinstance(path, str)
            and path.startswith(HUB_PREFIX)
            and not HUB_ID.fullmatch(path[len(HUB_PREFIX) :])
        ):
            raise TaskConfigError(f"{where}.path: {path!r} is not hf:ORG/NAME")
        return cls(
            where=where,
            base=base,
            path=path,
            id=_column(columns["id"], f"{where}.columns.id"),  # type: ignore[arg-type]
            images=tuple(_column(c, f"{where}.columns.images") for c in images),  # type: ignore[misc]
            label=_column(columns["label"], f"{where}.columns.label"),  # type: ignore[arg-type]
            name=raw.get("name"),
            revision=raw.get("revision"),
            image_root=raw.get("image_root"),
            allow_outside_root=allow_outside_root,
            sex=_column(columns.get("sex"), f"{where}.columns.sex"),
            age=_column(columns.get("age"), f"{where}.columns.age"),
            split=_column(columns.get("split"), f"{where}.columns.split"),
            split_key=_column(columns.get("split_key"), f"{where}.columns.split_key"),
            attributes={str(k): _column(v, f"{where}.columns.attributes.{k}") for k, v in attributes.items()},  # type: ignore[misc]
            label_delimiter=delimiter,
            value_maps=maps,
        )

    @classmethod
    def from_spec(cls, spec: TaskSpec) -> TableConfig:
        origin = Path(spec.origin) if spec.origin else Path.cwd() / f"{spec.key}.yaml"
        return cls.from_mapping(spec.table, f"{origin}: table", origin.parent, spec.attributes)

    def columns(self) -> dict[str, str]:
        """Every column the map names, by the field it fills (``images[1]``, ``attributes.site``)."""
        named = {"id": self.id, "label": self.label}
        named.update(
            {("image" if len(self.images) == 1 else f"images[{n}]"): c for n, c in enumerate(self.images)}
        )
        named.update(
            {
                name: getattr(self, name)
                for name in ("sex", "age", "split", "split_key")
                if getattr(self, name)
            }
        )
        named.update({f"attributes.{name}": column for name, column in self.attributes.items()})
        return named


def table_defaults(raw: Mapping[str, Any], path: Path, user: bool) -> dict[str, Any]:
    """Fields a user's table task may leave out: the builder, the demographics and attributes its
    column map names, and a source and access note. Built-in YAMLs spell everything out."""
    if not user:
        return {}
    table = raw.get("table") if isinstance(raw.get("table"), Mapping) else {}
    columns = table.get("columns") if isinstance(table.get("columns"), Mapping) else {}
    attributes = columns.get("attributes") if isinstance(columns.get("attributes"), Mapping) else {}
    demographics = [name for name in ("sex", "age") if columns.get(name) is not None]
    return {
        "builder": TABLE_BUILDER,
        "name": raw.get("key", path.stem),
        "attributes": list(attributes),
        "demographics": demographics + list(attributes),
        "source": str(table.get("path") or "a table given with --raw"),
        "access": f"your own data, read as described in {path.name}",
    }

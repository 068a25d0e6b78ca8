"""A task read from a table: a CSV / parquet / JSONL file, a ``datasets`` folder or a Hub dataset.

A user task is a YAML file in a folder given to ``--include-path`` (see ``clinfair.tasks.registry``)
whose ``table:`` mapping says where the rows are and which column holds what::

    table:
      path: labels.csv            # a .csv/.parquet/.jsonl file (relative to this YAML), a folder
                                  # written by Dataset.save_to_disk or readable by load_dataset,
                                  # or hf:ORG/NAME (a Hub dataset; `name` and `revision` optional)
      image_root: images          # folder of relative image paths (default: the table's folder)
      allow_outside_root: false   # true: image paths may leave image_root (absolute, ../, symlinks)
      columns:
        id: image_id              # unique per row
        image: path               # an image path or an image (datasets Image / bytes) column;
                                  # `images: [left, right]` for several, or a list-valued column
        label: diagnosis          # one label, a list of labels, or text split by label_delimiter
        sex: gender               # optional demographics
        age: age_years
        split: fold               # optional; else a stable hash of split_key (default: id)
        split_key: patient_id     # keeps one patient's rows in one split
        attributes: {fitzpatrick: fst, site: hospital}   # become the row's `attributes`
      label_delimiter: "|"        # multilabel text such as "effusion|edema"
      value_maps:                 # raw value -> clinfair value, per field; an unmapped value is
        sex: {Male: M, Female: F} # an error naming it (map it to null to leave it blank)
        label: {mel: melanoma, nv: nevus}   # a row whose labels all map to null is left out (counted)

A ``datasets`` folder or Hub dataset with several splits gives each row its split's name in
the column ``_split``: ``split: _split`` keeps the source's splits.

A built-in task may carry a ``table:`` column map too (without ``path``): ``clinfair prepare
ham10000 --raw hf:ORG/NAME`` or ``--raw DATASETS_FOLDER`` then reads that mirror through this
builder into the same rows the official layout gives; ``--columns FILE`` (a YAML holding such
a mapping) adds to or replaces it, for any built-in task.

Every problem is one line naming the file, the row and the column; a bad row is a row error
that ``--skip-bad`` skips and counts, as in every other builder.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from clinfair.tasks.builders.base import ROW_PROBLEM, Builder, BuildError, RawRecord, assign_split, load_image
from clinfair.tasks.schema import SPLITS, FieldError
from clinfair.tasks.spec import TABLE_BUILDER, TaskConfigError, TaskSpec
from clinfair.tasks.table_config import HUB_PREFIX, TableConfig
from clinfair.tasks.table_config import cell_text as _text
from PIL import Image

from clinfair.core.errors import one_line
from clinfair.core.yamlio import load_yaml, merge_mappings

SOURCE_SPLIT_COLUMN = "_split"  # the source split of a row of a datasets folder or Hub dataset
FILE_KINDS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
BATCH_ROWS = 64  # rows read at a time from parquet and datasets sources (memory stays flat)
#: markers of a folder written by Dataset(Dict).save_to_disk
SAVED_DATASET_FILES = ("dataset_dict.json", "state.json")


# -- where the rows are -----------------------------------------------------------------------------


def is_hub_source(raw: str | Path | None) -> bool:
    return isinstance(raw, str) and raw.startswith(HUB_PREFIX)


def is_table_source(raw: str | Path | None) -> bool:
    """Whether ``--raw`` names a table rather than an official raw folder: ``hf:ORG/NAME``, a table
    file, or a folder written by ``save_to_disk``."""
    if raw is None:
        return False
    if is_hub_source(raw):
        return True
    path = Path(raw)
    if path.is_file():
        return path.suffix.lower() in FILE_KINDS
    return path.is_dir() and any((path / name).is_file() for name in SAVED_DATASET_FILES)


def with_table_source(
    spec: TaskSpec, raw: str | Path | None, columns_file: str | Path | None = None
) -> TaskSpec:
    """The spec ``clinfair prepare`` builds: ``spec`` itself, unless ``raw`` is a table source or a
    ``--columns`` file is given, then the same task read by the table builder with the task's own
    column map (its ``table:``) updated by the file's."""
    if columns_file is None and (spec.reads_table or not is_table_source(raw)):
        return spec
    table: dict[str, Any] = dict(spec.table or {})
    origin = spec.origin
    if columns_file is not None:
        path = Path(columns_file)
        try:
            extra = load_yaml(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise TaskConfigError(f"--columns {path}: not a readable YAML file ({one_line(error)})") from None
        if isinstance(extra, Mapping) and set(extra) == {"table"}:
            extra = extra["table"]
        if not isinstance(extra, Mapping):
            raise TaskConfigError(
                f"--columns {path}: a mapping like a task's table: (columns, value_maps...)"
            )
        table, origin = merge_mappings(table, extra), str(path)
    if not table.get("columns"):
        raise TaskConfigError(
            f"{spec.key} has no column map for --raw {raw}: pass --columns FILE (a YAML with columns: "
            "and value_maps:, see the README's 'Your own data')"
        )
    variant = dataclasses.replace(spec, builder=TABLE_BUILDER, table=table, options={}, origin=origin)
    TableConfig.from_spec(variant)
    return variant


class TableBuilder(Builder):
    """One row per row of the table (see the module docstring)."""

    def __init__(self, spec: TaskSpec, raw_dir: str | Path | None = None, **options: Any):
        self.config = TableConfig.from_spec(spec)
        source = str(raw_dir) if raw_dir is not None else self.config.path
        if source is None:
            raise BuildError(
                f"{spec.key}: {self.config.where} has no path: pass --raw FILE, FOLDER or hf:ORG/NAME"
            )
        if is_hub_source(source):
            self.kind, self.source = "hub", source[len(HUB_PREFIX) :]
            folder = self.config.base
        else:
            path = Path(source).expanduser()
            if raw_dir is None and not path.is_absolute():
                path = self.config.base / path  # a path in the YAML is relative to the YAML
            if not path.exists():
                raise BuildError(f"{spec.key}: table {path} does not exist ({self.config.where}.path)")
            if path.is_dir():
                saved = any((path / name).is_file() for name in SAVED_DATASET_FILES)
                self.kind, folder = ("saved" if saved else "folder"), path
            else:
                self.kind = FILE_KINDS.get(path.suffix.lower(), "")
                if not self.kind:
                    raise BuildError(
                        f"{spec.key}: cannot read {path}: a table is a {', '.join(FILE_KINDS)} file, a datasets "
                        "folder or hf:ORG/NAME"
                    )
                folder = path.parent
            self.source = str(path)
        super().__init__(spec, folder, **options)
        self.given_raw = raw_dir  # workers rebuild from the table itself, not its folder
        root = self.config.image_root
        self.image_root = (
            (self.config.base / root if not Path(root).is_absolute() else Path(root))
            if root
            else Path(folder)
        )
        self.column_of = {  # schema field -> the column named in errors
            "id": self.config.id,
            "answer": self.config.label,
            "sex": self.config.sex or "sex",
            "age": self.config.age or "age",
            "split": self.config.split or "split",
        }

    # -- reading ------------------------------------------------------------------------------------
    def records(self) -> Iterator[RawRecord]:
        for record in self._source_records():
            if self._left_out(record.data):
                continue
            yield record

    def _source_records(self) -> Iterator[RawRecord]:
        if self.kind == "csv":
            path = Path(self.source)
            header = _csv_header(path)
            if header is not None:
                self._missing(self.relative(path), header)
            yield from self.csv_records(path, ())
        elif self.kind == "jsonl":
            yield from self._jsonl_records(Path(self.source))
        elif self.kind == "parquet":
            yield from self._parquet_records(Path(self.source))
        else:
            yield from self._dataset_records()

    def _left_out(self, data: Mapping[str, Any]) -> bool:
        """A row whose labels ``value_maps.label`` all map to null: left out on purpose and counted.
        A null among other labels of a multilabel row is a row error (``_labels``): dropping one
        label would change the row's ground truth unseen."""
        mapping = self.config.value_maps.get("label")
        if mapping is None or ROW_PROBLEM in data:
            return False
        items = self._label_items(data.get(self.config.label))
        if items and all(item in mapping and mapping[item] is None for item in items):
            self.exclude(f"{self.config.label} {'|'.join(items)!r} mapped to null")
            return True
        return False

    def _missing(self, name: str, available) -> None:
        """A :class:`BuildError` when the column map names a column ``available`` lacks."""
        missing = [
            f"{field} -> {column!r}"
            for field, column in self.config.columns().items()
            if column not in available
        ]
        if missing:
            raise BuildError(
                f"{name}: the column map ({self.config.where}.columns) names column(s) the table lacks: "
                f"{', '.join(missing)}; it has {list(available)}"
            )

    def _jsonl_records(self, path: Path) -> Iterator[RawRecord]:
        name, number, checked = self.relative(path), 0, False
        with path.open(encoding="utf-8-sig") as handle:
            try:
                for line in handle:
                    if not line.strip():
                        continue
                    number += 1
                    try:
                        data = json.loads(line)
                    except json.JSONDecodeError as error:
                        yield RawRecord(
                            name, number, {ROW_PROBLEM: ("row", f"not a JSON line ({error.msg})")}
                        )
                        continue
                    if not isinstance(data, dict):
                        yield RawRecord(name, number, {ROW_PROBLEM: ("row", "a JSON line must be an object")})
                        continue
                    if not checked:
                        self._missing(f"{name} (first row)", list(data))
                        checked = True
                    yield RawRecord(name, number, data)
            except UnicodeDecodeError as error:
                raise BuildError(f"{name}: not UTF-8 text ({error.reason} at byte {error.start})") from None

    def _parquet_records(self, path: Path) -> Iterator[RawRecord]:

        name = self.relative(path)
        try:
            table = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as error:
            raise BuildError(f"{name}: not readable as parquet ({one_line(error)})") from None
        self._missing(name, table.schema_arrow.names)
        number = 0
        for batch in table.iter_batches(
            batch_size=BATCH_ROWS, columns=sorted(set(self.config.columns().values()))
        ):
            for data in batch.to_pylist():
                number += 1
                yield RawRecord(name, number, data)

    def _dataset_records(self) -> Iterator[RawRecord]:
        import datasets

        splits = self._open_dataset()
        label = f"hf:{self.source}" if self.kind == "hub" else self.relative(Path(self.source)) or "."
        for split_name, dataset in splits.items():
            name = f"{label} [{split_name}]" if len(splits) > 1 or split_name != "train" else label
            columns = dataset.column_names
            if columns is not None:
                self._missing(name, [*columns, SOURCE_SPLIT_COLUMN])
            if isinstance(dataset, datasets.Dataset):  # Arrow-backed: read in batches, images not decoded
                rows = (
                    row
                    for batch in dataset.with_format("arrow").iter(BATCH_ROWS)
                    for row in batch.to_pylist()
                )
            else:  # a streamed IterableDataset: images stay encoded bytes
                rows = iter(dataset.decode(False))
            for number, data in enumerate(rows, start=1):
                yield RawRecord(name, number, {**data, SOURCE_SPLIT_COLUMN: split_name})

    def _open_dataset(self) -> dict[str, Any]:
        import datasets

        try:
            if self.kind == "saved":
                loaded = datasets.load_from_disk(self.source)
            elif self.kind == "folder":
                loaded = datasets.load_dataset(self.source, streaming=True)
            else:
                loaded = datasets.load_dataset(self.source, self.config.name, revision=self.config.revision)
        except Exception as error:  # datasets raises many types (connection, not found, format)
            where = f"Hub dataset {self.source!r}" if self.kind == "hub" else f"datasets folder {self.source}"
            offline = datasets.config.HF_HUB_OFFLINE if self.kind == "hub" else False
            hint = (
                " (offline: HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set and it is not in the local cache)"
                if offline
                else ""
            )
            raise BuildError(f"{self.spec.key}: cannot load {where}{hint}: {one_line(error)}") from None
        return dict(loaded) if isinstance(loaded, Mapping) else {"train": loaded}

    # -- one row ------------------------------------------------------------------------------------
    def to_example(self, record: RawRecord) -> dict[str, Any]:
        data, config = record.data, self.config
        row_id = _text(data.get(config.id))
        if row_id is None:
            raise FieldError(config.id, "blank id")
        labels = self._labels(data.get(config.label))
        images = []
        for column in config.images:
            value = data.get(column)
            values = value if isinstance(value, list | tuple) else [value]
            if not values:
                raise FieldError(column, "no image")
            images += [
                self._image(item, column, f"{row_id}_{len(images) + n}") for n, item in enumerate(values)
            ]
        attributes = {name: self._mapped(data, name, column) for name, column in config.attributes.items()}
        try:
            return self.example(
                id=row_id,
                split=self._split(data, row_id),
                images=images,
                answer=labels,
                sex=self._mapped(data, "sex", config.sex),
                age=self._mapped(data, "age", config.age),
                attributes=attributes,
            )
        except FieldError as error:  # name the table's column, which the user knows, not the schema field
            raise FieldError(self.column_of.get(error.field, error.field), error.message) from None

    def _mapped(self, data: Mapping[str, Any], name: str, column: str | None) -> Any:
        """The column's value through ``value_maps[name]`` when there is one (unmapped: an error)."""
        if column is None:
            return None
        value = data.get(column)
        mapping = self.config.value_maps.get(name)
        key = _text(value)  # 3 and 3.0 (an integer column with blanks, read from parquet) are "3"
        if mapping is None:
            return key if name != "age" else value
        if key is None:
            return mapping.get("")
        if key not in mapping:
            raise FieldError(column, f"value {key!r} is not in value_maps.{name}: {_shown(mapping)}")
        return mapping[key]

    def _label_items(self, value: Any) -> list[str]:
        if isinstance(value, list | tuple):
            items = [_text(item) for item in value]
        elif self.config.label_delimiter and isinstance(value, str):
            items = [_text(item) for item in value.split(self.config.label_delimiter)]
        else:
            items = [_text(value)]
        return [item for item in items if item is not None]

    def _labels(self, value: Any) -> list[str]:
        config, column = self.config, self.config.label
        items = self._label_items(value)
        if not items:
            raise FieldError(column, "blank label")
        mapping = config.value_maps.get("label")
        labels: list[str] = []
        for item in items:
            if mapping is None:
                labels.append(item)
                continue
            if item not in mapping:
                raise FieldError(column, f"value {item!r} is not in value_maps.label: {_shown(mapping)}")
            mapped = mapping[item]
            if mapped is None:  # records() leaves out rows whose labels all map to null
                raise FieldError(
                    column,
                    f"value {item!r} is mapped to null among other labels (only a row whose labels all "
                    "map to null is left out)",
                )
            labels += [str(m) for m in mapped] if isinstance(mapped, list) else [str(mapped)]
        unknown = [label for label in dict.fromkeys(labels) if label not in self.spec.choices]
        if unknown:
            raise FieldError(
                column,
                f"label(s) outside the label space: {', '.join(map(repr, unknown))} (the space is "
                f"{', '.join(self.spec.choices)}"
                + ("" if mapping else "; map raw values with value_maps.label")
                + ")",
            )
        labels = list(dict.fromkeys(labels))
        if not self.spec.multi_label and len(labels) != 1:
            raise FieldError(
                column, f"{len(labels)} labels {labels} for a {self.spec.task_type} task (one expected)"
            )
        return labels

    def _split(self, data: Mapping[str, Any], row_id: str) -> str:
        config = self.config
        if config.split is not None:
            split = _text(self._mapped(data, "split", config.split))
            if split not in SPLITS:
                raise FieldError(
                    config.split,
                    f"split {split!r} is not one of {list(SPLITS)} (map others with value_maps.split)",
                )
            return split  # type: ignore[return-value]
        if config.split_key is None:
            return assign_split(row_id)
        key = _text(data.get(config.split_key))
        if key is None:
            raise FieldError(config.split_key, "blank split key: the split needs it")
        return assign_split(key)

    def _image(self, value: Any, column: str, name: str) -> dict[str, Any]:
        if isinstance(value, Mapping):  # a datasets Image: {"bytes": ..., "path": ...}
            data, path = value.get("bytes"), value.get("path")
            if data:
                return _checked_bytes(bytes(data), Path(path).name if path else name, column)
            value = path
        if isinstance(value, bytes | bytearray | memoryview):
            return _checked_bytes(bytes(value), name, column)
        text = _text(value) if isinstance(value, str) else None
        if text is None:
            raise FieldError(
                column,
                "no image"
                if value is None or isinstance(value, str)
                else f"not an image path or bytes: {type(value).__name__}",
            )
        path = Path(text).expanduser()
        path = path if path.is_absolute() else self.image_root / path
        if not self.config.allow_outside_root and not path.resolve().is_relative_to(
            self.image_root.resolve()
        ):
            if Path(text).expanduser().is_absolute():
                how = "an absolute path"
            elif Path(os.path.normpath(path.absolute())).is_relative_to(
                os.path.normpath(self.image_root.absolute())
            ):
                how = "a link"  # inside the root as written, outside once links are followed
            else:
                how = "a '..' path"
            raise FieldError(
                column,
                f"image path {text!r} ({how}) points outside the image root {self.image_root}; "
                f"set allow_outside_root: true in {self.config.where} to read it",
            )
        return load_image(path, column)


def _checked_bytes(data: bytes, name: str, column: str) -> dict[str, Any]:
    """Image bytes as stored, after a full decode (a truncated or foreign blob is a field error)."""

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except Exception as error:  # PIL raises many types for corrupt data
        raise FieldError(column, f"unreadable image bytes ({one_line(error)})") from None
    return {"bytes": data, "path": name}


def _shown(mapping: Mapping[str, Any], most: int = 12) -> str:
    keys = [key for key in mapping if key != ""]
    return "it maps " + ", ".join(map(repr, keys[:most])) + (", ..." if len(keys) > most else "")


def _csv_header(path: Path) -> list[str] | None:

    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return [column.strip() for column in next(csv.reader(handle), [])]
    except (UnicodeDecodeError, csv.Error):
        return None  # csv_records reports it, naming the line

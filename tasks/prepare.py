"""``clinfair prepare``: stream a builder's rows into an Arrow ``DatasetDict`` on disk.

Rows go straight from the builder's generator into one Arrow writer per split, so peak
memory does not grow with the size of the dataset. The folder appears atomically: it is
written in a hidden folder next to its final place and renamed when complete
(``clinfair.core.io.atomic_folder``), with a ``prepare_summary.json`` (rows per split and group,
nulls per demographic field, skipped rows and why, each split's hash) and a
``split_manifest.json`` (per split: rows, ids in order and the content hash of
``clinfair.tasks.manifest``, computed from the rows as written).

``num_proc > 1`` builds the rows (reading, decoding and checking the images) in that many
worker processes (``Builder.examples``); the output is the same at any ``num_proc``. Images
are stored as their original encoded bytes (PNG, JPEG...); only what is not an image file
(DICOM pixels, video frames, generated pixels) is encoded, as PNG.

``prepare_summary.json`` is also the folder's marker: ``overwrite=True`` replaces only a
folder holding one (an earlier output of ``clinfair prepare``), and never the current folder,
the raw folder or a folder containing it. A run killed mid-way leaves its hidden folder
behind; the next prepare into the same place removes it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clinfair.tasks.builders.base import SkipReport
from clinfair.tasks.manifest import MANIFEST_FILE, build_manifest
from clinfair.tasks.schema import SPLITS, group_key, to_arrow_row
from clinfair.tasks.schema import features as schema_features
from clinfair.tasks.spec import TaskSpec

from clinfair.core.errors import ClinfairError
from clinfair.core.io import atomic_folder

SHARD_NAME = "data-00000-of-00001.arrow"  # the file name Dataset.save_to_disk gives one shard
WRITER_BATCH_SIZE = 64  # rows buffered before a write: bounds memory for image-heavy rows
SUMMARY_FILE = "prepare_summary.json"  # also the marker of a folder clinfair prepare wrote
DATA_DIR_VARIABLE = "CLINFAIR_DATA"


def default_data_dir() -> str:
    """Where prepared tasks live unless a command is told: ``$CLINFAIR_DATA``, else ``./data``
    (read when called, so a variable set after import counts)."""
    return os.environ.get(DATA_DIR_VARIABLE) or "data"


#: The key of a row's Arrow encoding in the rows :class:`ArrowEncoder` returns.
ENCODED = "_arrow"


@dataclass(frozen=True)
class ArrowEncoder:
    """A schema row -> its Arrow encoding (under :data:`ENCODED`) beside its fields without the
    images. ``Builder.examples`` runs it in the workers with ``--num-proc``: encoding is the
    costliest per-row step after the images, and the image bytes then cross processes once."""

    features: Any  # datasets.Features

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        light = {key: value for key, value in row.items() if key != "images"}
        return {**light, ENCODED: self.features.encode_example(to_arrow_row(row))}


class MissingDataError(ClinfairError, FileNotFoundError):
    """A task's prepared data (or one of its splits) is not where a command looks for it."""


@dataclass
class PrepareSummary:
    task: str
    rows: int = 0
    rows_per_split: dict[str, int] = field(default_factory=dict)
    rows_per_group: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> group -> n
    nulls: dict[str, int] = field(default_factory=dict)  # demographic field -> rows with null
    excluded: dict[str, int] = field(default_factory=dict)  # left out by a builder option, by reason
    skipped: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    skipped_examples: list[str] = field(default_factory=list)
    sha256: dict[str, str] = field(default_factory=dict)  # split -> content hash (clinfair.tasks.manifest)

    def to_text(self) -> str:
        lines = [f"{self.task}: {self.rows} rows"]
        for split, count in self.rows_per_split.items():
            groups = ", ".join(f"{g}={n}" for g, n in sorted(self.rows_per_group[split].items()))
            lines.append(f"  {split:<10} {count:>8}   {groups}")
        lines.append("  nulls: " + (", ".join(f"{k}={v}" for k, v in self.nulls.items()) or "none"))
        lines += [f"  excluded by option: {n} {reason}" for reason, n in self.excluded.items()]
        lines.append(f"  skipped: {self.skipped}")
        lines += [f"    {n:>6}  {reason}" for reason, n in self.skipped_reasons.items()]
        lines += [f"  sha256 {split:<10} {digest}" for split, digest in self.sha256.items()]
        return "\n".join(lines)


def prepare(
    spec: TaskSpec,
    out_dir: str | Path,
    raw_dir: str | Path | None = None,
    *,
    skip_bad: bool = False,
    options: dict[str, Any] | None = None,
    progress: bool = True,
    overwrite: bool = False,
    num_proc: int = 1,
) -> PrepareSummary:
    """Build ``spec`` from ``raw_dir`` into a ``DatasetDict`` saved at ``out_dir``.

    ``num_proc`` worker processes build the rows (1: this process alone); the output is the same.
    """
    from datasets.arrow_writer import ArrowWriter
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    if num_proc < 1:
        raise ValueError(f"--num-proc must be at least 1, got {num_proc}")
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already exists; pass --overwrite to replace it")
    builder = spec.builder_class()(spec, raw_dir, **(options or {}))
    features = schema_features(spec.attributes)
    summary = PrepareSummary(task=spec.key, nulls={name: 0 for name in _demographic_fields(spec)})
    skips = SkipReport()
    per_group: dict[str, Counter] = {}
    with atomic_folder(out_dir, SUMMARY_FILE, protected=[("--raw", raw_dir)]) as staging:
        writers: dict[str, ArrowWriter] = {}
        total = int(builder.options["n"]) if "n" in builder.options else None
        try:
            for row in tqdm(
                builder.examples(skip_bad, skips, num_proc=num_proc, encode=ArrowEncoder(features)),
                total=total,
                desc=f"prepare {spec.key}",
                unit="row",
                disable=not progress,
            ):
                split = row["split"]
                if split not in writers:
                    (staging / split).mkdir(parents=True)
                    writers[split] = ArrowWriter(
                        features=features,
                        path=str(staging / split / SHARD_NAME),
                        writer_batch_size=WRITER_BATCH_SIZE,
                    )
                writers[split].write(row[ENCODED])
                per_group.setdefault(split, Counter())[group_key(row)] += 1
                for name in summary.nulls:
                    summary.nulls[name] += _is_null_field(row, name)
        finally:
            for writer in writers.values():
                writer.finalize()
        if not writers:
            raise ValueError(f"{spec.key}: no rows were built (skipped {skips.total})")
        splits = [s for s in SPLITS if s in writers]
        for split in splits:
            summary.rows_per_split[split] = _finish_split(staging / split)
        manifest = build_manifest(spec.key, {s: staging / s / SHARD_NAME for s in splits}, builder.options)
        for split in splits:
            summary.sha256[split] = manifest["splits"][split]["sha256"]
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, default=str))
        (staging / "dataset_dict.json").write_text(json.dumps({"splits": splits}))
        summary.rows = sum(summary.rows_per_split.values())
        summary.rows_per_group = {s: dict(sorted(per_group[s].items())) for s in splits}
        summary.excluded = dict(builder.excluded.most_common())
        summary.skipped = skips.total
        summary.skipped_reasons = dict(skips.counts.most_common())
        summary.skipped_examples = skips.examples
        (staging / SUMMARY_FILE).write_text(json.dumps(asdict(summary), indent=2))
    return summary


def _finish_split(folder: Path) -> int:
    """Add the metadata ``Dataset.save_to_disk`` writes beside the shard; return the row count.

    The Arrow writer already wrote the shard where ``save_to_disk`` would put it, so the
    rows are never read back and copied (that copy made peak memory grow with the data).
    """
    from datasets import Dataset

    dataset = Dataset.from_file(str(folder / SHARD_NAME))  # memory-mapped, not read
    state = {
        "_data_files": [{"filename": SHARD_NAME}],
        "_fingerprint": dataset._fingerprint,
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": None,
    }
    (folder / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True))
    dataset.info.write_to_directory(str(folder))
    return dataset.num_rows


def _demographic_fields(spec: TaskSpec) -> list[str]:
    fields = [name for name in ("sex", "age") if name in spec.demographics]
    return fields + list(spec.attributes)


def _is_null_field(row: dict[str, Any], name: str) -> bool:
    value = row[name] if name in row else row["attributes"].get(name)
    return value is None


def load_prepared(path: str | Path):
    """Load a folder written by :func:`prepare` (a ``datasets.DatasetDict``)."""
    from datasets import load_from_disk

    path = Path(path)
    if not (path / "dataset_dict.json").is_file():
        raise MissingDataError(
            f"{path} is not a prepared clinfair dataset (no dataset_dict.json); "
            "run `clinfair prepare TASK --out DIR` first"
        )
    return load_from_disk(str(path))


def task_rows(spec: TaskSpec, data_dir: Path, split: str, limit: int | None) -> Any:
    """The split of a prepared task (``data_dir/<task>``); synthetic is built when missing."""
    folder = data_dir / spec.key
    if not folder.exists():
        if spec.needs_raw:
            raise MissingDataError(
                f"no prepared data for {spec.key} at {folder}; run `{spec.prepare_hint(folder)}` first"
            )
        prepare(spec, folder, progress=False)
    dataset = load_prepared(folder)
    if split not in dataset:
        raise MissingDataError(f"{folder} has no {split!r} split (it has {', '.join(dataset)})")
    rows = dataset[split]
    return rows.select(range(min(limit, len(rows)))) if limit is not None else rows

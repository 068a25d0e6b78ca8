"""An oracle for the split hash, written from its documented definition (tasks/manifest.py's
docstring), with hashlib, json and pyarrow only: it never calls clinfair's own hashing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def stored_rows(prepared: str | Path, split: str) -> list[dict]:
    """A prepared split's rows in stored order, read from its Arrow shard with pyarrow alone."""
    shard = Path(prepared) / split / "data-00000-of-00001.arrow"
    with pa.memory_map(str(shard)) as source:
        return pa.ipc.open_stream(source).read_all().to_pylist()


def parquet_rows(files: list[Path]) -> list[dict]:
    return [row for path in sorted(files) for row in pq.read_table(path).to_pylist()]


def split_sha256(rows: list[dict]) -> str:
    """SHA-256 per the definition: per row, its JSON without images and a newline, then each image's digest."""
    digest = hashlib.sha256()
    for row in rows:
        row = dict(row)
        images = row.pop("images")
        digest.update(json.dumps(row, sort_keys=True, default=str).encode("utf-8") + b"\n")
        for image in images:
            digest.update(hashlib.sha256(image["bytes"] or b"").digest())
    return digest.hexdigest()

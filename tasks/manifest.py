"""Pinned splits: the content hash of a split's rows and the split manifest ``clinfair prepare`` writes.

**The split hash** (:func:`rows_fingerprint`) is SHA-256 over every row of the split in its
stored order (the order ``clinfair prepare`` wrote and ``clinfair eval`` reads). For each row,
taken as ``datasets`` returns it in Arrow form (``Dataset.with_format("arrow")[i:j].to_pylist()``:
``age`` is the stored float32 read back as a Python float, ``attributes`` a dict of strings or
nulls, ``images`` a list of ``{"bytes", "path"}``), the digest is fed:

1. the row without its ``images`` column as JSON: ``json.dumps(row, sort_keys=True,
   default=str)`` (Python's default separators ``", "`` and ``": "``, ASCII escapes), UTF-8
   encoded, followed by one newline byte;
2. then, for each image of the row in order, the 32-byte SHA-256 digest of its encoded bytes
   (PNG/JPEG as stored; an image without bytes counts as empty bytes). Image file names are
   not part of the hash.

Two preparations of the same data give the same hash, whatever ``--num-proc`` and wherever
the rows are read from (the prepared folder, or the Parquet files ``clinfair prepare
--push-to-hub`` publishes); anyone can recompute it with ``hashlib`` and ``json`` alone. ``clinfair eval`` records the hash of the rows it evaluated in
``results.json`` (``tasks.<task>.split_sha256``; the whole split's hash, as in the manifest, unless
``--limit`` took its first rows), and the leaderboard does not rank together runs whose hashes differ.

**The split manifest** (``split_manifest.json`` in the prepared folder) holds the builder
options and, per split, the number of rows, the split hash and the row ids in order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from clinfair.core.errors import ClinfairError

MANIFEST_FILE = "split_manifest.json"
MANIFEST_FORMAT = "clinfair.split_manifest/1"
HASH_DEFINITION = (
    "SHA-256 over the split's rows in stored order: per row, json.dumps(row without 'images', "
    "sort_keys=True, default=str) in UTF-8 and a newline, then the 32-byte SHA-256 digest of each "
    "image's encoded bytes (tasks/manifest.py)"
)
FINGERPRINT_CHUNK = 256  # rows read at a time: memory stays flat in the size of the split


class ManifestMismatch(ClinfairError):
    """Prepared rows that no longer hash to what their split manifest says."""


def _digest(batches: Iterable[Any]) -> tuple[str, list[str]]:
    """The split hash of Arrow tables or record batches holding a split's rows in order, and the ids."""
    digest, ids = hashlib.sha256(), []
    for batch in batches:
        for row in batch.to_pylist():
            images = row.pop("images", None) or []
            ids.append(str(row["id"]))
            digest.update(json.dumps(row, sort_keys=True, default=str).encode("utf-8") + b"\n")
            for image in images:
                digest.update(hashlib.sha256((image or {}).get("bytes") or b"").digest())
    return digest.hexdigest(), ids


def rows_fingerprint(rows: Any) -> tuple[str, list[str]]:
    """The split hash of ``rows`` (a ``datasets.Dataset``; see the module docstring) and their ids in order."""
    arrow = rows.with_format("arrow")
    return _digest(
        arrow[start : start + FINGERPRINT_CHUNK] for start in range(0, len(rows), FINGERPRINT_CHUNK)
    )


def shard_fingerprint(path: str | Path) -> tuple[str, list[str]]:
    """The split hash of the rows of one Arrow shard (the stream file ``datasets`` writes), and the ids.

    The same hash as :func:`rows_fingerprint` of the loaded split, read batch by batch from a plain
    file rather than a memory map, whose touched pages would count in the process's resident memory
    and grow with the split.
    """
    import pyarrow as pa

    with pa.OSFile(str(path)) as source:
        return _digest(pa.ipc.open_stream(source))


def build_manifest(
    task: str, shards: dict[str, str | Path], options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The manifest of the splits in ``shards`` (split name -> its one Arrow shard, in the order to list
    them), prepared with the builder ``options`` (they decide which rows and labels there are)."""
    document: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "task": task,
        "options": dict(options or {}),
        "hash": {"algorithm": "sha256", "definition": HASH_DEFINITION},
        "splits": {},
    }
    for name, path in shards.items():
        digest, ids = shard_fingerprint(path)
        document["splits"][name] = {"rows": len(ids), "sha256": digest, "ids": ids}
    return document


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """The split manifest of a prepared folder; None when it has none (prepared by clinfair <= 0.1.0)."""
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ManifestMismatch(f"{path} is not a readable split manifest ({error})") from None
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
        raise ManifestMismatch(f"{path} is not a clinfair split manifest (format {MANIFEST_FORMAT!r})")
    return document


def check_split(folder: str | Path, split: str, digest: str, manifest: dict[str, Any] | None = None) -> None:
    """Raise :class:`ManifestMismatch` when a whole split's hash is not the one its manifest pinned
    (``manifest``: the folder's, when already read)."""
    manifest = manifest if manifest is not None else read_manifest(folder)
    entry = (manifest or {}).get("splits", {}).get(split)
    if entry is not None and entry["sha256"] != digest:
        raise ManifestMismatch(
            f"{folder}: the {split} rows hash to {digest[:16]}…, not the {entry['sha256'][:16]}… that "
            f"{MANIFEST_FILE} pinned when `clinfair prepare` wrote them (the folder was changed since); "
            "prepare it again"
        )


def check_manifest(folder: str | Path, dataset: Any) -> dict[str, Any]:
    """Recompute every split's hash of a loaded ``DatasetDict`` and check it against the manifest."""
    manifest = read_manifest(folder)
    if manifest is None:
        raise ManifestMismatch(
            f"{folder} has no {MANIFEST_FILE} (prepared by an older clinfair); prepare it again"
        )
    missing = sorted(set(manifest["splits"]) ^ set(dataset))
    if missing:
        raise ManifestMismatch(
            f"{folder}: the splits {missing} are not both in the data and in {MANIFEST_FILE}"
        )
    for split in manifest["splits"]:
        check_split(folder, split, rows_fingerprint(dataset[split])[0], manifest)
    return manifest

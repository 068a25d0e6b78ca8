"""``clinfair prepare --push-to-hub``: publish a prepared task's splits as a Hub dataset.

What is pushed, in one commit (``clinfair.core.hub``'s ``Commit``, ``push_commit`` and ``write_dry_run``,
which ``clinfair leaderboard push`` uses too):

* ``data/<split>-<i>-of-<n>.parquet``: each split's rows in their stored order, in shards of at
  most :data:`MAX_SHARD_BYTES` (``Dataset.to_parquet``; images as their stored bytes);
* ``split_manifest.json``: the manifest ``clinfair prepare`` wrote (ids and content hash per split);
* ``README.md``: the dataset card: source, licence and access, the demographic binning, the
  builder options, rows per split and group, and each split's hash with how to recompute it.

Before anything is written, every split is hashed again and checked against the manifest
(``clinfair.tasks.manifest.check_manifest``): a folder changed since ``clinfair prepare`` is refused.
Right after ``clinfair prepare`` wrote the folder (and hashed it), that second pass is skipped.
``--dry-run DIR`` writes the would-be upload (``DIR/dataset/...`` and ``DIR/operations.json``)
and contacts nothing. ``prepare_summary.json`` is not pushed: its skipped-row examples may name
local paths.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clinfair.core.errors import ClinfairError
from clinfair.core.hub import CARD_FILE, HUB_ID, Commit, front_matter, push_commit, write_dry_run
from clinfair.core.version import __version__
from clinfair.leaderboard.hub import PushPlan, find_local_paths
from clinfair.tasks.manifest import HASH_DEFINITION, MANIFEST_FILE, check_manifest, read_manifest
from clinfair.tasks.prepare import SUMMARY_FILE, load_prepared
from clinfair.tasks.schema import AGE_BIN_UPPER_EDGES, AGE_GROUPS
from clinfair.tasks.spec import TaskSpec

MAX_SHARD_BYTES = 500 * 1024**2  # the Hub's recommended Parquet shard size (datasets' push_to_hub default)


def check_dataset_repo(repo_id: str) -> None:
    if not HUB_ID.fullmatch(repo_id or ""):
        raise ClinfairError(f"--push-to-hub takes a Hub dataset id ORG/NAME, got {repo_id!r}")


def age_binning() -> str:
    """The paper's age bins in words: ``A1 <= 25 < A2 <= 50 < A3 <= 75 < A4`` (years)."""
    parts = [AGE_GROUPS[0]]
    for edge, name in zip(AGE_BIN_UPPER_EDGES, AGE_GROUPS[1:]):
        parts.append(f"<= {edge:g} < {name}")
    return " ".join(parts) + " (years)"


def split_card(
    repo_id: str, spec: TaskSpec, manifest: Mapping[str, Any], summary: Mapping[str, Any] | None, shards: dict
) -> str:
    """The dataset card of a prepared task's splits."""

    front = {
        "pretty_name": f"{spec.name} (clinfair splits)",
        "tags": ["clinfair", "fairness", "medical-imaging", "vision-language-models"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": f"data/{split}-*.parquet"} for split in shards],
            }
        ],
    }
    splits = manifest["splits"]
    attributes = ", ".join(spec.attributes) or "none"
    lines = [
        *front_matter(front),
        "",
        f"# {spec.name}: clinfair splits",
        "",
        f"The `{spec.key}` task of [clinfair](https://arxiv.org/abs/2510.19893) ({spec.task_type}; labels: "
        f"{', '.join(spec.choices)}), prepared by clinfair {__version__} with `clinfair prepare {spec.key}` "
        "from its source. Evaluate on these rows, or prepare them yourself and compare the hashes "
        "below, to know that two results were computed on the same examples.",
        "",
        "## Source and licence",
        "",
        f"- Source: {spec.source}",
        f"- Licence and access: {spec.access}",
        "- The examples keep the source's terms: check them before redistributing or making a copy public.",
        "",
        "## Demographics",
        "",
        "- `sex`: `F` or `M`, normalised from the source's spellings; blank, unknown or other values are null "
        "(never guessed).",
        "- `age`: years (float); `age_group`: the FairGRPO paper's bins " + age_binning() + "; null when the "
        "age is.",
        f"- further attributes (in `attributes`): {attributes}.",
        f"- demographics this source provides: {', '.join(spec.demographics)}.",
        "",
        "## Splits and content hash",
        "",
        "| split | rows | SHA-256 |",
        "|---|---:|---|",
        *(f"| {split} | {entry['rows']} | `{entry['sha256']}` |" for split, entry in splits.items()),
        "",
        f"The hash: {HASH_DEFINITION}. `clinfair eval` records it in `results.json` "
        "(`tasks.<task>.split_sha256`), and the clinfair leaderboard does not rank together runs whose "
        "hashes differ. `split_manifest.json` lists each split's ids in order. To check a copy:",
        "",
        "```python",
        "import hashlib, json",
        "from datasets import load_dataset",
        "",
        f'rows = load_dataset("{repo_id}", split="test").with_format("arrow")',
        "digest = hashlib.sha256()",
        "for start in range(0, len(rows), 256):",
        "    for row in rows[start : start + 256].to_pylist():",
        '        images = row.pop("images")',
        '        digest.update(json.dumps(row, sort_keys=True, default=str).encode() + b"\\n")',
        "        for image in images:",
        '            digest.update(hashlib.sha256(image["bytes"] or b"").digest())',
        "print(digest.hexdigest())",
        "```",
        "",
        "## Preparation",
        "",
        f"Builder options: `{json.dumps(manifest.get('options') or {}, sort_keys=True, default=str)}`.",
    ]
    if summary:
        lines += [
            f"Rows skipped as bad: {summary.get('skipped', 0)}"
            + "".join(f"; {n} {reason}" for reason, n in (summary.get("skipped_reasons") or {}).items())
            + ".",
        ]
        for reason, n in (summary.get("excluded") or {}).items():
            lines.append(f"Left out by an option: {n} ({reason}).")
        lines += ["", "Rows per split and group (sex|age group; UNK: a demographic is null):", ""]
        for split, groups in (summary.get("rows_per_group") or {}).items():
            lines.append(f"- {split}: " + ", ".join(f"{group} {n}" for group, n in groups.items()))
    return "\n".join(lines) + "\n"


def write_shards(dataset: Any, folder: Path) -> dict[str, list[str]]:
    """Each split as Parquet shards ``data/<split>-<i>-of-<n>.parquet`` under ``folder``, rows in order."""
    from datasets.utils import disable_progress_bars, enable_progress_bars, is_progress_bar_enabled

    shown = is_progress_bar_enabled()
    disable_progress_bars()  # one bar per shard says nothing; the command prints what it wrote
    try:
        return _write_shards(dataset, folder)
    finally:
        if shown:
            enable_progress_bars()


def _write_shards(dataset: Any, folder: Path) -> dict[str, list[str]]:
    shards: dict[str, list[str]] = {}
    for split in dataset:
        rows = dataset[split]
        count = max(1, math.ceil(rows.data.nbytes / MAX_SHARD_BYTES))
        shards[split] = []
        for index in range(count):
            name = f"data/{split}-{index:05d}-of-{count:05d}.parquet"
            (folder / "data").mkdir(parents=True, exist_ok=True)
            rows.shard(count, index, contiguous=True).to_parquet(str(folder / name))
            shards[split].append(name)
    return shards


def plan_split_push(
    prepared: str | Path,
    repo_id: str,
    spec: TaskSpec,
    staging: str | Path,
    *,
    private: bool = False,
    verify: bool = True,
) -> PushPlan:
    """The push of a prepared folder, its Parquet shards written under ``staging`` (nothing is contacted).

    ``verify=False``: the folder was just written and hashed by this process, so its splits are
    not hashed again (its manifest is still read and must exist)."""
    check_dataset_repo(repo_id)
    prepared, staging = Path(prepared), Path(staging)
    dataset = load_prepared(prepared)
    manifest = check_manifest(prepared, dataset) if verify else read_manifest(prepared)
    if manifest is None:
        raise ClinfairError(f"{prepared} has no {MANIFEST_FILE}; prepare it again")
    if manifest["task"] != spec.key:
        raise ClinfairError(f"{prepared} holds the {manifest['task']} task, not {spec.key}")
    summary_path = prepared / SUMMARY_FILE
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else None
    shards = write_shards(dataset, staging)
    files: dict[str, bytes | Path] = {name: staging / name for names in shards.values() for name in names}
    files[MANIFEST_FILE] = prepared / MANIFEST_FILE
    files[CARD_FILE] = split_card(repo_id, spec, manifest, summary, shards).encode("utf-8")
    hashes = ", ".join(f"{split} {entry['sha256'][:12]}" for split, entry in manifest["splits"].items())
    commit = Commit(
        repo_id=repo_id,
        repo_type="dataset",
        message=f"clinfair prepare {spec.key}: {sum(e['rows'] for e in manifest['splits'].values())} rows",
        description=f"Split SHA-256: {hashes}.",
        files=files,
    )
    return PushPlan(
        repo_id=repo_id,
        private=private,
        dataset=commit,
        model_prs=[],
        skipped=[],
        local_paths=find_local_paths(
            {name: data for name, data in files.items() if not name.endswith(".parquet")}
        ),
    )


def push_splits(
    prepared: str | Path,
    repo_id: str,
    spec: TaskSpec,
    *,
    private: bool = False,
    dry_run: str | Path | None = None,
    verify: bool = True,
) -> str:
    """Push (or, with ``dry_run``, write the would-be upload of) a prepared folder; returns what happened."""
    prepared = Path(prepared)
    staging = Path(tempfile.mkdtemp(dir=prepared.parent, prefix=f".{prepared.name}.push."))
    try:
        plan = plan_split_push(prepared, repo_id, spec, staging, private=private, verify=verify)
        if dry_run is not None:
            write_dry_run(dry_run, [("dataset", plan.dataset)], private=private)
            return (
                f"dry run: wrote {len(plan.dataset.files)} file(s) for {repo_id} to {dry_run} "
                "(see operations.json); nothing was pushed"
            )
        info = push_commit(plan.dataset, create_repo=True, private=private)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return f"pushed {len(plan.dataset.files)} file(s) to {repo_id} in one commit: {info.commit_url}"

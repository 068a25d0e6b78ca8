"""Prepared clinfair splits as TRL GRPO datasets.

A prepared split (``clinfair.tasks.prepare``) holds schema rows. :func:`to_grpo_dataset` turns it
into what ``trl.GRPOTrainer`` reads, one row per question:

=============== =====================================================================
``prompt``      the conversation (``clinfair.tasks.prompts.build_messages``): image placeholders
                that TRL fills with ``images``, then question, options and instruction
``images``      list of PIL images
``id``          the example id
``dataset``     the task key: the *domain* of FairGRPO
``group``       the demographic group key (``clinfair.tasks.schema.group_key``), e.g. ``F|A3``
                or ``UNK``, from a configurable attribute tuple
``answer``      ground-truth labels (list of str)
``choices``     the label space (list of str)
``multi_label`` whether several labels may be answered
=============== =====================================================================

TRL forwards every column except ``prompt`` to reward functions as keyword arguments
(``remove_unused_columns=False``, TRL's default for GRPO), and the fairness-aware trainers
read ``dataset`` and ``group`` the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clinfair.tasks.attributes import check_attributes
from clinfair.tasks.prepare import task_rows
from clinfair.tasks.prompts import build_messages
from clinfair.tasks.registry import get_task
from clinfair.tasks.schema import DEFAULT_GROUP_ATTRIBUTES, group_key

#: Columns of a GRPO dataset built here (``prompt`` and ``images`` are TRL's own).
GRPO_COLUMNS = ("prompt", "images", "id", "dataset", "group", "answer", "choices", "multi_label")


def _grpo_row(row: dict[str, Any], multi_label: bool, attributes: Sequence[str]) -> dict[str, Any]:
    return {
        "prompt": build_messages(row["question"], row["choices"], len(row["images"]), multi_label),
        "group": group_key(row, attributes),
        "multi_label": multi_label,
    }


def _rgb_images(row: dict[str, Any]) -> dict[str, Any]:
    from clinfair.tasks.images import rgb_encoded

    return {"images": [rgb_encoded(entry) for entry in row["images"]]}


def to_grpo_dataset(split, multi_label: bool, group_attributes: Sequence[str] = DEFAULT_GROUP_ATTRIBUTES):
    """One prepared split (a ``datasets.Dataset`` of schema rows) as a GRPO dataset.

    Images that are not 8-bit (16-bit, float, palette) are converted to RGB with
    ``clinfair.tasks.images.to_rgb`` here, since TRL hands ``images`` to the processor as they
    are (whose ``convert("RGB")`` clips a 16-bit image); the others keep their bytes.
    """
    from datasets import Image, List

    converted = split.map(
        _grpo_row,
        fn_kwargs={"multi_label": multi_label, "attributes": tuple(group_attributes)},
        desc="GRPO prompts",
    )
    converted = converted.cast_column("images", List(Image(decode=False)))
    converted = converted.map(_rgb_images, desc="RGB images")
    converted = converted.cast_column("images", List(Image()))
    return converted.select_columns(list(GRPO_COLUMNS))


def load_task_split(task: str, data_dir: str | Path, split: str, limit: int | None = None):
    """The prepared ``split`` of ``task`` under ``data_dir/<task>``; synthetic is built when missing."""

    return task_rows(get_task(task), Path(data_dir), split, limit)


def build_grpo_dataset(
    tasks: Sequence[str],
    data_dir: str | Path,
    split: str = "train",
    *,
    group_attributes: Sequence[str] = DEFAULT_GROUP_ATTRIBUTES,
    limit: int | None = None,
):
    """The GRPO dataset of several tasks' ``split``, concatenated (the paper trains them jointly).

    ``limit`` keeps the first N rows of each task. ``group_attributes`` may name any attribute
    a task has (``sex``, ``age_group``, or one of its own, e.g. ``fitzpatrick``); a name that no
    task has is an :class:`~clinfair.tasks.attributes.UnknownAttributeError`, never a silent ``UNK`` key.
    """
    from datasets import concatenate_datasets

    check_attributes(group_attributes, [get_task(task) for task in tasks], "group_attributes")
    parts = [
        to_grpo_dataset(
            load_task_split(task, data_dir, split, limit), get_task(task).multi_label, group_attributes
        )
        for task in tasks
    ]
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)

"""Groups: attribute values -> group codes, for one attribute or an intersection of attributes.

A null demographic puts a row in no group of that attribute (nor of any intersection using
it); such rows are counted. The paper's attributes list their schema levels even when empty.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from clinfair.benchmark.metrics.encoding import EncodedDataset, MetricsInputError
from clinfair.tasks.attributes import (
    DEMOGRAPHIC_GROUPS,
    DEMOGRAPHICS,
    INTERSECTION,
    AttributeSpecError,
    attribute_parts,
    default_attributes,
    parse_attributes,
)

#: The paper protocol's attributes and the groups it compares (DESIGN.md section 4): the demographics.
PAPER_ATTRIBUTES: dict[str, tuple[str, ...]] = DEMOGRAPHIC_GROUPS


@dataclass(frozen=True)
class Grouping:
    """Group membership of every input row for one attribute or intersection."""

    name: str  # e.g. "sex*age_group"
    codes: np.ndarray  # (N,) group index, -1 when any attribute is null
    groups: tuple[str, ...]
    expected: np.ndarray  # (n_groups,) bool: listed even when empty (schema levels)


def _group_name(value: Any) -> str | None:
    """A group name for a raw attribute value; None for a null."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        if float(value).is_integer():
            value = int(value)
    text = str(value).strip()
    return text or None


def _raw_attribute(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return df[name]
    if "attributes" in df.columns:
        return df["attributes"].map(lambda attrs: attrs.get(name) if isinstance(attrs, Mapping) else None)
    raise MetricsInputError(f"attribute {name!r} is neither a column nor a key of an 'attributes' column")


def _single_grouping(df: pd.DataFrame, name: str) -> Grouping:
    try:
        raw_codes, uniques = pd.factorize(_raw_attribute(df, name), use_na_sentinel=True)
    except TypeError:
        raise MetricsInputError(
            f"attribute {name!r} holds values that cannot be group names (lists?)"
        ) from None
    names = [_group_name(value) for value in uniques]
    expected = list(PAPER_ATTRIBUTES.get(name, ()))
    groups = expected + sorted({n for n in names if n is not None} - set(expected))
    index = {group: i for i, group in enumerate(groups)}
    remap = np.array([index[n] if n is not None else -1 for n in names] + [-1], dtype=np.intp)
    codes = remap[raw_codes]  # the sentinel -1 picks the trailing -1
    return Grouping(name, codes, tuple(groups), np.array([g in expected for g in groups], dtype=bool))


class Groupings:
    """The groupings of one table, each single attribute factorised once and shared by every
    intersection that uses it."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df
        self._single: dict[str, Grouping] = {}

    def get(self, spec: tuple[str, ...]) -> Grouping:
        """The grouping of an attribute or an intersection (``("sex", "age_group")``)."""
        for name in spec:
            if name not in self._single:
                self._single[name] = _single_grouping(self.df, name)
        result = self._single[spec[0]]
        for name in spec[1:]:
            other = self._single[name]
            codes = np.where(
                (result.codes >= 0) & (other.codes >= 0), result.codes * len(other.groups) + other.codes, -1
            )
            groups = tuple(f"{a}|{b}" for a, b in itertools.product(result.groups, other.groups))
            expected = np.outer(result.expected, other.expected).ravel()
            result = Grouping(f"{result.name}*{name}", codes, groups, expected)
        return result


def auto_attributes(df: pd.DataFrame) -> list[tuple[str, ...]]:
    """The default attributes (``clinfair.tasks.attributes.default_attributes``) of a bare table: the
    tasks are unknown here, so each key of an ``attributes`` dict column stands for theirs."""
    keys = set()
    if "attributes" in df.columns:
        for attrs in df["attributes"]:
            if isinstance(attrs, Mapping):
                keys.update(str(key) for key in attrs)
    own = sorted(keys - {"_", *DEMOGRAPHICS})
    return [tuple(item.split(INTERSECTION)) for item in default_attributes(extra=own)]


def group_counts(dataset: EncodedDataset, grouping: Grouping) -> tuple[np.ndarray, np.ndarray]:
    """Groups to list (present in the dataset, or expected schema levels) and their counts.

    Returns ``(group indices, counts)`` with ``counts[i, t]`` the number of the dataset's
    rows of type ``t`` in group ``indices[i]``; only listed groups take memory, so a wide
    intersection of attributes stays cheap.
    """
    member = grouping.codes[dataset.rows]
    keep = member >= 0
    listed = np.union1d(np.unique(member[keep]), np.flatnonzero(grouping.expected))
    local = np.searchsorted(listed, member[keep])
    n_types = len(dataset.truth)
    flat = np.bincount(local * n_types + dataset.row_type[keep], minlength=len(listed) * n_types)
    return listed, flat.reshape(len(listed), n_types)


def attribute_specs(df: pd.DataFrame, attributes: Any) -> list[tuple[str, ...]]:
    """``"auto"`` (:func:`auto_attributes`), or a comma list / list of names, intersections or part
    tuples parsed by ``clinfair.tasks.attributes.parse_attributes``, as part tuples."""
    if isinstance(attributes, str) and attributes == "auto":
        return auto_attributes(df)
    try:
        return [tuple(item.split(INTERSECTION)) for item in parse_attributes(attributes, "attributes")]
    except AttributeSpecError as error:
        raise MetricsInputError(str(error)) from None


def grouping_spec(attribute: str | Sequence[str]) -> tuple[str, ...]:
    """One attribute or intersection (``"sex*age_group"`` or ``("sex", "age_group")``) as parts."""
    try:
        return attribute_parts(attribute, "attribute")
    except AttributeSpecError as error:
        raise MetricsInputError(str(error)) from None


def demographic_counts(groupings: Groupings, names: Sequence[str]) -> dict[str, Any]:
    """Per attribute: rows with a null value and, for sex / age_group, rows whose value is not
    one of the paper's groups (they are in no paper-protocol group); overall and per dataset."""
    dataset_codes, dataset_names = pd.factorize(groupings.df["dataset"], use_na_sentinel=True)
    known = dataset_codes >= 0

    def per_dataset(mask: np.ndarray) -> dict[str, int]:
        counts = np.bincount(dataset_codes[mask & known], minlength=len(dataset_names))
        return {str(name): int(count) for name, count in zip(dataset_names, counts)}

    out: dict[str, dict[str, Any]] = {"null": {}, "unrecognised": {}}
    by_dataset: dict[str, dict[str, dict[str, int]]] = {
        str(n): {"null": {}, "unrecognised": {}} for n in dataset_names
    }
    for name in names:
        grouping = groupings.get((name,))
        masks = {"null": grouping.codes < 0}
        if name in PAPER_ATTRIBUTES:
            masks["unrecognised"] = (grouping.codes >= 0) & ~grouping.expected[np.maximum(grouping.codes, 0)]
        for kind, mask in masks.items():
            out[kind][name] = int(mask.sum())
            for dataset_name, count in per_dataset(mask).items():
                by_dataset[dataset_name][kind][name] = count
    return out | {"by_dataset": by_dataset}

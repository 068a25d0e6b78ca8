"""Encoding: a predictions table -> per dataset, label matrices compressed into row types.

Each dataset's scored rows are compressed once into the distinct combinations of (true label
set, predicted label set(s), invalid flag) -- a handful for single-label tasks. Group counts
are then a ``bincount`` over those types, and a bootstrap resample of a group is one
multinomial draw over its types (see :mod:`clinfair.benchmark.metrics.standard`).

Scoring choices made here (they hold in every layer): an invalid answer (prediction null or
NaN) predicts no label and is never an exact match; a row whose ``answer`` is null or empty is
left out and counted; the label space of a dataset is the ``label_spaces`` argument, else the
union of a ``choices`` column, else the union of the answers' labels; labels outside it are
counted per label and kept as predicted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from clinfair.tasks.attributes import DEMOGRAPHICS

from clinfair.core.errors import ClinfairError

REQUIRED_COLUMNS = ("dataset", "answer", "prediction", *DEMOGRAPHICS)
#: Label names taken as the negative class of a binary task when no positive label is given.
NEGATIVE_LABEL_NAMES = frozenset(
    {"no", "negative", "benign", "normal", "absent", "healthy", "false", "0", "none", "no finding"}
)
#: One column stands for every predicted label outside the label space (and not a true label
#: anywhere in the dataset): they only matter by making a prediction wrong.
OUTSIDE_LABEL = "<outside label space>"
_MAX_NAMED_OUTSIDE_LABELS = 20


class MetricsInputError(ClinfairError, ValueError):
    """The predictions table cannot be scored as given; the message says why in one line."""


@dataclass(frozen=True)
class TaskLabels:
    """The label columns of one dataset and how its rates are defined."""

    labels: tuple[str, ...]  # label space first, then answer labels outside it, then OUTSIDE_LABEL
    n_space: int
    kind: str  # "binary" | "multiclass" | "multilabel"
    positive: int | None  # column of the positive label (binary tasks only)
    positive_rule: str | None


@dataclass(frozen=True)
class Outcomes:
    """Per row type, for one prediction set: one-vs-rest outcomes (as 0/1 floats for matmul)."""

    tp: np.ndarray  # (n_types, K)
    fp: np.ndarray
    fn: np.ndarray
    correct: np.ndarray  # (n_types,) exact set match of a valid prediction

    def take(self, types: np.ndarray) -> Outcomes:
        return Outcomes(self.tp[types], self.fp[types], self.fn[types], self.correct[types])


@dataclass(frozen=True)
class EncodedDataset:
    """One dataset's scored rows compressed to distinct (answer, predictions...) types."""

    name: str
    task: TaskLabels
    rows: np.ndarray  # positions in the input frame of the scored rows
    row_type: np.ndarray  # (n_rows,) type of each scored row
    outcomes: tuple[Outcomes, ...]  # one per prediction column
    truth: np.ndarray  # (n_types, K) bool
    counts: dict[str, Any]  # bad-input counts for the report

    @property
    def type_counts(self) -> np.ndarray:
        return np.bincount(self.row_type, minlength=len(self.truth))

    def resampled(self, positions: np.ndarray) -> EncodedDataset:
        """This dataset on the table rows at ``positions`` (a bootstrap resample, repeats allowed),
        reusing its row types so a resample costs no parsing; positions of other datasets' rows and
        of unscored rows are skipped. ``counts`` stay the whole table's."""
        found = np.minimum(np.searchsorted(self.rows, positions), len(self.rows) - 1)  # rows are sorted
        mine = self.rows[found] == positions
        return replace(self, rows=positions[mine], row_type=self.row_type[found[mine]])


def _first_bad_list(values: pd.Series) -> str:
    for position, value in enumerate(values):
        if value is None or isinstance(value, (list, tuple, np.ndarray)):
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        return f"row {position} holds {type(value).__name__} {value!r}"
    return "values are not lists"


def to_list_array(values: pd.Series, column: str, value_type: pa.DataType | None = None) -> pa.ListArray:
    """The column as an Arrow list array of ``value_type`` (default: strings, i.e. labels; the score
    layer reads ``list<double>`` scores with it); None/NaN become null lists."""
    value_type = pa.string() if value_type is None else value_type
    what = "labels" if pa.types.is_string(value_type) else "numbers"
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        raise MetricsInputError(
            f"column {column!r} must hold lists of {what} ({_first_bad_list(values)})"
        ) from None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count == len(array):  # e.g. all None, or all NaN (a float column)
        return pa.nulls(len(array), type=pa.list_(value_type))
    if not (pa.types.is_list(array.type) or pa.types.is_large_list(array.type)):
        raise MetricsInputError(
            f"column {column!r} must hold lists of {what}, found {array.type} ({_first_bad_list(values)})"
        )
    try:
        return array.cast(pa.list_(value_type))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        kind = "labels that are not strings" if what == "labels" else "values that are not numbers"
        raise MetricsInputError(f"column {column!r} holds {kind} ({array.type})") from None


def flatten_labels(array: pa.ListArray) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """(row of each label, label code, code -> label, number of null labels dropped)."""
    parents = pc.list_parent_indices(array).to_numpy(zero_copy_only=False)
    values = pc.list_flatten(array)
    n_null = values.null_count
    if n_null:
        keep = values.is_valid()
        parents = parents[keep.to_numpy(zero_copy_only=False)]
        values = values.filter(keep)
    encoded = pc.dictionary_encode(values)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp)
    return parents.astype(np.intp), codes, encoded.dictionary.to_pylist(), n_null


def _type_table(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a bool matrix: (index of a representative row per type, type of each row)."""
    packed = np.packbits(bits, axis=1)
    if packed.shape[1] <= 8:
        padded = np.zeros((len(packed), 8), dtype=np.uint8)
        padded[:, : packed.shape[1]] = packed
        _, first, inverse = np.unique(padded.view(np.uint64).ravel(), return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def positive_label(name: str, space: Sequence[str], given: str | None) -> tuple[int, str]:
    if given is not None:
        if given not in space:
            raise MetricsInputError(
                f"positive label {given!r} of dataset {name!r} is not in its label space {list(space)}"
            )
        return space.index(given), "given"
    negatives = [i for i, label in enumerate(space) if label.strip().lower() in NEGATIVE_LABEL_NAMES]
    if len(negatives) == 1:
        return 1 - negatives[0], f"the other label is a negative name ({space[negatives[0]]!r})"
    return 1, "second label of the label space (no positive label given)"


def label_space(
    given: Sequence[str] | None,
    choices: pa.ListArray | None,
    answer_labels: list[str],
) -> tuple[list[str], str]:
    if given is not None:
        return list(dict.fromkeys(str(label) for label in given)), "argument"
    if choices is not None:
        values = pc.list_flatten(choices).drop_null()
        labels = sorted(set(values.to_pylist()))
        if labels:
            return labels, "choices"
    return sorted(set(answer_labels)), "answers"


def _outside_counts(codes: np.ndarray, labels: Sequence[str], space: set[str]) -> dict[str, Any]:
    """Occurrences of labels outside the label space: total and the most frequent by name."""
    counts = np.bincount(codes, minlength=len(labels))
    counts[[i for i, label in enumerate(labels) if label in space]] = 0
    order = np.argsort(-counts, kind="stable")[:_MAX_NAMED_OUTSIDE_LABELS]
    return {"total": int(counts.sum()), "labels": {labels[i]: int(counts[i]) for i in order if counts[i] > 0}}


def _encode_dataset(
    name: str,
    rows: np.ndarray,
    answers: pa.ListArray,
    predictions: Sequence[pa.ListArray],
    choices: pa.ListArray | None,
    given_space: Sequence[str] | None,
    given_positive: str | None,
) -> EncodedDataset:
    """Build the label matrices of one dataset and compress them into row types."""
    take = pa.array(rows)
    a_parent, a_code, a_dict, a_null = flatten_labels(answers.take(take))
    space, space_source = label_space(given_space, None if choices is None else choices.take(take), a_dict)
    if not space:
        raise MetricsInputError(f"dataset {name!r} has no labels in 'answer'")
    in_space = set(space)
    answer_extra = sorted(set(a_dict) - in_space)
    labels = space + answer_extra
    column = {label: i for i, label in enumerate(labels)}

    n = len(rows)
    truth = np.zeros((n, len(labels) + 1), dtype=bool)  # last column: OUTSIDE_LABEL
    truth[a_parent, np.array([column[label] for label in a_dict], dtype=np.intp)[a_code]] = True

    pred_bits, invalid_flags, outside_predicted, n_null_labels = [], [], [], a_null
    for prediction in predictions:
        p = prediction.take(take)
        p_parent, p_code, p_dict, p_null = flatten_labels(p)
        n_null_labels += p_null
        p_columns = np.array([column.get(label, len(labels)) for label in p_dict], dtype=np.intp)
        bits = np.zeros((n, len(labels) + 1), dtype=bool)
        bits[p_parent, p_columns[p_code]] = True
        pred_bits.append(bits)
        invalid_flags.append(p.is_null().to_numpy(zero_copy_only=False))
        outside_predicted.append(_outside_counts(p_code, p_dict, in_space))
    if not any(bits[:, -1].any() for bits in pred_bits):  # no OUTSIDE column needed
        truth = truth[:, :-1]
        pred_bits = [bits[:, :-1] for bits in pred_bits]
    else:
        labels = labels + [OUTSIDE_LABEL]

    scored = truth.any(axis=1)
    counts = {
        "rows": n,
        "rows_scored": int(scored.sum()),
        "rows_without_answer": int(n - scored.sum()),
        "invalid_predictions": int(invalid_flags[0].sum()),
        "null_labels_in_lists": int(n_null_labels),
        "label_space": list(space),
        "label_space_source": space_source,
        "labels_outside_label_space": {
            "answer": _outside_counts(a_code, a_dict, in_space),
            "prediction": outside_predicted[0],
        },
    }
    if not scored.any():
        raise MetricsInputError(f"dataset {name!r} has no row with a non-empty 'answer'")
    truth = truth[scored]
    pred_bits = [bits[scored] for bits in pred_bits]
    invalid_flags = [flags[scored] for flags in invalid_flags]

    first, row_type = _type_table(
        np.concatenate([truth, *pred_bits, np.stack(invalid_flags, axis=1)], axis=1)
    )
    t = truth[first]
    outcomes = []
    for bits, flags in zip(pred_bits, invalid_flags):
        p, inv = bits[first], flags[first]
        outcomes.append(
            Outcomes(
                tp=(t & p).astype(float),
                fp=(~t & p).astype(float),
                fn=(t & ~p).astype(float),
                correct=(~inv & (t == p).all(axis=1)).astype(float),
            )
        )

    if len(space) == 2:
        positive, rule = positive_label(name, space, given_positive)
        kind = "binary"
    else:
        positive, rule = None, None
        kind = "multilabel" if (truth.sum(axis=1) > 1).any() else "multiclass"
    task = TaskLabels(tuple(labels), len(space), kind, positive, rule)
    return EncodedDataset(name, task, rows[scored], row_type, tuple(outcomes), t, counts)


def encode_table(
    df: pd.DataFrame,
    prediction_columns: Sequence[str],
    label_spaces: Mapping[str, Sequence[str]] | None,
    positive_labels: Mapping[str, str] | None,
    required: Sequence[str],
) -> tuple[list[EncodedDataset], dict[str, Any]]:
    """Check the frame and encode every dataset in it (sorted by name)."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    missing = [column for column in required if column not in df.columns]
    if missing:
        names = ", ".join(repr(column) for column in missing)
        raise MetricsInputError(f"missing column(s) {names}; the table has {list(map(str, df.columns))}")
    if len(df) == 0:
        raise MetricsInputError("the predictions table has no rows")

    dataset_codes, dataset_names = pd.factorize(df["dataset"], use_na_sentinel=True)
    answers = to_list_array(df["answer"], "answer")
    predictions = [to_list_array(df[column], column) for column in prediction_columns]
    choices = to_list_array(df["choices"], "choices") if "choices" in df.columns else None

    label_spaces = dict(label_spaces or {})
    positive_labels = dict(positive_labels or {})
    order = sorted(range(len(dataset_names)), key=lambda i: str(dataset_names[i]))
    datasets = []
    for code in order:
        name = str(dataset_names[code])
        rows = np.flatnonzero(dataset_codes == code)
        datasets.append(
            _encode_dataset(
                name,
                rows,
                answers,
                predictions,
                choices,
                label_spaces.get(name),
                positive_labels.get(name),
            )
        )
    counts = {
        "rows": len(df),
        "rows_without_dataset": int((dataset_codes < 0).sum()),
        "rows_scored": sum(d.counts["rows_scored"] for d in datasets),
        "rows_without_answer": sum(d.counts["rows_without_answer"] for d in datasets),
        "invalid_predictions": sum(d.counts["invalid_predictions"] for d in datasets),
        "null_labels_in_lists": sum(d.counts["null_labels_in_lists"] for d in datasets),
        "labels_outside_label_space": {
            side: sum(d.counts["labels_outside_label_space"][side]["total"] for d in datasets)
            for side in ("answer", "prediction")
        },
    }
    return datasets, counts

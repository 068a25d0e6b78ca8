"""Group-fairness metrics for clinfair predictions (DESIGN.md section 4).

Two layers, computed from the same table of predictions:

* **Paper protocol** (:func:`paper_protocol`) reproduces the FairGRPO authors' evaluation
  code, which produced the paper's tables: one-vs-rest counts per label, macro average over
  the labels present in the ground truth, sub-groups by sex (F, M) and by the four age bins,
  gap = max - min, std with ddof = 1, attribute -> dataset -> overall averaging. Every
  undefined ratio counts as 0 there, because that is what the authors' code does and the
  point of this layer is to reproduce their numbers.
* **Standard layer** (:func:`standard_layer`): any attribute or intersection of attributes,
  per-group accuracy, macro-F1, TPR, FPR, FDR and selection rate, worst group, gap and
  min/max ratio, with percentile bootstrap confidence intervals that resample rows within
  each group, plus :func:`paired_bootstrap` to compare two prediction sets on the same rows.
  Here an undefined rate is ``None`` with a reason, never a silent 0.

Input is a ``pandas.DataFrame`` with one row per example: ``dataset``, ``answer`` (list of
labels), ``prediction`` (list of labels, or null for an invalid answer), ``sex``,
``age_group`` and any further attribute, either as a column or as a key of an
``attributes`` dict column. :func:`build_report` runs everything and returns one
JSON-serialisable, NaN-free dict.

Scoring choices that hold in both layers:

* An **invalid answer** (prediction null or NaN) is scored as wrong: it predicts no label,
  so it is a false negative for every true label and a true negative for every other label,
  and it never counts as an exact match. This is also what the authors' code does with an
  unparsable answer (``"None"`` -> empty set).
* A row whose ``answer`` is null, NaN or has no label cannot be scored. It is left out of
  every metric and counted (``rows_without_answer``).
* The **label space** of a dataset is, in order of precedence: the ``label_spaces``
  argument, the union of a ``choices`` column over the dataset's rows, or the union of the
  labels seen in ``answer``. Labels outside it are counted per label and kept as predicted
  (an answer with an unknown label is not an exact match); the standard layer's macro
  averages run over the label space only.
* A null demographic puts a row in no group of that attribute (nor of any intersection
  using it); such rows are counted.

Performance: each dataset's rows are compressed once into the distinct combinations of
(true label set, predicted label set, invalid flag) -- a handful for single-label tasks.
Group counts are then a ``bincount`` over those types, and a bootstrap resample of a group
is one multinomial draw over its types, which has exactly the distribution of resampling
its rows with replacement. No Python loop runs over rows or resamples.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from benchmark.bootstrap import N_BOOTSTRAP, named_rng
from tasks.errors import ClinfairError
from tasks.schema import AGE_GROUPS, SEXES

#: The ``schema`` of a metrics report; readers (the leaderboard) refuse another.
METRICS_SCHEMA = "clinfair.metrics/1"
REQUIRED_COLUMNS = ("dataset", "answer", "prediction", "sex", "age_group")
#: The paper protocol's attributes and the groups it compares (DESIGN.md section 4).
PAPER_ATTRIBUTES: dict[str, tuple[str, ...]] = {"sex": SEXES, "age_group": AGE_GROUPS}
#: Keys of ``report["paper"]["overall"]`` and of each ``report["paper"]["by_dataset"][name]``.
PAPER_KEYS = (
    "accuracy",
    "f1",
    "tpr",
    "fpr",
    "fdr",
    "acc_gap",
    "f1_gap",
    "tpr_gap",
    "fpr_gap",
    "fdr_gap",
    "acc_std",
    "f1_std",
    "acc_es",
    "f1_es",
    "pp",
    "eod",
)
#: Whether a larger value of each paper key is better (rates of errors, gaps and spreads: smaller).
PAPER_KEY_HIGHER_IS_BETTER = {key: key in ("accuracy", "f1", "tpr", "acc_es", "f1_es") for key in PAPER_KEYS}
STANDARD_METRICS = ("accuracy", "macro_f1", "tpr", "fpr", "fdr", "selection_rate")
DEFAULT_ATTRIBUTES: tuple[tuple[str, ...], ...] = (("sex",), ("age_group",), ("sex", "age_group"))
#: Label names taken as the negative class of a binary task when no positive label is given.
NEGATIVE_LABEL_NAMES = frozenset(
    {"no", "negative", "benign", "normal", "absent", "healthy", "false", "0", "none", "no finding"}
)
#: One column stands for every predicted label outside the label space (and not a true label
#: anywhere in the dataset): they only matter by making a prediction wrong.
OUTSIDE_LABEL = "<outside label space>"

_PAPER_GROUP_METRICS = ("accuracy", "f1", "tpr", "fpr", "fdr")
_PAPER_SHORT = {"accuracy": "acc", "f1": "f1", "tpr": "tpr", "fpr": "fpr", "fdr": "fdr"}
#: Whether a larger value is better; ``None``: no better direction (no worst group).
_HIGHER_IS_BETTER = {
    "accuracy": True,
    "macro_f1": True,
    "tpr": True,
    "fpr": False,
    "fdr": False,
    "selection_rate": None,
}
#: Why a one-vs-rest rate of one label is undefined in a group.
_UNDEFINED_BECAUSE = {
    "tpr": "no positives",
    "fpr": "no negatives",
    "fdr": "no positive predictions",
    "f1": "label absent from truth and predictions",
    "selection_rate": "no rows",
}
_METRIC_TO_LABEL_RATE = {
    "macro_f1": "f1",
    "tpr": "tpr",
    "fpr": "fpr",
    "fdr": "fdr",
    "selection_rate": "selection_rate",
}
_MAX_NAMED_OUTSIDE_LABELS = 20


class MetricsInputError(ClinfairError, ValueError):
    """The predictions table cannot be scored as given; the message says why in one line."""


# --------------------------------------------------------------------------------------
# Encoding: rows -> label matrices -> distinct row types
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    """The label columns of one dataset and how its rates are defined."""

    labels: tuple[str, ...]  # label space first, then answer labels outside it, then OUTSIDE_LABEL
    n_space: int
    kind: str  # "binary" | "multiclass" | "multilabel"
    positive: int | None  # column of the positive label (binary tasks only)
    positive_rule: str | None


@dataclass(frozen=True)
class _Outcomes:
    """Per row type, for one prediction set: one-vs-rest outcomes (as 0/1 floats for matmul)."""

    tp: np.ndarray  # (n_types, K)
    fp: np.ndarray
    fn: np.ndarray
    correct: np.ndarray  # (n_types,) exact set match of a valid prediction

    def take(self, types: np.ndarray) -> _Outcomes:
        return _Outcomes(self.tp[types], self.fp[types], self.fn[types], self.correct[types])


@dataclass(frozen=True)
class _Dataset:
    """One dataset's scored rows compressed to distinct (answer, predictions...) types."""

    name: str
    task: _Task
    rows: np.ndarray  # positions in the input frame of the scored rows
    row_type: np.ndarray  # (n_rows,) type of each scored row
    outcomes: tuple[_Outcomes, ...]  # one per prediction column
    truth: np.ndarray  # (n_types, K) bool
    counts: dict[str, Any]  # bad-input counts for the report

    @property
    def type_counts(self) -> np.ndarray:
        return np.bincount(self.row_type, minlength=len(self.truth))


def _first_bad_list(values: pd.Series) -> str:
    for position, value in enumerate(values):
        if value is None or isinstance(value, (list, tuple, np.ndarray)):
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        return f"row {position} holds {type(value).__name__} {value!r}"
    return "values are not lists"


def _to_list_array(values: pd.Series, column: str) -> pa.ListArray:
    """The column as an Arrow ``list<string>`` array; None/NaN become null lists."""
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        raise MetricsInputError(
            f"column {column!r} must hold lists of labels ({_first_bad_list(values)})"
        ) from None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count == len(array):  # e.g. all None, or all NaN (a float column)
        return pa.nulls(len(array), type=pa.list_(pa.string()))
    if not (pa.types.is_list(array.type) or pa.types.is_large_list(array.type)):
        raise MetricsInputError(
            f"column {column!r} must hold lists of labels, found {array.type} ({_first_bad_list(values)})"
        )
    try:
        return array.cast(pa.list_(pa.string()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise MetricsInputError(
            f"column {column!r} holds labels that are not strings ({array.type})"
        ) from None


def _flatten(array: pa.ListArray) -> tuple[np.ndarray, np.ndarray, list[str], int]:
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


def _positive_label(name: str, space: Sequence[str], given: str | None) -> tuple[int, str]:
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


def _label_space(
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
) -> _Dataset:
    """Build the label matrices of one dataset and compress them into row types."""
    take = pa.array(rows)
    a_parent, a_code, a_dict, a_null = _flatten(answers.take(take))
    space, space_source = _label_space(given_space, None if choices is None else choices.take(take), a_dict)
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
        p_parent, p_code, p_dict, p_null = _flatten(p)
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
            _Outcomes(
                tp=(t & p).astype(float),
                fp=(~t & p).astype(float),
                fn=(t & ~p).astype(float),
                correct=(~inv & (t == p).all(axis=1)).astype(float),
            )
        )

    if len(space) == 2:
        positive, rule = _positive_label(name, space, given_positive)
        kind = "binary"
    else:
        positive, rule = None, None
        kind = "multilabel" if (truth.sum(axis=1) > 1).any() else "multiclass"
    task = _Task(tuple(labels), len(space), kind, positive, rule)
    return _Dataset(name, task, rows[scored], row_type, tuple(outcomes), t, counts)


def _prepare(
    df: pd.DataFrame,
    prediction_columns: Sequence[str],
    label_spaces: Mapping[str, Sequence[str]] | None,
    positive_labels: Mapping[str, str] | None,
    required: Sequence[str],
) -> tuple[list[_Dataset], dict[str, Any]]:
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
    answers = _to_list_array(df["answer"], "answer")
    predictions = [_to_list_array(df[column], column) for column in prediction_columns]
    choices = _to_list_array(df["choices"], "choices") if "choices" in df.columns else None

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


# --------------------------------------------------------------------------------------
# Groups: attribute values -> group codes
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grouping:
    """Group membership of every input row for one attribute or intersection."""

    name: str  # e.g. "sex*age_group"
    codes: np.ndarray  # (N,) group index, -1 when any attribute is null
    groups: tuple[str, ...]
    expected: np.ndarray  # (n_groups,) bool: listed even when empty (schema levels)


def parse_attribute_spec(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``"sex*age_group"`` or ``("sex", "age_group")`` -> ``("sex", "age_group")``."""
    parts = spec.split("*") if isinstance(spec, str) else list(spec)
    parts = [str(part).strip() for part in parts]
    if not parts or any(not part for part in parts) or len(set(parts)) != len(parts):
        raise MetricsInputError(f"invalid attribute specification {spec!r}")
    return tuple(parts)


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


def _single_grouping(df: pd.DataFrame, name: str) -> _Grouping:
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
    return _Grouping(name, codes, tuple(groups), np.array([g in expected for g in groups], dtype=bool))


def _grouping(df: pd.DataFrame, spec: tuple[str, ...], cache: dict[str, _Grouping]) -> _Grouping:
    for name in spec:
        if name not in cache:
            cache[name] = _single_grouping(df, name)
    result = cache[spec[0]]
    for name in spec[1:]:
        other = cache[name]
        codes = np.where(
            (result.codes >= 0) & (other.codes >= 0), result.codes * len(other.groups) + other.codes, -1
        )
        groups = tuple(f"{a}|{b}" for a, b in itertools.product(result.groups, other.groups))
        expected = np.outer(result.expected, other.expected).ravel()
        result = _Grouping(f"{result.name}*{name}", codes, groups, expected)
    return result


def _auto_attributes(df: pd.DataFrame) -> list[tuple[str, ...]]:
    specs = list(DEFAULT_ATTRIBUTES)
    if "attributes" in df.columns:
        keys = set()
        for attrs in df["attributes"]:
            if isinstance(attrs, Mapping):
                keys.update(str(key) for key in attrs)
        specs += [(key,) for key in sorted(keys - {"_", "sex", "age_group"})]
    return specs


def _group_counts(dataset: _Dataset, grouping: _Grouping) -> tuple[np.ndarray, np.ndarray]:
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


# --------------------------------------------------------------------------------------
# Paper protocol
# --------------------------------------------------------------------------------------


def _paper_group_values(counts: np.ndarray, outcomes: _Outcomes) -> dict[str, float]:
    """The authors' per-group values: macro over labels present in the group's ground truth.

    Every undefined ratio is 0, as in the authors' ``compute_class_metrics``. Each group has
    at least one scored row and every scored row has a true label, so some label is present.
    """
    tp, fp, fn = counts @ outcomes.tp, counts @ outcomes.fp, counts @ outcomes.fn
    n = counts.sum()
    tn = n - tp - fp - fn

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    per_label = {
        "accuracy": (tp + tn) / n,
        "f1": ratio(2 * precision * recall, precision + recall),
        "tpr": recall,
        "fpr": ratio(fp, fp + tn),
        "fdr": ratio(fp, tp + fp),
    }
    present = (tp + fn) > 0
    return {metric: float(values[present].mean()) for metric, values in per_label.items()}


def _paper_dataset(dataset: _Dataset, groupings: Mapping[str, _Grouping]) -> dict[str, Any]:
    """Per attribute values, gaps and stds of one dataset, and the dataset's averages."""
    attributes, counted = {}, []
    for name, levels in PAPER_ATTRIBUTES.items():
        grouping = groupings[name]
        listed, counts = _group_counts(dataset, grouping)
        groups = {}
        for level in levels:
            row_counts = counts[np.searchsorted(listed, grouping.groups.index(level))]
            rows = int(row_counts.sum())
            groups[level] = {"rows": rows} | (
                _paper_group_values(row_counts, dataset.outcomes[0]) if rows else {}
            )
        with_rows = [g for g in groups.values() if g["rows"]]
        entry: dict[str, Any] = {"counted": len(with_rows) >= 2, "groups": groups}
        if entry["counted"]:
            for metric in _PAPER_GROUP_METRICS:
                values = np.array([g[metric] for g in with_rows])
                entry.setdefault("mean", {})[metric] = float(values.mean())
                entry.setdefault("gap", {})[metric] = float(values.max() - values.min())
                entry.setdefault("std", {})[metric] = float(values.std(ddof=1))
            entry["reason"] = None
            counted.append(entry)
        else:
            entry["reason"] = f"{len(with_rows)} of its groups have rows; at least 2 are needed"
        attributes[name] = entry

    if counted:
        base = {}
        for metric in _PAPER_GROUP_METRICS:
            short = _PAPER_SHORT[metric]
            base[metric] = float(np.mean([a["mean"][metric] for a in counted]))
            base[f"{short}_gap"] = float(np.mean([a["gap"][metric] for a in counted]))
            base[f"{short}_std"] = float(np.mean([a["std"][metric] for a in counted]))
    else:
        base = None
    age_counts = attributes["age_group"]["counted"]
    return {
        "base": base,
        "included_in_overall": age_counts,
        "reason": None
        if age_counts
        else "age attribute does not count (fewer than 2 age groups with rows); left out of the overall values",
        "attributes": attributes,
    }


def _paper_keys(base: Mapping[str, float] | None) -> dict[str, float | None]:
    """The published names (PAPER_KEYS) from the averaged values; ES = value / (1 + std)."""
    if base is None:
        return dict.fromkeys(PAPER_KEYS)
    out: dict[str, float | None] = {key: base[key] for key in ("accuracy", "f1", "tpr", "fpr", "fdr")}
    out |= {f"{s}_gap": base[f"{s}_gap"] for s in ("acc", "f1", "tpr", "fpr", "fdr")}
    out |= {"acc_std": base["acc_std"], "f1_std": base["f1_std"]}
    out["acc_es"] = base["accuracy"] / (1 + base["acc_std"])
    out["f1_es"] = base["f1"] / (1 + base["f1_std"])
    out["pp"] = 100 * base["fdr_gap"]
    out["eod"] = 100 * base["tpr_gap"]
    return out


def _paper_from_datasets(
    datasets: Sequence[_Dataset], df: pd.DataFrame, cache: dict[str, _Grouping]
) -> dict[str, Any]:
    groupings = {name: _grouping(df, (name,), cache) for name in PAPER_ATTRIBUTES}
    per_dataset = {d.name: _paper_dataset(d, groupings) for d in datasets}
    included = [p["base"] for p in per_dataset.values() if p["included_in_overall"]]
    overall = {key: float(np.mean([b[key] for b in included])) for key in included[0]} if included else None
    return {
        "overall": _paper_keys(overall),
        "by_dataset": {name: _paper_keys(p["base"]) for name, p in per_dataset.items()},
        "detail": {
            "datasets_in_overall": [name for name, p in per_dataset.items() if p["included_in_overall"]],
            "overall_reason": None if included else "no dataset has at least 2 age groups with rows",
            "by_dataset": {
                name: {k: v for k, v in p.items() if k != "base"} for name, p in per_dataset.items()
            },
        },
    }


def paper_protocol(
    df: pd.DataFrame,
    *,
    label_spaces: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The FairGRPO authors' fairness protocol (DESIGN.md section 4).

    Per dataset and per attribute (sex with groups F, M; age_group with A1..A4), each group
    with rows gets its macro accuracy, F1, TPR, FPR and FDR (undefined ratios count as 0,
    as in the authors' code); an attribute counts only when at least two of its groups have
    rows, and then gives mean, gap (max - min) and std (ddof = 1) over its groups. A
    dataset's values are the means over its counted attributes. The overall values are the
    means over the datasets whose age attribute counts (the authors' code skips the others);
    the overall ES is computed from the overall value and std, as the authors do.

    Returns ``{"overall": {...}, "by_dataset": {name: {...}}, "detail": {...}}`` where the
    first two hold exactly :data:`PAPER_KEYS` (``None`` where no attribute counts) and
    ``detail`` holds the per-attribute and per-group values and why a dataset was left out.
    """
    datasets, _ = _prepare(df, ("prediction",), label_spaces, None, REQUIRED_COLUMNS)
    return _paper_from_datasets(datasets, df, {})


# --------------------------------------------------------------------------------------
# Standard layer
# --------------------------------------------------------------------------------------


def _label_rates(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """One-vs-rest rates per label; NaN where undefined. Arrays are (B, K), ``n`` is (B, 1)."""
    positives, predicted = tp + fn, tp + fp
    negatives = n - positives
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "tpr": np.where(positives > 0, tp / positives, np.nan),
            "fpr": np.where(negatives > 0, fp / negatives, np.nan),
            "fdr": np.where(predicted > 0, fp / predicted, np.nan),
            "f1": np.where(positives + predicted > 0, 2 * tp / (positives + predicted), np.nan),
            "selection_rate": np.where(n > 0, predicted / n, np.nan),
        }


def _nanmean(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN; NaN where every value is NaN (no warning)."""
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0).sum(axis=-1)
    count = finite.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _metrics(weights: np.ndarray, outcomes: _Outcomes, task: _Task) -> tuple[dict, dict]:
    """Standard metrics for a batch of weightings of the row types.

    ``weights`` is (B, n_types): row counts per type (the observed counts, or bootstrap
    resamples). Returns ``(metrics, label_rates)``: each metric an array (B,), each label
    rate an array (B, n_space). Binary tasks: rates of the positive label; otherwise the
    macro average over the label space of the one-vs-rest rates, skipping labels whose rate
    is undefined. Accuracy is the exact-match rate; macro-F1 always averages over labels.
    """
    n = weights.sum(axis=1, keepdims=True)
    space = slice(0, task.n_space)
    rates = _label_rates(
        (weights @ outcomes.tp)[:, space],
        (weights @ outcomes.fp)[:, space],
        (weights @ outcomes.fn)[:, space],
        n,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        metrics = {"accuracy": np.where(n[:, 0] > 0, (weights @ outcomes.correct) / n[:, 0], np.nan)}
    metrics["macro_f1"] = _nanmean(rates["f1"])
    for metric in ("tpr", "fpr", "fdr", "selection_rate"):
        values = rates[metric]
        metrics[metric] = values[:, task.positive] if task.kind == "binary" else _nanmean(values)
    return metrics, rates


def _reason(metric: str, value: float, rates: Mapping[str, np.ndarray], task: _Task, rows: int) -> str | None:
    """Why a point value is undefined, or which labels a macro average left out."""
    if rows == 0:
        return "no rows in group"
    if metric == "accuracy":
        return None
    per_label = rates[_METRIC_TO_LABEL_RATE[metric]][0]
    because = _UNDEFINED_BECAUSE[_METRIC_TO_LABEL_RATE[metric]]
    if task.kind == "binary" and metric != "macro_f1":
        return None if math.isfinite(value) else f"{because} (label {task.labels[task.positive]!r}) in group"
    left_out = [task.labels[i] for i in np.flatnonzero(~np.isfinite(per_label))]
    if not left_out:
        return None
    if not math.isfinite(value):
        return f"undefined for every label ({because} in group)"
    return (
        f"mean over {task.n_space - len(left_out)} of {task.n_space} labels; left out ({because}): "
        + ", ".join(left_out)
    )


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _ci(samples: np.ndarray | None, level: float) -> tuple[list[float] | None, int | None]:
    """Percentile interval over the resamples where the statistic is defined."""
    if samples is None:
        return None, None
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None, 0
    low, high = np.percentile(finite, [50 * (1 - level), 50 * (1 + level)])
    return [float(low), float(high)], int(finite.size)


def _entry(value: float, samples: np.ndarray | None, reason: str | None, level: float) -> dict[str, Any]:
    ci, used = _ci(samples, level)
    return {"value": _number(value), "ci": ci, "ci_resamples": used, "reason": reason}


#: Upper bound on resamples x row types held in memory at once while bootstrapping.
_BOOTSTRAP_CELLS = 4_000_000


def _bootstrap(
    counts: np.ndarray,
    outcomes: Sequence[_Outcomes],
    task: _Task,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> list[dict[str, np.ndarray]]:
    """Bootstrap samples (n_bootstrap,) of every standard metric, one dict per prediction set.

    A resample draws the group's n rows with replacement; counting the drawn rows per type
    is exactly a multinomial draw with probabilities counts / n, so we draw that (over the
    types present in the group) instead of row indices. All prediction sets share the same
    resamples, which is what a paired comparison needs. The cost is proportional to
    n_bootstrap x the number of distinct types in the group.
    """
    present = np.flatnonzero(counts)
    n = counts[present].sum()
    probabilities = counts[present] / n
    local = [o.take(present) for o in outcomes]
    chunk = max(1, _BOOTSTRAP_CELLS // len(present))
    parts: list[list[dict[str, np.ndarray]]] = [[] for _ in outcomes]
    for start in range(0, n_bootstrap, chunk):
        weights = rng.multinomial(n, probabilities, size=min(chunk, n_bootstrap - start)).astype(float)
        for part, o in zip(parts, local):
            part.append(_metrics(weights, o, task)[0])
    return [
        {metric: np.concatenate([p[metric] for p in part]) for metric in STANDARD_METRICS} for part in parts
    ]


def _group_result(
    counts: np.ndarray,
    dataset: _Dataset,
    n_bootstrap: int,
    rng: np.random.Generator,
    ci_level: float,
    min_group_size: int,
) -> tuple[dict[str, Any], dict[str, float], dict[str, np.ndarray] | None]:
    """One group's report entry, its point values and its bootstrap samples per metric."""
    rows = int(counts.sum())
    task = dataset.task
    points, rates = _metrics(counts[None, :].astype(float), dataset.outcomes[0], task)
    point = {metric: float(values[0]) for metric, values in points.items()}
    samples = None
    if rows and n_bootstrap:
        samples = _bootstrap(counts, dataset.outcomes[:1], task, n_bootstrap, rng)[0]
    entry = {
        "rows": rows,
        "small": rows < min_group_size,
        "metrics": {
            metric: _entry(
                point[metric],
                None if samples is None else samples[metric],
                _reason(metric, point[metric], rates, task, rows),
                ci_level,
            )
            for metric in STANDARD_METRICS
        },
        "per_label": {
            label: {rate: _number(values[0, i]) for rate, values in rates.items()}
            for i, label in enumerate(task.labels[: task.n_space])
        }
        if rows
        else {},
    }
    return entry, point, samples


def _summarise(
    names: Sequence[str],
    points: Mapping[str, np.ndarray],
    samples: Mapping[str, np.ndarray] | None,
    ci_level: float,
) -> dict[str, Any]:
    """Worst group, gap (max - min) and min/max ratio of each metric across groups."""
    summary = {}
    for metric in STANDARD_METRICS:
        values = points[metric]
        defined = np.isfinite(values)
        boot = None if samples is None else samples[metric]
        higher = _HIGHER_IS_BETTER[metric]
        if higher is None:
            worst = {"group": None, **_entry(math.nan, None, "no better direction for this metric", ci_level)}
        elif not defined.any():
            worst = {"group": None, **_entry(math.nan, None, "no group with a defined value", ci_level)}
        else:
            pick = np.nanargmin if higher else np.nanargmax
            index = int(pick(np.where(defined, values, np.nan)))
            worst_boot = None if boot is None else _extreme(boot, low=higher)
            worst = {"group": names[index], **_entry(values[index], worst_boot, None, ci_level)}
        if defined.sum() < 2:
            reason = f"{int(defined.sum())} group(s) with a defined value; at least 2 are needed"
            gap = ratio = _entry(math.nan, None, reason, ci_level)
        else:
            high, low = values[defined].max(), values[defined].min()
            gap_boot = ratio_boot = None
            if boot is not None:
                enough = np.isfinite(boot).sum(axis=1) >= 2
                boot_high, boot_low = _extreme(boot, low=False), _extreme(boot, low=True)
                gap_boot = np.where(enough, boot_high - boot_low, np.nan)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio_boot = np.where(enough & (boot_high > 0), boot_low / boot_high, np.nan)
            gap = _entry(high - low, gap_boot, None, ci_level)
            ratio = _entry(
                low / high if high > 0 else math.nan,
                ratio_boot,
                None if high > 0 else "the largest group value is 0",
                ci_level,
            )
        summary[metric] = {"worst": worst, "gap": gap, "ratio": ratio, "groups_compared": int(defined.sum())}
    return summary


def _extreme(values: np.ndarray, *, low: bool) -> np.ndarray:
    """Row-wise min (or max) over the finite values of a (B, G) array; NaN if none."""
    finite = np.isfinite(values)
    bound = np.inf if low else -np.inf
    filled = np.where(finite, values, bound)
    result = filled.min(axis=1, initial=bound) if low else filled.max(axis=1, initial=bound)
    return np.where(finite.any(axis=1), result, np.nan)


def _standard_for_grouping(
    dataset: _Dataset,
    grouping: _Grouping,
    n_bootstrap: int,
    seed: int,
    ci_level: float,
    min_group_size: int,
) -> dict[str, Any]:
    listed, counts = _group_counts(dataset, grouping)
    rng = named_rng(seed, dataset.name, grouping.name)
    groups, points, samples = {}, [], []
    for index, group_counts in zip(listed, counts):
        entry, point, boot = _group_result(group_counts, dataset, n_bootstrap, rng, ci_level, min_group_size)
        groups[grouping.groups[index]] = entry
        points.append(point)
        samples.append(boot)
    names = [grouping.groups[i] for i in listed]
    point_arrays = {m: np.array([p[m] for p in points]) for m in STANDARD_METRICS}
    sample_arrays = None
    if n_bootstrap:  # (n_bootstrap, groups); an empty group has no resample
        nan = np.full(n_bootstrap, np.nan)
        sample_arrays = {
            m: np.column_stack([nan if s is None else s[m] for s in samples] or [np.empty((n_bootstrap, 0))])
            for m in STANDARD_METRICS
        }
    member = grouping.codes[dataset.rows]
    return {
        "rows_with_null": int((member < 0).sum()),
        "groups": groups,
        "small_groups": [name for name, g in groups.items() if g["small"]],
        "summary": _summarise(names, point_arrays, sample_arrays, ci_level),
    }


def _standard_from_datasets(
    datasets: Sequence[_Dataset],
    df: pd.DataFrame,
    specs: Sequence[tuple[str, ...]],
    n_bootstrap: int,
    seed: int,
    ci_level: float,
    min_group_size: int,
    cache: dict[str, _Grouping],
) -> dict[str, Any]:
    groupings = [_grouping(df, spec, cache) for spec in specs]
    by_dataset = {}
    for dataset in datasets:
        task = dataset.task
        overall, _, _ = _group_result(
            dataset.type_counts, dataset, n_bootstrap, named_rng(seed, dataset.name), ci_level, min_group_size
        )
        by_dataset[dataset.name] = {
            "task": task.kind,
            "label_space": list(task.labels[: task.n_space]),
            "positive_label": None if task.positive is None else task.labels[task.positive],
            "positive_label_rule": task.positive_rule,
            "overall": overall,
            "attributes": {
                g.name: _standard_for_grouping(dataset, g, n_bootstrap, seed, ci_level, min_group_size)
                for g in groupings
            },
        }
    return {
        "definitions": {
            "accuracy": "exact match of the predicted and true label sets; an invalid answer is wrong",
            "binary": "tpr, fpr, fdr and selection_rate are those of the positive label",
            "multiclass/multilabel": "tpr, fpr, fdr, selection_rate and macro_f1 are unweighted means over "
            "the label space of one-vs-rest rates, leaving out labels whose rate is undefined in the "
            "group (named in 'reason'); selection_rate is then the mean share of rows predicting each label",
            "ci": f"{ci_level:.0%} percentile bootstrap, rows resampled within each group; "
            "computed over the resamples where the statistic is defined (ci_resamples)",
            "gap": "max - min over groups with a defined value; ratio = min / max",
        },
        "by_dataset": by_dataset,
    }


def _specs(df: pd.DataFrame, attributes: Any) -> list[tuple[str, ...]]:
    if isinstance(attributes, str) and attributes == "auto":
        return _auto_attributes(df)
    if isinstance(attributes, str):
        attributes = [part for part in attributes.split(",") if part.strip()]
    specs = list(dict.fromkeys(parse_attribute_spec(spec) for spec in attributes))
    if not specs:
        raise MetricsInputError("no attribute to group by")
    return specs


def standard_layer(
    df: pd.DataFrame,
    *,
    label_spaces: Mapping[str, Sequence[str]] | None = None,
    positive_labels: Mapping[str, str] | None = None,
    attributes: Any = "auto",
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    min_group_size: int = 30,
    ci_level: float = 0.95,
) -> dict[str, Any]:
    """Per-group metrics with bootstrap CIs for each dataset and attribute (or intersection).

    ``attributes`` is ``"auto"`` (sex, age_group, sex*age_group and each key of an
    ``attributes`` dict column) or a list of names / intersections (``"sex*age_group"`` or
    ``("sex", "age_group")``). Each group entry holds ``rows``, ``small`` (fewer than
    ``min_group_size`` rows), ``metrics`` (value, ci, ci_resamples, reason for each of
    :data:`STANDARD_METRICS`) and ``per_label`` one-vs-rest rates; each attribute a
    ``summary`` with the worst group, the gap and the min/max ratio per metric, with CIs.
    """
    datasets, _ = _prepare(df, ("prediction",), label_spaces, positive_labels, REQUIRED_COLUMNS[:3])
    return _standard_from_datasets(
        datasets, df, _specs(df, attributes), n_bootstrap, seed, ci_level, min_group_size, {}
    )


def _demographic_counts(
    df: pd.DataFrame, names: Sequence[str], cache: dict[str, _Grouping]
) -> dict[str, Any]:
    """Per attribute: rows with a null value and, for sex / age_group, rows whose value is not
    one of the paper's groups (they are in no paper-protocol group); overall and per dataset."""
    dataset_codes, dataset_names = pd.factorize(df["dataset"], use_na_sentinel=True)
    known = dataset_codes >= 0

    def per_dataset(mask: np.ndarray) -> dict[str, int]:
        counts = np.bincount(dataset_codes[mask & known], minlength=len(dataset_names))
        return {str(name): int(count) for name, count in zip(dataset_names, counts)}

    out: dict[str, dict[str, Any]] = {"null": {}, "unrecognised": {}}
    by_dataset: dict[str, dict[str, dict[str, int]]] = {
        str(n): {"null": {}, "unrecognised": {}} for n in dataset_names
    }
    for name in names:
        grouping = _grouping(df, (name,), cache)
        masks = {"null": grouping.codes < 0}
        if name in PAPER_ATTRIBUTES:
            masks["unrecognised"] = (grouping.codes >= 0) & ~grouping.expected[np.maximum(grouping.codes, 0)]
        for kind, mask in masks.items():
            out[kind][name] = int(mask.sum())
            for dataset_name, count in per_dataset(mask).items():
                by_dataset[dataset_name][kind][name] = count
    return out | {"by_dataset": by_dataset}


def build_report(
    df: pd.DataFrame,
    *,
    label_spaces: Mapping[str, Sequence[str]] | None = None,
    positive_labels: Mapping[str, str] | None = None,
    attributes: Any = "auto",
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    min_group_size: int = 30,
    ci_level: float = 0.95,
    score_threshold: float = 0.5,
) -> dict[str, Any]:
    """The full metrics report of a predictions table (what ``clinfair metrics`` writes).

    Sections: ``settings``; ``counts`` (rows, invalid predictions, rows without answer, null
    demographics per field, labels outside the label space, overall and per dataset);
    ``paper`` (``overall`` and ``by_dataset[name]``, exactly :data:`PAPER_KEYS`, as
    fractions except ``pp`` and ``eod`` which are x100); ``paper_detail`` (per attribute
    and group, which datasets enter the overall values and why not); ``standard`` (see
    :func:`standard_layer`); ``scores`` only when the table has a ``scores`` column with
    values (see :mod:`benchmark.metrics_scores`; ``score_threshold`` is its threshold for
    TPR / FPR and the equalized-odds difference). The dict is JSON-serialisable and NaN-free
    (``None``).

    Raises :class:`MetricsInputError` for a table that cannot be scored.
    """
    if n_bootstrap < 0:
        raise MetricsInputError("n_bootstrap must be >= 0")
    if not 0 < ci_level < 1:
        raise MetricsInputError("ci_level must be between 0 and 1")
    datasets, counts = _prepare(df, ("prediction",), label_spaces, positive_labels, REQUIRED_COLUMNS)
    specs = _specs(df, attributes)
    names = list(dict.fromkeys(["sex", "age_group", *itertools.chain.from_iterable(specs)]))
    cache: dict[str, _Grouping] = {}
    demographics = _demographic_counts(df, names, cache)
    counts["null_demographics"] = demographics["null"]
    counts["unrecognised_demographics"] = demographics["unrecognised"]
    counts["by_dataset"] = {
        d.name: d.counts
        | {
            "null_demographics": demographics["by_dataset"][d.name]["null"],
            "unrecognised_demographics": demographics["by_dataset"][d.name]["unrecognised"],
        }
        for d in datasets
    }
    paper = _paper_from_datasets(datasets, df, cache)
    report = {
        "schema": METRICS_SCHEMA,
        "settings": {
            "attributes": ["*".join(spec) for spec in specs],
            "n_bootstrap": n_bootstrap,
            "seed": seed,
            "min_group_size": min_group_size,
            "ci_level": ci_level,
            "invalid_prediction": "scored as wrong: predicts no label",
        },
        "counts": counts,
        "paper": {"overall": paper["overall"], "by_dataset": paper["by_dataset"]},
        "paper_detail": paper["detail"],
        "standard": _standard_from_datasets(
            datasets, df, specs, n_bootstrap, seed, ci_level, min_group_size, cache
        ),
    }
    from benchmark import metrics_scores  # imports this module's helpers, so not at the top

    if metrics_scores.has_scores(df):
        report["scores"] = metrics_scores.build_score_section(
            df,
            specs,
            label_spaces,
            positive_labels,
            n_bootstrap,
            seed,
            ci_level,
            min_group_size,
            score_threshold,
            cache,
        )
    return report


# --------------------------------------------------------------------------------------
# Paired bootstrap
# --------------------------------------------------------------------------------------


def _paired_metric(
    dataset: _Dataset, counts: np.ndarray, metric: str, n_bootstrap: int, rng: np.random.Generator
) -> tuple[list[float], list[np.ndarray] | None]:
    """The metric of both prediction sets on the same rows, and on the same resamples."""
    points = [
        float(_metrics(counts[None, :].astype(float), o, dataset.task)[0][metric][0])
        for o in dataset.outcomes
    ]
    if not n_bootstrap:
        return points, None
    return points, [b[metric] for b in _bootstrap(counts, dataset.outcomes, dataset.task, n_bootstrap, rng)]


def _paired_entry(
    points: Sequence[float], samples: Sequence[np.ndarray] | None, level: float
) -> dict[str, Any]:
    """Difference a - b with its percentile CI and a two-sided bootstrap p-value.

    The p-value is 2 x the smaller share of resamples on either side of 0 (capped at 1):
    a rough indication of how often the sign of the difference flips, not an exact test.
    """
    a, b = points
    diff = a - b
    entry: dict[str, Any] = {"a": _number(a), "b": _number(b), "difference": _number(diff)}
    entry |= {"ci": None, "ci_resamples": None, "p_value": None, "reason": None}
    if not math.isfinite(diff):
        entry["reason"] = "the metric is undefined for a or b"
        return entry
    if samples is not None:
        boot = samples[0] - samples[1]
        boot = boot[np.isfinite(boot)]
        entry["ci"], entry["ci_resamples"] = _ci(boot, level)
        if boot.size:
            entry["p_value"] = float(min(1.0, 2 * min((boot <= 0).mean(), (boot >= 0).mean())))
    return entry


def _across_groups(values: np.ndarray, kind: str, higher_is_better: bool | None) -> np.ndarray:
    """Row-wise gap or worst value of a (B, G) array over its finite entries; NaN if too few."""
    defined = np.isfinite(values).sum(axis=1)
    high, low = _extreme(values, low=False), _extreme(values, low=True)
    if kind == "gap":
        return np.where(defined >= 2, high - low, np.nan)
    return low if higher_is_better else high


def paired_bootstrap(
    df: pd.DataFrame,
    *,
    column_a: str = "prediction",
    column_b: str,
    metric: str = "accuracy",
    attribute: str | Sequence[str] | None = None,
    label_spaces: Mapping[str, Sequence[str]] | None = None,
    positive_labels: Mapping[str, str] | None = None,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    ci_level: float = 0.95,
) -> dict[str, Any]:
    """Compare two prediction sets on the same rows (e.g. GRPO vs FairGRPO).

    Each resample draws the same rows for both prediction columns, so the spread of the
    difference reflects only where the two models disagree. Per dataset: the difference
    a - b of ``metric`` on all rows and, with ``attribute`` (a name or an intersection like
    ``"sex*age_group"``), per group (rows resampled within groups), of the gap across groups
    and of the worst-group value. Each difference has a percentile CI and a two-sided
    bootstrap p-value (see :func:`_paired_entry`).
    """
    if metric not in STANDARD_METRICS:
        raise MetricsInputError(f"unknown metric {metric!r}; choose from {list(STANDARD_METRICS)}")
    required = ("dataset", "answer", column_a, column_b)
    datasets, _ = _prepare(df, (column_a, column_b), label_spaces, positive_labels, required)
    grouping = None if attribute is None else _grouping(df, parse_attribute_spec(attribute), {})
    higher = _HIGHER_IS_BETTER[metric]
    result: dict[str, Any] = {"metric": metric, "column_a": column_a, "column_b": column_b, "by_dataset": {}}
    for dataset in datasets:
        rng = named_rng(seed, dataset.name, "paired")
        entry: dict[str, Any] = {
            "overall": _paired_entry(
                *_paired_metric(dataset, dataset.type_counts, metric, n_bootstrap, rng), ci_level
            )
        }
        if grouping is not None:
            listed, counts = _group_counts(dataset, grouping)
            present = counts.sum(axis=1) > 0
            groups, points, samples = {}, [], []
            for index, group_counts in zip(listed[present], counts[present]):
                point, boot = _paired_metric(dataset, group_counts, metric, n_bootstrap, rng)
                groups[grouping.groups[index]] = {"rows": int(group_counts.sum())} | _paired_entry(
                    point, boot, ci_level
                )
                points.append(point)
                samples.append(boot)
            entry |= {"attribute": grouping.name, "groups": groups}
            point_array = np.array(points, dtype=float).reshape(-1, 2)  # (groups, prediction set)
            for kind in ("gap", "worst") if higher is not None else ("gap",):
                side_points = [
                    float(_across_groups(point_array[None, :, side], kind, higher)[0]) for side in (0, 1)
                ]
                side_samples = None
                if n_bootstrap and samples:
                    side_samples = [
                        _across_groups(np.stack([s[side] for s in samples], axis=1), kind, higher)
                        for side in (0, 1)
                    ]
                entry[kind] = _paired_entry(side_points, side_samples, ci_level)
        result["by_dataset"][dataset.name] = entry
    return result

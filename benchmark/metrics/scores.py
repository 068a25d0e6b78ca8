"""Score-based fairness metrics: per-group AUROC and calibration (DESIGN.md section 4).

Input is a predictions table with ``dataset``, ``choices``, ``answer``, ``scores`` and the
demographic columns. ``scores`` holds, per row, one probability per entry of the row's
``choices`` (aligned by position): normalised over the labels for single-label tasks, and
the one-vs-rest probability that each finding is present for multi-label tasks.
:func:`score_layer` returns, per dataset, per attribute (or intersection) and per group,
AUROC, Brier score, ECE and (binary tasks) TPR / FPR at a threshold, with percentile
bootstrap CIs that resample rows within each group, plus per attribute the worst-group
AUROC, AUROC gap, ES-AUROC, ECE gap and equalized-odds difference, and the reliability
curve of every group (what the leaderboard draws).

Definitions (also written into the report's ``definitions``):

* **Label space and positive label** are those of the standard layer
  (:mod:`clinfair.benchmark.metrics`): the ``label_spaces`` argument, else the union of ``choices``;
  a binary task's positive label is the given one, else the label whose partner is a
  negative name ("no", "benign", ...), else the second label of the label space.
* **Task kind**: binary with 2 labels; otherwise multi-label when some answer holds more
  than one label or some row's scores do not sum to 1 (within 1e-3), else multi-class.
* **AUROC**: binary, of the positive label's score; multi-class, one-vs-rest per label,
  macro mean over the labels present in the group's ground truth (that is, over the labels
  whose one-vs-rest AUROC is defined); multi-label, per finding, macro mean over the
  findings with both classes in the group. Ties count one half (as scikit-learn).
* **Brier**: binary, mean of (p_positive - y)^2 (scikit-learn's ``brier_score_loss``);
  multi-class, mean over rows of the sum over labels of (p_k - y_k)^2 (ranges 0..2);
  multi-label, mean over findings of each finding's binary Brier score.
* **ECE**: 15 equal-width bins on [0, 1]; bin b holds p in (b/15, (b+1)/15], and bin 0 also
  p = 0 (``sklearn.calibration.calibration_curve(..., strategy="uniform")``). ECE =
  sum over bins of (rows in bin / rows) x |fraction of positives in bin - mean p in bin|.
  Binary: p = positive-label probability, y = positive label true. Multi-class: p = top-label
  confidence (largest score; first label on ties), y = that label is the true one.
  Multi-label: per finding, then the mean over findings.
* **Equalized-odds difference** (binary only): predicted positive iff p_positive >= threshold;
  max of the TPR gap and the FPR gap (max - min over groups with a defined rate; a gap with
  fewer than 2 such groups is left out).
* **ES-AUROC** = AUROC / (1 + sum over groups of |AUROC_g - AUROC|), FairCLIP's equity-scaled
  AUROC, with AUROC on all scored rows of the dataset and the sum over groups with a
  defined AUROC (at least 2 needed).

Undefined values (a group with no rows, or with one class) are ``None`` with a reason, never
0. Rows whose ``scores`` are null or empty, whose answer is empty, whose answer has a label
outside the label space, or whose scores cannot be read against the label space are left
out and counted. All metrics use one weighted implementation: the point value weights every
row 1, a bootstrap resample weights each row by how often it was drawn (a multinomial draw
per group, which is exactly resampling its rows with replacement), so no Python loop runs
over resamples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from clinfair.benchmark.metrics.bootstrap import across_groups, extreme, nanmean
from clinfair.benchmark.metrics.encoding import (
    MetricsInputError,
    flatten_labels,
    label_space,
    positive_label,
    to_list_array,
)
from clinfair.benchmark.metrics.groups import Grouping
from clinfair.benchmark.metrics.registry import SCORE_GROUP, SCORE_SUMMARY, get_metric, layer_keys
from clinfair.benchmark.metrics.results import Estimate, ScoreResult, number
from clinfair.benchmark.resampling import chunk_sizes, named_rng, stratified_counts

SCORE_COLUMNS = ("dataset", "choices", "answer", "scores")
N_BINS = 15
BIN_EDGES = np.linspace(0.0, 1.0, N_BINS + 1)
#: Keys of each group's ``metrics`` (binary tasks add ``tpr`` and ``fpr`` at the threshold).
GROUP_METRICS = layer_keys(SCORE_GROUP)
#: Keys of each attribute's ``summary`` (besides the count ``groups_with_auroc``).
SUMMARY_METRICS = layer_keys(SCORE_SUMMARY)
#: How far a probability may stray outside [0, 1] (float rounding) before the row is invalid.
_PROBABILITY_SLACK = 1e-6
#: A single-label row's scores sum to 1 within this; otherwise the task is taken as multi-label.
_SUM_TOLERANCE = 1e-3


def has_scores(df: pd.DataFrame) -> bool:
    """Whether the table has a ``scores`` column with at least one non-null value."""
    return "scores" in df.columns and bool(df["scores"].notna().any())


# --------------------------------------------------------------------------------------
# Encoding: rows -> truth and score matrices over the label space
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ScoredRows:
    """The usable rows of one dataset: truth and scores over its label space."""

    name: str
    labels: tuple[str, ...]
    kind: str  # "binary" | "multiclass" | "multilabel"
    positive: int | None
    positive_rule: str | None
    rows: np.ndarray  # (n,) positions in the input frame
    truth: np.ndarray  # (n, K) bool
    scores: np.ndarray  # (n, K) float in [0, 1]
    counts: dict[str, Any]


def _score_matrix(
    choices: pa.ListArray, scores: pa.ListArray, space: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(scores over the label space, NaN where a label has no score; whether lengths match).

    Both arrays hold the same rows; a row's i-th score belongs to its i-th choice.
    """
    n = len(choices)
    choice_length = pc.fill_null(pc.list_value_length(choices), 0).to_numpy(zero_copy_only=False)
    score_length = pc.fill_null(pc.list_value_length(scores), 0).to_numpy(zero_copy_only=False)
    aligned = choice_length == score_length
    take = pa.array(np.flatnonzero(aligned))
    choices, scores = choices.take(take), scores.take(take)
    parents = pc.list_parent_indices(choices).to_numpy(zero_copy_only=False)
    labels = pc.list_flatten(choices).to_pylist()
    values = pc.list_flatten(scores).to_numpy(zero_copy_only=False).astype(float)  # null -> NaN
    column = {label: i for i, label in enumerate(space)}
    columns = np.array([column.get(label, -1) for label in labels], dtype=np.intp)
    keep = columns >= 0  # scores of choices outside the label space play no part
    matrix = np.full((n, len(space)), np.nan)
    matrix[np.flatnonzero(aligned)[parents[keep]], columns[keep]] = values[keep]
    return matrix, aligned


def _encode(
    name: str,
    rows: np.ndarray,
    answers: pa.ListArray,
    choices: pa.ListArray,
    scores: pa.ListArray,
    given_space: Sequence[str] | None,
    given_positive: str | None,
) -> _ScoredRows:
    take = pa.array(rows)
    answers, choices, scores = answers.take(take), choices.take(take), scores.take(take)
    a_parent, a_code, a_dict, _ = flatten_labels(answers)
    space, _ = label_space(given_space, choices, a_dict)
    column = {label: i for i, label in enumerate(space)}
    n = len(rows)

    truth = np.zeros((n, len(space)), dtype=bool)
    a_column = np.array([column.get(label, -1) for label in a_dict], dtype=np.intp)[a_code]
    inside = a_column >= 0
    truth[a_parent[inside], a_column[inside]] = True
    outside = np.zeros(n, dtype=bool)
    outside[a_parent[~inside]] = True

    with_scores = scores.is_valid().to_numpy(zero_copy_only=False) & (
        pc.fill_null(pc.list_value_length(scores), 0).to_numpy(zero_copy_only=False) > 0
    )
    matrix, aligned = _score_matrix(choices, scores, space)
    with np.errstate(invalid="ignore"):
        out_of_range = (
            ~np.isfinite(np.where(np.isnan(matrix), 0.0, matrix))
            | (matrix < -_PROBABILITY_SLACK)
            | (matrix > 1 + _PROBABILITY_SLACK)
        ).any(axis=1)
    uncovered = np.isnan(matrix).any(axis=1)
    without_answer = ~truth.any(axis=1) & ~outside

    # Each left-out row is counted once, under the first reason that applies.
    reasons = [
        ("rows_without_scores", ~with_scores),
        ("rows_without_answer", without_answer),
        ("rows_with_answer_outside_label_space", outside),
        ("rows_with_scores_not_matching_choices", ~aligned),
        ("rows_with_scores_outside_0_1", out_of_range),
        ("rows_with_label_space_labels_unscored", uncovered),
    ]
    left_out = np.zeros(n, dtype=bool)
    counts: dict[str, Any] = {"rows": n}
    for key, mask in reasons:
        counts[key] = int((mask & ~left_out).sum())
        left_out |= mask
    usable = ~left_out
    counts["rows_scored"] = int(usable.sum())
    counts["label_space"] = list(space)

    truth, matrix = truth[usable], np.clip(matrix[usable], 0.0, 1.0)
    positive, rule = None, None
    if len(space) == 2:
        kind = "binary"
        positive, rule = positive_label(name, space, given_positive)
    elif (truth.sum(axis=1) > 1).any() or (np.abs(matrix.sum(axis=1) - 1) > _SUM_TOLERANCE).any():
        kind = "multilabel"
    else:
        kind = "multiclass"
    return _ScoredRows(name, tuple(space), kind, positive, rule, rows[usable], truth, matrix, counts)


# --------------------------------------------------------------------------------------
# Weighted metrics: one implementation for the point value (weights 1) and the bootstrap
# --------------------------------------------------------------------------------------


def bin_ids(probabilities: np.ndarray) -> np.ndarray:
    """Bin of each probability among the 15 equal-width bins, as ``calibration_curve`` bins."""
    return np.searchsorted(BIN_EDGES[1:-1], probabilities)


@dataclass(frozen=True)
class _Ranking:
    """One binary ranking problem (labels y, scores s), sorted once for every weighting."""

    order: np.ndarray
    starts: np.ndarray  # first position of each distinct score in sorted order
    positive: np.ndarray  # (n,) bool, in sorted order

    @classmethod
    def of(cls, y: np.ndarray, s: np.ndarray) -> _Ranking:
        order = np.argsort(s, kind="stable")
        sorted_scores = s[order]
        starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
        return cls(order, starts, y[order])

    def auroc(self, weights: np.ndarray) -> np.ndarray:
        """(B,) AUROC of each weighting; NaN where it lacks positives or negatives.

        AUROC = P(score of a positive > score of a negative) + 1/2 P(equal), both drawn by
        weight; summed per distinct score level so ties count one half.
        """
        w = weights[:, self.order]
        pos = np.add.reduceat(w * self.positive, self.starts, axis=1)
        neg = np.add.reduceat(w, self.starts, axis=1) - pos
        below = np.cumsum(neg, axis=1) - neg
        n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(
                (n_pos > 0) & (n_neg > 0), (pos * (below + 0.5 * neg)).sum(axis=1) / (n_pos * n_neg), np.nan
            )


def _ece_matrix(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(n, 15): row i holds y_i - p_i in its bin's column, so weights @ it sums per bin."""
    out = np.zeros((len(p), N_BINS))
    out[np.arange(len(p)), bin_ids(p)] = y - p
    return out


@dataclass(frozen=True)
class _GroupProblems:
    """Everything about one group's rows that does not depend on the weights."""

    rankings: tuple[_Ranking, ...]  # binary: 1; otherwise one per label
    calibration: tuple[np.ndarray, ...]  # ECE matrices; multi-label: one per finding
    brier: np.ndarray  # (n, L) per-row Brier loss; multi-label: one column per finding
    positives: np.ndarray | None  # binary: (n,) y of the positive label
    predicted: np.ndarray | None  # binary: (n,) p_positive >= threshold

    @classmethod
    def of(cls, data: _ScoredRows, index: np.ndarray, threshold: float) -> _GroupProblems:
        y, p = data.truth[index], data.scores[index]
        if data.kind == "binary":
            yk, pk = y[:, data.positive], p[:, data.positive]
            return cls(
                (_Ranking.of(yk, pk),), (_ece_matrix(yk, pk),), ((pk - yk) ** 2)[:, None], yk, pk >= threshold
            )
        rankings = tuple(_Ranking.of(y[:, k], p[:, k]) for k in range(y.shape[1]))
        squared = (p - y) ** 2
        if data.kind == "multiclass":
            top = p.argmax(axis=1)
            correct = y[np.arange(len(y)), top]
            return cls(
                rankings,
                (_ece_matrix(correct, p.max(axis=1)),),
                squared.sum(axis=1, keepdims=True),
                None,
                None,
            )
        calibration = tuple(_ece_matrix(y[:, k], p[:, k]) for k in range(y.shape[1]))
        return cls(rankings, calibration, squared, None, None)

    def evaluate(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric for a batch of weightings (B, n): arrays (B,), per label (B, K)."""
        total = weights.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ece = np.stack([np.abs(weights @ m).sum(axis=1) / total for m in self.calibration], axis=1)
            brier = (weights @ self.brier) / total[:, None]
        out = {"brier_per_label": brier, "brier": brier.mean(axis=1)}
        auroc = np.stack([r.auroc(weights) for r in self.rankings], axis=1)
        out["auroc_per_label"] = auroc
        out["auroc"] = auroc[:, 0] if len(self.rankings) == 1 else nanmean(auroc)
        out["ece_per_label"] = ece
        out["ece"] = ece.mean(axis=1)
        if self.positives is not None:
            positives = weights @ self.positives
            negatives = total - positives
            with np.errstate(divide="ignore", invalid="ignore"):
                out["tpr"] = np.where(
                    positives > 0, (weights @ (self.predicted & self.positives)) / positives, np.nan
                )
                out["fpr"] = np.where(
                    negatives > 0, (weights @ (self.predicted & ~self.positives)) / negatives, np.nan
                )
        return out


def _metric_names(kind: str) -> tuple[str, ...]:
    return GROUP_METRICS + (("tpr", "fpr") if kind == "binary" else ())


def _bootstrap(
    problems: Sequence[_GroupProblems],
    members: Sequence[np.ndarray],
    strata: Sequence[np.ndarray],
    n: int,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> list[dict[str, np.ndarray]]:
    """Bootstrap samples of every metric of each problem set (rows ``members[i]``), all from
    the same stratified resamples of the ``n`` rows, drawn in chunks to bound memory."""
    parts: list[list[dict[str, np.ndarray]]] = [[] for _ in problems]
    for size in chunk_sizes(n_bootstrap, n):
        weights = stratified_counts(strata, n, size, rng)
        for part, problem, rows in zip(parts, problems, members):
            part.append(problem.evaluate(weights[:, rows]))
    return [{key: np.concatenate([p[key] for p in part]) for key in part[0]} for part in parts]


# --------------------------------------------------------------------------------------
# Report entries
# --------------------------------------------------------------------------------------


def _auroc_reason(value: float, per_label: np.ndarray, data: _ScoredRows, y: np.ndarray) -> str | None:
    """Why a group's AUROC is undefined, or which labels its macro mean left out."""
    if data.kind == "binary":
        if math.isfinite(value):
            return None
        only = (
            data.labels[data.positive] if y[:, data.positive].all() else f"not {data.labels[data.positive]}"
        )
        return f"one class in group (every row: {only})"
    left_out = [data.labels[k] for k in np.flatnonzero(~np.isfinite(per_label))]
    what = "labels" if data.kind == "multiclass" else "findings"
    if not math.isfinite(value):
        return f"one class in group for every one of the {what}"
    if not left_out:
        return None
    return (
        f"mean over {len(data.labels) - len(left_out)} of {len(data.labels)} {what}; "
        f"left out (one class in group): " + ", ".join(left_out)
    )


def _rate_reason(metric: str, value: float) -> str | None:
    if math.isfinite(value):
        return None
    return "no positives in group" if metric == "tpr" else "no negatives in group"


def _reliability(y: np.ndarray, p: np.ndarray) -> dict[str, list]:
    """The non-empty bins' mean probability and fraction of positives, as ``calibration_curve``."""
    bins = bin_ids(p)
    count = np.bincount(bins, minlength=N_BINS)
    used = np.flatnonzero(count)
    return {
        "bin": used.tolist(),
        "count": count[used].tolist(),
        "prob_pred": (np.bincount(bins, weights=p, minlength=N_BINS)[used] / count[used]).tolist(),
        "prob_true": (np.bincount(bins, weights=y, minlength=N_BINS)[used] / count[used]).tolist(),
    }


def _reliability_curves(data: _ScoredRows, index: np.ndarray) -> dict[str, dict[str, list]]:
    """Binary: the positive label's curve; multi-class: ``top_label``; multi-label: per finding."""
    y, p = data.truth[index], data.scores[index]
    if data.kind == "binary":
        return {data.labels[data.positive]: _reliability(y[:, data.positive], p[:, data.positive])}
    if data.kind == "multiclass":
        top = p.argmax(axis=1)
        return {"top_label": _reliability(y[np.arange(len(y)), top], p.max(axis=1))}
    return {label: _reliability(y[:, k], p[:, k]) for k, label in enumerate(data.labels)}


def _group_entry(
    data: _ScoredRows,
    index: np.ndarray,
    point: dict[str, np.ndarray] | None,
    samples: dict[str, np.ndarray] | None,
    ci_level: float,
    min_group_size: int,
) -> dict[str, Any]:
    """One group's report entry; ``point`` is None for a group without rows."""
    names = _metric_names(data.kind)
    rows = len(index)
    entry: dict[str, Any] = {"rows": rows, "small": rows < min_group_size}
    if point is None:
        entry["metrics"] = {m: Estimate.undefined("no rows in group") for m in names}
        entry["per_label"], entry["reliability"] = {}, {}
        return entry
    values = {m: float(point[m][0]) for m in names}
    reasons = {
        "auroc": _auroc_reason(values["auroc"], point["auroc_per_label"][0], data, data.truth[index]),
        "brier": None,
        "ece": None,
    } | {m: _rate_reason(m, values[m]) for m in ("tpr", "fpr") if m in names}
    entry["metrics"] = {
        m: Estimate.of(values[m], None if samples is None else samples[m], reasons[m], ci_level)
        for m in names
    }
    per_label: dict[str, dict[str, float | None]] = {}
    if data.kind != "binary":
        for k, label in enumerate(data.labels):
            per_label[label] = {"auroc": number(point["auroc_per_label"][0, k])}
            if data.kind == "multilabel":
                per_label[label] |= {
                    "brier": float(point["brier_per_label"][0, k]),
                    "ece": float(point["ece_per_label"][0, k]),
                }
    entry["per_label"] = per_label
    entry["reliability"] = _reliability_curves(data, index)
    return entry


def _es_auroc(overall: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """(B,) AUROC / (1 + sum_g |AUROC_g - AUROC|) over groups with a defined AUROC (>= 2)."""
    finite = np.isfinite(groups)
    deviation = np.where(finite, np.abs(groups - overall[:, None]), 0.0).sum(axis=1)
    return np.where(finite.sum(axis=1) >= 2, overall / (1 + deviation), np.nan)


def _summary(
    data: _ScoredRows,
    names: Sequence[str],
    points: Mapping[str, np.ndarray],
    samples: Mapping[str, np.ndarray] | None,
    overall_point: float,
    overall_samples: np.ndarray | None,
    ci_level: float,
) -> dict[str, Any]:
    """Across-group values of one attribute; ``points[m]`` (G,), ``samples[m]`` (B, G)."""

    def across(name: str, higher_is_better: bool | None):
        boot = None if samples is None else samples[name]
        return across_groups(names, points[name], boot, ci_level, higher_is_better)

    auroc = across("auroc", get_metric(SCORE_GROUP, "auroc").higher_is_better)
    ece = across("ece", get_metric(SCORE_GROUP, "ece").higher_is_better)
    es_point = float(_es_auroc(np.array([overall_point]), points["auroc"][None, :])[0])
    es_boot = None if samples is None else _es_auroc(overall_samples, samples["auroc"])
    es_reason = None
    if not math.isfinite(es_point):
        es_boot = None
        es_reason = (
            "AUROC undefined on all rows"
            if not math.isfinite(overall_point)
            else "fewer than 2 groups with a defined AUROC"
        )
    summary: dict[str, Any] = {
        "worst_group_auroc": auroc.worst,
        "auroc_gap": auroc.gap,
        "es_auroc": Estimate.of(es_point, es_boot, es_reason, ci_level),
        "worst_group_ece": ece.worst,
        "ece_gap": ece.gap,
        "groups_with_auroc": int(np.isfinite(points["auroc"]).sum()),
    }
    if data.kind != "binary":
        summary["equalized_odds_difference"] = Estimate.undefined("binary tasks only")
        return summary
    gaps = [across(name, None) for name in ("tpr", "fpr")]
    defined = [g for g in gaps if g.gap.value is not None]
    if not defined:
        eod = Estimate.undefined("fewer than 2 groups with a defined TPR or FPR")
    else:
        eod_boot = None
        if samples is not None:  # a gap undefined on the rows is undefined on every resample
            nan = np.full(len(overall_samples), np.nan)
            stacked = np.stack([nan if g.gap_samples is None else g.gap_samples for g in gaps], axis=1)
            eod_boot = extreme(stacked, low=False)
        eod = Estimate.of(max(g.gap.value for g in defined), eod_boot, None, ci_level)
    summary["equalized_odds_difference"] = eod
    return summary


def _for_grouping(
    data: _ScoredRows,
    grouping: Grouping,
    overall: _GroupProblems,
    overall_point: float,
    threshold: float,
    n_bootstrap: int,
    seed: int,
    ci_level: float,
    min_group_size: int,
) -> dict[str, Any]:
    """One attribute's groups and summary. The all-rows AUROC of ES-AUROC is re-evaluated on this
    attribute's stratified resamples, from the dataset's ``overall`` problem (sorted once)."""
    member = grouping.codes[data.rows]
    listed = np.union1d(np.unique(member[member >= 0]), np.flatnonzero(grouping.expected))
    group_rows = [np.flatnonzero(member == code) for code in listed]
    present = [rows for rows in group_rows if len(rows)]
    problems = [_GroupProblems.of(data, rows, threshold) for rows in present]
    points = [p.evaluate(np.ones((1, len(rows)))) for p, rows in zip(problems, present)]
    samples = None
    if n_bootstrap:
        everything = np.arange(len(data.rows))
        strata = [*present, np.flatnonzero(member < 0)]  # null-attribute rows resample on their own
        *samples, overall_boot = _bootstrap(
            [*problems, overall],
            [*present, everything],
            strata,
            len(data.rows),
            n_bootstrap,
            named_rng(seed, data.name, grouping.name, "scores"),
        )
    groups, names, point_values, sample_values = {}, [], [], []
    position = 0
    for code, rows in zip(listed, group_rows):
        name = grouping.groups[code]
        if len(rows):
            point, sample = points[position], None if samples is None else samples[position]
            position += 1
            names.append(name)
            point_values.append(point)
            sample_values.append(sample)
        else:
            point = sample = None
        groups[name] = _group_entry(data, rows, point, sample, ci_level, min_group_size)
    metrics = _metric_names(data.kind)
    point_arrays = {m: np.array([p[m][0] for p in point_values]) for m in metrics}
    sample_arrays = None
    if samples is not None:
        sample_arrays = {
            m: np.column_stack([s[m] for s in sample_values]) if sample_values else np.empty((n_bootstrap, 0))
            for m in metrics
        }
    return {
        "rows_with_null": int((member < 0).sum()),
        "groups": groups,
        "small_groups": [name for name, g in groups.items() if g["small"]],
        "summary": _summary(
            data,
            names,
            point_arrays,
            sample_arrays,
            overall_point,
            None if samples is None else overall_boot["auroc"],
            ci_level,
        ),
    }


def _definitions(threshold: float, ci_level: float) -> dict[str, str]:
    return {
        "scores": "per row, one probability per choice (aligned with 'choices'); normalised over the "
        "labels for single-label tasks, one-vs-rest probability of each finding for multi-label tasks",
        "task": "binary with 2 labels; multilabel when an answer has several labels or a row's scores "
        f"do not sum to 1 (within {_SUM_TOLERANCE}); otherwise multiclass",
        "auroc": "binary: of the positive label's score; multiclass: one-vs-rest, macro mean over the labels "
        "present in the group's ground truth; multilabel: per finding, macro mean over findings with both "
        "classes in the group; ties count 1/2",
        "brier": "binary: mean of (p_positive - y)^2; multiclass: mean over rows of the sum over labels of "
        "(p - y)^2 (0..2); multilabel: mean over findings of the binary Brier score",
        "ece": f"{N_BINS} equal-width bins on [0, 1], bin b holds p in (b/{N_BINS}, (b+1)/{N_BINS}] (bin 0 also "
        "p = 0), as sklearn's calibration_curve(strategy='uniform'); ECE = sum over bins of "
        "(rows in bin / rows) x |fraction positive - mean p|; binary: p = positive-label probability; "
        "multiclass: p = top-label confidence (first label on ties), positive = top label is true; "
        "multilabel: per finding, then the mean over findings",
        "reliability": "per group, the non-empty bins: bin index, rows, mean p (prob_pred) and fraction "
        "positive (prob_true), equal to sklearn's calibration_curve(y, p, n_bins=15, strategy='uniform'); "
        "binary: keyed by the positive label; multiclass: 'top_label'; multilabel: per finding",
        "tpr/fpr": f"binary only: predicted positive iff p_positive >= {threshold}",
        "equalized_odds_difference": "binary only: max of the TPR gap and the FPR gap at the threshold, "
        "each max - min over groups with a defined rate (a gap with fewer than 2 such groups is left out)",
        "es_auroc": "AUROC / (1 + sum over groups of |AUROC_g - AUROC|) (FairCLIP), AUROC on all scored "
        "rows, sum over groups with a defined AUROC (at least 2)",
        "gap": "max - min over groups with a defined value; worst group: lowest AUROC, highest ECE",
        "ci": f"{ci_level:.0%} percentile bootstrap, rows resampled within each group (rows with a null "
        "attribute as one more stratum, for the all-rows AUROC of ES-AUROC); computed over the resamples "
        "where the statistic is defined (ci_resamples)",
    }


def score_section(
    df: pd.DataFrame,
    groupings: Sequence[Grouping],
    label_spaces: Mapping[str, Sequence[str]] | None,
    positive_labels: Mapping[str, str] | None,
    n_bootstrap: int,
    seed: int,
    ci_level: float,
    min_group_size: int,
    threshold: float,
) -> ScoreResult:
    """The score layer of a table for the given groupings (``report["scores"]``)."""
    missing = [column for column in SCORE_COLUMNS if column not in df.columns]
    if missing:
        raise MetricsInputError(f"missing column(s) {', '.join(map(repr, missing))} for the score metrics")
    if not 0 <= threshold <= 1:
        raise MetricsInputError("the threshold must be between 0 and 1")
    dataset_codes, dataset_names = pd.factorize(df["dataset"], use_na_sentinel=True)
    answers = to_list_array(df["answer"], "answer")
    choices = to_list_array(df["choices"], "choices")
    scores = to_list_array(df["scores"], "scores", pa.float64())
    label_spaces, positive_labels = dict(label_spaces or {}), dict(positive_labels or {})
    by_dataset, count_keys = {}, None
    for code in sorted(range(len(dataset_names)), key=lambda i: str(dataset_names[i])):
        name = str(dataset_names[code])
        data = _encode(
            name,
            np.flatnonzero(dataset_codes == code),
            answers,
            choices,
            scores,
            label_spaces.get(name),
            positive_labels.get(name),
        )
        count_keys = [key for key, value in data.counts.items() if isinstance(value, int)]
        entry: dict[str, Any] = {
            "task": data.kind,
            "label_space": list(data.labels),
            "positive_label": None if data.positive is None else data.labels[data.positive],
            "positive_label_rule": data.positive_rule,
            "counts": data.counts,
        }
        if not len(data.rows):
            by_dataset[name] = entry | {
                "overall": None,
                "attributes": {},
                "reason": "no row with usable scores",
            }
            continue
        everything = np.arange(len(data.rows))
        problem = _GroupProblems.of(data, everything, threshold)
        point = problem.evaluate(np.ones((1, len(everything))))
        samples = None
        if n_bootstrap:
            rng = named_rng(seed, name, "scores")
            samples = _bootstrap([problem], [everything], [everything], len(everything), n_bootstrap, rng)[0]
        overall = _group_entry(data, everything, point, samples, ci_level, min_group_size)
        entry |= {
            "overall": overall,
            "attributes": {
                g.name: _for_grouping(
                    data,
                    g,
                    problem,
                    float(point["auroc"][0]),
                    threshold,
                    n_bootstrap,
                    seed,
                    ci_level,
                    min_group_size,
                )
                for g in groupings
            },
            "reason": None,
        }
        by_dataset[name] = entry
    totals = {
        key: sum(d["counts"][key] for d in by_dataset.values())
        for key in (count_keys or ["rows", "rows_scored"])
    }
    totals["rows_without_dataset"] = int((dataset_codes < 0).sum())
    return ScoreResult(
        settings={"threshold": threshold, "n_bins": N_BINS, "bin_edges": BIN_EDGES.tolist()},
        definitions=_definitions(threshold, ci_level),
        counts=totals,
        by_dataset=by_dataset,
    )

"""The paper protocol: the FairGRPO authors' evaluation, which produced the paper's tables.

One-vs-rest counts per label, macro average over the labels present in the group's ground
truth, sub-groups by sex (F, M) and by the four age bins, gap = max - min, std with
ddof = 1, attribute -> dataset -> overall averaging. Every undefined ratio counts as 0,
because that is what the authors' code does and the point of this layer is to reproduce
their numbers. The keys it reports are the registry's paper layer (:data:`PAPER_KEYS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from clinfair.benchmark.metrics.encoding import EncodedDataset, Outcomes
from clinfair.benchmark.metrics.groups import PAPER_ATTRIBUTES, Grouping, Groupings, group_counts
from clinfair.benchmark.metrics.registry import PAPER_GROUP_METRICS, PAPER_KEYS
from clinfair.benchmark.metrics.results import PaperResult

_PAPER_SHORT = {"accuracy": "acc", "f1": "f1", "tpr": "tpr", "fpr": "fpr", "fdr": "fdr"}


def _paper_group_values(counts: np.ndarray, outcomes: Outcomes) -> dict[str, float]:
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


def _paper_dataset(dataset: EncodedDataset, groupings: Mapping[str, Grouping]) -> dict[str, Any]:
    """Per attribute values, gaps and stds of one dataset, and the dataset's averages."""
    attributes, counted = {}, []
    for name, levels in PAPER_ATTRIBUTES.items():
        grouping = groupings[name]
        listed, counts = group_counts(dataset, grouping)
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
            for metric in PAPER_GROUP_METRICS:
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
        for metric in PAPER_GROUP_METRICS:
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


#: Paper keys that are not a mean, gap or std of a per-group value (``base`` holds those as
#: ``accuracy`` / ``acc_gap`` / ``acc_std``, ``f1`` / ``f1_gap`` / ``f1_std``, ...). ES = value / (1 + std).
_DERIVED = {
    "acc_es": lambda base: base["accuracy"] / (1 + base["acc_std"]),
    "f1_es": lambda base: base["f1"] / (1 + base["f1_std"]),
    "pp": lambda base: 100 * base["fdr_gap"],
    "eod": lambda base: 100 * base["tpr_gap"],
}


def _paper_keys(base: Mapping[str, float] | None) -> dict[str, float | None]:
    """The registry's paper keys (PAPER_KEYS) from the averaged values."""
    if base is None:
        return dict.fromkeys(PAPER_KEYS)
    return {key: _DERIVED[key](base) if key in _DERIVED else base[key] for key in PAPER_KEYS}


def paper_from_datasets(datasets: Sequence[EncodedDataset], groupings: Groupings) -> PaperResult:
    """The protocol over encoded datasets: per dataset, then the mean over the datasets whose age
    attribute counts (the authors' code skips the others)."""
    by_attribute = {name: groupings.get((name,)) for name in PAPER_ATTRIBUTES}
    per_dataset = {d.name: _paper_dataset(d, by_attribute) for d in datasets}
    included = [p["base"] for p in per_dataset.values() if p["included_in_overall"]]
    overall = {key: float(np.mean([b[key] for b in included])) for key in included[0]} if included else None
    return PaperResult(
        overall=_paper_keys(overall),
        by_dataset={name: _paper_keys(p["base"]) for name, p in per_dataset.items()},
        detail={
            "datasets_in_overall": [name for name, p in per_dataset.items() if p["included_in_overall"]],
            "overall_reason": None if included else "no dataset has at least 2 age groups with rows",
            "by_dataset": {
                name: {k: v for k, v in p.items() if k != "base"} for name, p in per_dataset.items()
            },
        },
    )

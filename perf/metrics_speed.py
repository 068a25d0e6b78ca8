"""Time the full clinfair metrics report against fairlearn on 1,000,000 synthetic predictions.

The data imitate the benchmark: four datasets of 250,000 rows each -- two binary tasks
(ISIC-like benign/malignant, CT-like no/yes) and two five-class tasks (HAM10000-like,
VinDr-Mammo-like BI-RADS 1-5) -- and eight demographic groups (sex x four age bins) whose
accuracy differs by design; 2 % of the answers are invalid. ``--multilabel`` swaps the
BI-RADS set for a CheXpert-like 14-finding multi-label set: the worst case for clinfair,
because its noisy label sets make ~40,000 distinct (truth, prediction) patterns and the
exact bootstrap costs resamples x patterns per group.

* clinfair: ``build_report`` -- paper protocol plus the standard layer for sex, age_group
  and sex*age_group with 1,000 bootstrap resamples, starting from the DataFrame (list
  columns Arrow-backed, as ``clinfair metrics`` reads parquet).
* fairlearn: ``MetricFrame`` computing only the per-group point rates (TPR, FPR, selection
  rate) over the eight groups, one-vs-rest for every label of the label space (the positive
  label of a binary task), from label arrays encoded beforehand (encoding not timed).

Prints both times and the ratio fairlearn / clinfair (goal: >= 20). Usage:

    python perf/metrics_speed.py [--rows 1000000] [--n-bootstrap 1000] [--seed 0] [--multilabel]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import pyarrow as pa
from clinfair.benchmark.metrics import build_report
from clinfair.tasks.builders.chexpert import OBSERVATIONS as CHEXPERT

SEXES = np.array(["F", "M"], dtype=object)
AGE_GROUPS = np.array(["A1", "A2", "A3", "A4"], dtype=object)
#: name -> (label space, kind, class prevalences or per-label prevalence for multi-label)
DATASETS = {
    "isic2020": (("benign", "malignant"), "single", (0.9, 0.1)),
    "ct_hemorrhage": (("no", "yes"), "single", (0.7, 0.3)),
    "ham10000": (("melanoma", "nevus", "BCC", "AKIEC", "other"), "single", (0.15, 0.55, 0.1, 0.08, 0.12)),
    "vindr_mammo": (tuple(f"BI-RADS {i}" for i in range(1, 6)), "single", (0.6, 0.25, 0.08, 0.05, 0.02)),
}
MULTILABEL = {
    "chexpert": (
        CHEXPERT,
        "multi",
        (0.1, 0.05, 0.12, 0.3, 0.04, 0.1, 0.06, 0.03, 0.15, 0.05, 0.2, 0.02, 0.03, 0.35),
    )
}


def _list_column(bits: np.ndarray, invalid: np.ndarray, labels: tuple[str, ...]) -> pa.ListArray:
    """An Arrow list<string> column from a (rows, labels) bool matrix; invalid rows are null."""
    rows, columns = np.nonzero(bits)
    offsets = np.zeros(len(bits) + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=len(bits)), out=offsets[1:])
    values = pa.DictionaryArray.from_arrays(pa.array(columns, pa.int32()), pa.array(labels)).cast(pa.string())
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(invalid))


def synthetic(
    rows: int, seed: int, datasets: dict[str, tuple]
) -> tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    """The predictions table, and per dataset the bool label arrays fairlearn gets."""
    rng = np.random.default_rng(seed)
    per_dataset = rows // len(datasets)
    frames, arrays = [], {}
    for name, (labels, kind, prevalence) in datasets.items():
        n, k = per_dataset, len(labels)
        sex, age = rng.integers(0, 2, n), rng.integers(0, 4, n)
        group = sex * 4 + age
        skill = 0.6 + 0.04 * group  # planted gap: accuracy rises with the group index
        if kind == "single":
            truth_class = rng.choice(k, size=n, p=prevalence)
            guess = np.where(rng.random(n) < skill, truth_class, rng.integers(0, k, n))
            truth = np.eye(k, dtype=bool)[truth_class]
            pred = np.eye(k, dtype=bool)[guess]
        else:
            truth = rng.random((n, k)) < np.array(prevalence)
            truth[~truth.any(axis=1), 0] = True  # every study has a finding ("No Finding" included)
            flip = rng.random((n, k)) < (1 - skill[:, None]) * 0.3
            pred = truth ^ flip
        invalid = rng.random(n) < 0.02
        pred[invalid] = False
        frames.append(
            pd.DataFrame(
                {
                    "dataset": name,
                    "answer": pd.Series(
                        _list_column(truth, np.zeros(n, bool), labels),
                        dtype=pd.ArrowDtype(pa.list_(pa.string())),
                    ),
                    "prediction": pd.Series(
                        _list_column(pred, invalid, labels), dtype=pd.ArrowDtype(pa.list_(pa.string()))
                    ),
                    "sex": SEXES[sex],
                    "age_group": AGE_GROUPS[age],
                }
            )
        )
        arrays[name] = {
            "labels": labels,
            "truth": truth,
            "pred": pred,
            "sex": SEXES[sex],
            "age_group": AGE_GROUPS[age],
        }
    return pd.concat(frames, ignore_index=True), arrays


def time_fairlearn(arrays: dict[str, dict[str, np.ndarray]]) -> tuple[float, int]:
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    metrics = {"tpr": true_positive_rate, "fpr": false_positive_rate, "selection_rate": selection_rate}
    tables = []
    start = time.perf_counter()
    for data in arrays.values():
        labels = data["labels"]
        columns = [1] if len(labels) == 2 else range(len(labels))  # binary: the positive label only
        features = pd.DataFrame({"sex": data["sex"], "age_group": data["age_group"]})
        for column in columns:
            frame = MetricFrame(
                metrics=metrics,
                y_true=data["truth"][:, column],
                y_pred=data["pred"][:, column],
                sensitive_features=features,
            )
            tables.append(frame.by_group)
    return time.perf_counter() - start, len(tables)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--multilabel", action="store_true", help="replace the BI-RADS set by a CheXpert-like one"
    )
    args = parser.parse_args()

    datasets = dict(DATASETS)
    if args.multilabel:
        del datasets["vindr_mammo"]
        datasets |= MULTILABEL
    start = time.perf_counter()
    df, arrays = synthetic(args.rows, args.seed, datasets)
    print(f"built {len(df):,} synthetic predictions in {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    report = build_report(df, n_bootstrap=args.n_bootstrap, seed=args.seed)
    clinfair = time.perf_counter() - start
    groups = sum(
        len(a["groups"]) for d in report["standard"]["by_dataset"].values() for a in d["attributes"].values()
    )
    print(
        f"clinfair build_report: {clinfair:.2f} s (paper protocol + standard layer, {len(report['settings']['attributes'])} "
        f"attributes, {groups} group entries, {args.n_bootstrap} bootstrap resamples)"
    )

    fairlearn, frames = time_fairlearn(arrays)
    print(
        f"fairlearn MetricFrame: {fairlearn:.2f} s ({frames} one-vs-rest frames, point rates only, 8 groups)"
    )
    print(f"ratio fairlearn / clinfair: {fairlearn / clinfair:.1f}x (goal >= 20x)")


if __name__ == "__main__":
    main()

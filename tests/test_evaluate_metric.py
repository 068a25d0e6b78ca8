"""The `evaluate` metric loads offline from its folder and equals `clinfair metrics` on the same file."""

from __future__ import annotations

import json
import math

import evaluate  # the dev extra installs it (clinfair[lmeval]): a missing install must fail, not skip
import numpy as np
import pandas as pd
from clinfair.benchmark.evaluate_metric import METRIC_PATH
from clinfair.benchmark.metrics import PAPER_KEYS
from clinfair.tasks.registry import get_task

from clinfair.cli import main


def predictions_table(seed: int = 0, rows_per_dataset: int = 300) -> pd.DataFrame:
    """Mostly-right, sometimes-wrong, sometimes-invalid answers on a binary, a multi-class
    (no sex recorded, like VinDr-Mammo) and a multi-label task, with null demographics."""
    rng = np.random.default_rng(seed)
    records = []
    for dataset in ("synthetic", "vindr_mammo", "chexpert"):
        spec = get_task(dataset)
        choices = list(spec.choices)
        for index in range(rows_per_dataset):
            size = rng.integers(1, 4) if spec.multi_label else 1
            answer = sorted(rng.choice(choices, size=size, replace=False).tolist(), key=choices.index)
            draw = rng.random()
            if draw < 0.1:
                prediction = None
            elif draw < 0.65:
                prediction = answer
            else:
                prediction = sorted(rng.choice(choices, size=size, replace=False).tolist(), key=choices.index)
            sex = None if dataset == "vindr_mammo" or rng.random() < 0.05 else str(rng.choice(["F", "M"]))
            age_group = (
                None
                if rng.random() < 0.05
                else str(rng.choice(["A1", "A2", "A3", "A4"], p=[0.1, 0.3, 0.4, 0.2]))
            )
            records.append(
                {
                    "id": f"{dataset}-{index}",
                    "dataset": dataset,
                    "choices": choices,
                    "answer": answer,
                    "prediction": prediction,
                    "sex": sex,
                    "age_group": age_group,
                }
            )
    return pd.DataFrame.from_records(records)


def _equal(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (
        a is not None and b is not None and math.isclose(a, b, abs_tol=1e-12)
    )


def test_evaluate_metric_equals_clinfair_metrics_on_the_same_file(tmp_path):
    path = tmp_path / "predictions.parquet"
    predictions_table().to_parquet(path)
    assert main(["metrics", str(path), "--out", str(tmp_path / "report.json"), "--n-bootstrap", "0"]) == 0
    expected = json.loads((tmp_path / "report.json").read_text())["paper"]

    frame = pd.read_parquet(path)
    fairness = evaluate.load(METRIC_PATH)
    result = fairness.compute(
        predictions=[None if p is None else list(p) for p in frame["prediction"]],
        references=[list(a) for a in frame["answer"]],
        dataset=frame["dataset"].tolist(),
        sex=frame["sex"].tolist(),
        age_group=frame["age_group"].tolist(),
    )

    assert set(result["by_dataset"]) == {"synthetic", "vindr_mammo", "chexpert"}
    for key in PAPER_KEYS:
        assert _equal(result[key], expected["overall"][key]), key
        for dataset, values in expected["by_dataset"].items():
            assert _equal(result["by_dataset"][dataset][key], values[key]), (dataset, key)
    # not a trivial agreement: values are neither all 0 nor all undefined
    assert 0 < result["accuracy"] < 1 and result["f1_gap"] > 0 and result["eod"] > 0


def test_docstring_example_and_nulls_in_first_position():
    fairness = evaluate.load(METRIC_PATH)
    example = fairness.compute(
        predictions=[["benign"], None],
        references=[["benign"], ["malignant"]],
        dataset=["synthetic"] * 2,
        sex=["F", "M"],
        age_group=["A1", "A2"],
    )
    assert example["by_dataset"]["synthetic"]["acc_gap"] == 1.0
    # evaluate type-checks the first value of each input: an invalid answer or a null there must pass
    swapped = fairness.compute(
        predictions=[None, ["benign"]],
        references=[["malignant"], ["benign"]],
        dataset=["synthetic"] * 2,
        sex=[None, "F"],
        age_group=["A2", "A1"],
    )
    only_age = fairness.compute(
        predictions=[["benign"]], references=[["benign"]], dataset=["synthetic"], sex=["F"], age_group=["A1"]
    )
    assert swapped["by_dataset"]["synthetic"]["acc_gap"] == 1.0  # the age groups still count
    assert only_age["by_dataset"]["synthetic"]["accuracy"] is None  # one group per attribute: undefined

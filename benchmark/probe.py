"""Counterfactual demographic probe: does the answer change when only the stated demographics change?

Each row is asked twice or more about the same images: once with its own sex and age bin
stated in one clinical sentence before the question (``clinfair.tasks.prompts.state_demographics``),
then once per counterfactual value of the probed attribute, everything else kept: sex F <-> M;
age_group: each other bin. Rows whose probed attribute is null are skipped and counted.

Per attribute and per (original) group the report gives, with percentile bootstrap CIs
over rows: the **flip rate** (share of counterfactual questions whose parsed answer differs
from the original's; an invalid answer counts as an answer), the **accuracy change**
(counterfactual minus original exact-match accuracy) and, for backends that score labels,
the mean change in the probability of the true label (single-label tasks). An attribute
whose flip-rate interval excludes 0 is **flagged**: the model's answer depends on the stated
attribute for the same image. The per-question rows are saved for inspection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from clinfair.benchmark.bootstrap import N_BOOTSTRAP
from clinfair.benchmark.resampling import named_rng, plain_rows
from clinfair.tasks.attributes import DEMOGRAPHIC_GROUPS
from clinfair.tasks.prompts import is_correct, parse_answer, state_demographics

from clinfair.core.errors import ClinfairError

#: Per attribute the probe can state (the demographics) and per group, the counterfactual groups
#: asked: sex F <-> M; age_group: each other bin.
COUNTERFACTUALS = {
    name: {group: tuple(other for other in groups if other != group) for group in groups}
    for name, groups in DEMOGRAPHIC_GROUPS.items()
}
PROBE_ATTRIBUTES = tuple(COUNTERFACTUALS)


class ProbeInputError(ClinfairError, ValueError):
    """A probe that cannot run as asked (an attribute the task does not have)."""


@dataclass(frozen=True)
class ProbeQuestion:
    """One row asked with one set of stated demographics."""

    index: int  # the row's position in the evaluated split
    attribute: str  # the probed attribute
    original: str  # the row's own value of it
    stated: str  # the value stated in this question


def _stated_row(row: dict[str, Any], attribute: str, value: str) -> dict[str, Any]:
    sex, age_group = row["sex"], row["age_group"]
    if attribute == "sex":
        sex = value
    else:
        age_group = value
    return {**row, "question": state_demographics(row["question"], sex, age_group)}


def probe_questions(
    rows: Sequence[dict[str, Any]], attributes: Sequence[str]
) -> tuple[list[ProbeQuestion], dict]:
    """The counterfactual questions for ``rows``, and how many rows each attribute skipped (null value)."""
    unknown = [name for name in attributes if name not in COUNTERFACTUALS]
    if unknown:
        raise ProbeInputError(
            f"cannot probe {', '.join(unknown)}: the probe states {' and '.join(PROBE_ATTRIBUTES)} only"
        )
    questions, skipped = [], dict.fromkeys(attributes, 0)
    for index, row in enumerate(rows):
        for attribute in attributes:
            value = row.get(attribute)
            if value not in COUNTERFACTUALS[attribute]:
                skipped[attribute] += 1
                continue
            questions += [
                ProbeQuestion(index, attribute, value, other) for other in COUNTERFACTUALS[attribute][value]
            ]
    return questions, skipped


def run_probe(
    backend,
    rows: Sequence[dict[str, Any]],
    *,
    dataset: str,
    multi_label: bool = False,
    attributes: Sequence[str] = PROBE_ATTRIBUTES,
    scores: bool = False,
    batch_size: int = 8,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[dict, list[dict]]:
    """Ask every row with its own and with counterfactual stated demographics; returns (report, rows).

    ``backend`` is a generation backend (``clinfair.benchmark.generation``); with ``scores`` its
    ``score`` method gives label probabilities too.
    """
    questions, skipped = probe_questions(rows, attributes)
    originals = sorted({q.index for q in questions})
    asked = [(i, _stated_row(rows[i], "sex", rows[i]["sex"])) for i in originals]  # own demographics
    asked += [(q.index, _stated_row(rows[q.index], q.attribute, q.stated)) for q in questions]
    answers = _ask(backend, [row for _, row in asked], multi_label, scores, batch_size)
    original = dict(zip(originals, answers[: len(originals)]))
    records = []
    for question, answer in zip(questions, answers[len(originals) :]):
        row, before = rows[question.index], original[question.index]
        records.append(
            {
                "dataset": dataset,
                "id": row["id"],
                "index": question.index,
                "attribute": question.attribute,
                "original": question.original,
                "stated": question.stated,
                "answer": list(row["answer"]),
                "original_prediction": before["prediction"],
                "prediction": answer["prediction"],
                "original_correct": before["correct"],
                "correct": answer["correct"],
                "flipped": before["prediction"] != answer["prediction"],
                "original_completion": before["completion"],
                "completion": answer["completion"],
                "true_probability_change": (
                    answer["p_true"] - before["p_true"]
                    if answer["p_true"] is not None and before["p_true"] is not None
                    else None
                ),
            }
        )
    return summarise(records, attributes, skipped, n_bootstrap=n_bootstrap, seed=seed, level=level), records


def _ask(backend, rows: list[dict], multi_label: bool, scores: bool, batch_size: int) -> list[dict]:
    out = []
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        completions = backend.generate(batch, multi_label)
        probabilities = backend.score(batch, multi_label, mode="direct") if scores else [None] * len(batch)
        for row, completion, probs in zip(batch, completions, probabilities):
            prediction = parse_answer(completion, row["choices"], multi_label)
            p_true = None
            if probs is not None and len(row["answer"]) == 1 and not multi_label:
                p_true = float(probs[list(row["choices"]).index(row["answer"][0])])
            out.append(
                {
                    "completion": completion,
                    "prediction": prediction,
                    "p_true": p_true,
                    "correct": is_correct(prediction, row["answer"]),
                }
            )
    return out


def _mean_with_ci(
    values: np.ndarray, rng: np.random.Generator, n_bootstrap: int, level: float
) -> dict[str, Any]:
    if values.size == 0:
        return {"value": None, "ci": None, "reason": "no rows"}
    value = float(values.mean())
    if n_bootstrap <= 0:
        return {"value": value, "ci": None, "reason": None}
    means = values[plain_rows(values.size, n_bootstrap, rng)].mean(axis=1)
    low, high = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return {"value": value, "ci": [float(low), float(high)], "reason": None}


def summarise(
    records: Sequence[dict[str, Any]],
    attributes: Sequence[str],
    skipped: dict[str, int],
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Flip rate, accuracy change and true-label probability change per attribute and group, with CIs."""
    rng = named_rng(seed)  # one stream for every attribute and group, in report order
    report: dict[str, Any] = {"level": level, "n_bootstrap": n_bootstrap, "attributes": {}}
    for attribute in attributes:
        mine = [r for r in records if r["attribute"] == attribute]

        def stats(subset: list[dict]) -> dict[str, Any]:
            changes = [
                r["true_probability_change"] for r in subset if r["true_probability_change"] is not None
            ]
            return {
                "questions": len(subset),
                "flip_rate": _mean_with_ci(
                    np.array([r["flipped"] for r in subset], float), rng, n_bootstrap, level
                ),
                "accuracy_change": _mean_with_ci(
                    np.array([r["correct"] - r["original_correct"] for r in subset], float),
                    rng,
                    n_bootstrap,
                    level,
                ),
                "true_probability_change": _mean_with_ci(np.array(changes, float), rng, n_bootstrap, level)
                if changes
                else {"value": None, "ci": None, "reason": "no label scores (run with scores)"},
            }

        overall = stats(mine)
        low = (overall["flip_rate"]["ci"] or [overall["flip_rate"]["value"] or 0.0])[0]
        report["attributes"][attribute] = {
            **overall,
            "rows_skipped_null": skipped.get(attribute, 0),
            "flagged": bool(mine) and low > 0,
            "groups": {
                group: stats([r for r in mine if r["original"] == group])
                for group in sorted({r["original"] for r in mine})
            },
        }
    return report

"""The batch layout every estimator shares, and small NaN-aware helpers.

One generation batch (TRL's layout): P prompts, G rollouts each, flattened prompt-major, so rows
``p*G .. p*G+G-1`` are the G rollouts of prompt p. Every row carries its prompt's domain and
group; None or a float NaN becomes "UNK".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from clinfair.tasks.schema import UNKNOWN_GROUP

UNK = UNKNOWN_GROUP  # the group (and domain) of a prompt whose demographics are unknown


class AdvantageWarning(UserWarning):
    """Bad or degenerate input that the advantage maths handled in a defined way."""


# --------------------------------------------------------------------------------------------
# Small numeric helpers
# --------------------------------------------------------------------------------------------


def _nanstd(x: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Sample standard deviation (ddof = 1) ignoring NaN; NaN where fewer than 2 values.

    Same as TRL's ``trl.trainer.utils.nanstd``, without numpy's empty-slice warnings.
    """
    valid = ~np.isnan(x)
    count = valid.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, x, 0.0).sum(axis=axis) / count
        centred = np.where(valid, x - (mean if axis is None else np.expand_dims(mean, axis)), 0.0)
        var = (centred**2).sum(axis=axis) / (count - 1)
    return np.where(count > 1, np.sqrt(np.where(count > 1, var, 0.0)), np.nan)


def _prompt_sums(grouped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each prompt's (row's) sum and count of its scorable (non-NaN) rewards."""
    scorable = ~np.isnan(grouped)
    return np.where(scorable, grouped, 0.0).sum(axis=1), scorable.sum(axis=1)


def _label(value: Any) -> str:
    """Domain / group label: None or a float NaN (a pandas null) becomes "UNK"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNK
    return str(value)


def _as_rewards(rewards: Any) -> np.ndarray:
    """Flat float64 array; None becomes NaN (numpy does that for a float dtype)."""
    return np.asarray(rewards, dtype=np.float64).reshape(-1)


def _per_prompt(values: Sequence[Any], num_prompts: int, num_generations: int, name: str) -> list[str]:
    """Per-row labels -> one label per prompt, checking they are constant within each prompt."""
    if len(values) != num_prompts * num_generations:
        raise ValueError(
            f"{name} has {len(values)} entries, expected one per row ({num_prompts} prompts x {num_generations})"
        )
    raw = np.empty(len(values), dtype=object)
    raw[:] = list(values)  # one cell per value, whatever it is (np.array would unpack tuple values)
    raw = raw.reshape(num_prompts, num_generations)
    # equal raw values give equal labels; only a prompt whose raw values differ (None beside NaN,
    # 1 beside "1", or a real mix) needs each value's label: that keeps the usual call cheap
    try:
        mixed = np.flatnonzero((raw != raw[:, :1]).any(axis=1))
    except (TypeError, ValueError):  # a value whose != has no truth value (pandas.NA): check each
        mixed = range(num_prompts)
    for p in mixed:
        labels = {_label(v) for v in raw[p]}
        if len(labels) > 1:
            raise ValueError(
                f"{name} must be constant within a prompt's {num_generations} rollouts; prompt {p} has "
                f"{sorted(labels)}"
            )
    return [_label(v) for v in raw[:, 0]]

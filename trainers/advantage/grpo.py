"""GRPO: TRL 1.16's inline advantage, as a function (and Dr.GRPO's, with ``scale="none"``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from clinfair.trainers.advantage.common import _as_rewards, _nanstd, _prompt_sums

TRL_GRPO_EPS = 1e-4  # TRL 1.16 hard-codes `advantages / (std_rewards + 1e-4)`
GRPO_SCALES = ("group", "batch", "none")


def grpo_advantages(
    rewards: Sequence[float] | np.ndarray,
    num_generations: int,
    scale: str = "group",
    eps: float = TRL_GRPO_EPS,
) -> np.ndarray:
    """GRPO advantages exactly as TRL 1.16 computes them inline (``sum_then_normalize``).

    For prompt p with rewards r_{p,1..G} (NaN = unscorable, ignored by the statistics)::

        mean_p = nanmean_j r_{p,j}
        A      = r - mean_p                                   scale = "none"  (Dr.GRPO)
        A      = (r - mean_p) / (nanstd_j r_{p,j} + eps)        scale = "group" (default)
        A      = (r - mean_p) / (nanstd over the batch + eps)   scale = "batch"

    nanstd is the sample std (ddof = 1); with G = 1 (or a batch of one row) the std is 0.
    NaN advantages (unscorable rows, or a prompt with < 2 scorable rollouts) become 0.
    """
    if scale not in GRPO_SCALES:
        raise ValueError(f"scale must be one of {GRPO_SCALES}, got {scale!r}")
    r = _as_rewards(rewards)
    if num_generations < 1 or r.size % num_generations:
        raise ValueError(
            f"{r.size} rewards cannot be split into prompts of num_generations={num_generations}"
        )
    if r.size == 0:
        return r
    grouped = r.reshape(-1, num_generations)
    total, count = _prompt_sums(grouped)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    advantages = grouped - mean[:, None]
    if scale != "none":
        if scale == "group":
            std = _nanstd(grouped, axis=1)[:, None] if num_generations > 1 else np.zeros_like(grouped)
        else:
            std = np.full_like(grouped, _nanstd(r) if r.size > 1 else 0.0)
        advantages = advantages / (std + eps)
    return np.nan_to_num(advantages.reshape(-1), nan=0.0)

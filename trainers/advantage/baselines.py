"""Baselines of the paper's table: RLOO, REINFORCE++ and REINFORCE++-baseline.

The authors ran these as verl advantage estimators (DDVD233/mirl ``core_algos.py``) under the
same PPO-clip token loss as GRPO; clinfair does the same under TRL's GRPO loss. Unscorable
rewards (None/NaN) are excluded from every statistic and get advantage 0, as in TRL.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from clinfair.trainers.advantage.common import _as_rewards, _prompt_sums

VERL_WHITEN_EPS = 1e-8  # verl's masked_whiten: (x - mean) * rsqrt(var + 1e-8)


def _grouped(rewards: Sequence[float | None] | np.ndarray, num_generations: int) -> np.ndarray:
    r = _as_rewards(rewards)
    if num_generations < 1 or r.size % num_generations:
        raise ValueError(
            f"{r.size} rewards cannot be split into prompts of num_generations={num_generations}"
        )
    return np.where(np.isfinite(r), r, np.nan).reshape(-1, num_generations)


def rloo_advantages(rewards: Sequence[float | None] | np.ndarray, num_generations: int) -> np.ndarray:
    """RLOO (Ahmadian et al. 2024): A = r - mean of the prompt's *other* scorable rollouts.

    Equal to TRL 1.16's ``RLOOTrainer`` advantage (``normalize_advantages=False``, β = 0) and to
    verl's ``compute_rloo_outcome_advantage`` (r·G/(G-1) - mean_p·G/(G-1) is the same number).
    A prompt with fewer than two scorable rollouts has no baseline: advantage 0, as TRL
    (verl would keep the raw reward when G = 1).
    """
    grouped = _grouped(rewards, num_generations)
    total, count = _prompt_sums(grouped)
    with np.errstate(invalid="ignore", divide="ignore"):
        advantages = grouped - (total[:, None] - grouped) / (count[:, None] - 1)
    return np.nan_to_num(np.where(count[:, None] > 1, advantages, np.nan), nan=0.0).reshape(-1)


def whiten(values: np.ndarray, weights: np.ndarray | None = None, eps: float = VERL_WHITEN_EPS) -> np.ndarray:
    """verl's ``masked_whiten`` of a per-sequence value broadcast over its tokens.

    Each value counts ``weights`` times (its completion's token count; None = once):
    mean = Σ w·x / Σ w, var = Σ w·(x - mean)² / (Σ w - 1) (verl's Bessel correction over
    tokens), result (x - mean) / √(var + eps). NaN values are left out and stay NaN. Fewer than
    two counted units (Σ w ≤ 1) cannot be whitened (verl raises): the values are only centred.
    """
    x = np.asarray(values, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != x.shape or (w < 0).any():
        raise ValueError(f"whitening weights must be {x.shape[0]} counts >= 0, got shape {w.shape}")
    valid = ~np.isnan(x) & (w > 0)
    total = w[valid].sum()
    if total == 0:
        return x
    mean = (w[valid] * x[valid]).sum() / total
    if total <= 1:
        return x - mean
    var = (w[valid] * (x[valid] - mean) ** 2).sum() / (total - 1)
    return (x - mean) / np.sqrt(var + eps)


def reinforce_pp_advantages(
    rewards: Sequence[float | None] | np.ndarray,
    num_generations: int,
    baseline: bool = False,
    lengths: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """REINFORCE++ (Hu 2025, arXiv 2501.03262) on outcome rewards, as verl computes it.

    ``baseline=False`` (verl ``compute_reinforce_plus_plus_outcome_advantage``, γ = 1, no KL in
    the reward): every token's return is the outcome reward r; the returns are whitened over
    all tokens of the batch, so A = whiten(r). No per-prompt baseline.
    ``baseline=True`` (``compute_reinforce_plus_plus_baseline_outcome_advantage``): r minus the
    prompt's mean reward (over scorable rollouts; 0 when G = 1, as verl), then whitened over
    the batch's tokens. ``lengths``: completion token counts, the whitening weights of verl's
    token-level statistics (None: one weight per completion).
    """
    grouped = _grouped(rewards, num_generations)
    if baseline and num_generations > 1:
        total, count = _prompt_sums(grouped)
        grouped = grouped - (total / np.maximum(count, 1))[:, None]
    flat = grouped.reshape(-1)
    weights = None if lengths is None else np.asarray(lengths, dtype=np.float64).reshape(-1)
    if weights is not None and weights.size != flat.size:
        raise ValueError(f"lengths has {weights.size} entries for {flat.size} rewards")
    return np.nan_to_num(whiten(flat, weights), nan=0.0)

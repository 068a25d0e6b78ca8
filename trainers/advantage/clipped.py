"""Clipped GRPO (a throwaway example method): GRPO advantages clipped to [-clip, clip]."""

from __future__ import annotations

import numpy as np
from clinfair.trainers.advantage.estimators import AdvantageEstimator
from clinfair.trainers.advantage.grpo import grpo_advantages


class ClippedGRPOAdvantage(AdvantageEstimator):
    """GRPO advantages clipped to [-clip, clip]; a prompt's advantages depend on its rewards only."""

    per_prompt = True

    def __init__(self, num_generations: int, clip: float = 1.0) -> None:
        super().__init__(num_generations)
        self.clip = clip

    def __call__(self, rewards, domains=(), groups=(), true_groups=None) -> np.ndarray:
        return np.clip(grpo_advantages(rewards, self.num_generations), -self.clip, self.clip)

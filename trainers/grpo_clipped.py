"""Clipped GRPO (a throwaway example method): GRPO with advantages clipped to [-1, 1]."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from clinfair.trainers.advantage.clipped import ClippedGRPOAdvantage
from clinfair.trainers.gathered import GatheredBatchTrainer
from clinfair.trainers.grpo import GRPOConfig, default_config


@dataclass
class ClippedGRPOConfig(GRPOConfig):
    """``GRPOConfig`` for clipped GRPO.

    Parameters: those of ``GRPOConfig`` (no field added).
    """


class ClippedGRPOTrainer(GatheredBatchTrainer):
    """GRPO's loss with clipped GRPO advantages over the gathered batch."""

    _tag_names = ["trl", "grpo-clipped", "clinfair"]

    def __init__(self, model, reward_funcs, args: ClippedGRPOConfig | None = None, **kwargs):
        args = args or default_config(ClippedGRPOConfig, model, "GRPO-clipped")
        super().__init__(model, reward_funcs, args=args, **kwargs)
        self.estimator = ClippedGRPOAdvantage(self.num_generations)

    def compute_advantages(self, rewards: np.ndarray, domains: list, groups: list) -> np.ndarray:
        return self.estimator(rewards)

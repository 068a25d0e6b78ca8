"""RLOO (Ahmadian et al. 2024, "Back to Basics"), a baseline of the FairGRPO paper's table.

Each rollout's advantage is its reward minus the mean reward of the prompt's *other* G - 1
rollouts (``clinfair.trainers.advantage.rloo_advantages``), taken over the generation batch gathered
from all processes (``clinfair.trainers.gathered``). No std scaling, no batch whitening.

The authors ran RLOO as a verl advantage estimator (``algorithm.adv_estimator=rloo``) under
the same PPO-clip token loss as their GRPO runs; this trainer does the same under TRL's GRPO
loss. It is not ``trl.RLOOTrainer``, whose loss is a sequence-level ratio (the advantages are
the same numbers: ``tests/test_advantage_baselines.py`` checks them against that trainer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from clinfair.trainers.advantage import rloo_advantages
from clinfair.trainers.gathered import GatheredBatchTrainer
from clinfair.trainers.grpo import GRPOConfig, default_config


@dataclass
class RLOOConfig(GRPOConfig):
    """``GRPOConfig`` for RLOO.

    Parameters: those of ``GRPOConfig`` (no field added). ``scale_rewards`` is not used (RLOO
    does not divide by a std); ``num_generations`` must be at least 2 for a leave-one-out baseline.
    """


class RLOOTrainer(GatheredBatchTrainer):
    """GRPO's loss with RLOO advantages over the gathered batch."""

    _tag_names = ["trl", "rloo", "clinfair"]

    def __init__(self, model, reward_funcs, args: RLOOConfig | None = None, **kwargs):
        args = args or default_config(RLOOConfig, model, "RLOO")
        super().__init__(model, reward_funcs, args=args, **kwargs)

    def compute_advantages(self, rewards: np.ndarray, domains: list, groups: list) -> np.ndarray:
        return rloo_advantages(rewards, self.num_generations)

"""Group-DRO baseline (Sagawa et al. 2020, online version), as the FairGRPO paper compares it.

Each (domain, group) cell g carries a weight q_g, updated after every training generation
batch from the cell's mean reward r̄_g (rewards in [0, 1], 1 best)::

    q_g <- q_g · exp(η · (1 - r̄_g)),  q normalised to sum 1,

so the cells the policy serves worst gain weight. The advantage of a rollout of cell g is
TRL's GRPO advantage times q_g / mean over the batch's rows of q (mean weight 1, so the loss
scale matches GRPO). Multiplying the advantage is the same as weighting that rollout's
clipped loss. The maths is ``clinfair.trainers.advantage.GroupDROWeights``; the statistics are taken
over the gathered batch (``clinfair.trainers.gathered``); q is logged under ``dro/q/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from clinfair.trainers.advantage import UNK, GroupDROWeights, grpo_advantages
from clinfair.trainers.gathered import GatheredBatchTrainer
from clinfair.trainers.grpo import GRPOConfig, default_config


@dataclass
class DROConfig(GRPOConfig):
    """``GRPOConfig`` plus the group-DRO step size.

    Parameters of ``GRPOConfig``, plus:

    Parameters:
        dro_eta (`float`, *optional*, defaults to `0.1`):
            Step size η of the exponentiated group-weight update (>= 0; 0 keeps the weights uniform).
    """

    dro_eta: float = field(
        default=0.1, metadata={"help": "Step size η of the exponentiated group-weight update."}
    )

    def __post_init__(self):
        super().__post_init__()
        GroupDROWeights(self.dro_eta)  # validates η


def cell_keys(domains: list, groups: list) -> list[str]:
    """'domain/group' of each row; None becomes 'UNK'."""
    return [f"{UNK if d is None else d}/{UNK if g is None else g}" for d, g in zip(domains, groups)]


class DROTrainer(GatheredBatchTrainer):
    """GRPO whose training advantages are multiplied by online group-DRO weights."""

    _tag_names = ["trl", "grpo-dro", "clinfair"]

    def __init__(self, model, reward_funcs, args: DROConfig | None = None, **kwargs):
        args = args or default_config(DROConfig, model, "GroupDRO")
        super().__init__(model, reward_funcs, args=args, **kwargs)
        self.dro = GroupDROWeights(args.dro_eta)

    def compute_advantages(self, rewards: np.ndarray, domains: list, groups: list) -> np.ndarray:
        keys = cell_keys(domains, groups)
        q = self.dro.update(keys, rewards)
        self._log_scalars({f"dro/q/{key}": value for key, value in q.items()})
        base = grpo_advantages(rewards, self.num_generations, self.scale_rewards)  # = TRL's own
        return base * self.dro.weights_for(keys)

    def advantage_state(self) -> GroupDROWeights:
        return self.dro

    def load_advantage_state(self, state: GroupDROWeights) -> None:
        self.dro = state

"""REINFORCE++ (Hu 2025, arXiv 2501.03262), a baseline of the FairGRPO paper's table.

No per-prompt baseline: every rollout's outcome reward is whitened over the whole generation
batch, gathered from all processes (``clinfair.trainers.gathered``)::

    A = (r - mean) / √(var + 1e-8)        mean, var over the batch's completion tokens

as verl's ``compute_reinforce_plus_plus_outcome_advantage`` does with γ = 1 and no KL in the
reward (the authors' settings): each token's return is the outcome reward, and verl whitens
the returns over every response token of the batch, so a completion counts with its length
(``whiten_weighting="tokens"``; ``"completions"`` counts each completion once). The maths is
``clinfair.trainers.advantage.reinforce_pp_advantages``; the loss is TRL's GRPO loss, as the authors
used the same PPO-clip loss for every estimator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from accelerate.utils import gather_object
from clinfair.trainers.advantage import reinforce_pp_advantages
from clinfair.trainers.gathered import GatheredBatchTrainer
from clinfair.trainers.grpo import GRPOConfig, default_config

WHITEN_WEIGHTINGS = ("tokens", "completions")


@dataclass
class REINFORCEPPConfig(GRPOConfig):
    """``GRPOConfig`` plus how the batch whitening weighs completions (``scale_rewards`` is unused).

    Parameters of ``GRPOConfig``, plus:

    Parameters:
        whiten_weighting (`str`, *optional*, defaults to `"tokens"`):
            ``"tokens"``: each completion counts with its token count in the batch mean and variance,
            as verl whitens over response tokens; ``"completions"``: each completion counts once.
    """

    whiten_weighting: str = field(
        default="tokens",
        metadata={
            "help": "'tokens': each completion counts with its token count in the batch mean and variance, as "
            "verl whitens over response tokens; 'completions': each completion counts once."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if self.whiten_weighting not in WHITEN_WEIGHTINGS:
            raise ValueError(
                f"whiten_weighting must be one of {WHITEN_WEIGHTINGS}, got {self.whiten_weighting!r}"
            )


class REINFORCEPPTrainer(GatheredBatchTrainer):
    """GRPO's loss with REINFORCE++ advantages (batch-whitened rewards) over the gathered batch."""

    _tag_names = ["trl", "reinforce-pp", "clinfair"]
    #: subtract the prompt's mean reward before whitening (REINFORCE++-baseline)
    prompt_baseline = False

    def __init__(self, model, reward_funcs, args: REINFORCEPPConfig | None = None, **kwargs):
        args = args or default_config(REINFORCEPPConfig, model, "REINFORCE++")
        super().__init__(model, reward_funcs, args=args, **kwargs)
        self._completion_lengths: list[int] = []

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        # token counts of the gathered batch, in the same process order as the gathered rewards
        self._completion_lengths = gather_object([len(ids) for ids in completion_ids_list])
        return super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)

    def compute_advantages(self, rewards: np.ndarray, domains: list, groups: list) -> np.ndarray:
        lengths = self._completion_lengths if self.args.whiten_weighting == "tokens" else None
        return reinforce_pp_advantages(rewards, self.num_generations, self.prompt_baseline, lengths)

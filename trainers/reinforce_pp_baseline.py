"""REINFORCE++-baseline (Hu 2025, arXiv 2501.03262): REINFORCE++ with a per-prompt baseline.

The prompt's mean reward is subtracted from each rollout's reward (nothing when G = 1), then
the result is whitened over the gathered generation batch's completion tokens::

    A = whiten(r - mean_p)

as verl's ``compute_reinforce_plus_plus_baseline_outcome_advantage``. Everything else is
REINFORCE++ (``clinfair.trainers.reinforce_pp``), including ``whiten_weighting``.
"""

from __future__ import annotations

from dataclasses import dataclass

from clinfair.trainers.grpo import default_config
from clinfair.trainers.reinforce_pp import REINFORCEPPConfig, REINFORCEPPTrainer


@dataclass
class REINFORCEPPBaselineConfig(REINFORCEPPConfig):
    """``REINFORCEPPConfig`` for REINFORCE++-baseline.

    Parameters: those of ``REINFORCEPPConfig`` (no field added: ``whiten_weighting``).
    """


class REINFORCEPPBaselineTrainer(REINFORCEPPTrainer):
    """REINFORCE++ whose rewards are centred on their prompt's mean before the batch whitening."""

    _tag_names = ["trl", "reinforce-pp-baseline", "clinfair"]
    prompt_baseline = True

    def __init__(self, model, reward_funcs, args: REINFORCEPPBaselineConfig | None = None, **kwargs):
        args = args or default_config(REINFORCEPPBaselineConfig, model, "REINFORCE++-baseline")
        super().__init__(model, reward_funcs, args=args, **kwargs)

"""Dr.GRPO (Liu et al. 2025, "Understanding R1-Zero-Like Training"): GRPO without its biases.

Two changes, which only make sense together: the advantage is not divided by the group's
reward std (A = r - mean_p, TRL ``scale_rewards="none"``), and the token losses are summed
and divided by a constant (``max_completion_length``) instead of by each completion's length
(TRL ``loss_type="dr_grpo"``). ``DrGRPOConfig`` defaults to both and refuses anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clinfair.trainers.grpo import GRPOConfig, GRPOTrainer, default_config

DR_GRPO_SETTINGS = {"loss_type": "dr_grpo", "scale_rewards": "none"}


def check_dr_grpo(args) -> None:
    """Raise ValueError unless ``args`` has both Dr.GRPO settings."""
    wrong = {k: getattr(args, k) for k, v in DR_GRPO_SETTINGS.items() if getattr(args, k) != v}
    if wrong:
        raise ValueError(
            f"Dr.GRPO needs loss_type='dr_grpo' and scale_rewards='none' together; got {wrong}. "
            "Use the grpo method for other settings."
        )


@dataclass
class DrGRPOConfig(GRPOConfig):
    """``GRPOConfig`` preset to Dr.GRPO: ``loss_type="dr_grpo"`` and ``scale_rewards="none"``.

    Parameters of ``GRPOConfig``, with two defaults changed (any other value is refused):

    Parameters:
        loss_type (`str`, *optional*, defaults to `"dr_grpo"`):
            Fixed to ``"dr_grpo"``: token losses summed and divided by a constant.
        scale_rewards (`str`, *optional*, defaults to `"none"`):
            Fixed to ``"none"``: advantages are not divided by the group's reward std.
    """

    loss_type: str = field(default="dr_grpo", metadata={"help": "Fixed to 'dr_grpo' (constant normaliser)."})
    scale_rewards: str = field(default="none", metadata={"help": "Fixed to 'none' (no std scaling)."})

    def __post_init__(self):
        super().__post_init__()  # maps scale_rewards=False to "none" first
        check_dr_grpo(self)


class DrGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` that checks its arguments carry both Dr.GRPO settings."""

    _tag_names = ["trl", "dr-grpo", "clinfair"]

    def __init__(self, model, reward_funcs, args: DrGRPOConfig | None = None, **kwargs):
        args = args or default_config(DrGRPOConfig, model, "DrGRPO")
        check_dr_grpo(args)
        super().__init__(model, reward_funcs, args=args, **kwargs)

"""GRPO: TRL's ``GRPOTrainer`` as is, behind clinfair's config so every method looks alike.

``GRPOConfig`` adds the names of the two columns the fairness-aware methods read (the
domain and the demographic group, see ``clinfair.trainers.data``); plain GRPO ignores them.
Advantage: A = (r - mean_p) / (std_p + 1e-4) per prompt (TRL's ``scale_rewards="group"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import trl


@dataclass
class GRPOConfig(trl.GRPOConfig):
    """``trl.GRPOConfig`` plus the dataset columns holding each prompt's domain and group.

    Parameters of ``trl.GRPOConfig``, plus:

    Parameters:
        domain_column (`str`, *optional*, defaults to `"dataset"`):
            Column with each prompt's domain (the dataset / task key).
        group_column (`str`, *optional*, defaults to `"group"`):
            Column with each prompt's demographic group key (e.g. ``"F|A3"``, or ``"UNK"``).
    """

    domain_column: str = field(
        default="dataset",
        metadata={"help": "Column with each prompt's domain (the dataset / task key)."},
    )
    group_column: str = field(
        default="group",
        metadata={"help": "Column with each prompt's demographic group key (e.g. 'F|A3', or 'UNK')."},
    )


def default_config(config_class: type[GRPOConfig], model, method: str) -> GRPOConfig:
    """What TRL builds when a trainer gets no ``args``: output dir ``<model name>-<method>``."""
    name = model if isinstance(model, str) else model.config._name_or_path
    return config_class(f"{str(name).rstrip('/').split('/')[-1]}-{method}")


class GRPOTrainer(trl.GRPOTrainer):
    """``trl.GRPOTrainer``, unchanged."""

    _tag_names = ["trl", "grpo", "clinfair"]

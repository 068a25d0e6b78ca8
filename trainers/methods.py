"""The training methods: each declared once, here, by import strings.

A method is a name, a TRL-style ``Config`` dataclass and the ``Trainer`` that reads it (both
named as ``"module:Class"`` and imported only when used, so listing the methods, as
``clinfair train --help`` does, imports no TRL or torch), the recipe keys the method sets
unless a recipe or an override does, and a one-line description.

Adding a method is one entry in :data:`METHODS`, plus the module holding its Config and
Trainer, plus its tests; ``clinfair train``, the recipes, the study and the demo read this
table.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from clinfair.core.errors import ClinfairError


class UnknownMethodError(ClinfairError, ValueError):
    """A method name that is not in :data:`METHODS`."""


def import_object(path: str) -> Any:
    """The object an import string ``"package.module:Name"`` names."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Method:
    """One training method.

    Parameters:
        name (`str`):
            The key of ``clinfair train --method`` and of result files' ``method`` field.
        config (`str`):
            Import string of the method's Config dataclass (a ``clinfair.trainers.grpo.GRPOConfig``).
        trainer (`str`):
            Import string of the method's Trainer (a ``trl.GRPOTrainer``).
        description (`str`):
            One line for ``clinfair train --help``.
        recipe_defaults (`Mapping[str, Any]`, *optional*):
            Recipe keys this method sets unless the recipe or an override sets them.
    """

    name: str
    config: str
    trainer: str
    description: str
    recipe_defaults: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipe_defaults", MappingProxyType(dict(self.recipe_defaults)))

    def config_class(self) -> type:
        return import_object(self.config)

    def trainer_class(self) -> type:
        return import_object(self.trainer)


def _methods(*methods: Method) -> dict[str, Method]:
    return {method.name: method for method in methods}


#: Every training method, in the order ``--help`` lists them.
METHODS: dict[str, Method] = _methods(
    Method(
        "grpo",
        "clinfair.trainers.grpo:GRPOConfig",
        "clinfair.trainers.grpo:GRPOTrainer",
        "TRL's GRPO: rewards standardised within each prompt's rollouts",
    ),
    Method(
        "dr_grpo",
        "clinfair.trainers.dr_grpo:DrGRPOConfig",
        "clinfair.trainers.dr_grpo:DrGRPOTrainer",
        "Dr.GRPO: GRPO without the std division and the length normalisation",
    ),
    Method(
        "fairgrpo",
        "clinfair.trainers.fairgrpo:FairGRPOConfig",
        "clinfair.trainers.fairgrpo:FairGRPOTrainer",
        "FairGRPO: GRPO advantages scaled by domain and demographic-group temperatures",
    ),
    Method(
        "fairgrpo_nd",
        "clinfair.trainers.fairgrpo_nd:FairGRPONDConfig",
        "clinfair.trainers.fairgrpo_nd:FairGRPONDTrainer",
        "FairGRPO without demographics: groups are K-means clusters of reward vectors",
    ),
    Method(
        "resampling",
        "clinfair.trainers.resampling:ResamplingConfig",
        "clinfair.trainers.resampling:ResamplingTrainer",
        "GRPO on prompts drawn with probability 1 / count of their (domain, group)",
    ),
    Method(
        "dro",
        "clinfair.trainers.dro:DROConfig",
        "clinfair.trainers.dro:DROTrainer",
        "online group-DRO: GRPO advantages weighted towards the worst-served groups",
    ),
    Method(
        "rloo",
        "clinfair.trainers.rloo:RLOOConfig",
        "clinfair.trainers.rloo:RLOOTrainer",
        "RLOO: reward minus the mean of the prompt's other rollouts",
    ),
    Method(
        "reinforce_pp",
        "clinfair.trainers.reinforce_pp:REINFORCEPPConfig",
        "clinfair.trainers.reinforce_pp:REINFORCEPPTrainer",
        "REINFORCE++: rewards whitened over the whole batch",
    ),
    Method(
        "reinforce_pp_baseline",
        "clinfair.trainers.reinforce_pp_baseline:REINFORCEPPBaselineConfig",
        "clinfair.trainers.reinforce_pp_baseline:REINFORCEPPBaselineTrainer",
        "REINFORCE++-baseline: prompt-mean-centred rewards whitened over the batch",
    ),
)


def get_method(name: str) -> Method:
    """The method called ``name``; an unknown name is one error listing the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise UnknownMethodError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None

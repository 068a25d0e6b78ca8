"""The training methods: each declared once, here, by import strings.

A method is a name, a TRL-style ``Config`` dataclass and the ``Trainer`` that reads it, its
pure advantage estimator (numpy only, ``clinfair.trainers.advantage.estimators``' calling
convention), all three named as ``"module:Class"`` and imported only when used (so listing the
methods, as ``clinfair train --help`` does, imports no TRL or torch), the recipe keys the
method sets unless a recipe or an override does, and a one-line description.

Adding a method is one entry in :data:`METHODS`, plus the module(s) holding its Config,
Trainer and estimator, plus its tests; ``clinfair train``, the recipes, the study, the demo
and ``clinfair simulate`` (through :meth:`Method.advantage_estimator`) read this table.
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
        advantage (`str` or `None`, *optional*):
            Import string of the method's pure advantage estimator (a
            ``clinfair.trainers.advantage.estimators.AdvantageEstimator`` subclass, numpy only), which
            ``clinfair simulate`` runs; every shipped method names one.
    """

    name: str
    config: str
    trainer: str
    description: str
    recipe_defaults: Mapping[str, Any] = field(default_factory=dict)
    advantage: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipe_defaults", MappingProxyType(dict(self.recipe_defaults)))

    def config_class(self) -> type:
        return import_object(self.config)

    def trainer_class(self) -> type:
        return import_object(self.trainer)

    def advantage_class(self) -> type:
        if self.advantage is None:
            raise UnknownMethodError(
                f"method {self.name!r} names no pure advantage estimator (Method.advantage)"
            )
        return import_object(self.advantage)

    def advantage_estimator(self, num_generations: int, **options: Any) -> Any:
        """A fresh estimator for one run: ``advantage_class()(num_generations, **options)``; the
        options are the estimator's own (e.g. ``fair_mode``, ``fair_advantage``, ``dro_eta``)."""
        return self.advantage_class()(num_generations, **options)


_ESTIMATORS = "clinfair.trainers.advantage.estimators"


def _methods(*methods: Method) -> dict[str, Method]:
    return {method.name: method for method in methods}


#: Every training method, in the order ``--help`` lists them.
METHODS: dict[str, Method] = _methods(
    Method(
        "grpo",
        "clinfair.trainers.grpo:GRPOConfig",
        "clinfair.trainers.grpo:GRPOTrainer",
        "TRL's GRPO: rewards standardised within each prompt's rollouts",
        advantage=f"{_ESTIMATORS}:GRPOAdvantage",
    ),
    Method(
        "dr_grpo",
        "clinfair.trainers.dr_grpo:DrGRPOConfig",
        "clinfair.trainers.dr_grpo:DrGRPOTrainer",
        "Dr.GRPO: GRPO without the std division and the length normalisation",
        advantage=f"{_ESTIMATORS}:DrGRPOAdvantage",
    ),
    Method(
        "fairgrpo",
        "clinfair.trainers.fairgrpo:FairGRPOConfig",
        "clinfair.trainers.fairgrpo:FairGRPOTrainer",
        "FairGRPO: GRPO advantages scaled by domain and demographic-group temperatures",
        advantage=f"{_ESTIMATORS}:FairGRPOAdvantage",
    ),
    Method(
        "fairgrpo_nd",
        "clinfair.trainers.fairgrpo_nd:FairGRPONDConfig",
        "clinfair.trainers.fairgrpo_nd:FairGRPONDTrainer",
        "FairGRPO without demographics: groups are K-means clusters of reward vectors",
        advantage=f"{_ESTIMATORS}:FairGRPONDAdvantage",
    ),
    Method(
        "resampling",
        "clinfair.trainers.resampling:ResamplingConfig",
        "clinfair.trainers.resampling:ResamplingTrainer",
        "GRPO on prompts drawn with probability 1 / count of their (domain, group)",
        advantage=f"{_ESTIMATORS}:ResamplingAdvantage",
    ),
    Method(
        "dro",
        "clinfair.trainers.dro:DROConfig",
        "clinfair.trainers.dro:DROTrainer",
        "online group-DRO: GRPO advantages weighted towards the worst-served groups",
        advantage=f"{_ESTIMATORS}:DROAdvantage",
    ),
    Method(
        "rloo",
        "clinfair.trainers.rloo:RLOOConfig",
        "clinfair.trainers.rloo:RLOOTrainer",
        "RLOO: reward minus the mean of the prompt's other rollouts",
        advantage=f"{_ESTIMATORS}:RLOOAdvantage",
    ),
    Method(
        "reinforce_pp",
        "clinfair.trainers.reinforce_pp:REINFORCEPPConfig",
        "clinfair.trainers.reinforce_pp:REINFORCEPPTrainer",
        "REINFORCE++: rewards whitened over the whole batch",
        advantage=f"{_ESTIMATORS}:REINFORCEPPAdvantage",
    ),
    Method(
        "reinforce_pp_baseline",
        "clinfair.trainers.reinforce_pp_baseline:REINFORCEPPBaselineConfig",
        "clinfair.trainers.reinforce_pp_baseline:REINFORCEPPBaselineTrainer",
        "REINFORCE++-baseline: prompt-mean-centred rewards whitened over the batch",
        advantage=f"{_ESTIMATORS}:REINFORCEPPBaselineAdvantage",
    ),
)


def get_method(name: str) -> Method:
    """The method called ``name``; an unknown name is one error listing the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise UnknownMethodError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None

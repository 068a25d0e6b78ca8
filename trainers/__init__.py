"""clinfair trainers: fairness-aware advantage maths (framework-free) and thin TRL adapters.

The public classes are exported lazily, so ``import clinfair.trainers`` (or any pure submodule, such
as :mod:`clinfair.trainers.advantage`) imports no TRL or torch::

    from clinfair.trainers import FairGRPOConfig, FairGRPOTrainer

Every method's Config and Trainer are listed in :data:`clinfair.trainers.methods.METHODS`.
"""

from __future__ import annotations

from typing import Any

from clinfair.trainers.methods import METHODS, Method, get_method, import_object

#: public name -> import string, for the Config and Trainer of every method
_LAZY: dict[str, str] = {
    path.rpartition(":")[2]: path for method in METHODS.values() for path in (method.config, method.trainer)
}
_LAZY.update(
    {
        "FairAdvantageConfig": "clinfair.trainers.advantage:FairAdvantageConfig",
        "FairAdvantageScaler": "clinfair.trainers.advantage:FairAdvantageScaler",
        "RecipeArguments": "clinfair.trainers.recipes:RecipeArguments",
        "load_recipe": "clinfair.trainers.recipes:load_recipe",
        "build_trainer": "clinfair.trainers.build:build_trainer",
    }
)

__all__ = ["METHODS", "Method", "get_method", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = import_object(_LAZY[name])
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'trainers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

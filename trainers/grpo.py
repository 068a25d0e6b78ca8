"""GRPO: TRL's ``GRPOTrainer`` as is, behind clinfair's config so every method looks alike.

``GRPOConfig`` adds the names of the two columns the fairness-aware methods read (the
domain and the demographic group, see ``clinfair.trainers.data``); plain GRPO ignores them.
Advantage: A = (r - mean_p) / (std_p + 1e-4) per prompt (TRL's ``scale_rewards="group"``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
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
    """``trl.GRPOTrainer``; with ``use_vllm`` and ``vllm_mode="colocate"`` its vLLM engine runs in the
    policy's dtype (:func:`colocated_engine_dtype`)."""

    _tag_names = ["trl", "grpo", "clinfair"]

    def __init__(self, model, *args, **kwargs):
        config = kwargs.get("args", args[1] if len(args) > 1 else None)
        colocated = getattr(config, "use_vllm", False) and getattr(config, "vllm_mode", None) == "colocate"
        dtype = getattr(model, "dtype", None)
        with colocated_engine_dtype(dtype if colocated else None):
            super().__init__(model, *args, **kwargs)


@contextmanager
def colocated_engine_dtype(dtype) -> Iterator[None]:
    """Start TRL's colocated vLLM engine in ``dtype`` (a torch dtype; None leaves TRL as it is).

    TRL 1.16 builds the engine with vLLM's ``dtype="auto"``, which runs a float32 policy in
    bfloat16: rollouts and the fairness callback's completions would then not be the policy's
    (measured: all 8 of a callback's completions differed from the policy's greedy ones). TRL has
    no setting for it, so the engine constructor it calls gets the dtype for the time TRL builds it.
    """
    import trl.generation.vllm_generation as generation

    if dtype is None or not hasattr(generation, "LLM"):  # no vLLM: TRL refuses use_vllm itself
        yield
        return
    original = generation.LLM
    generation.LLM = functools.partial(original, dtype=str(dtype).removeprefix("torch."))
    try:
        yield
    finally:
        generation.LLM = original

"""FairGRPO_ND: FairGRPO without demographics (Dai et al. 2025, arXiv 2510.19893).

Identical to FairGRPO except for where the groups come from: inside each domain, prompts
are clustered by K-means on their vector of G rewards (``FairAdvantageConfig`` with
``grouping="clusters"``; k by the elbow rule, history bounded by ``max_history``). When the
dataset does carry a ``group`` column, it is used only to score the clusters (ARI / NMI,
logged as ``fair/ari`` and ``fair/nmi``, and written to ``fairness.jsonl``), never for the
advantages.

``fair_mode="paper"`` (default): the paper's formula made robust, with sorted reward vectors
and a bounded history. ``fair_mode="reference"``: the authors' FairGRPO_ND
(``FairAdvantageConfig.reference_nd()``: inverse-cluster-size-weighted domain mean, floored
and clamped factor, raw-reward fallback, whole-history K-means on float32 vectors as theirs;
its docstring lists the remaining, rounding-level or edge-case, differences), for reproducing the paper.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clinfair.trainers.advantage import UNK
from clinfair.trainers.fairgrpo import FairGRPOConfig, FairGRPOTrainer
from clinfair.trainers.grpo import default_config


@dataclass
class FairGRPONDConfig(FairGRPOConfig):
    """``FairGRPOConfig`` whose groups are always K-means clusters of reward vectors.

    Parameters: those of ``FairGRPOConfig`` (no field added); ``fair_mode="reference"`` is
    ``FairAdvantageConfig.reference_nd()`` and ``fair_advantage`` may not set ``grouping``.
    """

    clusters = True

    def __post_init__(self):
        given = self.fair_advantage.get("grouping") if isinstance(self.fair_advantage, Mapping) else None
        if given not in (None, "clusters"):  # said before the mode's other fields could object to it
            raise ValueError(
                f"FairGRPO_ND groups by clusters; fair_advantage.grouping={given!r} is not allowed"
            )
        super().__post_init__()
        if self.fair_advantage.grouping != "clusters":
            raise ValueError(
                f"FairGRPO_ND groups by clusters; fair_advantage.grouping={self.fair_advantage.grouping!r} "
                "is not allowed"
            )


class FairGRPONDTrainer(FairGRPOTrainer):
    """FairGRPO with K-means groups (no demographics needed)."""

    _tag_names = ["trl", "fairgrpo-nd", "clinfair"]

    def __init__(self, model, reward_funcs, args: FairGRPONDConfig | None = None, **kwargs):
        args = args or default_config(FairGRPONDConfig, model, "FairGRPO-ND")
        super().__init__(model, reward_funcs, args=args, **kwargs)

    def true_groups(self, groups: list) -> list | None:
        known = any(g is not None and g != UNK for g in groups)
        return list(groups) if known else None

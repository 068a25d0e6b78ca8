"""FairGRPO (Dai et al. 2025, arXiv 2510.19893): GRPO advantages scaled by group temperatures.

The maths lives in ``clinfair.trainers.advantage`` (pure numpy); this is the TRL adapter. Each
training generation batch is gathered over all processes (``clinfair.trainers.gathered``), and the
advantages of the whole batch come from a stateful ``FairAdvantageScaler``::

    s = GRPO advantage;  a = s / max(T_d · T_{d,g}, ε);  then re-normalised over the batch,
    T(N, r̄) = √(N·r̄) over the statistics window (by default the whole run so far),

with d the prompt's domain (``dataset`` column) and g its demographic group (``group``).
Small or poorly performing groups get small temperatures, so their signal is amplified.

``fair_mode="paper"`` (default) is the paper's formula made robust (floored r̄, z-score),
``fair_mode="reference"`` the authors' code (``FairAdvantageConfig.reference()``); any
field of ``FairAdvantageConfig`` can be overridden through ``fair_advantage``. The
scaler's statistics (N, r̄, T per domain and group) are logged under ``fair/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from clinfair.trainers.advantage import FairAdvantageConfig, FairAdvantageScaler
from clinfair.trainers.gathered import GatheredBatchTrainer
from clinfair.trainers.grpo import GRPOConfig, default_config

from clinfair.core.yamlio import check_keys

FAIR_MODES = ("paper", "reference")


@dataclass
class FairGRPOConfig(GRPOConfig):
    """``GRPOConfig`` plus the FairGRPO advantage settings.

    Parameters of ``GRPOConfig``, plus:

    Parameters:
        fair_mode (`str`, *optional*, defaults to `"paper"`):
            ``"paper"``: the paper's formula with robust defaults; ``"reference"``: the authors' code
            (``FairAdvantageConfig.reference()``).
        fair_advantage (`dict[str, Any]` or `None`, *optional*):
            Overrides of ``clinfair.trainers.advantage.FairAdvantageConfig`` fields applied on top of the mode,
            e.g. ``{"window": "batch"}``; an unknown field is an error.
    """

    fair_mode: str = field(
        default="paper",
        metadata={
            "help": "'paper' (the paper's formula, robust defaults) or 'reference' (the authors' code)."
        },
    )
    fair_advantage: dict[str, Any] | None = field(
        default=None,
        metadata={
            "help": "Overrides of clinfair.trainers.advantage.FairAdvantageConfig fields, e.g. {'window': 'batch'}."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if self.fair_mode not in FAIR_MODES:
            raise ValueError(f"fair_mode must be one of {FAIR_MODES}, got {self.fair_mode!r}")
        self.fair_advantage_config()  # a bad override fails here, not at the first step

    def fair_advantage_config(self) -> FairAdvantageConfig:
        """The scaler's configuration: the chosen mode, then the ``fair_advantage`` overrides.

        In paper mode the GRPO base advantage uses this run's ``scale_rewards``, as TRL's does.
        """
        overrides = dict(self.fair_advantage or {})
        check_keys(overrides, [f.name for f in fields(FairAdvantageConfig)], "fair_advantage", ValueError)
        return replace(self.mode_advantage_config(), **overrides)

    def mode_advantage_config(self) -> FairAdvantageConfig:
        """The ``fair_mode``'s configuration, before the ``fair_advantage`` overrides."""
        if self.fair_mode == "reference":
            return FairAdvantageConfig.reference()
        return FairAdvantageConfig(grpo_scale=self.scale_rewards)


class FairGRPOTrainer(GatheredBatchTrainer):
    """GRPO whose training advantages are FairGRPO's, computed over the gathered batch."""

    _tag_names = ["trl", "fairgrpo", "clinfair"]

    def __init__(self, model, reward_funcs, args: FairGRPOConfig | None = None, **kwargs):
        args = args or default_config(FairGRPOConfig, model, "FairGRPO")
        super().__init__(model, reward_funcs, args=args, **kwargs)
        self.scaler = FairAdvantageScaler(args.fair_advantage_config())

    def compute_advantages(self, rewards: np.ndarray, domains: list, groups: list) -> np.ndarray:
        advantages = self.scaler(
            rewards, domains, groups, self.num_generations, true_groups=self.true_groups(groups)
        )
        self._log_scalars(self.scaler.log_scalars("fair"))
        return advantages

    def clustering_diagnostics(self) -> dict[str, dict[str, Any]] | None:
        """The latest batch's K-means groups per clustered domain, for ``fairness.jsonl``: k, the
        cluster sizes and mean rewards over the clustered history ("vectors" of them), and ARI /
        NMI of the batch's clusters against the true groups when those are known. None when
        nothing was clustered (explicit groups, or before the first step)."""
        keys = ("k", "sizes", "means", "vectors", "ari", "nmi")
        out = {
            domain: {key: info["clustering"][key] for key in keys if key in info["clustering"]}
            for domain, info in self.scaler.last_stats.get("domains", {}).items()
            if "clustering" in info
        }
        return out or None

    def true_groups(self, groups: list) -> list | None:
        """Known demographic groups, to score clusters against (FairGRPO_ND); none here."""
        return None

    def advantage_state(self) -> FairAdvantageScaler:
        return self.scaler

    def load_advantage_state(self, state: FairAdvantageScaler) -> None:
        self.scaler = state
